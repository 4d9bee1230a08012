//! The composer's memory: the history of sent requests (kept by the engine) and the
//! saved requests (files in a collection directory, for git), each browsable and
//! re-opened into the editor to edit and send again.

use super::super::{App, Effect, Notice};
use crate::client::wire::{HistoryEntry, HistoryPage, Sent};
use crate::console::collection::{Listed, SavedRequest, parse_body};
use crate::console::composer::{Composed, Draft, ListItem, ListView, Named};
use crate::console::keymap::{self, Command, Context};
use crate::console::prompt::{LineInput, LineOutcome};
use crate::model::fhir::FhirKind;
use crossterm::event::KeyEvent;

/// History entries asked for per page.
pub const HISTORY_PAGE: usize = 50;

impl App {
    /// `h`: the history, newest first.
    pub(in crate::console::app) fn open_history(&mut self) -> Vec<Effect> {
        self.composer.list = Some(ListView::loading(false));
        vec![Effect::LoadHistory { before: None }]
    }

    /// `o`: the saved requests.
    pub(in crate::console::app) fn open_saved(&mut self) -> Vec<Effect> {
        self.composer.list = Some(ListView::loading(true));
        vec![Effect::LoadSaved]
    }

    /// `ctrl-w`: asks for a name, suggesting one from the event.
    pub(in crate::console::app) fn start_saving(&mut self) -> Vec<Effect> {
        let Some(draft) = &self.composer.draft else {
            return self.error("nothing to save: c composes a request");
        };
        let suggestion = draft.what.label().to_lowercase().replace(' ', "-");
        // Selected: typing replaces the suggestion, a movement key keeps it.
        self.composer.naming = Some(LineInput::prefilled(suggestion));
        Vec::new()
    }

    pub(in crate::console::app) fn naming_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(name) = &mut self.composer.naming else {
            return Vec::new();
        };
        match name.handle(key) {
            LineOutcome::Cancel => self.composer.naming = None,
            LineOutcome::Submit => {
                let name = name.text.trim().to_string();
                if name.is_empty() {
                    return self.error("not saved: type a name for the request, or esc");
                }
                let Some(draft) = &self.composer.draft else {
                    return Vec::new();
                };
                let text = self.composer.text();
                let body = match draft.what {
                    // A search form is kept as its lines, so it diffs by line too.
                    Composed::Fhir(FhirKind::Search(_)) => {
                        serde_json::Value::from(text.lines().map(String::from).collect::<Vec<_>>())
                    }
                    _ => match parse_body(&text) {
                        Ok(body) => body,
                        Err(e) => return self.error(format!("not saved: {e}")),
                    },
                };
                let (data_model, event) = draft.what.record();
                let request = SavedRequest {
                    environment: draft.environment,
                    source: draft.source.name.clone(),
                    destination: draft.destination.name.clone(),
                    data_model,
                    event,
                    body,
                };
                self.composer.naming = None;
                self.composer.mark_saved();
                return vec![Effect::SaveRequest { name, request }];
            }
            LineOutcome::Edited | LineOutcome::Ignored => {}
        }
        Vec::new()
    }

    pub(in crate::console::app) fn list_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(list) = &mut self.composer.list else {
            return Vec::new();
        };
        let last = list.items.len().saturating_sub(1);
        let page = usize::from(self.size.1 / 2).max(1);
        match keymap::lookup(Context::List, &key) {
            Some(Command::Back) => self.composer.list = None,
            Some(Command::Up) => list.cursor = list.cursor.saturating_sub(1),
            Some(Command::PageUp) => list.cursor = list.cursor.saturating_sub(page),
            Some(Command::PageDown) => list.cursor = (list.cursor + page).min(last),
            Some(Command::Down) => {
                if list.cursor == last && !list.saved && !list.loading {
                    // Past the last entry: the next, older page.
                    if let Some(before) = list.next {
                        list.loading = true;
                        return vec![Effect::LoadHistory {
                            before: Some(before),
                        }];
                    }
                }
                list.cursor = (list.cursor + 1).min(last);
            }
            Some(Command::First) => list.cursor = 0,
            Some(Command::Last) => list.cursor = last,
            Some(Command::Choose) => {
                let Some(item) = list.items.get(list.cursor).cloned() else {
                    return Vec::new();
                };
                self.composer.list = None;
                match item {
                    ListItem::History(entry) => self.reopen_history(entry),
                    ListItem::Saved(listed) => self.reopen_saved(listed),
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn reopen_history(&mut self, entry: HistoryEntry) {
        let sent = entry.sent;
        let Some(what) = Composed::lookup(&sent.data_model, &sent.event_type) else {
            self.notice = Some(Notice::Error(format!(
                "{} {} is no longer in the catalog",
                sent.data_model, sent.event_type
            )));
            return;
        };
        let Some(body) = sent.body else {
            self.notice = Some(Notice::Error(
                "the body of this Production request was not kept (no PHI permission)".into(),
            ));
            return;
        };
        let draft = Draft {
            environment: sent.environment,
            source: Named {
                id: sent.source_id,
                name: sent.source_name,
            },
            destination: Named {
                id: sent.destination_id,
                name: sent.destination_name,
            },
            what,
        };
        let vars = self.variables(draft.environment);
        self.composer.load(draft, &body, &vars);
        self.notice = Some(Notice::Info(
            "re-opened from history: edit, then ctrl-s to send again".into(),
        ));
    }

    fn reopen_saved(&mut self, listed: Listed) {
        let request = match listed.request {
            Ok(r) => r,
            Err(e) => {
                self.notice = Some(Notice::Error(format!("{}: {e}", listed.name)));
                return;
            }
        };
        if request.environment != self.environment {
            self.notice = Some(Notice::Error(format!(
                "\"{}\" is for {}: switch with :env {} first",
                listed.name,
                request.environment,
                request.environment.as_str().to_ascii_lowercase()
            )));
            return;
        }
        let Some(what) = Composed::lookup(&request.data_model, &request.event) else {
            self.notice = Some(Notice::Error(format!(
                "\"{}\": {} {} is not in the catalog",
                listed.name, request.data_model, request.event
            )));
            return;
        };
        let view = self.connections.as_ref();
        let find = |name: &str, sources: bool| -> Option<Named> {
            let view = view?;
            if sources {
                view.sources
                    .iter()
                    .map(|s| &s.source)
                    .find(|s| s.name.eq_ignore_ascii_case(name) || s.id.to_string() == name)
                    .map(|s| Named {
                        id: s.id,
                        name: s.name.clone(),
                    })
            } else {
                view.destinations
                    .iter()
                    .map(|d| &d.destination)
                    .find(|d| d.name.eq_ignore_ascii_case(name) || d.id.to_string() == name)
                    .map(|d| Named {
                        id: d.id,
                        name: d.name.clone(),
                    })
            }
        };
        let (Some(source), Some(destination)) = (
            find(&request.source, true),
            find(&request.destination, false),
        ) else {
            self.notice = Some(Notice::Error(format!(
                "\"{}\" names {} → {}, which {} does not have",
                listed.name, request.source, request.destination, request.environment
            )));
            return;
        };
        let draft = Draft {
            environment: request.environment,
            source,
            destination,
            what,
        };
        let vars = self.variables(draft.environment);
        let text = match (what, request.body.as_array()) {
            (Composed::Fhir(FhirKind::Search(_)), Some(lines)) => {
                let lines: Vec<&str> = lines.iter().filter_map(|l| l.as_str()).collect();
                format!("{}\n", lines.join("\n"))
            }
            _ => request.body_text(),
        };
        self.composer.load(draft, &text, &vars);
        self.notice = Some(Notice::Info(format!("opened \"{}\"", listed.name)));
    }

    pub(in crate::console::app) fn on_history(&mut self, page: Result<HistoryPage, String>) {
        let Some(list) = &mut self.composer.list else {
            return;
        };
        list.loading = false;
        match page {
            Ok(page) => {
                let first_page = list.items.is_empty();
                list.items
                    .extend(page.entries.into_iter().map(ListItem::History));
                list.next = page.next;
                if !first_page {
                    list.cursor = (list.cursor + 1).min(list.items.len().saturating_sub(1));
                }
            }
            Err(e) => {
                self.composer.list = None;
                self.notice = Some(Notice::Error(format!("history: {e}")));
            }
        }
    }

    pub(in crate::console::app) fn on_saved_list(&mut self, found: Result<Vec<Listed>, String>) {
        let Some(list) = &mut self.composer.list else {
            return;
        };
        list.loading = false;
        match found {
            Ok(items) => list.items = items.into_iter().map(ListItem::Saved).collect(),
            Err(e) => {
                self.composer.list = None;
                self.notice = Some(Notice::Error(format!("saved requests: {e}")));
            }
        }
    }

    /// What the history keeps of the request just answered.
    pub(in crate::console::app) fn sent_record(
        &self,
        status: Option<u16>,
        elapsed_ms: u64,
        log_ids: Vec<uuid::Uuid>,
        error: Option<String>,
    ) -> Option<Sent> {
        let draft = self.composer.draft.as_ref()?;
        let (data_model, event_type) = draft.what.record();
        Some(Sent {
            environment: draft.environment,
            source_id: draft.source.id,
            source_name: draft.source.name.clone(),
            destination_id: draft.destination.id,
            destination_name: draft.destination.name.clone(),
            data_model,
            event_type,
            body: self.composer.last_sent.clone(),
            status,
            elapsed_ms,
            log_ids,
            error,
            summary: None,
        })
    }
}
