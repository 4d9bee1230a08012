//! The composer's keys and messages: picking what to compose, editing, the send checks
//! (variables, JSON, schema warnings, the Production guard, read-only roles), and
//! following what a sent request did.
//! `picking`: opening the picker and building the template; `lists`: history, saved.

use super::{App, Effect, Notice, Pane};
use crate::client::send::Answer;
use crate::client::wire::VisibleDetail;
use crate::console::composer::pick::{PickValue, Picker};
use crate::console::composer::summary::answer_summary;
use crate::console::composer::{AnswerView, Composed, ComposerFocus, Draft};
use crate::console::json_tree::{JsonTree, Seg, TreeKey};
use crate::console::keymap::{self, Command, Context};
use crate::console::prompt::{LineInput, LineOutcome};
use crate::model::fhir::{self, FhirKind};
use crate::model::template::Samples;
use crate::model::variables::Variables;
use crate::model::{Environment, Role};
use crossterm::event::KeyEvent;
use std::time::Duration;

impl App {
    /// The `{{variable}}` profile of `env`, as the engine's config defines it.
    pub fn variables(&self, env: Environment) -> Variables {
        self.environments
            .iter()
            .find(|e| e.name == env)
            .map(|e| e.variables.clone())
            .unwrap_or_default()
    }

    /// The values templates for `env` are filled with, as the engine sends them in the
    /// environment view (Development: its sandbox's test patient); placeholders when it
    /// sends none (another environment, or an older engine).
    pub fn samples(&self, env: Environment) -> Samples {
        self.environments
            .iter()
            .find(|e| e.name == env)
            .and_then(|e| e.samples.clone())
            .unwrap_or_default()
    }

    /// The FHIR slug of a destination of the current connections view.
    pub(super) fn fhir_slug(&self, destination: uuid::Uuid) -> Option<String> {
        self.connections
            .as_ref()?
            .destinations
            .iter()
            .find(|d| d.destination.id == destination)
            .and_then(|d| d.destination.fhir_slug.clone())
    }

    /// The HTTP request a FHIR draft is, from its text with variables filled.
    fn fhir_request(
        &self,
        draft: &Draft,
        kind: FhirKind,
        text: &str,
    ) -> Result<fhir::request::FhirRequest, fhir::request::RequestError> {
        fhir::request::build(
            kind,
            &draft.destination.name,
            self.fhir_slug(draft.destination.id).as_deref(),
            draft.environment,
            draft.source.id,
            text,
        )
    }

    /// Keys while the Composer has focus. `None` lets the global keys have them.
    pub(super) fn composer_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        if self.composer.discard_asked {
            if keymap::lookup(Context::Discard, &key) == Some(Command::Confirm) {
                self.notice = None;
                let event = self.composer.discard_for.take();
                return Some(self.open_composer(event));
            }
            self.composer.discard_asked = false;
            self.notice = Some(Notice::Info("kept the edits".into()));
            return Some(Vec::new());
        }
        if self.composer.picker.is_some() {
            return Some(self.picker_key(key));
        }
        if self.composer.guard.is_some() {
            return Some(self.guard_key(key));
        }
        if self.composer.list.is_some() {
            return Some(self.list_key(key));
        }
        if self.composer.naming.is_some() {
            return Some(self.naming_key(key));
        }
        let context = match self.composer.focus {
            ComposerFocus::Editing => Context::Editing,
            ComposerFocus::Answer => Context::Answer,
            ComposerFocus::Body => Context::Composer,
        };
        let command = keymap::lookup(context, &key);
        match command {
            Some(Command::Save) => return Some(self.start_saving()),
            Some(Command::Send) => return Some(self.send(false)),
            _ => {}
        }
        match self.composer.focus {
            ComposerFocus::Editing => {
                // The editor's own bindings are emacs-like (ctrl-u undo, ctrl-r redo,
                // ctrl-y paste); the keymap promises the common ctrl-z / ctrl-y.
                let changed = match command {
                    Some(Command::Back) => {
                        self.composer.focus = ComposerFocus::Body;
                        false
                    }
                    Some(Command::Undo) => self.composer.editor.undo(),
                    Some(Command::Redo) => self.composer.editor.redo(),
                    _ => self.composer.editor.input(key),
                };
                if changed {
                    let vars = self
                        .composer
                        .draft
                        .as_ref()
                        .map_or_else(Variables::new, |d| self.variables(d.environment));
                    self.composer.edited(&vars);
                }
                Some(Vec::new())
            }
            ComposerFocus::Answer => self.answer_command(command?),
            ComposerFocus::Body => self.composer_body_command(command?),
        }
    }

    fn composer_body_command(&mut self, command: Command) -> Option<Vec<Effect>> {
        let has_draft = self.composer.draft.is_some();
        let has_answer = self.composer.answer.is_some();
        match command {
            Command::Compose => return Some(self.open_composer(None)),
            Command::Edit if has_draft => self.composer.focus = ComposerFocus::Editing,
            Command::EditExternally if has_draft => {
                return Some(vec![Effect::EditExternally(self.composer.text())]);
            }
            Command::ChangeSource if has_draft => {
                let event = self.composer.draft.as_ref().map(|d| d.what);
                let mut picker = Picker::new(event, None);
                picker.auto = false;
                self.composer.picker = Some(picker);
            }
            Command::ChangeDestination if has_draft => {
                let draft = self.composer.draft.as_ref()?;
                let mut picker = Picker::new(Some(draft.what), Some(draft.source.clone()));
                picker.auto = false;
                self.composer.picker = Some(picker);
            }
            Command::ShowAnswer if has_answer => self.composer.focus = ComposerFocus::Answer,
            Command::Down | Command::Up if has_answer => {
                self.scroll_answer(command == Command::Down);
            }
            Command::CopyCurl if has_draft => return Some(self.copy_curl()),
            Command::History => return Some(self.open_history()),
            Command::OpenSaved => return Some(self.open_saved()),
            Command::Back => self.focus = Pane::Feed,
            _ => return None,
        }
        Some(Vec::new())
    }

    fn answer_command(&mut self, command: Command) -> Option<Vec<Effect>> {
        let page = (self.size.1 as isize / 2).max(1);
        if command == Command::Back {
            self.composer.focus = ComposerFocus::Body;
            return Some(Vec::new());
        }
        let tree = self.composer.answer.as_mut()?.tree.as_mut()?;
        Some(match tree.command(command, page)? {
            TreeKey::Done => Vec::new(),
            TreeKey::Copy { text, what } => {
                let what = if what == "the body" {
                    "the answer".into()
                } else {
                    what
                };
                vec![Effect::Copy { text, what }]
            }
        })
    }

    fn picker_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let page = usize::from(self.size.1 / 2).max(1);
        // Disjoint fields: the picker changes, the connections are only read.
        let view = self.connections.as_ref();
        let Some(picker) = &mut self.composer.picker else {
            return Vec::new();
        };
        let last = picker.options(view).len().saturating_sub(1);
        match keymap::lookup(Context::Picker, &key) {
            Some(Command::Back) => self.composer.picker = None,
            Some(Command::Down) => picker.cursor = (picker.cursor + 1).min(last),
            Some(Command::Up) => picker.cursor = picker.cursor.saturating_sub(1),
            Some(Command::PageDown) => picker.cursor = (picker.cursor + page).min(last),
            Some(Command::PageUp) => picker.cursor = picker.cursor.saturating_sub(page),
            Some(Command::Choose) => {
                let options = picker.options(view);
                let Some(chosen) = options.get(picker.cursor) else {
                    self.notice = Some(Notice::Error("nothing matches: backspace to widen".into()));
                    return Vec::new();
                };
                if let Some(why) = &chosen.unavailable {
                    self.notice = Some(Notice::Error(format!(
                        "{} cannot be chosen: {why}",
                        chosen.label
                    )));
                    return Vec::new();
                }
                let value = chosen.value.clone();
                if let PickValue::Environment(env) = value {
                    picker.take(value);
                    self.env_chosen = true;
                    // The console moves there; the next steps offer its connections.
                    return if env == self.environment {
                        Vec::new()
                    } else {
                        self.choose_environment(env)
                    };
                }
                if picker.take(value.clone()) {
                    self.finish_picking(value);
                } else {
                    self.advance_picker();
                }
            }
            _ => {
                if picker.query.handle(key) == LineOutcome::Edited {
                    picker.cursor = 0;
                }
            }
        }
        Vec::new()
    }

    /// `j`/`k` on the body: the answer moves a row, its cursor with it, so `a` then
    /// starts where the user was reading.
    fn scroll_answer(&mut self, down: bool) {
        let Some(answer) = &mut self.composer.answer else {
            return;
        };
        let rows = match (&answer.tree, &answer.text) {
            (Some(tree), _) => tree.shown(),
            (None, Some(text)) => text.lines().count(),
            (None, None) => 0,
        };
        answer.scroll = if down {
            (answer.scroll + 1).min(rows.saturating_sub(1))
        } else {
            answer.scroll.saturating_sub(1)
        };
        if let Some(tree) = &mut answer.tree {
            let by = answer.scroll as isize - tree.cursor() as isize;
            tree.move_by(by);
        }
    }

    fn guard_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(typed) = &mut self.composer.guard else {
            return Vec::new();
        };
        match typed.handle(key) {
            LineOutcome::Cancel => {
                self.composer.guard = None;
                self.notice = Some(Notice::Info("not sent".into()));
            }
            LineOutcome::Submit => {
                let expected = self
                    .composer
                    .draft
                    .as_ref()
                    .map(|d| d.destination.name.clone());
                if expected.as_deref() == Some(typed.text.as_str()) {
                    return self.send(true);
                }
                self.notice = Some(Notice::Error(
                    "the name does not match: type the destination's name exactly, or esc".into(),
                ));
            }
            _ => {}
        }
        Vec::new()
    }

    /// `ctrl-s`: every check, then the effect. `confirmed` once the Production guard
    /// has been answered.
    fn send(&mut self, confirmed: bool) -> Vec<Effect> {
        if self.read_only {
            return self.error("this console is read-only (--read-only): sending is disabled");
        }
        if self.role == Role::Viewer {
            return self.error("the viewer role may not send: use a phi, operator or admin token");
        }
        let Some(draft) = self.composer.draft.clone() else {
            return self.error("nothing to send: c composes a request");
        };
        if let Some(why) = self.role.send_refusal(draft.environment) {
            return self.error(why);
        }
        if self.composer.sending {
            return self.error("still waiting for the answer to the last request");
        }
        let vars = self.variables(draft.environment);
        let body = match self.composer.filled(&vars) {
            Ok(body) => body,
            Err(undefined) => {
                let list: Vec<String> = undefined.iter().map(ToString::to_string).collect();
                return self.error(format!(
                    "not sent: {}; define it under [environments.{}.variables] in the config",
                    list.join(", "),
                    draft.environment.as_str().to_ascii_lowercase()
                ));
            }
        };
        if let Some(e) = &self.composer.validation.syntax_error {
            let why = format!(
                "not sent: the JSON is invalid at line {} column {}: {}",
                e.line, e.column, e.message
            );
            // Stays until the JSON parses.
            self.error_because(super::notice::Cause::InvalidJson, why);
            return Vec::new();
        }
        let issues = &self.composer.validation.schema_issues;
        if !issues.is_empty() && !self.composer.warned && !confirmed {
            let first = &issues[0];
            let message = format!(
                "{} schema warning{} (line {} {}: {}): ctrl-s again to send anyway",
                issues.len(),
                if issues.len() == 1 { "" } else { "s" },
                first.line,
                first.path,
                first.message
            );
            self.composer.warned = true;
            return self.error(message);
        }
        // Built before the guard, so a destination without a FHIR slug says so at once.
        let effect = match draft.what {
            Composed::Event(_) => Effect::ComposeSend {
                source: draft.source.id,
                path: draft.path(),
                body: body.clone(),
            },
            Composed::Fhir(kind) => match self.fhir_request(&draft, kind, &body) {
                Ok(request) => Effect::ComposeFhir {
                    source: draft.source.id,
                    request,
                },
                Err(e) => return self.error(format!("not sent: {e}")),
            },
        };
        if draft.environment == Environment::Production && !confirmed {
            self.composer.guard = Some(LineInput::default());
            return Vec::new();
        }
        self.composer.guard = None;
        self.composer.sending = true;
        self.composer.last_sent = Some(body);
        self.notice = Some(Notice::Info(format!(
            "sending {} to {}…",
            draft.what.label(),
            draft.destination.name
        )));
        vec![effect]
    }

    /// `y` on the body: the request as a curl command (the token left as a variable).
    fn copy_curl(&mut self) -> Vec<Effect> {
        let Some(draft) = self.composer.draft.clone() else {
            return Vec::new();
        };
        let vars = self.variables(draft.environment);
        let body = self
            .composer
            .filled(&vars)
            .unwrap_or_else(|_| self.composer.text());
        let text = match draft.what {
            Composed::Event(_) => crate::model::curl::to_curl(
                &self.platform_url(),
                crate::model::curl::TOKEN_VAR,
                draft.path().as_str(),
                &body,
            ),
            Composed::Fhir(kind) => match self.fhir_request(&draft, kind, &body) {
                Ok(r) => crate::model::curl::to_curl_with(
                    &self.platform_url(),
                    crate::model::curl::TOKEN_VAR,
                    &r.path,
                    r.content_type,
                    &r.headers,
                    &r.body,
                ),
                Err(e) => return self.error(format!("no curl: {e}")),
            },
        };
        vec![Effect::Copy {
            text,
            what: format!("the request as curl ({})", crate::model::curl::TOKEN_HINT),
        }]
    }

    /// The platform API's base URL: the engine's address with a scheme.
    pub fn platform_url(&self) -> String {
        if self.address.starts_with("http://") || self.address.starts_with("https://") {
            self.address.clone()
        } else {
            format!("http://{}", self.address)
        }
    }

    pub(super) fn on_sent(&mut self, answer: Result<Answer, String>) -> Vec<Effect> {
        self.composer.sending = false;
        let summary = match &answer {
            Ok(a) => {
                let request = self.composer.last_sent.as_deref();
                answer_summary(request, a.status, a.body.as_ref().ok())
            }
            Err(_) => None,
        };
        let record = match &answer {
            Ok(a) => self.sent_record(
                Some(a.status),
                a.elapsed.as_millis() as u64,
                a.logs.clone(),
                None,
            ),
            Err(e) => self.sent_record(None, 0, Vec::new(), Some(e.clone())),
        };
        let record = record.map(|mut r| {
            r.summary = summary.clone();
            r
        });
        let mut effects: Vec<Effect> = record.map(Effect::RecordSent).into_iter().collect();
        match answer {
            Ok(a) => {
                // Kept in the history now: `c` need not ask about these edits.
                self.composer.mark_saved();
                let (tree, text) = match a.body {
                    Ok(value) => {
                        let mut tree = JsonTree::new(value);
                        // The answer's content matters more than its envelope.
                        tree.fold_path(&[Seg::Key("Meta".into())]);
                        (Some(tree), None)
                    }
                    Err(text) => (None, Some(text)),
                };
                self.notice = Some(Notice::Info(format!(
                    "HTTP {} in {:.1} ms",
                    a.status,
                    a.elapsed.as_secs_f64() * 1000.0
                )));
                let follow = a.logs.first().copied();
                self.composer.answer = Some(AnswerView {
                    status: a.status,
                    elapsed: a.elapsed,
                    destination: None,
                    summary,
                    tree,
                    text,
                    logs: a.logs,
                    request_id: None,
                    scroll: 0,
                });
                effects.extend(follow.map(Effect::FollowRequest));
                effects
            }
            Err(e) => {
                self.notice = Some(Notice::Error(format!("not sent: {e}")));
                effects
            }
        }
    }

    /// The first log of a sent request: the feed now follows that request.
    pub(super) fn on_followed(&mut self, detail: Option<Box<VisibleDetail>>) -> Vec<Effect> {
        let Some(detail) = detail else {
            return Vec::new();
        };
        let log = &detail.detail.log;
        let Some(answer) = &mut self.composer.answer else {
            return Vec::new();
        };
        if !answer.logs.contains(&log.id) {
            return Vec::new();
        }
        answer.request_id = Some(log.request_id);
        answer.destination = detail
            .detail
            .attempts
            .last()
            .map(|a| Duration::from_secs_f64(a.latency_ms.max(0.0) / 1000.0));
        let filter = format!("req:{}", log.request_id);
        self.apply_filter_text(&filter).unwrap_or_default()
    }

    pub(super) fn on_edited(&mut self, edited: Result<String, String>) {
        match edited {
            Ok(text) => {
                let vars = self
                    .composer
                    .draft
                    .as_ref()
                    .map_or_else(Variables::new, |d| self.variables(d.environment));
                self.composer.set_text(&text, &vars);
                self.notice = Some(Notice::Info("body updated from the editor".into()));
            }
            Err(e) => self.notice = Some(Notice::Error(format!("$EDITOR: {e}"))),
        }
    }
}

pub(super) mod lists;
mod picking;

#[cfg(test)]
mod tests;
