//! Synchronous queries: forward to exactly one destination, wait for its answer within
//! the query timeout, record the REQUEST log with both bodies, and return the answer.
//! The steps, each its own function: the destination (the routing rule), the PENDING
//! log, the exchange over HTTP, the judgement of the answer, and its record.

use super::answer::{self, Answer};
use super::config::DeliveryMode;
use super::http::{ATTEMPT_BODY_LIMIT, BodyError, error_chain, excerpt, read_bounded};
use super::outbound_auth::{SendError, TokenError};
use super::routing::{self, Prepared, Rejection};
use super::{Destination, Engine, Source, read_failure, store_failure};
use crate::model::error::ErrorEntry;
use crate::model::meta::Envelope;
use crate::model::time::normalize_payload;
use crate::model::{ApiError, Attempt, AttemptOutcome, LogRecord, LogStatus, LogType};
use crate::store::journal::Journal;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub use crate::model::view::LogDetail;

/// How one exchange with the destination went, before it is judged.
struct Exchanged {
    started_at: DateTime<Utc>,
    latency_ms: f64,
    reply: Result<(reqwest::StatusCode, Vec<u8>), NoReply>,
}

/// Why there is no answer to judge.
enum NoReply {
    /// No answer, or it broke off (a timeout among them).
    Transport(reqwest::Error),
    /// Not sent: the destination's token could not be had.
    Token(TokenError),
    /// An answer larger than the engine reads; `status` is the one it came with.
    TooLarge {
        status: reqwest::StatusCode,
        limit: usize,
    },
}

/// The answer for the sender, and what the attempt record keeps of it.
pub(crate) struct Judged {
    pub(crate) answer: Result<Answer, ApiError>,
    pub(crate) attempt: Attempt,
    /// The whole answer, stored beside the log.
    pub(crate) stored_body: Option<Vec<u8>>,
}

impl Engine {
    /// Forwards a query to its one destination and answers with the destination's reply.
    pub(crate) async fn forward_query(
        &self,
        source: &Source,
        envelope: Envelope,
    ) -> Result<Answer, Rejection> {
        let started = std::time::Instant::now();
        let (destination, url) = self.query_destination(source, &envelope)?;
        let mut prepared = routing::prepare(
            source,
            envelope,
            std::slice::from_ref(&destination),
            LogType::Request,
        );
        // The platform's query answers carry them too (its recorded QueryResponses do).
        routing::legacy::assign(self, &mut prepared, source.legacy_ids)
            .await
            .map_err(|e| Rejection::bare(store_failure(e)))?;
        let organization = match source.organization {
            id if id.is_nil() => self.registry().own_organization().id,
            id => id,
        };
        stamp_sender_organization(&mut prepared.request.payload, organization);
        let Some(pending) = prepared.logs.first().cloned() else {
            return Err(Rejection::bare(ApiError::internal("query lost its log")));
        };
        let journal = self.store.journal();
        self.record_pending(journal, &prepared).await?;
        // The expander is woken once the answer is out, so the answer does not wait for
        // the wake and the pending log and its outcome are applied together.
        let _wake = journal.wake_on_drop();
        self.publish(&pending);

        // Stored in UTC; a destination with `render_time_zone` is sent its own offsets.
        let rendered = destination.render_time_zone.map(|zone| {
            let mut payload = prepared.request.payload.clone();
            crate::model::time::render_payload(&mut payload, zone);
            payload
        });
        let outgoing = rendered.as_ref().unwrap_or(&prepared.request.payload);
        let exchanged = self.exchange(&destination, &url, outgoing).await;
        let judged = judge(
            exchanged,
            &destination,
            &pending,
            self.settings.query_timeout,
        );
        self.stats.request(source.id);
        self.metrics.queried(started.elapsed());
        self.record_outcome(journal, &destination, &pending, &judged)
            .await;
        let meta = prepared
            .request
            .payload
            .get("Meta")
            .and_then(Value::as_object)
            .cloned()
            .map(Box::new);
        judged.answer.map_err(|error| Rejection { error, meta })
    }
}

/// The platform's extension naming the organization a query comes from.
pub const SENDER_ORGANIZATION_EXTENSION: &str = "sender-organization-id";
const SENDER_ORGANIZATION_URL: &str =
    "https://api.redoxengine.com/extensions/sender-organization-id";

/// Adds `Meta.Extensions["sender-organization-id"]` with `organization`, unless the
/// source set one itself (then it is theirs to say).
fn stamp_sender_organization(payload: &mut Value, organization: Uuid) {
    let Some(meta) = payload.get_mut("Meta").and_then(Value::as_object_mut) else {
        return;
    };
    let extensions = meta
        .entry("Extensions")
        .or_insert_with(|| Value::Object(Default::default()));
    // `Meta.Extensions` is checked to be an object at the door; anything else is left.
    if let Some(extensions) = extensions.as_object_mut() {
        extensions
            .entry(SENDER_ORGANIZATION_EXTENSION)
            .or_insert_with(|| json!({"url": SENDER_ORGANIZATION_URL, "string": organization}));
    }
}

impl Engine {
    /// The one destination a query goes to, and its URL: the routing rule, plus the
    /// query's own (exactly one destination).
    fn query_destination(
        &self,
        source: &Source,
        envelope: &Envelope,
    ) -> Result<(Destination, String), Rejection> {
        if let Some(e) = routing::one_destination_error(envelope) {
            return Err(Rejection::new(e, envelope));
        }
        let destinations = routing::route(&self.registry(), source, envelope)
            .map_err(|e| Rejection::new(e, envelope))?;
        let Some(destination) = destinations.into_iter().next() else {
            return Err(Rejection::new(
                ApiError::internal("routing lost the destination"),
                envelope,
            ));
        };
        // The routing rule refused poll destinations already; a push destination
        // always has a URL (the configuration requires one).
        match (&destination.url, destination.mode) {
            (Some(url), DeliveryMode::Push) => {
                let url = url.clone();
                Ok((destination, url))
            }
            _ => Err(Rejection::new(
                ApiError::internal(format!(
                    "destination \"{}\" has no URL to forward the query to",
                    destination.name
                )),
                envelope,
            )),
        }
    }

    /// Queues the PENDING log before forwarding, so a search while the destination
    /// works shows the query as PENDING (the store's reads wait for the journal). No flush is
    /// awaited: a query is not acknowledged before its answer.
    pub(crate) async fn record_pending(
        &self,
        journal: &Journal,
        prepared: &Prepared,
    ) -> Result<(), Rejection> {
        let store_failed = |e: crate::store::StoreError| Rejection::bare(store_failure(e));
        if let Some(shared) = &self.shared {
            // Committed before forwarding: its outcome updates it, on whichever node.
            return shared
                .accept(&prepared.request, &prepared.logs, None)
                .await
                .map_err(|e| store_failed(e.into()));
        }
        let writes = self
            .store
            .accepted_writes(&prepared.request, &prepared.logs, None)
            .map_err(store_failed)?;
        // A full backlog refuses the query (503) rather than holding it without limit.
        journal
            .write_quiet_within(writes, crate::store::journal::BACKLOG_PATIENCE)
            .await
            .map_err(|e| match e {
                e @ crate::store::StoreError::Backlog { .. } => Rejection::bare(self.overloaded(e)),
                e => store_failed(e),
            })
    }

    /// POSTs the query and reads the answer, at most `max_body_bytes` of it.
    async fn exchange(&self, destination: &Destination, url: &str, payload: &Value) -> Exchanged {
        let started_at = Utc::now();
        let clock = Instant::now();
        let limit = self.settings.max_body_bytes;
        let sent = self
            .outbound
            .send(destination, |_| {
                self.http
                    .post(url)
                    .header("verification-token", &destination.verification_token)
                    .timeout(self.settings.query_timeout)
                    .json(payload)
            })
            .await;
        let reply = match sent {
            Err(SendError::Token(e)) => Err(NoReply::Token(e)),
            Err(SendError::Transport(e)) => Err(NoReply::Transport(e)),
            Ok(response) => {
                let status = response.status();
                match read_bounded(response, limit).await {
                    Ok(bytes) => Ok((status, bytes)),
                    Err(BodyError::TooLarge { limit }) => Err(NoReply::TooLarge { status, limit }),
                    Err(BodyError::Transport(e)) => Err(NoReply::Transport(e)),
                }
            }
        };
        Exchanged {
            started_at,
            // Microsecond resolution is plenty and keeps the figure readable.
            latency_ms: (clock.elapsed().as_secs_f64() * 1e6).round() / 1000.0,
            reply,
        }
    }

    /// Records the query's outcome after its PENDING log and publishes it.
    pub(crate) async fn record_outcome(
        &self,
        journal: &Journal,
        destination: &Destination,
        pending: &LogRecord,
        judged: &Judged,
    ) {
        let succeeded = judged.answer.is_ok();
        self.stats
            .attempt(destination.id, succeeded, judged.attempt.http_status);
        let mut done = pending.clone();
        done.attempts = 1;
        done.latency_ms = Some(judged.attempt.latency_ms);
        done.updated_at = Utc::now();
        done.status = if succeeded {
            LogStatus::Succeeded
        } else {
            LogStatus::Failed
        };
        if let Some(shared) = &self.shared {
            let body = judged.stored_body.as_deref();
            if let Err(e) = shared.update_log(&done, Some(&judged.attempt), body).await {
                tracing::error!(error = %e, log = %done.id, "could not record the query's outcome");
            }
            self.publish(&done);
            return;
        }
        let writes = crate::store::Store::update_writes(
            self.store.sealer(),
            pending,
            &done,
            Some(&judged.attempt),
            judged.stored_body.as_deref(),
        );
        // Applied after the pending log (the journal keeps order); reads wait for it.
        if let Err(e) = journal.write_quiet(writes).await {
            tracing::error!(error = %e, log = %done.id, "could not record the query's outcome");
        }
        self.publish(&done);
    }

    /// One log with its attempts, for the admin API.
    pub async fn log_detail(&self, id: Uuid) -> Result<Option<LogDetail>, ApiError> {
        let Some(log) = self.log_record(id).await.map_err(read_failure)? else {
            return Ok(None);
        };
        let attempts = self.log_attempts(id).await.map_err(read_failure)?;
        let request = self
            .stored_request(log.request_id)
            .await
            .map_err(read_failure)?
            .map(|r| r.payload);
        let response = self
            .log_response(id)
            .await
            .map_err(read_failure)?
            .map(|bytes| {
                serde_json::from_slice::<Value>(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            });
        let next_attempt_at = self.delivery.retry_due(id);
        Ok(Some(LogDetail {
            log,
            attempts,
            request,
            response,
            next_attempt_at,
        }))
    }
}

/// The sender's answer and the attempt record, from how the exchange went.
fn judge(
    exchanged: Exchanged,
    destination: &Destination,
    pending: &LogRecord,
    timeout: Duration,
) -> Judged {
    let mut attempt = Attempt {
        id: pending.attempt_id,
        log_id: pending.id,
        number: 1,
        started_at: exchanged.started_at,
        outcome: AttemptOutcome::Failed,
        http_status: None,
        latency_ms: exchanged.latency_ms,
        response_body: None,
        response_truncated: false,
        error: None,
    };
    let name = &destination.name;
    let (status, bytes) = match exchanged.reply {
        Ok(answered) => answered,
        Err(NoReply::Transport(e)) if e.is_timeout() => {
            let secs = timeout.as_secs_f64();
            attempt.error = Some(format!("no answer within {secs} s"));
            let answer = Err(ApiError::timeout(format!(
                "Destination \"{name}\" did not answer within {secs} s. The query was logged \
                 as FAILED; try again, or check the destination."
            )));
            return Judged {
                answer,
                attempt,
                stored_body: None,
            };
        }
        Err(NoReply::Transport(e)) => {
            let reason = error_chain(&e);
            attempt.error = Some(reason.clone());
            let answer = Err(destination_error(format!(
                "Could not reach destination \"{name}\": {reason}. Check that it is up and its URL is right."
            )));
            return Judged {
                answer,
                attempt,
                stored_body: None,
            };
        }
        Err(NoReply::Token(e)) => {
            let reason = e.to_string();
            attempt.error = Some(reason.clone());
            let answer = Err(destination_error(format!(
                "Could not authenticate to destination \"{name}\": {reason}. Check its auth \
                 settings and that its token endpoint is up."
            )));
            return Judged {
                answer,
                attempt,
                stored_body: None,
            };
        }
        Err(NoReply::TooLarge { status, limit }) => {
            attempt.http_status = Some(status.as_u16());
            attempt.error = Some(format!("answer larger than {limit} bytes; not read"));
            let answer = Err(destination_error(format!(
                "Destination \"{name}\" answered with a body larger than {limit} bytes, the most \
                 this engine reads (max_body_bytes). Ask for less, or raise max_body_bytes."
            )));
            return Judged {
                answer,
                attempt,
                stored_body: None,
            };
        }
    };
    attempt.http_status = Some(status.as_u16());
    let (text, cut) = excerpt(&bytes, ATTEMPT_BODY_LIMIT);
    attempt.response_body = Some(text);
    attempt.response_truncated = cut;
    let answer = answer_of(status, &bytes, destination, pending, &mut attempt);
    Judged {
        answer,
        attempt,
        stored_body: Some(bytes),
    }
}

/// A destination's answer that arrived whole: a JSON object with a 2xx is the answer
/// (timestamps normalized, `Meta.Logs` filled); a 4xx is passed on with its status;
/// anything else is a 502.
fn answer_of(
    status: reqwest::StatusCode,
    bytes: &[u8],
    destination: &Destination,
    pending: &LogRecord,
    attempt: &mut Attempt,
) -> Result<Answer, ApiError> {
    let name = &destination.name;
    if status.is_client_error() {
        attempt.error = Some(format!("HTTP {}", status.as_u16()));
        return Err(destination_refusal(status.as_u16(), bytes, name));
    }
    if !status.is_success() {
        attempt.error = Some(format!("HTTP {}", status.as_u16()));
        let (short, _) = excerpt(bytes, 300);
        return Err(destination_error(format!(
            "Destination \"{name}\" answered HTTP {}: {short}",
            status.as_u16()
        )));
    }
    // Most answers are already in the writer's form: spliced, the same bytes for less.
    if let Some(spliced) = answer::splice(bytes, destination.timezone, pending) {
        attempt.outcome = AttemptOutcome::Succeeded;
        return Ok(Answer::Ready(spliced));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value @ Value::Object(_)) => {
            attempt.outcome = AttemptOutcome::Succeeded;
            amend_answer(&mut value, destination.timezone, pending);
            Ok(Answer::Value(value))
        }
        Ok(_) | Err(_) => {
            attempt.error = Some("answer is not a JSON object".into());
            let (short, _) = excerpt(bytes, 300);
            Err(destination_error(format!(
                "Destination \"{name}\" answered with a body that is not a JSON object: {short}"
            )))
        }
    }
}

/// A destination's answer as the sender gets it: timestamps normalized, `Meta.Logs`
/// naming this query, the parties filled, the legacy numbers ours. What
/// [`answer::splice`] does to the bytes of an answer in the writer's form.
pub(crate) fn amend_answer(value: &mut Value, zone: chrono_tz::Tz, pending: &LogRecord) {
    normalize_payload(value, zone);
    if let Some(meta) = value.get_mut("Meta").and_then(Value::as_object_mut) {
        meta.insert("Logs".into(), answer::logs_field(pending));
        fill_parties(meta, pending);
        // Ours, not the destination's: they name this query on this engine.
        routing::legacy::stamp(meta, Some(pending));
    }
}

/// An answer's `Meta.Source` and `Meta.Destinations`, when the destination left them
/// out, are the query's (as the platform's recorded answers carry them: the source that
/// asked, the destination that answered), so a client that reads them finds them.
fn fill_parties(meta: &mut serde_json::Map<String, Value>, pending: &LogRecord) {
    if answer::party_absent(meta.get("Source")) {
        meta.insert("Source".into(), answer::source_field(pending));
    }
    if answer::party_absent(meta.get("Destinations")) {
        meta.insert("Destinations".into(), answer::destinations_field(pending));
    }
}

/// A destination's 4xx reaches the source with the same status (a client that reads any
/// 502 as "try later" must see that the query itself was refused): the destination's
/// own `Meta.Errors` when its body has them, else one error naming it, its status and
/// the start of its body.
fn destination_refusal(status: u16, bytes: &[u8], name: &str) -> ApiError {
    let own = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|body| {
            body.pointer("/Meta/Errors")
                .and_then(Value::as_array)
                .cloned()
        })
        .unwrap_or_default();
    let field = |e: &Value, key: &str, default: &str| {
        e.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let entries: Vec<ErrorEntry> = own
        .iter()
        .filter_map(|e| {
            let text = e.get("Text")?.as_str()?;
            Some(ErrorEntry {
                id: 0,
                text: text.to_string(),
                kind: field(e, "Type", "destination"),
                module: field(e, "Module", "Query"),
            })
        })
        .collect();
    if entries.is_empty() {
        let (short, _) = excerpt(bytes, 300);
        return ApiError::new(
            status,
            "destination",
            "Query",
            format!("Destination \"{name}\" refused the query with HTTP {status}: {short}"),
        );
    }
    ApiError {
        status,
        entries,
        headers: Vec::new(),
    }
}

/// A 502: the destination failed the query.
fn destination_error(text: String) -> ApiError {
    ApiError::new(502, "destination", "Query", text)
}
