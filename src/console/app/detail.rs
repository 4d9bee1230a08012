//! The detail view of one log and the operator actions taken from it (or from `:pause`
//! and `:resume`), with the confirmation Production asks for.

use super::{App, Effect, Notice};
use crate::client::wire::VisibleDetail;
use crate::client::{Action, Revoke};
use crate::console::json_tree::{JsonTree, TreeKey};
use crate::console::keymap::{self, Command, Context};
use crate::model::{Environment, LogRecord, Role};
use crossterm::event::KeyEvent;
use serde_json::Value;
use uuid::Uuid;

/// An action waiting for `y` (Production actions; revocations everywhere).
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// What `y` does.
    pub effect: Effect,
    /// What the action does, for the question: "Retry Acme EHR now?".
    pub question: String,
}

/// The two bodies of a detail, side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySide {
    Request,
    Response,
}

/// The detail view of one log.
#[derive(Debug, Clone)]
pub struct Detail {
    pub log_id: Uuid,
    /// The feed's row when the detail was opened, shown until the full detail arrives.
    pub row: LogRecord,
    pub detail: Option<VisibleDetail>,
    /// The bodies as foldable trees; `None` when absent or hidden from this role.
    pub request: Option<JsonTree>,
    pub response: Option<JsonTree>,
    /// Which body the cursor keys move in.
    pub side: BodySide,
    /// `/` in the bodies: the term being typed, then the one searched for.
    pub search: super::search::DetailSearch,
}

impl Detail {
    pub fn new(row: LogRecord) -> Detail {
        Detail {
            log_id: row.id,
            row,
            detail: None,
            request: None,
            response: None,
            side: BodySide::Request,
            search: Default::default(),
        }
    }

    /// The freshest record known for this log.
    pub fn record(&self) -> &LogRecord {
        self.detail.as_ref().map_or(&self.row, |d| &d.detail.log)
    }

    pub fn tree(&self, side: BodySide) -> Option<&JsonTree> {
        match side {
            BodySide::Request => self.request.as_ref(),
            BodySide::Response => self.response.as_ref(),
        }
    }

    fn focused_tree(&mut self) -> Option<&mut JsonTree> {
        match self.side {
            BodySide::Request => self.request.as_mut(),
            BodySide::Response => self.response.as_mut(),
        }
    }

    /// Keeps a tree's folds and cursor when a reload brings the same body.
    fn set_body(slot: &mut Option<JsonTree>, body: Option<&Value>) {
        match body {
            Some(v) if slot.as_ref().is_some_and(|t| t.value() == v) => {}
            Some(v) => *slot = Some(JsonTree::new(v.clone())),
            None => *slot = None,
        }
    }
}

impl App {
    pub(super) fn on_detail(&mut self, found: Option<Box<VisibleDetail>>) {
        let phi_allowed = self.phi_allowed();
        let Some(open) = &mut self.detail else { return };
        match found {
            Some(d) if d.detail.log.id == open.log_id => {
                // The engine masks for roles without PHI permission; the console does
                // not trust that alone for Production.
                let hidden = d.masked || (d.detail.log.environment.may_hold_phi() && !phi_allowed);
                let (request, response) = if hidden {
                    (None, None)
                } else {
                    (d.detail.request.as_ref(), d.detail.response.as_ref())
                };
                Detail::set_body(&mut open.request, request);
                Detail::set_body(&mut open.response, response);
                open.detail = Some(*d);
            }
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
        if let Some(done) = self.search_key(key) {
            return Some(done);
        }
        let command = keymap::lookup(Context::Detail, &key)?;
        let log = self.detail.as_ref()?.record().clone();
        let dest = log.destination_name.as_str();
        let (action, question) = match command {
            Command::Back => {
                self.detail = None;
                return Some(Vec::new());
            }
            Command::Help => {
                self.open_help();
                return Some(Vec::new());
            }
            Command::Retry => (
                Action::RetryNow(log.destination_id),
                format!("Retry {dest} now?"),
            ),
            Command::Pause => {
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
            Command::Quarantine => (
                Action::Quarantine(log.id),
                format!("Quarantine log {} to {dest}?", log.id),
            ),
            Command::Resend => (
                Action::Resend(log.id),
                format!("Resend log {} to {dest}?", log.id),
            ),
            other => return self.body_command(other),
        };
        Some(self.act(action, log.environment, question))
    }

    /// Moving, folding and copying in the bodies; `None` for commands that are not theirs.
    fn body_command(&mut self, command: Command) -> Option<Vec<Effect>> {
        let phi_allowed = self.phi_allowed();
        let open = self.detail.as_mut()?;
        if command == Command::SwitchSide {
            open.side = match open.side {
                BodySide::Request => BodySide::Response,
                BodySide::Response => BodySide::Request,
            };
            return Some(Vec::new());
        }
        let page = (self.size.1 as isize / 2).max(1);
        let copy = matches!(command, Command::Copy | Command::CopyPath);
        let Some(tree) = open.focused_tree() else {
            if copy {
                let why = if open.detail.as_ref().is_some_and(|d| d.masked)
                    || (open.record().environment.may_hold_phi() && !phi_allowed)
                {
                    "nothing to copy: the body is hidden (no PHI permission)"
                } else {
                    "nothing to copy: this side has no body"
                };
                return Some(self.error(why));
            }
            return None;
        };
        Some(match tree.command(command, page)? {
            TreeKey::Done => Vec::new(),
            TreeKey::Copy { text, what } => vec![Effect::Copy { text, what }],
        })
    }

    /// Revocation cannot be undone: always asked first, whatever the environment.
    pub(super) fn revoke(&mut self, question: String, what: Revoke) -> Vec<Effect> {
        if self.role != Role::Admin {
            return self.error(format!(
                "the {} role may not revoke credentials: use an admin token",
                self.role.as_str()
            ));
        }
        self.confirm = Some(Confirm {
            effect: Effect::Revoke(what),
            question,
        });
        Vec::new()
    }

    /// Acts at once, or in Production asks first.
    pub(super) fn act(
        &mut self,
        action: Action,
        env: Environment,
        question: String,
    ) -> Vec<Effect> {
        if !self.role.may_operate() {
            return self.error(format!(
                "the {} role may not act on deliveries: use an operator or admin token",
                self.role.as_str()
            ));
        }
        if env == Environment::Production {
            self.confirm = Some(Confirm {
                effect: Effect::Act(action),
                question,
            });
            return Vec::new();
        }
        let effect = Effect::Act(action);
        self.requested(&effect);
        vec![effect]
    }
}
