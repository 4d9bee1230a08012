//! The composer's way out: a request sent through the platform API (`/endpoint`,
//! `/query`, or the FHIR API under `/fhir/R4/`) as a chosen source, exactly as a client of the platform sends it, with a
//! short-lived token the engine hands to the console ([`Engine::source_token`]).

use super::{ClientError, Engine};
use crate::engine::http::{error_chain, read_prefix};
use crate::model::fhir::request::FhirRequest;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long before its expiry a cached token is replaced.
const TOKEN_MARGIN: chrono::Duration = chrono::Duration::seconds(60);
/// The most of an answer the composer reads and keeps (the platform caps bodies at
/// 10 MiB); the rest is left unread.
pub const ANSWER_LIMIT: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformPath {
    Endpoint,
    Query,
}

impl PlatformPath {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformPath::Endpoint => "/endpoint",
            PlatformPath::Query => "/query",
        }
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// The body as JSON, or as text when it is not JSON.
    pub body: Result<Value, String>,
    /// From the first byte sent to the last byte received, token excluded.
    pub elapsed: Duration,
    /// `Meta.Logs[].ID` (or an accepted FHIR message's log): the logs this request
    /// made, to follow in the feed.
    pub logs: Vec<Uuid>,
}

/// Sends for the composer; keeps one token per source until shortly before it expires.
pub struct Sender {
    http: reqwest::Client,
    platform: String,
    tokens: Mutex<HashMap<Uuid, (String, DateTime<Utc>)>>,
}

impl Sender {
    /// `platform` is the engine's base URL (`http://127.0.0.1:8443`).
    pub fn new(platform: &str) -> Result<Sender, ClientError> {
        Sender::with_ca(platform, None)
    }

    /// [`Sender::new`], also trusting `ca` (`--ca FILE`) for an `https://` engine.
    pub fn with_ca(platform: &str, ca: Option<&super::setup::Ca>) -> Result<Sender, ClientError> {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            // Longer than the engine's own query timeout, so its 504 is what the user sees.
            .timeout(Duration::from_secs(180));
        if let Some(ca) = ca {
            builder = ca.trust(builder);
        }
        let http = builder.build().map_err(|e| ClientError::Unreachable {
            url: platform.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Sender {
            http,
            platform: platform.trim_end_matches('/').to_string(),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn platform(&self) -> &str {
        &self.platform
    }

    async fn token(&self, engine: &dyn Engine, source: Uuid) -> Result<String, ClientError> {
        let cached = self
            .tokens
            .lock()
            .ok()
            .and_then(|t| t.get(&source).cloned())
            .filter(|(_, expires)| *expires - TOKEN_MARGIN > Utc::now());
        if let Some((token, _)) = cached {
            return Ok(token);
        }
        let grant = engine.source_token(source).await?;
        let expires = crate::model::time::parse_instant(&grant.expires)
            .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(5));
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(source, (grant.access_token.clone(), expires));
        }
        Ok(grant.access_token)
    }

    /// POSTs `body` (as typed: sent byte for byte) to `path` as `source`.
    pub async fn send(
        &self,
        engine: &dyn Engine,
        source: Uuid,
        path: PlatformPath,
        body: String,
    ) -> Result<Answer, ClientError> {
        self.post(engine, source, path.as_str(), "application/json", &[], body)
            .await
    }

    /// POSTs a composed FHIR request (a search's form, a message's Bundle) to the
    /// engine's FHIR API as `source`.
    pub async fn send_fhir(
        &self,
        engine: &dyn Engine,
        source: Uuid,
        request: FhirRequest,
    ) -> Result<Answer, ClientError> {
        self.post(
            engine,
            source,
            &request.path,
            request.content_type,
            &request.headers,
            request.body,
        )
        .await
    }

    async fn post(
        &self,
        engine: &dyn Engine,
        source: Uuid,
        path: &str,
        content_type: &str,
        headers: &[(&'static str, String)],
        body: String,
    ) -> Result<Answer, ClientError> {
        let token = self.token(engine, source).await?;
        let url = format!("{}{}", self.platform, path);
        let clock = Instant::now();
        let mut request = self
            .http
            .post(&url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                reason: crate::model::error::error_chain(&e),
            })?;
        let status = response.status().as_u16();
        // At most ANSWER_LIMIT is read (and shown); a larger answer is cut there, so an
        // engine or proxy answering without end cannot fill the console's memory.
        let read = read_prefix(response, ANSWER_LIMIT).await;
        if let Some(e) = read.error {
            return Err(ClientError::Decode(error_chain(&e)));
        }
        let elapsed = clock.elapsed();
        let shown = read.bytes.as_slice();
        let body = serde_json::from_slice::<Value>(shown)
            .map_err(|_| String::from_utf8_lossy(shown).into_owned());
        let logs = body
            .as_ref()
            .ok()
            .and_then(|v| v["Meta"]["Logs"].as_array())
            .map(|logs| {
                logs.iter()
                    .filter_map(|l| l["ID"].as_str().and_then(|id| Uuid::parse_str(id).ok()))
                    .collect()
            })
            .or_else(|| {
                body.as_ref()
                    .ok()
                    .and_then(crate::model::fhir::accepted_log)
                    .map(|id| vec![id])
            })
            .unwrap_or_default();
        Ok(Answer {
            status,
            body,
            elapsed,
            logs,
        })
    }
}
