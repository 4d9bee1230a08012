//! `g` in the feed goes to the oldest log in history, not merely the oldest row loaded:
//! older pages are loaded one after another until history has no more, then the
//! oldest row is selected. The feed's capacity bounds it (history never pushes out
//! rows), and so does a bound on the logs looked through for a filter that matches few;
//! the notice says which stopped it.

use super::{App, Effect, Notice};

/// Logs looked through, as a multiple of the feed's capacity, before a filter that
/// matches few of them stops the paging.
const SCAN_FACTOR: usize = 10;

/// A `g` in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seek {
    /// Logs of the pages loaded so far, matching the filter or not.
    scanned: usize,
}

impl App {
    /// `g` / `home` in the feed.
    pub(super) fn seek_oldest(&mut self) -> Vec<Effect> {
        let Some(before) = self.older.filter(|_| !self.feed.is_full()) else {
            return self.arrive(false);
        };
        self.seek = Some(Seek { scanned: 0 });
        self.notice = Some(Notice::Info("loading older history…".into()));
        if self.loading_older {
            // The page on its way carries on from there.
            return Vec::new();
        }
        self.loading_older = true;
        vec![Effect::LoadPage(
            self.requests.page(),
            self.page_query(Some(before)),
        )]
    }

    /// After a page of `scanned` logs: the next page, or the oldest row.
    pub(super) fn seek_on(&mut self, scanned: usize) -> Vec<Effect> {
        let Some(seek) = &mut self.seek else {
            return Vec::new();
        };
        seek.scanned += scanned;
        let scanned_out = seek.scanned >= self.feed.capacity().saturating_mul(SCAN_FACTOR);
        match self.older {
            Some(before) if !self.feed.is_full() && !scanned_out => {
                self.loading_older = true;
                self.notice = Some(Notice::Info(format!(
                    "loading older history… {} rows",
                    self.feed.len()
                )));
                vec![Effect::LoadPage(
                    self.requests.page(),
                    self.page_query(Some(before)),
                )]
            }
            _ => {
                self.seek = None;
                self.arrive(scanned_out)
            }
        }
    }

    /// Selects the oldest row and says whether it is the oldest in history.
    fn arrive(&mut self, scanned_out: bool) -> Vec<Effect> {
        if self.feed.is_empty() {
            return Vec::new();
        }
        self.feed.select_oldest();
        let text = if self.older.is_none() {
            "oldest log in history".to_string()
        } else if self.feed.is_full() {
            format!(
                "stopped at the feed's capacity ({} rows): older logs are still in history; \
                 narrow the feed with / (or start with a larger --feed-capacity) to reach them",
                self.feed.capacity()
            )
        } else if scanned_out {
            "stopped after looking through many logs for ones matching the filter: older \
             ones are still in history; g again goes on"
                .to_string()
        } else {
            "oldest row loaded".to_string()
        };
        self.notice = Some(Notice::Info(text));
        Vec::new()
    }
}
