//! Operator actions that say what they did: the notice when one is asked for, the
//! engine's answer (done, or its refusal in its own words), the detail and connections
//! re-read afterwards; the Connections pane's own actions (`enter` filters the feed to
//! the destination, `p` pauses or resumes it, `r` retries it now); and a log's request
//! copied as the `curl` its source could have run (`C`), never past the PHI rules.

use super::notice::Cause;
use super::{App, Effect, Notice, Pane};
use crate::client::Action;
use crate::client::wire::VisibleDetail;
use crate::console::keymap::Command;
use crate::model::curl::{TOKEN_VAR, path_for, to_curl};
use serde_json::Value;
use uuid::Uuid;

/// What the status line says about an action: while asked, once done, when refused.
struct Words {
    asked: String,
    done: String,
    refused: String,
}

impl App {
    /// A destination's name for the status line.
    fn destination_label(&self, id: Uuid) -> String {
        if let Some(d) = self.destination(&id.to_string()) {
            return d.destination.name.clone();
        }
        match self.detail.as_ref().map(|d| d.record()) {
            Some(log) if log.destination_id == id => log.destination_name.clone(),
            _ => "the destination".into(),
        }
    }

    fn words(&self, action: Action) -> Words {
        let words = |asked: String, done: String, what: &str| Words {
            asked,
            done,
            refused: format!("{what} refused: "),
        };
        match action {
            Action::RetryNow(d) => {
                let name = self.destination_label(d);
                words(
                    format!("retry requested for {name}…"),
                    format!("{name}: retrying its waiting items now"),
                    &format!("retry of {name}"),
                )
            }
            Action::Pause(d) => {
                let name = self.destination_label(d);
                words(
                    format!("pausing {name}…"),
                    format!("{name} paused: nothing is delivered until p resumes it"),
                    &format!("pause of {name}"),
                )
            }
            Action::Resume(d) => {
                let name = self.destination_label(d);
                words(
                    format!("resuming {name}…"),
                    format!("{name} resumed: delivery goes on"),
                    &format!("resume of {name}"),
                )
            }
            Action::Verify(d) => {
                let name = self.destination_label(d);
                words(
                    format!("verifying {name}…"),
                    format!("{name} verified"),
                    &format!("verification of {name}"),
                )
            }
            Action::Quarantine(_) => words(
                "quarantining the log…".into(),
                "log quarantined: its queue moves on".into(),
                "quarantine",
            ),
            Action::Release(_) => words(
                "releasing the log…".into(),
                "log released to the head of its queue".into(),
                "release",
            ),
            Action::Fail(_) => words(
                "marking the log failed…".into(),
                "log marked FAILED".into(),
                "marking failed",
            ),
            Action::Resend(_) => words(
                "resending the log…".into(),
                "log resent: the new log follows in the feed".into(),
                "resend",
            ),
        }
    }

    /// An action is on its way: say so at once.
    pub(super) fn requested(&mut self, effect: &Effect) {
        if let Effect::Act(action) = effect {
            self.notice = Some(Notice::Info(self.words(*action).asked));
        }
    }

    /// The engine's answer to an action; the open detail and the connections are read
    /// again either way, as a refusal often means the state moved meanwhile.
    pub(super) fn on_acted(&mut self, action: Action, result: Result<(), String>) -> Vec<Effect> {
        let words = self.words(action);
        self.notice = Some(match result {
            Ok(()) => Notice::Info(words.done),
            Err(e) => Notice::Error(format!("{}{e}", words.refused)),
        });
        let mut effects = Vec::new();
        if let Some(id) = self.detail.as_ref().map(|d| d.log_id) {
            effects.push(Effect::OpenLog(self.requests.detail(), id));
        }
        effects.push(Effect::LoadConnections(Some(self.environment)));
        effects
    }

    pub(super) fn on_load_failed(&mut self, message: String) -> Vec<Effect> {
        self.loading_older = false;
        self.seek = None;
        self.error_because(Cause::Load, message);
        Vec::new()
    }

    /// About once a second: only a countdown on screen (the reconnection's, the next
    /// retry's) needs redrawing; a notice that expires marks its own change.
    pub(super) fn on_tick(&mut self) -> Vec<Effect> {
        let next_try = self
            .detail
            .as_ref()
            .and_then(|d| d.detail.as_ref())
            .is_some_and(|d| d.detail.next_attempt_at.is_some());
        self.dirty |= next_try || self.disconnected.is_some();
        Vec::new()
    }

    /// `enter`, `p` and `r` on the selected destination of the Connections pane.
    pub(super) fn connection_action(&mut self, command: Command) -> Option<Vec<Effect>> {
        let d = self
            .connections
            .as_ref()?
            .destinations
            .get(self.connection_cursor)?
            .clone();
        let (id, name, env) = (
            d.destination.id,
            d.destination.name.clone(),
            d.destination.environment,
        );
        Some(match command {
            Command::Choose => {
                let text = format!(
                    "dst:\"{}\"",
                    name.replace('\\', "\\\\").replace('"', "\\\"")
                );
                match self.apply_filter_text(&text) {
                    Ok(effects) => {
                        self.focus = Pane::Feed;
                        self.notice = Some(Notice::Info(format!(
                            "feed filtered to {name} (/ to change)"
                        )));
                        effects
                    }
                    Err(e) => self.error(format!("cannot filter to {name}: {e}")),
                }
            }
            Command::Pause if d.paused => self.act(
                Action::Resume(id),
                env,
                format!("Resume delivery to {name}?"),
            ),
            Command::Pause => {
                self.act(Action::Pause(id), env, format!("Pause delivery to {name}?"))
            }
            _ => self.act(
                Action::RetryNow(id),
                env,
                format!("Retry {name} now? Its waiting items are tried at once."),
            ),
        })
    }

    // --- a log's request as curl ------------------------------------------------------

    /// Why this console may not show `log`'s bodies, if it may not.
    fn body_hidden(&self, env: crate::model::Environment, masked: bool) -> bool {
        masked || (env.may_hold_phi() && !self.phi_allowed())
    }

    /// `C` in the feed: the selected log's request, read from the engine first.
    pub(super) fn copy_selected_curl(&mut self) -> Option<Vec<Effect>> {
        let log = self.feed.selected_log()?;
        if self.body_hidden(log.environment, false) {
            return Some(self.error(HIDDEN));
        }
        let id = log.id;
        Some(vec![Effect::CopyLogCurl(id)])
    }

    /// `C` in the detail: the request it already holds.
    pub(super) fn copy_detail_curl(&mut self) -> Vec<Effect> {
        let Some(open) = &self.detail else {
            return Vec::new();
        };
        match &open.detail {
            Some(d) => {
                let d = d.clone();
                self.curl_effect(&d)
            }
            None => self.error("not copied yet: the log is still loading"),
        }
    }

    pub(super) fn on_log_for_curl(
        &mut self,
        found: Result<Option<Box<VisibleDetail>>, String>,
    ) -> Vec<Effect> {
        match found {
            Ok(Some(d)) => self.curl_effect(&d),
            Ok(None) => self.error("not copied: the log is no longer in history"),
            Err(e) => self.error(format!("not copied: {e}")),
        }
    }

    fn curl_effect(&mut self, d: &VisibleDetail) -> Vec<Effect> {
        let log = &d.detail.log;
        if self.body_hidden(log.environment, d.masked) {
            return self.error(HIDDEN);
        }
        if log.data_model.starts_with("FHIR.") {
            return self.error(
                "not copied: this log came through the FHIR API, which a curl of /endpoint \
                 cannot replay; y in its detail copies the body",
            );
        }
        let Some(request) = &d.detail.request else {
            return self.error("not copied: no request body is stored for this log");
        };
        let text = to_curl(
            &self.platform_url(),
            TOKEN_VAR,
            path_for(log.exchange),
            &as_sent(request),
        );
        vec![Effect::Copy {
            text,
            what: format!("log {}'s request as curl", short(log.id)),
        }]
    }
}

const HIDDEN: &str = "nothing copied: the request body is hidden (no PHI permission)";

/// The first block of a log id, enough to recognise it in a notice.
fn short(id: Uuid) -> String {
    id.to_string().chars().take(8).collect()
}

/// The stored request as its source could send it again: without the log IDs the
/// engine adds to `Meta`.
fn as_sent(request: &Value) -> String {
    let mut body = request.clone();
    if let Some(meta) = body.get_mut("Meta").and_then(Value::as_object_mut) {
        meta.remove("Logs");
    }
    serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string())
}
