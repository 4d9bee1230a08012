//! What the `:` and `/` prompts remember and suggest: the lines submitted before (↑/↓,
//! newest first, kept across runs in a small JSON file in the data directory) and Tab
//! completion of the word at the cursor from what the console already knows (commands,
//! filter keys, environments, sources, destinations, data models, event types).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Lines kept per prompt; older ones are forgotten.
pub const HISTORY_LIMIT: usize = 200;

/// The history file's name in the data directory.
pub const HISTORY_FILE: &str = "console-prompts.json";

#[derive(Debug, thiserror::Error)]
pub enum RecallError {
    #[error("cannot read the prompt history {path}: {source}; delete the file to start afresh")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the prompt history {path} is not valid JSON ({source}); delete the file to start afresh"
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the prompt history {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which prompt a line was typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Command,
    Filter,
}

/// Submitted lines, newest first, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptHistory {
    #[serde(default)]
    pub commands: Vec<String>,
    #[serde(default)]
    pub filters: Vec<String>,
}

impl PromptHistory {
    pub fn lines(&self, kind: PromptKind) -> &[String] {
        match kind {
            PromptKind::Command => &self.commands,
            PromptKind::Filter => &self.filters,
        }
    }

    /// Puts `line` first (moving it there if it was already kept); false when there was
    /// nothing to keep (blank, or already the newest).
    pub fn record(&mut self, kind: PromptKind, line: &str) -> bool {
        let line = line.trim();
        let lines = match kind {
            PromptKind::Command => &mut self.commands,
            PromptKind::Filter => &mut self.filters,
        };
        if line.is_empty() || lines.first().is_some_and(|l| l == line) {
            return false;
        }
        lines.retain(|l| l != line);
        lines.insert(0, line.to_string());
        lines.truncate(HISTORY_LIMIT);
        true
    }

    /// The history in `path`; empty when the file does not exist yet.
    pub fn load(path: &Path) -> Result<PromptHistory, RecallError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(RecallError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        let mut history: PromptHistory =
            serde_json::from_str(&text).map_err(|source| RecallError::Parse {
                path: path.into(),
                source,
            })?;
        // A hand-edited file may be longer than the bound.
        history.commands.truncate(HISTORY_LIMIT);
        history.filters.truncate(HISTORY_LIMIT);
        Ok(history)
    }

    /// Writes the history to `path` (through a temporary file, so a crash mid-write
    /// leaves the previous history, not half of one).
    pub fn save(&self, path: &Path) -> Result<(), RecallError> {
        let write = |source| RecallError::Write {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| write(e.into()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }
}

/// An open prompt's place in the history and its Tab cycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recall {
    /// The history line shown; `None` while the user's own line is.
    pub index: Option<usize>,
    /// The user's own line, kept while browsing the history.
    pub typed: String,
    pub completion: Option<Completion>,
}

/// Tab's candidates for one word and the one shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The text before the word, and after the cursor.
    pub before: String,
    pub after: String,
    pub candidates: Vec<String>,
    pub at: usize,
}

impl Recall {
    /// ↑ (`older`) or ↓ through `lines` (newest first); the line to show, if it changes.
    pub fn browse(&mut self, lines: &[String], current: &str, older: bool) -> Option<String> {
        self.completion = None;
        let next = match (self.index, older) {
            (None, true) if !lines.is_empty() => Some(0),
            (None, _) => return None,
            (Some(i), true) => Some((i + 1).min(lines.len().saturating_sub(1))),
            (Some(0), false) => None,
            (Some(i), false) => Some(i - 1),
        };
        if self.index.is_none() {
            self.typed = current.to_string();
        }
        self.index = next;
        Some(match next {
            Some(i) => lines.get(i).cloned().unwrap_or_default(),
            None => self.typed.clone(),
        })
    }

    /// Tab (`forward`) or shift-Tab: the line with the word at `cursor` completed to the
    /// next candidate, and the cursor after it; `None` when nothing completes it.
    pub fn complete(
        &mut self,
        text: &str,
        cursor: usize,
        forward: bool,
        words: &Vocabulary,
        kind: PromptKind,
    ) -> Option<(String, usize)> {
        let cycling = self.completion.as_ref().is_some_and(|c| {
            c.candidates
                .get(c.at)
                .is_some_and(|w| format!("{}{w}", c.before) == text[..cursor])
        });
        if !cycling {
            let cursor = cursor.min(text.len());
            let (head, after) = text.split_at(cursor);
            let start = head.rfind(char::is_whitespace).map_or(0, |i| {
                i + head[i..].chars().next().map_or(1, char::len_utf8)
            });
            let (before, word) = head.split_at(start);
            let candidates = words.candidates(before, word, kind);
            if candidates.is_empty() {
                self.completion = None;
                return None;
            }
            self.completion = Some(Completion {
                before: before.to_string(),
                after: after.to_string(),
                at: if forward { 0 } else { candidates.len() - 1 },
                candidates,
            });
        } else if let Some(c) = &mut self.completion {
            let n = c.candidates.len();
            c.at = if forward {
                (c.at + 1) % n
            } else {
                (c.at + n - 1) % n
            };
        }
        let c = self.completion.as_ref()?;
        let word = c.candidates.get(c.at)?;
        let line = format!("{}{word}{}", c.before, c.after);
        Some((line, c.before.len() + word.len()))
    }
}

/// What the console knows, for completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    pub environments: Vec<String>,
    pub sources: Vec<String>,
    pub destinations: Vec<String>,
    pub data_models: Vec<String>,
    pub event_types: Vec<String>,
    /// (data model, event type) pairs, so `compose MODEL ` offers that model's events.
    pub events: Vec<(String, String)>,
    pub themes: Vec<String>,
}

/// The `:` commands, as typed.
pub const COMMANDS: &[&str] = &[
    "env",
    "filter",
    "theme",
    "pause",
    "resume",
    "compose",
    "revoke-key",
    "revoke-token",
    "keys",
    "endpoints",
    "jwks",
    "reload",
    "quit",
];

/// The filter keys, with their colon.
pub const FILTER_KEYS: &[&str] = &[
    "status:", "dm:", "event:", "src:", "dst:", "type:", "env:", "mrn:", "req:",
];

const STATUSES: &[&str] = &["succeeded", "failed", "pending", "filtered"];
const TYPES: &[&str] = &["send", "receive", "request", "respond"];

impl Vocabulary {
    /// Completions of `word`, typed after `before` in a prompt of `kind`.
    fn candidates(&self, before: &str, word: &str, kind: PromptKind) -> Vec<String> {
        let words: Vec<&str> = before.split_whitespace().collect();
        let filter = match kind {
            PromptKind::Filter => true,
            PromptKind::Command => {
                let Some(command) = words.first() else {
                    return matching(COMMANDS.iter().copied(), word);
                };
                match command.to_ascii_lowercase().as_str() {
                    "filter" => true,
                    "env" => return matching(self.environments.iter().map(String::as_str), word),
                    "theme" => return matching(self.themes.iter().map(String::as_str), word),
                    "pause" | "resume" => {
                        return quoted(matching(
                            self.destinations.iter().map(String::as_str),
                            word.trim_start_matches('"'),
                        ));
                    }
                    "compose" | "c" if words.len() == 1 => {
                        return matching(self.data_models.iter().map(String::as_str), word);
                    }
                    "compose" | "c" => {
                        let model = words.get(1).copied().unwrap_or_default();
                        let events = self
                            .events
                            .iter()
                            .filter(|(m, _)| m.eq_ignore_ascii_case(model))
                            .map(|(_, e)| e.as_str());
                        return matching(events, word);
                    }
                    _ => return Vec::new(),
                }
            }
        };
        debug_assert!(filter);
        let Some((key, value)) = word.split_once(':') else {
            return matching(FILTER_KEYS.iter().copied(), word);
        };
        let prefix = format!("{key}:");
        let values: Vec<&str> = match key.to_ascii_lowercase().as_str() {
            "status" => STATUSES.to_vec(),
            "type" => TYPES.to_vec(),
            "env" => self.environments.iter().map(String::as_str).collect(),
            "dm" | "datamodel" => self.data_models.iter().map(String::as_str).collect(),
            "event" => self.event_types.iter().map(String::as_str).collect(),
            "src" | "source" => self.sources.iter().map(String::as_str).collect(),
            "dst" | "dest" | "destination" => {
                self.destinations.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        };
        quoted(matching(values.into_iter(), value.trim_start_matches('"')))
            .into_iter()
            .map(|v| format!("{prefix}{v}"))
            .collect()
    }
}

/// The words starting with `typed` (any case), sorted, without duplicates.
fn matching<'a>(words: impl Iterator<Item = &'a str>, typed: &str) -> Vec<String> {
    let typed = typed.to_lowercase();
    let mut found: Vec<String> = words
        .filter(|w| w.to_lowercase().starts_with(&typed))
        .map(String::from)
        .collect();
    found.sort_by_key(|w| w.to_lowercase());
    found.dedup();
    found
}

/// Names with spaces in quotes, as the filter and `pause` read them.
fn quoted(words: Vec<String>) -> Vec<String> {
    words
        .into_iter()
        .map(|w| {
            if w.contains(char::is_whitespace) {
                format!("\"{w}\"")
            } else {
                w
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
