//! The engine in the same process: calls go straight to it, with the same PHI rules and
//! audit as the admin API.

use super::wire::{
    ComposerToken, ConnectionsView, CreatedKey, EnvironmentView, HistoryEntry, HistoryPage,
    KeyView, LogPage, LogQuery, NewKey, Sent, VisibleDetail,
};
use super::{
    Action, BoxFuture, ClientError, Engine, FEED_CHANNEL_CAPACITY, FeedEvent, Revoke, RevokeReport,
    Status,
};
use crate::engine::access::visible_change;
use crate::model::filter::Filter;
use crate::model::{Environment, Role};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use uuid::Uuid;

pub struct Local {
    engine: Arc<crate::engine::Engine>,
    role: Role,
    /// Who the audit trail names for this client's actions and reveals.
    actor: String,
    address: String,
}

impl Local {
    pub fn new(
        engine: Arc<crate::engine::Engine>,
        role: Role,
        actor: &str,
        address: &str,
    ) -> Local {
        Local {
            engine,
            role,
            actor: actor.to_string(),
            address: address.to_string(),
        }
    }

    /// Refuses (403) a role that may not act on delivery, audited as an attempt to
    /// `what`, as the admin API does.
    fn operator(&self, what: &str) -> Result<(), ClientError> {
        if self.role.may_operate() {
            return Ok(());
        }
        let text = format!(
            "Role {} may not act on delivery; use an operator or admin role.",
            self.role.as_str()
        );
        Err(self.refused(what, text))
    }

    /// Credentials (keys, tokens) are the admin role's, as in the admin API.
    fn admin(&self, what: &str) -> Result<(), ClientError> {
        if self.role == Role::Admin {
            return Ok(());
        }
        let text = format!(
            "Role {} may not manage credentials or reload the configuration; use an admin token.",
            self.role.as_str()
        );
        Err(self.refused(what, text))
    }

    fn refused(&self, what: &str, text: String) -> ClientError {
        let error = crate::model::ApiError::new(403, "permission", "Admin", text.clone());
        self.engine.audit_refused(&self.actor, what, &error, None);
        ClientError::Refused { status: 403, text }
    }
}

impl Engine for Local {
    fn revoke(&self, what: Revoke) -> BoxFuture<'_, Result<RevokeReport, ClientError>> {
        Box::pin(async move {
            self.admin("revoke credentials")?;
            Ok(match what {
                Revoke::Key(key) => self.engine.revoke_key(&key, &self.actor).await?,
                Revoke::Token(name) => self.engine.revoke_token(&name, &self.actor).await?,
            })
        })
    }

    fn keys(&self) -> BoxFuture<'_, Result<Vec<KeyView>, ClientError>> {
        Box::pin(async move {
            self.admin("list keys")?;
            Ok(self.engine.keys_list()?)
        })
    }

    fn create_key(&self, new: NewKey) -> BoxFuture<'_, Result<CreatedKey, ClientError>> {
        Box::pin(async move {
            self.admin("create a key")?;
            Ok(self.engine.create_key(new, &self.actor).await?)
        })
    }

    fn reload(&self) -> BoxFuture<'_, Result<super::wire::ReloadReport, ClientError>> {
        Box::pin(async move {
            self.admin("reload the configuration")?;
            Ok(self.engine.reload(&self.actor).await?)
        })
    }

    fn record_sent(&self, sent: Sent) -> BoxFuture<'_, Result<HistoryEntry, ClientError>> {
        Box::pin(async move { Ok(self.engine.record_sent(sent, self.role)?) })
    }

    fn sent_history(
        &self,
        before: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, Result<HistoryPage, ClientError>> {
        Box::pin(async move { Ok(self.engine.sent_history(before, limit, self.role)?) })
    }

    fn source_token(&self, source: Uuid) -> BoxFuture<'_, Result<ComposerToken, ClientError>> {
        Box::pin(async move {
            Ok(self
                .engine
                .composer_token(source, &self.actor, self.role)
                .await?)
        })
    }

    fn address(&self) -> String {
        self.address.clone()
    }

    fn status(&self) -> BoxFuture<'_, Result<Status, ClientError>> {
        Box::pin(async move {
            let (accepted, delivered) = self.engine.stats().throughput();
            let (overloaded, queue_full) = self.engine.stats().refusals();
            Ok(Status {
                uptime_seconds: self.engine.uptime().as_secs(),
                accepted_per_second: accepted,
                delivered_per_second: delivered,
                role: self.role,
                phi_visible: self.role.sees_phi(),
                overloaded,
                queue_full,
            })
        })
    }

    fn environments(&self) -> BoxFuture<'_, Result<Vec<EnvironmentView>, ClientError>> {
        Box::pin(async move { Ok(self.engine.environments_as(self.role)) })
    }

    fn connections(
        &self,
        env: Option<Environment>,
    ) -> BoxFuture<'_, Result<ConnectionsView, ClientError>> {
        Box::pin(async move {
            let engine = self.engine.clone();
            // Queue depths are store reads, which may wait for the journal.
            tokio::task::spawn_blocking(move || engine.connections(env))
                .await
                .map_err(|e| ClientError::Decode(e.to_string()))?
                .map_err(ClientError::from)
        })
    }

    fn logs(&self, query: LogQuery) -> BoxFuture<'_, Result<LogPage, ClientError>> {
        Box::pin(async move {
            let engine = self.engine.clone();
            let (role, actor) = (self.role, self.actor.clone());
            // History reads touch the disk: keep them off the async workers.
            tokio::task::spawn_blocking(move || {
                crate::engine::stores::wait(engine.search_audited(&query, role, &actor))
            })
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?
            .map_err(ClientError::from)
        })
    }

    fn log(&self, id: Uuid) -> BoxFuture<'_, Result<Option<VisibleDetail>, ClientError>> {
        Box::pin(async move {
            let engine = self.engine.clone();
            let (role, actor) = (self.role, self.actor.clone());
            tokio::task::spawn_blocking(move || {
                crate::engine::stores::wait(engine.detail_as(id, role, &actor))
            })
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?
            .map_err(ClientError::from)
        })
    }

    fn subscribe(
        &self,
        filter: Filter,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<FeedEvent>, ClientError>> {
        Box::pin(async move {
            let mut events = self.engine.subscribe();
            let (tx, rx) = mpsc::channel(FEED_CHANNEL_CAPACITY);
            let role = self.role;
            let stop = self.engine.stopping();
            // Tracked: the engine's shutdown ends it and waits for it.
            self.engine.tasks().spawn(async move {
                let mut dropped = 0u64;
                loop {
                    let received = tokio::select! {
                        received = events.recv() => received,
                        () = stop.cancelled() => return,
                        // The console let go (a new filter replaces this feed).
                        () = tx.closed() => return,
                    };
                    let event = match received {
                        Ok(event) => match visible_change(&filter, role, event.log) {
                            Some(log) => FeedEvent::Log(Box::new(log)),
                            None => continue,
                        },
                        Err(RecvError::Lagged(n)) => FeedEvent::Dropped(n),
                        Err(RecvError::Closed) => return,
                    };
                    // A full channel drops the event and says so at the next chance,
                    // rather than growing.
                    if dropped > 0 && tx.try_send(FeedEvent::Dropped(dropped)).is_ok() {
                        dropped = 0;
                    }
                    match tx.try_send(event) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => dropped += 1,
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
            });
            Ok(rx)
        })
    }

    fn act(&self, action: Action) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            let (kind, target, verb) = action.route();
            let what = format!("{verb} {} {target}", kind.trim_end_matches('s'));
            self.operator(&what)?;
            let e = &self.engine;
            let who = self.actor.as_str();
            let outcome = match action {
                Action::Pause(d) => e.set_paused(d, true, who).await,
                Action::Resume(d) => e.set_paused(d, false, who).await,
                Action::RetryNow(d) => e.retry_now(d, who),
                Action::Quarantine(l) => e.quarantine(l, who).await.map(drop),
                Action::Release(l) => e.release(l, who).await.map(drop),
                Action::Fail(l) => e.mark_failed(l, who).await.map(drop),
                Action::Resend(l) => e.resend(l, who).await.map(drop),
                Action::Verify(d) => e.verify_destination(d, who).await.map(drop),
            };
            if let Err(error) = &outcome
                && matches!(error.status, 400 | 403 | 404 | 409)
            {
                let log = (kind == "logs").then_some(target);
                e.audit_refused(who, &what, error, log);
            }
            Ok(outcome?)
        })
    }
}
