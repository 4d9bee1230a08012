//! The seam between the console and an engine: the [`Engine`] trait is everything the
//! console may ask of one. [`Local`] serves it from an engine in the same process,
//! [`Remote`] over the admin API (HTTP + server-sent events) of `switchboard serve`
//! elsewhere. The console knows nothing else of the engine, and one contract test suite
//! runs against both.
//!
//! The trait is written only in the wire types ([`wire`], which is `model::view`) and
//! other `model` types: [`Local`] maps the engine's answers into them, [`Remote`]
//! deserializes them from the admin API, which serializes the same types, so both ends
//! agree by construction. Only `Local` names the engine. [`setup`] checks what a user
//! gives to reach an engine (URL, admin token) before the first request.

mod local;
mod remote;
pub mod send;
pub mod setup;
pub mod sse;

pub use local::Local;
pub use remote::Remote;

/// The types the console and the admin API exchange. They live in `model::view` so
/// the engine and the store can build them without naming `client`.
pub use crate::model::view as wire;

use crate::model::filter::Filter;
use crate::model::{Environment, LogRecord};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;
use uuid::Uuid;
use wire::{
    ComposerToken, ConnectionsView, CreatedKey, EnvironmentView, HistoryEntry, HistoryPage,
    KeyView, LogPage, LogQuery, NewKey, Sent, VisibleDetail,
};
pub use wire::{RevokeReport, Status};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Events a feed subscription buffers before it reports drops instead of growing.
pub const FEED_CHANNEL_CAPACITY: usize = 4096;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The engine answered with an error (its status and text).
    #[error("{text}")]
    Refused { status: u16, text: String },
    #[error("cannot reach the engine at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the engine's answer could not be read: {0}")]
    Decode(String),
    /// What was given to reach the engine cannot be used (URL, token), or what
    /// answered is not an engine.
    #[error("{0}")]
    Setup(String),
}

impl From<setup::SetupError> for ClientError {
    fn from(e: setup::SetupError) -> Self {
        ClientError::Setup(e.to_string())
    }
}

impl ClientError {
    /// An engine's refusal: the texts of its answer in the platform's shape (or the
    /// first 300 characters of whatever it said).
    pub(crate) fn refusal(status: u16, body: &[u8]) -> ClientError {
        let text = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                let texts: Vec<String> = v["Meta"]["Errors"]
                    .as_array()?
                    .iter()
                    .filter_map(|e| e["Text"].as_str().map(str::to_string))
                    .collect();
                (!texts.is_empty()).then(|| texts.join(" "))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
        ClientError::Refused { status, text }
    }
}

impl From<crate::model::ApiError> for ClientError {
    fn from(e: crate::model::ApiError) -> Self {
        ClientError::Refused {
            status: e.status,
            text: e
                .entries
                .iter()
                .map(|e| e.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// One thing a live feed subscription delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// A log was created or changed.
    Log(Box<LogRecord>),
    /// This many events were dropped because the subscriber fell behind.
    Dropped(u64),
    /// The connection to the engine was lost (the transport's words); the subscription
    /// tries again after `retry_in`, or at once after [`Engine::retry_now`].
    Disconnected {
        reason: String,
        retry_in: std::time::Duration,
    },
    /// The connection is back.
    Reconnected,
}

/// An operator action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause(Uuid),
    Resume(Uuid),
    RetryNow(Uuid),
    Quarantine(Uuid),
    Release(Uuid),
    Fail(Uuid),
    Resend(Uuid),
    /// Run the endpoint verification handshake against a destination now.
    Verify(Uuid),
}

impl Action {
    /// (`destinations` or `logs`, the target, the action's path segment)
    fn route(self) -> (&'static str, Uuid, &'static str) {
        match self {
            Action::Pause(d) => ("destinations", d, "pause"),
            Action::Resume(d) => ("destinations", d, "resume"),
            Action::RetryNow(d) => ("destinations", d, "retry"),
            Action::Quarantine(l) => ("logs", l, "quarantine"),
            Action::Release(l) => ("logs", l, "release"),
            Action::Fail(l) => ("logs", l, "fail"),
            Action::Resend(l) => ("logs", l, "resend"),
            Action::Verify(d) => ("destinations", d, "verify"),
        }
    }
}

/// A credential to revoke (admin role only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    /// An API key (UUID): every access and refresh token made from it ends.
    Key(String),
    /// Every admin token with this name, and the composer tokens minted with them.
    Token(String),
}

/// Everything the console asks of an engine.
pub trait Engine: Send + Sync {
    /// Where the engine is, for the status bar.
    fn address(&self) -> String;
    fn status(&self) -> BoxFuture<'_, Result<Status, ClientError>>;
    fn environments(&self) -> BoxFuture<'_, Result<Vec<EnvironmentView>, ClientError>>;
    fn connections(
        &self,
        env: Option<Environment>,
    ) -> BoxFuture<'_, Result<ConnectionsView, ClientError>>;
    /// A page of history, newest first, as this client's role may see it.
    fn logs(&self, query: LogQuery) -> BoxFuture<'_, Result<LogPage, ClientError>>;
    /// One log with attempts and bodies (masked or audited per role).
    fn log(&self, id: Uuid) -> BoxFuture<'_, Result<Option<VisibleDetail>, ClientError>>;
    /// Live log changes matching `filter`, filtered at the engine.
    fn subscribe(
        &self,
        filter: Filter,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<FeedEvent>, ClientError>>;
    fn act(&self, action: Action) -> BoxFuture<'_, Result<(), ClientError>>;
    /// A short-lived access token for the platform API as `source`, so the composer sends
    /// exactly as a client of the platform would. Refused to the viewer role.
    fn source_token(&self, source: Uuid) -> BoxFuture<'_, Result<ComposerToken, ClientError>>;
    /// Records a request the composer sent (Production bodies only for PHI roles).
    fn record_sent(&self, sent: Sent) -> BoxFuture<'_, Result<HistoryEntry, ClientError>>;
    /// The composer's history, newest first, as this client's role may see it.
    fn sent_history(
        &self,
        before: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, Result<HistoryPage, ClientError>>;
    /// Revokes a key or admin tokens at once (admin role only).
    fn revoke(&self, what: Revoke) -> BoxFuture<'_, Result<RevokeReport, ClientError>>;
    /// Source API keys and OAuth clients, never their secrets (admin role only).
    fn keys(&self) -> BoxFuture<'_, Result<Vec<KeyView>, ClientError>>;
    /// A new key or OAuth client for a source; the secret is in this answer only
    /// (admin role only).
    fn create_key(&self, new: NewKey) -> BoxFuture<'_, Result<CreatedKey, ClientError>>;
    /// Re-reads the engine's configuration file (admin role only): what changed.
    fn reload(&self) -> BoxFuture<'_, Result<wire::ReloadReport, ClientError>>;
    /// The live feed, if it is waiting to reconnect, tries again now (the user's `r`).
    /// An engine in the same process is never out of reach: nothing to do.
    fn retry_now(&self) {}
}
