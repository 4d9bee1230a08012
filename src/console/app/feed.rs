//! The live feed's side of the state: live events, history pages, the catch-up after a
//! reconnection, and the feed pane's keys.

use super::{App, Detail, Effect, Notice};
use crate::client::FeedEvent;
use crate::client::wire::{LogPage, LogQuery};
use crate::console::keymap::{self, Command, Context};
use crate::model::LogRecord;
use crossterm::event::KeyEvent;

impl App {
    pub(super) fn on_feed(&mut self, event: FeedEvent) -> Vec<Effect> {
        match event {
            FeedEvent::Log(log) => {
                if !self.scoped_filter.matches(&log) {
                    return Vec::new();
                }
                match &mut self.held {
                    Some(held) => {
                        if held.len() >= self.feed.capacity() {
                            held.remove(0);
                            self.feed.note_dropped(1);
                        }
                        held.push(*log);
                    }
                    None => self.feed.push(*log),
                }
            }
            FeedEvent::Dropped(n) => self.feed.note_dropped(n),
            FeedEvent::Disconnected { reason, retry_in } => self.on_disconnected(reason, retry_in),
            FeedEvent::Reconnected => {
                self.disconnected = None;
                return self.catch_up();
            }
        }
        Vec::new()
    }

    /// What was missed while the engine was out of reach: every log since the newest
    /// row, and since the oldest row still in flight (its later states were missed too).
    fn catch_up(&mut self) -> Vec<Effect> {
        let newest = self.feed.newest().map(|l| l.created_at);
        let in_flight = self.feed.oldest_pending().map(|l| l.created_at);
        let since = match (newest, in_flight) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.held = Some(Vec::new());
        vec![Effect::CatchUp {
            tag: self.requests.catch_up(),
            query: LogQuery {
                since,
                ..self.page_query(None)
            },
            max: self.feed.capacity(),
        }]
    }

    pub(super) fn on_caught_up(&mut self, found: Result<Vec<LogRecord>, String>) {
        let held = self.held.take().unwrap_or_default();
        match found {
            Ok(logs) => {
                let newest = self.feed.newest().map(|l| l.created_at);
                let mut added = 0;
                for log in logs.into_iter().rev() {
                    if !self.scoped_filter.matches(&log) {
                        continue;
                    }
                    let known = self.feed.position(log.id).is_some();
                    // Logs older than the newest row that are not here were filtered
                    // or evicted; the ring only grows at its newest end.
                    if known || newest.is_none_or(|n| log.created_at >= n) {
                        added += usize::from(!known);
                        self.feed.push(log);
                    }
                }
                self.notice = Some(Notice::Info(format!(
                    "reconnected: {added} missed log{} loaded",
                    if added == 1 { "" } else { "s" }
                )));
            }
            Err(e) => {
                self.notice = Some(Notice::Error(format!(
                    "reconnected, but the missed logs could not be loaded: {e}"
                )))
            }
        }
        for log in held {
            self.feed.push(log);
        }
    }

    pub(super) fn on_page(&mut self, page: LogPage) -> Vec<Effect> {
        self.loading_older = false;
        self.older = page.next;
        let scanned = page.logs.len();
        let filter = &self.scoped_filter;
        let logs = page.logs.into_iter().filter(|l| filter.matches(l));
        self.feed.extend_older(logs);
        self.seek_on(scanned)
    }

    pub(super) fn feed_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        // Any other move ends a `g` still paging towards the oldest log.
        self.seek = None;
        match keymap::lookup(Context::Feed, &key)? {
            Command::Freeze => self.feed.toggle_follow(),
            Command::FlipRows => self.feed_rows_flipped = !self.feed_rows_flipped,
            Command::Last => self.feed.follow(),
            Command::First => return Some(self.seek_oldest()),
            Command::CopyCurl => return self.copy_selected_curl(),
            Command::Down => self.feed.select_newer(1),
            Command::PageDown => self.feed.page_newer(),
            command @ (Command::Up | Command::PageUp) => {
                // Past the oldest row, history has more: ask for the next older page.
                if self.feed.selected() == Some(0) {
                    return Some(self.load_older());
                }
                if command == Command::PageUp {
                    self.feed.page_older();
                } else {
                    self.feed.select_older(1);
                }
            }
            Command::Choose => {
                let row = self.feed.selected_log()?.clone();
                let log_id = row.id;
                self.detail = Some(Detail::new(row));
                return Some(vec![Effect::OpenLog(self.requests.detail(), log_id)]);
            }
            _ => return None,
        }
        Some(Vec::new())
    }

    fn load_older(&mut self) -> Vec<Effect> {
        match self.older {
            Some(before) if !self.loading_older && !self.feed.is_full() => {
                self.loading_older = true;
                vec![Effect::LoadPage(
                    self.requests.page(),
                    self.page_query(Some(before)),
                )]
            }
            _ => Vec::new(),
        }
    }
}
