//! An engine elsewhere, through the admin API of `switchboard serve`: JSON over HTTP,
//! and server-sent events for the live feed (read and reconnected in [`super::sse`]).

use super::wire::{
    ComposerToken, ConnectionsView, CreatedKey, EnvironmentView, HistoryEntry, HistoryPage,
    KeyView, LogPage, LogQuery, NewKey, Sent, VisibleDetail,
};
use super::{
    Action, BoxFuture, ClientError, Engine, FEED_CHANNEL_CAPACITY, FeedEvent, Revoke, RevokeReport,
    Status,
};
use crate::model::Environment;
use crate::model::error::error_chain;
use crate::model::filter::Filter;
use crate::model::time::format_utc;
use crate::model::wire::path_segment as segment;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Bound on one admin request (the live feed has none: it stays open).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
    /// For the live feed: no overall timeout.
    stream_http: reqwest::Client,
    /// Wakes the live feeds waiting to reconnect.
    retry: Arc<tokio::sync::Notify>,
}

impl Remote {
    /// `base` is the engine's URL, e.g. `http://10.0.0.5:8443` (`10.0.0.5:8443` means
    /// the same); `token` an admin token. Both are checked here, so a mistake in them is
    /// not reported later as an engine that cannot be reached.
    pub fn new(base: &str, token: &str) -> Result<Remote, ClientError> {
        Remote::with_ca(base, token, None)
    }

    /// [`Remote::new`], also trusting `ca` (`--ca FILE`) for an `https://` engine.
    pub fn with_ca(
        base: &str,
        token: &str,
        ca: Option<&super::setup::Ca>,
    ) -> Result<Remote, ClientError> {
        let base = super::setup::engine_url(base)?;
        let token = super::setup::admin_token(token, "given")?;
        let build = |timeout: Option<Duration>| {
            let mut b = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none());
            if let Some(ca) = ca {
                b = ca.trust(b);
            }
            if let Some(t) = timeout {
                b = b.timeout(t);
            }
            // Not the engine's answer: the HTTP client itself (its TLS setup) failed.
            b.build().map_err(|e| {
                ClientError::Setup(format!("cannot make an HTTP client: {}", error_chain(&e)))
            })
        };
        Ok(Remote {
            base,
            token,
            http: build(Some(REQUEST_TIMEOUT))?,
            stream_http: build(None)?,
            retry: Arc::new(tokio::sync::Notify::new()),
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        }
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(ClientError::refusal(status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let response = self
            .http
            .get(format!("{}/admin/v1{path}", self.base))
            .bearer_auth(&self.token)
            .query(query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer(response).await
    }
}

fn log_params(q: &LogQuery) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    if let Some(e) = q.environment {
        p.push(("env", e.as_str().to_string()));
    }
    if let Some(s) = q.source {
        p.push(("source", s.to_string()));
    }
    if let Some(d) = q.destination {
        p.push(("destination", d.to_string()));
    }
    if let Some(m) = &q.data_model {
        p.push(("dataModel", m.clone()));
    }
    if let Some(e) = &q.event_type {
        p.push(("eventType", e.clone()));
    }
    if let Some(t) = q.log_type {
        p.push(("type", t.as_str().to_string()));
    }
    if let Some(s) = q.status {
        p.push(("status", s.as_str().to_string()));
    }
    if let Some(m) = &q.patient_id {
        p.push(("mrn", m.clone()));
    }
    if let Some(t) = q.since {
        p.push(("since", format_utc(t)));
    }
    if let Some(t) = q.until {
        p.push(("until", format_utc(t)));
    }
    if let Some(b) = q.before {
        p.push(("before", b.to_string()));
    }
    if q.limit > 0 {
        p.push(("limit", q.limit.to_string()));
    }
    p
}

impl Engine for Remote {
    fn address(&self) -> String {
        self.base.clone()
    }

    fn status(&self) -> BoxFuture<'_, Result<Status, ClientError>> {
        Box::pin(self.get("/status", &[]))
    }

    fn environments(&self) -> BoxFuture<'_, Result<Vec<EnvironmentView>, ClientError>> {
        Box::pin(self.get("/environments", &[]))
    }

    fn connections(
        &self,
        env: Option<Environment>,
    ) -> BoxFuture<'_, Result<ConnectionsView, ClientError>> {
        Box::pin(async move {
            let query: Vec<_> = env
                .map(|e| ("env", e.as_str().to_string()))
                .into_iter()
                .collect();
            self.get("/connections", &query).await
        })
    }

    fn logs(&self, query: LogQuery) -> BoxFuture<'_, Result<LogPage, ClientError>> {
        Box::pin(async move { self.get("/logs", &log_params(&query)).await })
    }

    fn log(&self, id: Uuid) -> BoxFuture<'_, Result<Option<VisibleDetail>, ClientError>> {
        Box::pin(async move {
            match self.get(&format!("/logs/{id}"), &[]).await {
                Ok(detail) => Ok(Some(detail)),
                Err(ClientError::Refused { status: 404, .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn subscribe(
        &self,
        filter: Filter,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<FeedEvent>, ClientError>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(FEED_CHANNEL_CAPACITY);
            let (ready, connected) = tokio::sync::oneshot::channel();
            let follower = super::sse::follow(
                self.stream_http.clone(),
                format!("{}/admin/v1/events", self.base),
                self.token.clone(),
                filter.to_string(),
                tx.clone(),
                ready,
                self.retry.clone(),
            );
            // Ends with its receiver (a new filter replaces it), not at the next event.
            tokio::spawn(async move {
                tokio::select! {
                    () = follower => {}
                    () = tx.closed() => {}
                }
            });
            // Subscribed means subscribed, as with `Local`: the first attempt's outcome
            // (bounded: a peer may accept and never answer) before returning.
            let _ = tokio::time::timeout(super::sse::FIRST_ANSWER_WAIT, connected).await;
            Ok(rx)
        })
    }

    fn record_sent(&self, sent: Sent) -> BoxFuture<'_, Result<HistoryEntry, ClientError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(format!("{}/admin/v1/composer/history", self.base))
                .bearer_auth(&self.token)
                .json(&sent)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            self.answer(response).await
        })
    }

    fn sent_history(
        &self,
        before: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, Result<HistoryPage, ClientError>> {
        Box::pin(async move {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(b) = before {
                query.push(("before", b.to_string()));
            }
            self.get("/composer/history", &query).await
        })
    }

    fn source_token(&self, source: Uuid) -> BoxFuture<'_, Result<ComposerToken, ClientError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(format!("{}/admin/v1/sources/{source}/token", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            self.answer(response).await
        })
    }

    fn revoke(&self, what: Revoke) -> BoxFuture<'_, Result<RevokeReport, ClientError>> {
        Box::pin(async move {
            let path = match &what {
                Revoke::Key(key) => format!("keys/{}/revoke", segment(key)),
                Revoke::Token(name) => format!("tokens/{}/revoke", segment(name)),
            };
            let response = self
                .http
                .post(format!("{}/admin/v1/{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            self.answer(response).await
        })
    }

    fn keys(&self) -> BoxFuture<'_, Result<Vec<KeyView>, ClientError>> {
        Box::pin(async move { self.get("/keys", &[]).await })
    }

    fn create_key(&self, new: NewKey) -> BoxFuture<'_, Result<CreatedKey, ClientError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(format!("{}/admin/v1/keys", self.base))
                .bearer_auth(&self.token)
                .json(&new)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            self.answer(response).await
        })
    }

    fn reload(&self) -> BoxFuture<'_, Result<super::wire::ReloadReport, ClientError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(format!("{}/admin/v1/config/reload", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            self.answer(response).await
        })
    }

    fn retry_now(&self) {
        self.retry.notify_waiters();
    }

    fn act(&self, action: Action) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            let (kind, id, verb) = action.route();
            let response = self
                .http
                .post(format!("{}/admin/v1/{kind}/{id}/{verb}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            self.answer::<Value>(response).await.map(|_| ())
        })
    }
}
