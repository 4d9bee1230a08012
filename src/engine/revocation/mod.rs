//! Revocation that revokes: `keys revoke` and `tokens revoke` end every token of a key
//! or an admin token at once, with or without a running engine.
//!
//! The records live in `credentials/revoked.jsonl` ([`crate::store::revocations`]), so
//! the command line can write them while an engine holds the database. A running engine
//! keeps the records as an in-memory [`View`]: a background task looks at the file's
//! size and time every [`WATCH_INTERVAL`] and reloads it when it changed, so a record
//! written by another process is honoured within a second, and the token check on the
//! request path is a set lookup (no file read). Revocations made through the engine
//! itself apply at once.
//!
//! [`files`] does the work on the files (shared by the engine and the offline command
//! line); [`command`] is the command line, which goes through a running engine when
//! there is one (see [`super::runfile`]).

pub mod command;
pub mod files;

use super::{Engine, write_failure};
use crate::model::ApiError;
use crate::model::time::format_utc;
use crate::store::credentials::CredentialError;
use crate::store::revocations::{RevocationLog, Revoked, Stamp};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

pub use files::{KeyView, RevokeError, RevokeReport, RevokedItem};

/// How often a running engine looks for revocations written by other processes.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// The engine's in-memory copy of the revocation records.
pub struct View {
    log: RevocationLog,
    revoked: RwLock<Arc<Revoked>>,
    stamp: Mutex<Option<Stamp>>,
}

impl View {
    /// Reads the records under `data_dir`. An unreadable file is an error: an engine
    /// that started without it would honour tokens that were revoked.
    pub fn open(data_dir: &Path) -> Result<Arc<View>, CredentialError> {
        Self::open_log(RevocationLog::new(data_dir))
    }

    /// [`View::open`] on `log` (the shared store's records, on several nodes).
    pub fn open_log(log: RevocationLog) -> Result<Arc<View>, CredentialError> {
        let stamp = log.stamp();
        let revoked = log.load()?;
        Ok(Arc::new(View {
            log,
            revoked: RwLock::new(Arc::new(revoked)),
            stamp: Mutex::new(stamp),
        }))
    }

    pub fn log(&self) -> &RevocationLog {
        &self.log
    }

    /// The records as last read.
    pub fn current(&self) -> Arc<Revoked> {
        match self.revoked.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rereads the file if its size or time changed since the last read.
    pub fn refresh(&self) {
        let stamp = self.log.stamp();
        {
            let mut last = match self.stamp.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if *last == stamp {
                return;
            }
            *last = stamp;
        }
        match self.log.load() {
            Ok(revoked) => {
                tracing::info!(records = revoked.records.len(), "revocations reloaded");
                let revoked = Arc::new(revoked);
                match self.revoked.write() {
                    Ok(mut guard) => *guard = revoked,
                    Err(poisoned) => *poisoned.into_inner() = revoked,
                }
            }
            Err(e) => {
                // Keep what is known (records are only ever added) and try again.
                tracing::error!(error = %e, "cannot reread the revocation records");
                if let Ok(mut last) = self.stamp.lock() {
                    *last = None;
                }
            }
        }
    }

    /// Watches the file until the engine stops (or the view is dropped with it).
    pub fn watch(
        view: &Arc<View>,
        tasks: &tokio_util::task::TaskTracker,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let weak: Weak<View> = Arc::downgrade(view);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.cancelled() => return,
                }
                let Some(view) = weak.upgrade() else { return };
                // A stat and, rarely, a small read: off the async workers all the same.
                let _ = tokio::task::spawn_blocking(move || view.refresh()).await;
            }
        });
    }
}

/// Live admin tokens and sessions, never their secrets: `GET /admin/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokensListing {
    pub admin_tokens: Vec<AdminTokenView>,
    pub sessions: Vec<SessionGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminTokenView {
    pub id: String,
    pub name: String,
    pub role: crate::model::Role,
    pub created: String,
    pub expires: String,
}

/// The live tokens of one API key (source sessions) or one actor (composer tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionGroup {
    /// `source` (from an API key), `composer` (minted for a console's composer) or
    /// `user` (a user key's, for the Platform and admin APIs; its source ID is nil).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// For composer tokens: who minted them; for user tokens: the user key's ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub source_id: uuid::Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    pub access_tokens: usize,
    pub refresh_tokens: usize,
    /// When the last of them expires.
    pub expires: String,
}

impl From<RevokeError> for ApiError {
    fn from(e: RevokeError) -> ApiError {
        match e {
            RevokeError::NotFound(text) => ApiError::not_found(text),
            RevokeError::Invalid(text) => ApiError::bad_request(text),
            other => write_failure("the revocation")(other),
        }
    }
}

impl Engine {
    pub fn revocations(&self) -> &View {
        &self.revocations
    }

    /// Rereads the records now, removes the sessions they end from the store (they
    /// are refused already; this keeps listings and the tree clean), audits and waits
    /// for the disk.
    async fn revoked(&self, report: &RevokeReport, actor: &str) -> Result<(), ApiError> {
        self.revocations.refresh();
        let revoked = self.revocations.current();
        self.sessions
            .remove_sessions(|s| revoked.session_revoked(&s.api_key))
            .map_err(write_failure(
                "the removal of the revoked sessions (they are refused already)",
            ))?;
        for item in &report.revoked {
            self.audit(actor, &item.action(), None, Some(item.describe()));
        }
        self.commit.durable().await.map_err(write_failure(
            "the revocation's cleanup (it is in force already)",
        ))?;
        Ok(())
    }

    /// `POST /admin/v1/keys/{apiKey}/revoke`: deletes the key and ends every access and
    /// refresh token made from it, at once.
    pub async fn revoke_key(&self, target: &str, actor: &str) -> Result<RevokeReport, ApiError> {
        let report = files::revoke_key(&self.credentials, self.revocations.log(), target, actor)?;
        self.revoked(&report, actor).await?;
        Ok(report)
    }

    /// `POST /admin/v1/tokens/{name}/revoke`: deletes every admin token named `name`
    /// and ends every composer token minted with them.
    pub async fn revoke_token(&self, name: &str, actor: &str) -> Result<RevokeReport, ApiError> {
        let report = files::revoke_token(&self.credentials, self.revocations.log(), name, actor)?;
        self.revoked(&report, actor).await?;
        Ok(report)
    }

    /// `GET /admin/v1/tokens`.
    pub fn tokens_listing(&self) -> Result<TokensListing, ApiError> {
        let registry = self.registry();
        files::listing(
            &self.credentials,
            &self.sessions,
            &self.revocations.current(),
            |id| registry.source(id).map(|s| s.name.clone()),
        )
        .map_err(ApiError::from)
    }

    /// A revoked session's refusal, or `None` when it stands.
    pub(crate) fn session_revocation(&self, api_key: &str) -> Option<ApiError> {
        if !self.revocations.current().session_revoked(api_key) {
            return None;
        }
        Some(ApiError::unauthorized(
            "This token was revoked (its API key or admin token was revoked). Authenticate \
             again with a current key (`switchboard keys create --source NAME` makes one).",
        ))
    }
}

pub(crate) fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    format_utc(t)
}
