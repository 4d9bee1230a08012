//! An engine elsewhere, through the admin API of `switchboard serve`: JSON over HTTP,
//! and server-sent events for the live feed, reconnecting with backoff when the
//! connection drops.

use super::{
    Action, BoxFuture, ClientError, Engine, FEED_CHANNEL_CAPACITY, FeedEvent, Revoke, RevokeReport,
    Status,
};
use crate::engine::access::VisibleDetail;
use crate::engine::auth::ComposerToken;
use crate::engine::health::{ConnectionsView, EnvironmentView};
use crate::model::Environment;
use crate::model::filter::Filter;
use crate::model::time::format_utc;
use crate::store::composer_history::{HistoryEntry, HistoryPage, Sent};
use crate::store::{LogPage, LogQuery};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Longest wait between reconnection attempts of the live feed.
pub const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(30);
/// Bound on one admin request (the live feed has none: it stays open).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
    /// For the live feed: no overall timeout.
    stream_http: reqwest::Client,
}

impl Remote {
    /// `base` is the engine's URL, e.g. `http://10.0.0.5:8443`; `token` an admin token.
    pub fn new(base: &str, token: &str) -> Result<Remote, ClientError> {
        let build = |timeout: Option<Duration>| {
            let mut b = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none());
            if let Some(t) = timeout {
                b = b.timeout(t);
            }
            b.build().map_err(|e| ClientError::Decode(e.to_string()))
        };
        Ok(Remote {
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            http: build(Some(REQUEST_TIMEOUT))?,
            stream_http: build(None)?,
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: crate::engine::http::error_chain(&e),
        }
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(refusal(status.as_u16(), &bytes));
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

/// The text of an error answer in the platform's shape (or whatever the body says).
fn refusal(status: u16, body: &[u8]) -> ClientError {
    let text = serde_json::from_slice::<Value>(body)
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

/// Splits complete server-sent-event frames off the front of `buffer`.
fn frames(buffer: &mut String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let frame: String = buffer.drain(..end + 2).collect();
        let mut event = String::from("message");
        let mut data = String::new();
        for line in frame.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            out.push((event, data));
        }
    }
    out
}

/// Follows the event stream until the receiver is dropped, reconnecting with backoff.
async fn follow(
    http: reqwest::Client,
    url: String,
    token: String,
    filter: String,
    tx: mpsc::Sender<FeedEvent>,
) {
    let mut wait = Duration::from_millis(250);
    let mut connected_before = false;
    loop {
        let response = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[("filter", &filter)])
            .send()
            .await;
        let reason = match response {
            Ok(mut response) if response.status().is_success() => {
                if connected_before && tx.send(FeedEvent::Reconnected).await.is_err() {
                    return;
                }
                connected_before = true;
                wait = Duration::from_millis(250);
                let mut buffer = String::new();
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            buffer.push_str(&String::from_utf8_lossy(&chunk));
                            for (event, data) in frames(&mut buffer) {
                                let item = match event.as_str() {
                                    "log" => match serde_json::from_str(&data) {
                                        Ok(log) => FeedEvent::Log(Box::new(log)),
                                        Err(_) => continue,
                                    },
                                    "lagged" => FeedEvent::Dropped(
                                        serde_json::from_str::<Value>(&data)
                                            .ok()
                                            .and_then(|v| v["missed"].as_u64())
                                            .unwrap_or(0),
                                    ),
                                    _ => continue,
                                };
                                if tx.send(item).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Ok(None) => break "the engine closed the event stream".to_string(),
                        Err(e) => break crate::engine::http::error_chain(&e),
                    }
                }
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                refusal(status, &body).to_string()
            }
            Err(e) => crate::engine::http::error_chain(&e),
        };
        if tx.send(FeedEvent::Disconnected(reason)).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RECONNECT_WAIT);
    }
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
            tokio::spawn(follow(
                self.stream_http.clone(),
                format!("{}/admin/v1/events", self.base),
                self.token.clone(),
                filter.to_string(),
                tx,
            ));
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
            use crate::engine::revocation::command::segment;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_and_partial_ones_kept() {
        let mut buffer = String::from(
            "event: log\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: lagged\ndata: {\"missed\"",
        );
        let got = frames(&mut buffer);
        assert_eq!(got, vec![("log".to_string(), "{\"a\":1}".to_string())]);
        buffer.push_str(":3}\n\n");
        assert_eq!(
            frames(&mut buffer),
            vec![("lagged".to_string(), "{\"missed\":3}".to_string())]
        );
        assert!(buffer.is_empty());
    }
}
