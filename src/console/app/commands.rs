//! The command line (`:`): each parsed [`Command`] to what it does.

use super::{App, DevTab, Effect};
use crate::client::Revoke;
use crate::console::prompt::Command;

impl App {
    pub(super) fn run(&mut self, line: &str) -> Vec<Effect> {
        let command = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => return self.error(e),
        };
        self.notice = None;
        match command {
            Command::Env(env) => self.choose_environment(env),
            Command::Filter(text) => self
                .apply_filter_text(&text)
                .unwrap_or_else(|e| self.error(format!("filter not applied: {e}"))),
            Command::Theme(name) => vec![Effect::SetTheme(name)],
            Command::Pause(name) => self.pause(&name, true),
            Command::Resume(name) => self.pause(&name, false),
            Command::Compose(event) => {
                self.open_composer(event.map(crate::console::composer::Composed::Event))
            }
            Command::ComposeFhir(kind) => self.open_fhir_composer(kind),
            Command::RevokeKey(key) => self.revoke(
                format!("Revoke API key {key}? Every token made from it ends now."),
                Revoke::Key(key),
            ),
            Command::RevokeToken(name) => self.revoke(
                format!(
                    "Revoke every admin token named \"{name}\" and the composer tokens minted with them?"
                ),
                Revoke::Token(name),
            ),
            Command::Keys => self.open_developer(DevTab::Keys),
            Command::Endpoints => self.open_developer(DevTab::Endpoints),
            Command::Jwks(path) => self.register_jwks(path),
            // Refused here as the engine would, without a round trip.
            Command::Reload if self.role != crate::model::Role::Admin => self.error(format!(
                "the {} role may not reload the configuration: use an admin token",
                self.role.as_str()
            )),
            Command::Reload => vec![Effect::Reload],
            Command::Mouse(on) => {
                self.mouse = on;
                vec![Effect::SetMouse(on)]
            }
            Command::Quit => self.quit(),
        }
    }
}
