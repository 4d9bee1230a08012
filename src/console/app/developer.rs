//! The Developer view (`K` keys, `E` endpoints, `:keys`, `:endpoints`), like the
//! platform's Developer page: source API keys (list, create, revoke) and destinations'
//! endpoints (verify, pause, resume). A full-screen view over the panes; `esc` leaves.
//!
//! Keys are the admin role's: the engine refuses the listing to other roles and the
//! view says so. Endpoints are shown to every role; acting needs the operator role, as
//! in the Connections pane. A new key's secret lives only in [`Developer::secret`]
//! while its modal is open: closing it drops the value.

use super::{App, Effect, Notice};
use crate::client::Action;
use crate::client::Revoke;
use crate::client::wire::{CreatedKey, DestinationView, KeyView};
use crate::console::keymap::{self, Command, Context};
use crate::model::Role;
use crossterm::event::KeyEvent;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevTab {
    Keys,
    Endpoints,
}

/// What kind of credential `n`, `h` and `:jwks PATH` make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateKind {
    Legacy,
    Hs384,
    /// A JWKS file on the console's machine, read by the event loop.
    JwksFile(String),
}

#[derive(Debug, Clone)]
pub struct Developer {
    pub tab: DevTab,
    /// `None` while loading; the engine's refusal as text (e.g. for a viewer).
    pub keys: Option<Result<Vec<KeyView>, String>>,
    pub cursor: usize,
    /// The key just created, its secret shown once in a modal.
    pub secret: Option<CreatedKey>,
}

/// One row of the Keys tab: a source of the environment, and one of its keys (none on
/// the source's own row, so a source without keys can still be given one).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow<'a> {
    pub source: Uuid,
    pub source_name: &'a str,
    pub key: Option<&'a KeyView>,
}

impl App {
    pub(super) fn open_developer(&mut self, tab: DevTab) -> Vec<Effect> {
        let cursor = match &self.developer {
            Some(d) if d.tab == tab => d.cursor,
            _ => 0,
        };
        let keys = self.developer.take().and_then(|d| d.keys);
        self.developer = Some(Developer {
            tab,
            keys,
            cursor,
            secret: None,
        });
        match tab {
            DevTab::Keys => vec![Effect::LoadKeys],
            DevTab::Endpoints => vec![Effect::LoadConnections(Some(self.environment))],
        }
    }

    /// The Keys tab's rows: each source of the environment, then its keys.
    pub fn key_rows(&self) -> Vec<KeyRow<'_>> {
        let keys: &[KeyView] = match self.developer.as_ref().and_then(|d| d.keys.as_ref()) {
            Some(Ok(keys)) => keys,
            _ => &[],
        };
        let mut rows = Vec::new();
        for s in self.connections.iter().flat_map(|c| &c.sources) {
            let source = &s.source;
            rows.push(KeyRow {
                source: source.id,
                source_name: &source.name,
                key: None,
            });
            for k in keys.iter().filter(|k| k.source_id == Some(source.id)) {
                rows.push(KeyRow {
                    source: source.id,
                    source_name: &source.name,
                    key: Some(k),
                });
            }
        }
        rows
    }

    /// The Endpoints tab's rows: the environment's destinations.
    pub fn endpoint_rows(&self) -> &[DestinationView] {
        self.connections
            .as_ref()
            .map_or(&[], |c| c.destinations.as_slice())
    }

    fn developer_rows(&self) -> usize {
        match self.developer.as_ref().map(|d| d.tab) {
            Some(DevTab::Keys) => self.key_rows().len(),
            Some(DevTab::Endpoints) => self.endpoint_rows().len(),
            None => 0,
        }
    }

    pub(super) fn developer_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let dev = self.developer.as_mut()?;
        if let Some(created) = &dev.secret {
            return match keymap::lookup(Context::Secret, &key) {
                Some(Command::Copy) => created.secret.clone().map(|text| {
                    vec![Effect::Copy {
                        text,
                        what: "the secret".into(),
                    }]
                }),
                Some(Command::Back) => {
                    dev.secret = None;
                    self.notice = Some(Notice::Info(
                        "the secret is no longer held by the console".into(),
                    ));
                    Some(vec![Effect::LoadKeys])
                }
                // The modal has the keyboard: nothing reaches the panes behind it.
                _ => Some(Vec::new()),
            };
        }
        let tab = match dev.tab {
            DevTab::Keys => Context::DevKeys,
            DevTab::Endpoints => Context::DevEndpoints,
        };
        // Keys of neither (`:`, `/`, …) go on to the main view's.
        let command = keymap::lookup_in(&[tab, Context::Developer], &key)?;
        let last = self.developer_rows().saturating_sub(1);
        let dev = self.developer.as_mut()?;
        let cur = dev.cursor.min(last);
        match command {
            Command::Back => self.developer = None,
            Command::Help => self.open_help(),
            Command::Down => dev.cursor = (cur + 1).min(last),
            Command::Up => dev.cursor = cur.saturating_sub(1),
            Command::First => dev.cursor = 0,
            Command::Last => dev.cursor = last,
            Command::OtherTab => {
                let other = match dev.tab {
                    DevTab::Keys => DevTab::Endpoints,
                    DevTab::Endpoints => DevTab::Keys,
                };
                return Some(self.open_developer(other));
            }
            Command::OpenKeys => return Some(self.open_developer(DevTab::Keys)),
            Command::OpenEndpoints => return Some(self.open_developer(DevTab::Endpoints)),
            other => {
                return match dev.tab {
                    DevTab::Keys => self.keys_tab_command(other, cur),
                    DevTab::Endpoints => self.endpoints_tab_command(other, cur),
                };
            }
        }
        Some(Vec::new())
    }

    fn keys_tab_command(&mut self, command: Command, cur: usize) -> Option<Vec<Effect>> {
        let (source, source_name, api_key) = {
            let rows = self.key_rows();
            let row = rows.get(cur);
            (
                row.map(|r| r.source),
                row.map(|r| r.source_name.to_string()),
                row.and_then(|r| r.key)
                    .filter(|k| !k.revoked)
                    .map(|k| (k.api_key.clone(), k.kind.clone())),
            )
        };
        match command {
            Command::NewLegacyKey | Command::NewHs384Client | Command::RegisterJwks
                if self.role != Role::Admin =>
            {
                Some(self.error("keys are the admin role's: use an admin token"))
            }
            Command::NewLegacyKey => Some(self.create_key(source, CreateKind::Legacy)),
            Command::NewHs384Client => Some(self.create_key(source, CreateKind::Hs384)),
            Command::RegisterJwks => {
                let Some(name) = source_name else {
                    return Some(self.error("no source selected: choose one with j / k"));
                };
                self.prompt = Some(super::Prompt::Command {
                    line: super::LineInput::new("jwks "),
                });
                self.notice = Some(Notice::Info(format!(
                    "JWKS file for {name}: type its path, enter registers it"
                )));
                Some(Vec::new())
            }
            Command::Revoke => {
                let Some((api_key, kind)) = api_key else {
                    return Some(self.error("no live key on this row: choose one with j / k"));
                };
                let name = source_name.unwrap_or_default();
                Some(self.revoke(
                    format!(
                        "Revoke {kind} key {api_key} of {name}? Every token made from it ends now."
                    ),
                    Revoke::Key(api_key),
                ))
            }
            Command::Reload => Some(vec![Effect::LoadKeys]),
            _ => None,
        }
    }

    /// A new credential for the source of the selected row.
    pub(super) fn create_key(&mut self, source: Option<Uuid>, kind: CreateKind) -> Vec<Effect> {
        if self.role != Role::Admin {
            return self.error("keys are the admin role's: use an admin token");
        }
        match source {
            Some(source) => vec![Effect::CreateKey { source, kind }],
            None => self.error("no source selected: open the Keys view (K) and choose one"),
        }
    }

    /// `:jwks PATH`: registers the file's keys for the source selected in the Keys view.
    pub(super) fn register_jwks(&mut self, path: String) -> Vec<Effect> {
        let source = match &self.developer {
            Some(d) if d.tab == DevTab::Keys => self.key_rows().get(d.cursor).map(|r| r.source),
            _ => None,
        };
        self.create_key(source, CreateKind::JwksFile(path))
    }

    fn endpoints_tab_command(&mut self, command: Command, cur: usize) -> Option<Vec<Effect>> {
        let (id, name, env) = {
            let d = &self.endpoint_rows().get(cur)?.destination;
            (d.id, d.name.clone(), d.environment)
        };
        let (action, question) = match command {
            Command::Verify => (
                Action::Verify(id),
                format!("Run the verification handshake against {name}?"),
            ),
            Command::Pause => (Action::Pause(id), format!("Pause delivery to {name}?")),
            Command::Resume => (Action::Resume(id), format!("Resume delivery to {name}?")),
            _ => return None,
        };
        let mut effects = self.act(action, env, question);
        if self.confirm.is_none() && !effects.is_empty() {
            effects.push(Effect::LoadConnections(Some(self.environment)));
        }
        Some(effects)
    }

    pub(super) fn on_keys(&mut self, keys: Result<Vec<KeyView>, String>) {
        if let Some(dev) = &mut self.developer {
            dev.keys = Some(keys);
        }
    }

    pub(super) fn on_key_created(&mut self, created: Result<CreatedKey, String>) -> Vec<Effect> {
        match created {
            Ok(created) => {
                let Some(dev) = &mut self.developer else {
                    // Nowhere to show it: the secret is dropped here, never kept.
                    return vec![Effect::LoadKeys];
                };
                dev.secret = Some(created);
                vec![Effect::LoadKeys]
            }
            Err(e) => self.error(format!("no key created: {e}")),
        }
    }
}
