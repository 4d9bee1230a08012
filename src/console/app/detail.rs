//! The detail view of one log and the operator actions taken from it (or from `:pause`
//! and `:resume`), with the confirmation Production asks for.

use super::{App, Effect, Notice};
use crate::client::Action;
use crate::engine::access::VisibleDetail;
use crate::model::{Environment, LogRecord};
use crossterm::event::{KeyCode, KeyEvent};
use uuid::Uuid;

/// An action waiting for `y` (Production only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub action: Action,
    /// What the action does, for the question: "Retry Acme EHR now?".
    pub question: String,
}

/// The detail view of one log.
#[derive(Debug, Clone)]
pub struct Detail {
    pub log_id: Uuid,
    /// The feed's row when the detail was opened, shown until the full detail arrives.
    pub row: LogRecord,
    pub detail: Option<VisibleDetail>,
}

impl Detail {
    /// The freshest record known for this log.
    pub fn record(&self) -> &LogRecord {
        self.detail.as_ref().map_or(&self.row, |d| &d.detail.log)
    }
}

impl App {
    pub(super) fn on_detail(&mut self, found: Option<Box<VisibleDetail>>) {
        let Some(open) = &mut self.detail else { return };
        match found {
            Some(d) if d.detail.log.id == open.log_id => open.detail = Some(*d),
            Some(_) => {}
            None => {
                self.notice = Some(Notice::Error(format!(
                    "log {} is no longer in history",
                    open.log_id
                )));
                self.detail = None;
            }
        }
    }

    /// `:pause DEST` / `:resume DEST`.
    pub(super) fn pause(&mut self, name: &str, pause: bool) -> Vec<Effect> {
        let Some(d) = self.destination(name) else {
            return self.error(format!(
                "no destination \"{name}\" in {}: check its name in the Connections pane",
                self.environment
            ));
        };
        let (id, env) = (d.destination.id, d.destination.environment);
        let (action, question) = if pause {
            (
                Action::Pause(id),
                format!("Pause delivery to {}?", d.destination.name),
            )
        } else {
            (
                Action::Resume(id),
                format!("Resume delivery to {}?", d.destination.name),
            )
        };
        self.act(action, env, question)
    }

    pub(super) fn detail_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        if matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
            self.detail = None;
            return Some(Vec::new());
        }
        let log = self.detail.as_ref()?.record().clone();
        let dest = log.destination_name.as_str();
        let (action, question) = match key.code {
            KeyCode::Char('r') => (
                Action::RetryNow(log.destination_id),
                format!("Retry {dest} now?"),
            ),
            KeyCode::Char('p') => {
                let paused = self
                    .destination(&log.destination_id.to_string())
                    .is_some_and(|d| d.paused);
                if paused {
                    (
                        Action::Resume(log.destination_id),
                        format!("Resume delivery to {dest}?"),
                    )
                } else {
                    (
                        Action::Pause(log.destination_id),
                        format!("Pause delivery to {dest}?"),
                    )
                }
            }
            KeyCode::Char('Q') => (
                Action::Quarantine(log.id),
                format!("Quarantine log {} to {dest}?", log.id),
            ),
            KeyCode::Char('R') => (
                Action::Resend(log.id),
                format!("Resend log {} to {dest}?", log.id),
            ),
            _ => return None,
        };
        Some(self.act(action, log.environment, question))
    }

    /// Acts at once, or in Production asks first.
    fn act(&mut self, action: Action, env: Environment, question: String) -> Vec<Effect> {
        if !self.role.may_operate() {
            return self.error(format!(
                "the {} role may not act on deliveries: use an operator or admin token",
                self.role.as_str()
            ));
        }
        if env == Environment::Production {
            self.confirm = Some(Confirm { action, question });
            return Vec::new();
        }
        vec![Effect::Act(action)]
    }
}
