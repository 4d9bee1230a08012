//! The link to the engine as the user sees it, and the keys that belong to the console
//! rather than a pane: the engine lost (why, when the next attempt is, `r` to try at
//! once), `ctrl-z` (suspends, except while text is being edited, where it is undo),
//! and the tags that match answers to the requests that asked for them.

use super::{App, Effect, Msg, Pane};
use crate::console::composer::ComposerFocus;
use crate::console::keymap::{self, Command, Context};
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use std::time::Duration;

/// The engine is out of reach; the feed's subscription keeps trying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    /// The transport's words, for the log; the banner says it plainly.
    pub reason: String,
    /// When the next attempt is due.
    pub retry_at: DateTime<Utc>,
}

impl Disconnected {
    /// Whole seconds until the next attempt at `now`, rounded up (0: trying now).
    pub fn seconds_left(&self, now: DateTime<Utc>) -> u64 {
        let ms = (self.retry_at - now).num_milliseconds();
        u64::try_from(ms).map_or(0, |ms| ms.div_ceil(1000))
    }
}

/// Which request an answer belongs to. Each new request of a kind gets a new tag, and
/// only the answer carrying the latest one is taken: an answer the user has moved on
/// from (another filter, another log) is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Tag(pub u64);

/// The latest tag asked for, by kind of request.
#[derive(Debug, Clone, Default)]
pub(super) struct Requests {
    next: u64,
    pub page: Option<Tag>,
    pub detail: Option<Tag>,
    pub catch_up: Option<Tag>,
}

impl Requests {
    fn fresh(&mut self) -> Tag {
        self.next += 1;
        Tag(self.next)
    }

    pub fn page(&mut self) -> Tag {
        let tag = self.fresh();
        self.page = Some(tag);
        tag
    }

    pub fn detail(&mut self) -> Tag {
        let tag = self.fresh();
        self.detail = Some(tag);
        tag
    }

    pub fn catch_up(&mut self) -> Tag {
        let tag = self.fresh();
        self.catch_up = Some(tag);
        tag
    }
}

impl App {
    pub(super) fn on_disconnected(&mut self, reason: String, retry_in: Duration) {
        let wait = chrono::Duration::from_std(retry_in).unwrap_or(chrono::Duration::zero());
        tracing::info!(%reason, ?retry_in, "engine unreachable");
        self.disconnected = Some(Disconnected {
            reason,
            retry_at: self.now() + wait,
        });
    }

    /// A page, detail or catch-up answer, taken only if it answers the latest request
    /// of its kind; `None` when it is stale (the user moved on) and nothing changed.
    pub(super) fn on_tagged(&mut self, answer: Msg) -> Option<Vec<Effect>> {
        match answer {
            // A page may ask for the next one (`g` paging to the oldest log).
            Msg::Page(tag, page) if self.requests.page == Some(tag) => {
                return Some(self.on_page(page));
            }
            Msg::Detail(tag, found) if self.requests.detail == Some(tag) => self.on_detail(found),
            Msg::CaughtUp(tag, found) if self.requests.catch_up == Some(tag) => {
                self.on_caught_up(found)
            }
            _ => return None,
        }
        Some(Vec::new())
    }

    /// `ctrl-z`, and `r` while the engine is out of reach; `None` for other keys.
    pub(super) fn link_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        if self.editing_text() || self.confirm.is_some() {
            return None;
        }
        match keymap::lookup(Context::Always, &key)? {
            Command::Suspend => Some(vec![Effect::Suspend]),
            // Acting on a destination cannot work while the engine is unreachable:
            // `r` tries the engine instead, wherever it is pressed.
            Command::Reconnect => {
                let now = self.now();
                let lost = self.disconnected.as_mut()?;
                lost.retry_at = now;
                Some(vec![Effect::Reconnect])
            }
            _ => None,
        }
    }

    /// Whether keys go into text: a prompt line, or the composer's editor or one of its
    /// typed fields (name, guard, picker query). `ctrl-z` is undo there.
    pub fn editing_text(&self) -> bool {
        if self.prompt.is_some()
            || self
                .detail
                .as_ref()
                .is_some_and(|d| d.search.typing.is_some())
        {
            return true;
        }
        let composer_shown = self.focus == Pane::Composer
            && self.detail.is_none()
            && self.developer.is_none()
            && !self.help;
        let c = &self.composer;
        composer_shown
            && (c.focus == ComposerFocus::Editing
                || c.naming.is_some()
                || c.guard.is_some()
                || c.picker.is_some())
    }
}

#[cfg(test)]
impl App {
    /// The tags of the latest requests, to answer them as the loop would.
    pub(crate) fn page_tag(&self) -> Tag {
        self.requests.page.unwrap_or_default()
    }

    pub(crate) fn detail_tag(&self) -> Tag {
        self.requests.detail.unwrap_or_default()
    }

    pub(crate) fn catch_up_tag(&self) -> Tag {
        self.requests.catch_up.unwrap_or_default()
    }
}
