//! The `:` and `/` prompts' memory: ↑/↓ through the lines submitted before (kept across
//! runs by [`Effect::SavePromptHistory`]) and Tab / shift-Tab completion.

use super::{App, Effect, Notice, Prompt};
use crate::console::keymap::{self, Command, Context};
use crate::console::prompt::LineOutcome;
use crate::console::recall::{PromptKind, Recall, Vocabulary};
use crate::model::filter::Filter;
use crossterm::event::KeyEvent;

impl App {
    /// A key while the `/` or `:` line is open.
    pub(super) fn prompt_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        if let Some(effects) = self.recall_key(key) {
            return Some(effects);
        }
        let (outcome, text, is_filter) = match self.prompt.as_mut()? {
            Prompt::Filter { line, error } => {
                let outcome = line.handle(key);
                if outcome == LineOutcome::Edited {
                    *error = Filter::parse(&line.text).err();
                }
                (outcome, line.text.clone(), true)
            }
            Prompt::Command { line } => (line.handle(key), line.text.clone(), false),
        };
        match outcome {
            LineOutcome::Ignored => return None,
            LineOutcome::Edited => {}
            LineOutcome::Cancel => self.prompt = None,
            LineOutcome::Submit if is_filter => match self.apply_filter_text(&text) {
                Ok(mut effects) => {
                    self.prompt = None;
                    effects.extend(self.remember(PromptKind::Filter, &text));
                    return Some(effects);
                }
                Err(e) => {
                    self.notice = Some(Notice::Error(format!("filter not applied: {e}")));
                    if let Some(Prompt::Filter { error, .. }) = &mut self.prompt {
                        *error = Some(e);
                    }
                }
            },
            LineOutcome::Submit => {
                self.prompt = None;
                let mut effects = self.remember(PromptKind::Command, &text);
                effects.extend(self.run(&text));
                return Some(effects);
            }
        }
        Some(Vec::new())
    }

    /// A fresh place in the history for a prompt just opened.
    pub(super) fn reset_recall(&mut self) {
        self.recall = Recall::default();
    }

    /// ↑/↓/Tab/shift-Tab in an open prompt; `None` for every other key.
    pub(super) fn recall_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let command = keymap::lookup(Context::Prompt, &key)?;
        let (kind, line) = match self.prompt.as_ref()? {
            Prompt::Filter { line, .. } => (PromptKind::Filter, line.clone()),
            Prompt::Command { line } => (PromptKind::Command, line.clone()),
        };
        let changed = match command {
            Command::Up | Command::Down => {
                let lines = self.prompt_history.lines(kind);
                self.recall
                    .browse(lines, &line.text, command == Command::Up)
                    .map(|text| {
                        let cursor = text.len();
                        (text, cursor)
                    })
            }
            Command::Complete | Command::CompleteBack => {
                let words = self.vocabulary();
                self.recall.complete(
                    &line.text,
                    line.cursor,
                    command == Command::Complete,
                    &words,
                    kind,
                )
            }
            _ => return None,
        };
        let (text, cursor) = changed?;
        match self.prompt.as_mut()? {
            Prompt::Filter { line, error } => {
                line.set(text);
                line.cursor = cursor.min(line.text.len());
                *error = Filter::parse(&line.text).err();
            }
            Prompt::Command { line } => {
                line.set(text);
                line.cursor = cursor.min(line.text.len());
            }
        }
        Some(Vec::new())
    }

    /// Keeps a submitted line; the effect writes the history file, when there is one.
    pub(super) fn remember(&mut self, kind: PromptKind, line: &str) -> Vec<Effect> {
        if !self.prompt_history.record(kind, line) {
            return Vec::new();
        }
        match &self.history_file {
            Some(path) => vec![Effect::SavePromptHistory {
                path: path.clone(),
                history: self.prompt_history.clone(),
            }],
            None => Vec::new(),
        }
    }

    /// What Tab completes from: the console's environments and connections, the
    /// catalog, the built-in themes.
    pub fn vocabulary(&self) -> Vocabulary {
        let mut words = Vocabulary {
            environments: crate::model::Environment::ALL
                .iter()
                .map(|e| e.as_str().to_ascii_lowercase())
                .collect(),
            data_models: crate::model::catalog::data_models()
                .map(String::from)
                .collect(),
            event_types: crate::model::catalog::all()
                .iter()
                .map(|e| e.event_type.to_string())
                .collect(),
            events: crate::console::composer::pick::sendable_events()
                .map(|e| (e.data_model.to_string(), e.event_type.to_string()))
                .collect(),
            themes: crate::console::theme::BUILT_IN
                .iter()
                .map(|(name, _)| name.to_string())
                .collect(),
            ..Vocabulary::default()
        };
        words.event_types.sort();
        words.event_types.dedup();
        if let Some(view) = &self.connections {
            words.sources = view.sources.iter().map(|s| s.source.name.clone()).collect();
            words.destinations = view
                .destinations
                .iter()
                .map(|d| d.destination.name.clone())
                .collect();
        }
        words
    }
}
