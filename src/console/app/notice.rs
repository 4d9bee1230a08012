//! How long the bottom line's notice stays. An informational notice goes after
//! [`INFO_LIFETIME`] or at the user's next action, whichever is first. An error stays
//! until what caused it changes: a failed load until a load succeeds, an invalid-JSON
//! refusal until the JSON is valid (or a send succeeds), any other error until the user
//! does something else. Nothing here is timed by a task: the loop's [`Msg::Tick`] and
//! the App's clock decide, so tests drive it with the test clock.

use super::{App, Effect, Msg};
use chrono::{DateTime, Utc};

/// The bottom line's message: something worked, or something is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// How long an informational notice stays when nothing else happens.
pub const INFO_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::seconds(4);

/// What an error depends on, when the console can see it change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A page, the connections or a log could not be loaded.
    Load,
    /// The composer's JSON does not parse.
    InvalidJson,
}

/// The notice on show: since when, and why (errors).
#[derive(Debug, Clone, Default)]
pub struct NoticeLife {
    since: Option<DateTime<Utc>>,
    cause: Option<Cause>,
    /// The cause of a notice being set by the message in progress.
    pending: Option<Cause>,
}

/// What kind of message just ran, as far as notices care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Happened {
    Key,
    Tick,
    /// A load answered: a page, the connections, a log, a catch-up.
    Loaded,
    /// A request the composer sent got its answer.
    SentOk,
    Other,
}

impl Happened {
    fn of(msg: &Msg) -> Happened {
        match msg {
            Msg::Key(_) => Happened::Key,
            Msg::Tick => Happened::Tick,
            Msg::Page(..)
            | Msg::Connections(_)
            | Msg::Detail(_, Some(_))
            | Msg::CaughtUp(_, Ok(_)) => Happened::Loaded,
            Msg::Sent(Ok(_)) => Happened::SentOk,
            _ => Happened::Other,
        }
    }
}

/// Applies one message; returns what the event loop should do. Sets the dirty flag when
/// anything visible may have changed, and then settles the notice: stamped if the
/// message set one, else the one before kept unless its time is up.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let happened = Happened::of(&msg);
    let before = app.notice.take();
    let dirty = std::mem::take(&mut app.dirty);
    let effects = super::apply(app, msg);
    // Whether this message (a key, say) did anything.
    let acted = app.dirty;
    app.dirty |= dirty;
    app.settle_notice(before, happened, acted);
    effects
}

impl App {
    /// An error that stays until `cause` changes.
    pub(super) fn error_because(&mut self, cause: Cause, message: impl Into<String>) {
        self.notice = Some(Notice::Error(message.into()));
        self.notice_life.pending = Some(cause);
    }

    /// Around every message: `before` is the notice taken out before it ran, `acted`
    /// whether a key did anything. A notice the message set is stamped; otherwise the
    /// one before is put back unless its time is up.
    fn settle_notice(&mut self, before: Option<Notice>, happened: Happened, acted: bool) {
        let now = self.now();
        let life = &mut self.notice_life;
        if self.notice.is_some() {
            life.since = Some(now);
            life.cause = life.pending.take();
            return;
        }
        life.pending = None;
        let Some(notice) = before else { return };
        let key = happened == Happened::Key && acted;
        let expired = match (&notice, life.cause) {
            (Notice::Info(_), _) => {
                key || (happened == Happened::Tick
                    && life.since.is_none_or(|at| now - at >= INFO_LIFETIME))
            }
            (Notice::Error(_), Some(Cause::Load)) => happened == Happened::Loaded,
            (Notice::Error(_), Some(Cause::InvalidJson)) => {
                happened == Happened::SentOk || self.composer.validation.syntax_error.is_none()
            }
            (Notice::Error(_), None) => key,
        };
        if expired {
            self.notice_life = NoticeLife::default();
            self.dirty = true;
        } else {
            self.notice = Some(notice);
        }
    }
}
