//! `/` in the detail view: a term searched for in both bodies (keys and values, any
//! case), `n` / `N` to the next / previous match across the request then the response,
//! each match's folds opened and the cursor put on it. `C` copies the request as curl.

use super::{App, BodySide, Effect, Notice};
use crate::console::keymap::{self, Command, Context};
use crate::console::prompt::{LineInput, LineOutcome};
use crossterm::event::KeyEvent;

/// The detail's search: the line while it is typed, then the term.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailSearch {
    /// The `/` line, while open.
    pub typing: Option<LineInput>,
    /// The term last searched for.
    pub term: Option<String>,
    /// The current match, counted over the request's matches then the response's.
    pub at: Option<usize>,
}

impl App {
    /// The detail's search keys (every key, while the line is open); `None` for the rest.
    pub(super) fn search_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let open = self.detail.as_mut()?;
        if let Some(line) = &mut open.search.typing {
            match line.handle(key) {
                LineOutcome::Submit => {
                    let term = line.text.trim().to_string();
                    open.search.typing = None;
                    return Some(self.run_search(term));
                }
                LineOutcome::Cancel => open.search.typing = None,
                LineOutcome::Edited | LineOutcome::Ignored => {}
            }
            return Some(Vec::new());
        }
        match keymap::lookup(Context::Detail, &key)? {
            Command::Search => open.search.typing = Some(LineInput::default()),
            Command::NextMatch => return Some(self.step_match(1)),
            Command::PrevMatch => return Some(self.step_match(-1)),
            Command::CopyCurl => return Some(self.copy_detail_curl()),
            _ => return None,
        }
        Some(Vec::new())
    }

    /// Matches in (request, response), searched again if a reload brought new bodies.
    fn match_counts(&mut self) -> Option<(usize, usize)> {
        let open = self.detail.as_mut()?;
        let term = open.search.term.clone()?;
        let count = |tree: Option<&mut crate::console::json_tree::JsonTree>| {
            tree.map_or(0, |t| {
                if t.search_term() != Some(term.as_str()) {
                    t.search(&term);
                }
                t.match_count()
            })
        };
        Some((count(open.request.as_mut()), count(open.response.as_mut())))
    }

    fn run_search(&mut self, term: String) -> Vec<Effect> {
        let Some(open) = self.detail.as_mut() else {
            return Vec::new();
        };
        if term.is_empty() {
            for tree in [open.request.as_mut(), open.response.as_mut()]
                .into_iter()
                .flatten()
            {
                tree.search("");
            }
            open.search = Default::default();
            return Vec::new();
        }
        if open.request.is_none() && open.response.is_none() {
            return self.error("nothing to search: the bodies are hidden or absent");
        }
        open.search.term = Some(term.clone());
        open.search.at = None;
        let Some((r, s)) = self.match_counts() else {
            return Vec::new();
        };
        if r + s == 0 {
            self.notice = Some(Notice::Info(format!(
                "no match for \"{term}\" in the bodies"
            )));
            return Vec::new();
        }
        // From the cursor on the focused side; else on from there in reading order.
        let Some(open) = self.detail.as_ref() else {
            return Vec::new();
        };
        let first = match open.side {
            BodySide::Request => open.request.as_ref().and_then(|t| t.match_from_cursor()),
            BodySide::Response => open
                .response
                .as_ref()
                .and_then(|t| t.match_from_cursor())
                .map(|i| r + i),
        };
        let fallback = match open.side {
            BodySide::Request => r % (r + s),
            BodySide::Response => 0,
        };
        self.go_to_match(first.unwrap_or(fallback), r, s);
        Vec::new()
    }

    /// `n` (`delta` 1) / `N` (-1).
    fn step_match(&mut self, delta: isize) -> Vec<Effect> {
        let Some((r, s)) = self.match_counts() else {
            return self.error("no search yet: / searches the bodies");
        };
        let total = r + s;
        let Some(open) = self.detail.as_ref() else {
            return Vec::new();
        };
        if total == 0 {
            let term = open.search.term.clone().unwrap_or_default();
            self.notice = Some(Notice::Info(format!(
                "no match for \"{term}\" in the bodies"
            )));
            return Vec::new();
        }
        let next = match open.search.at {
            Some(at) => (at as isize + delta).rem_euclid(total as isize) as usize,
            None if delta < 0 => total - 1,
            None => 0,
        };
        self.go_to_match(next, r, s);
        Vec::new()
    }

    /// Shows match `at` (of `r` in the request and `s` in the response).
    fn go_to_match(&mut self, at: usize, r: usize, s: usize) {
        let Some(open) = self.detail.as_mut() else {
            return;
        };
        let (side, tree, local) = if at < r {
            (BodySide::Request, open.request.as_mut(), at)
        } else {
            (BodySide::Response, open.response.as_mut(), at - r)
        };
        if let Some(tree) = tree {
            tree.reveal_match(local);
        }
        open.side = side;
        open.search.at = Some(at);
        let term = open.search.term.clone().unwrap_or_default();
        self.notice = Some(Notice::Info(format!(
            "match {} of {} for \"{term}\" · n next · N previous",
            at + 1,
            r + s
        )));
    }
}
