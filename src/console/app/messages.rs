//! What the console's pure core and its event loop say to each other: the [`Effect`]s
//! `update` asks for, and the [`Msg`]s that come back (keys, the live feed, answers).
//! Nothing here acts; `console::run` carries effects out.

use super::{CreateKind, Hit, Pointer, Tag};
use crate::client::wire::{ConnectionsView, EnvironmentView, LogPage, LogQuery, VisibleDetail};
use crate::client::{Action, FeedEvent, Revoke, Status};
use crate::model::filter::Filter;
use crate::model::{Environment, LogRecord};
use crossterm::event::KeyEvent;
use uuid::Uuid;

/// Something the engine or its edges should do; the event loop carries these out and
/// answers with a [`Msg`].
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Subscribe(Filter),
    /// A page of history (answered with [`Msg::Page`] carrying the same tag).
    LoadPage(Tag, LogQuery),
    /// After a reconnection: the logs of `query` (newest first, following its pages up
    /// to `max` logs), answered with [`Msg::CaughtUp`].
    CatchUp {
        tag: Tag,
        query: LogQuery,
        max: usize,
    },
    LoadConnections(Option<Environment>),
    /// One log in full (answered with [`Msg::Detail`] carrying the same tag).
    OpenLog(Tag, Uuid),
    Act(Action),
    /// Revoke a key or admin tokens (answered with [`Msg::Info`] or [`Msg::Failed`]).
    Revoke(Revoke),
    /// Re-read the engine's configuration (answered with [`Msg::Info`] or [`Msg::Failed`]).
    Reload,
    SetTheme(String),
    /// The source keys (answered with [`Msg::Keys`]).
    LoadKeys,
    /// A new key for `source` (answered with [`Msg::KeyCreated`]).
    CreateKey {
        source: Uuid,
        kind: CreateKind,
    },
    /// The composer's request, through the platform API as `source`.
    ComposeSend {
        source: Uuid,
        path: crate::client::send::PlatformPath,
        body: String,
    },
    /// The composer's FHIR request, through the FHIR API as `source` (answered with
    /// [`Msg::Sent`]).
    ComposeFhir {
        source: Uuid,
        request: crate::model::fhir::request::FhirRequest,
    },
    /// Read the first log of a sent request (answered with [`Msg::Followed`]).
    FollowRequest(Uuid),
    /// Record a sent request in the engine's composer history.
    RecordSent(crate::client::wire::Sent),
    /// A page of the composer history (answered with [`Msg::History`]).
    LoadHistory {
        before: Option<Uuid>,
    },
    /// Write a saved request into the collection directory.
    SaveRequest {
        name: String,
        request: crate::console::collection::SavedRequest,
    },
    /// List the collection directory (answered with [`Msg::SavedList`]).
    LoadSaved,
    /// Hand the terminal to `$EDITOR` with this text (answered with [`Msg::Edited`]).
    EditExternally(String),
    /// Read log `id` and copy its request as curl (answered with [`Msg::LogForCurl`]).
    CopyLogCurl(Uuid),
    /// Put `text` on the user's clipboard (OSC 52); `what` names it in the notice.
    Copy {
        text: String,
        what: String,
    },
    /// `ctrl-z`: stop until the shell's `fg`, then draw everything again.
    Suspend,
    /// Mouse capture on or off (`:mouse on|off`).
    SetMouse(bool),
    /// Skip the wait before the live feed's next reconnection attempt.
    Reconnect,
    /// Write the `:` and `/` prompts' history (answered only if it fails).
    SavePromptHistory {
        path: std::path::PathBuf,
        history: crate::console::recall::PromptHistory,
    },
    Quit,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Feed(FeedEvent),
    Status(Status),
    Environments(Vec<EnvironmentView>),
    Connections(ConnectionsView),
    Page(Tag, LogPage),
    /// The answer to [`Effect::CatchUp`]: logs newest first.
    CaughtUp(Tag, Result<Vec<LogRecord>, String>),
    Detail(Tag, Option<Box<VisibleDetail>>),
    Failed(String),
    /// The answer to [`Effect::ComposeSend`].
    Sent(Result<crate::client::send::Answer, String>),
    /// The answer to [`Effect::FollowRequest`].
    Followed(Option<Box<VisibleDetail>>),
    History(Result<crate::client::wire::HistoryPage, String>),
    SavedList(Result<Vec<crate::console::collection::Listed>, String>),
    /// The text back from `$EDITOR`.
    Edited(Result<String, String>),
    Keys(Result<Vec<crate::client::wire::KeyView>, String>),
    KeyCreated(Result<crate::client::wire::CreatedKey, String>),
    /// Something worked and the user should know, e.g. "theme light".
    Info(String),
    Resize(u16, u16),
    /// A second passed (what counts down on screen is drawn again).
    Tick,
    /// A click or the wheel on `hit` (see `view::pointer`), at `at`.
    Pointer {
        hit: Hit,
        action: Pointer,
        at: std::time::Instant,
    },
    /// A page, the connections or a log could not be loaded.
    LoadFailed(String),
    /// The answer to [`Effect::Act`]: done, or the engine's refusal.
    Acted(Action, Result<(), String>),
    /// The answer to [`Effect::CopyLogCurl`].
    LogForCurl(Result<Option<Box<VisibleDetail>>, String>),
}
