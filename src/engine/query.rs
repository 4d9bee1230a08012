//! Synchronous queries: forward to exactly one destination, wait for its answer within
//! the query timeout, record the REQUEST log with both bodies, and return the answer.

use super::config::DeliveryMode;
use super::ingest::{Rejection, response_event_error};
use super::{Engine, Source, read_failure, store_failure};
use crate::model::catalog::Exchange;
use crate::model::meta::{Envelope, parse_envelope};
use crate::model::time::normalize_payload;
use crate::model::{ApiError, Attempt, AttemptOutcome, LogStatus, LogType};
use chrono::Utc;
use serde_json::{Value, json};
use std::time::Instant;
use uuid::Uuid;

/// How much of a destination's answer an attempt record keeps inline; the whole
/// answer of a query is stored separately.
pub const ATTEMPT_BODY_LIMIT: usize = 64 * 1024;

fn excerpt(body: &[u8], limit: usize) -> (String, bool) {
    let cut = body.len() > limit;
    let mut end = body.len().min(limit);
    // Cut on a character boundary.
    while end > 0 && std::str::from_utf8(&body[..end]).is_err() {
        end -= 1;
    }
    (String::from_utf8_lossy(&body[..end]).into_owned(), cut)
}

/// An error with its causes: reqwest's own message alone ("error sending request")
/// hides the useful part ("connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Engine {
    /// `POST /query`.
    pub async fn query(&self, source: &Source, body: &[u8]) -> Result<Value, Rejection> {
        self.ensure_writable()
            .map_err(|error| Rejection { error, meta: None })?;
        let envelope = parse_envelope(body)?;
        match envelope.meta.event.exchange {
            Exchange::Query => self.forward_query(source, envelope).await,
            Exchange::Response => Err(Rejection::new(response_event_error(&envelope), &envelope)),
            Exchange::Notification | Exchange::Writeback => {
                let event = envelope.meta.event;
                Err(Rejection::new(
                    ApiError::bad_request(format!(
                        "{} {} is an asynchronous {}; SEND it to /endpoint. /query takes \
                         synchronous events only.",
                        event.data_model,
                        event.event_type,
                        event.exchange.as_str()
                    )),
                    &envelope,
                ))
            }
        }
    }

    pub(crate) async fn forward_query(
        &self,
        source: &Source,
        envelope: Envelope,
    ) -> Result<Value, Rejection> {
        if envelope.meta.destinations.len() != 1 {
            return Err(Rejection::new(
                ApiError::bad_request(format!(
                    "A query goes to exactly one destination, but Meta.Destinations names {}. \
                     Send one query per destination.",
                    envelope.meta.destinations.len()
                )),
                &envelope,
            ));
        }
        let destinations = self
            .route(source, &envelope)
            .map_err(|e| Rejection::new(e, &envelope))?;
        let Some(destination) = destinations.into_iter().next() else {
            return Err(Rejection::new(
                ApiError::internal("routing lost the destination"),
                &envelope,
            ));
        };
        let url = match (&destination.url, destination.mode) {
            (Some(url), DeliveryMode::Push) => url.clone(),
            _ => {
                return Err(Rejection::new(
                    ApiError::bad_request(format!(
                        "Destination \"{}\" receives by polling and cannot answer queries. \
                         Query a push destination.",
                        destination.name
                    )),
                    &envelope,
                ));
            }
        };

        let prepared = self.prepare(
            source,
            envelope,
            std::slice::from_ref(&destination),
            LogType::Request,
        );
        let Some(pending) = prepared.logs.first().cloned() else {
            return Err(Rejection {
                error: ApiError::internal("query lost its log"),
                meta: None,
            });
        };
        // Queued before forwarding, so a search while the destination works shows the
        // query as PENDING (the store's reads wait for the journal). No flush is awaited: a
        // query is not acknowledged before its answer. The expander is woken once the
        // answer is out, so the answer does not wait for the wake and the pending log
        // and its outcome are applied together.
        let store_failed = |e: crate::store::StoreError| Rejection {
            error: store_failure(e),
            meta: None,
        };
        let writes = self
            .store
            .accepted_writes(&prepared.request, &prepared.logs, None)
            .map_err(store_failed)?;
        let journal = self.store.journal();
        journal.write_quiet(writes).await.map_err(store_failed)?;
        let _wake = journal.wake_on_drop();
        self.publish(&pending);

        let started_at = Utc::now();
        let clock = Instant::now();
        let forward = async {
            let result = self
                .http
                .post(&url)
                .header("verification-token", &destination.verification_token)
                .timeout(self.settings.query_timeout)
                .json(&prepared.request.payload)
                .send()
                .await;
            match result {
                Ok(response) => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(bytes) => Ok((status, bytes)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        };
        let outcome = forward.await;
        // Microsecond resolution is plenty and keeps the figure readable.
        let latency_ms = (clock.elapsed().as_secs_f64() * 1e6).round() / 1000.0;

        let mut attempt = Attempt {
            id: pending.attempt_id,
            log_id: pending.id,
            number: 1,
            started_at,
            outcome: AttemptOutcome::Failed,
            http_status: None,
            latency_ms,
            response_body: None,
            response_truncated: false,
            error: None,
        };
        let name = &destination.name;
        let mut stored_body: Option<Vec<u8>> = None;
        let answer: Result<Value, ApiError> = match outcome {
            Err(e) if e.is_timeout() => {
                let secs = self.settings.query_timeout.as_secs_f64();
                attempt.error = Some(format!("no answer within {secs} s"));
                Err(ApiError::timeout(format!(
                    "Destination \"{name}\" did not answer within {secs} s. The query was logged \
                     as FAILED; try again, or check the destination."
                )))
            }
            Err(e) => {
                let reason = error_chain(&e);
                attempt.error = Some(reason.clone());
                Err(ApiError::new(
                    502,
                    "destination",
                    "Query",
                    format!(
                        "Could not reach destination \"{name}\": {reason}. Check that it is up and its URL is right."
                    ),
                ))
            }
            Ok((status, bytes)) => {
                attempt.http_status = Some(status.as_u16());
                let (text, cut) = excerpt(&bytes, ATTEMPT_BODY_LIMIT);
                attempt.response_body = Some(text.clone());
                attempt.response_truncated = cut;
                stored_body = Some(bytes.to_vec());
                if !status.is_success() {
                    attempt.error = Some(format!("HTTP {}", status.as_u16()));
                    let (short, _) = excerpt(&bytes, 300);
                    Err(ApiError::new(
                        502,
                        "destination",
                        "Query",
                        format!(
                            "Destination \"{name}\" answered HTTP {}: {short}",
                            status.as_u16()
                        ),
                    ))
                } else {
                    match serde_json::from_slice::<Value>(&bytes) {
                        Ok(Value::Object(mut reply)) => {
                            attempt.outcome = AttemptOutcome::Succeeded;
                            let mut value = Value::Object(std::mem::take(&mut reply));
                            normalize_payload(&mut value, destination.timezone);
                            if let Some(meta) = value.get_mut("Meta").and_then(Value::as_object_mut)
                            {
                                meta.insert(
                                    "Logs".into(),
                                    json!([{"ID": pending.id, "AttemptID": pending.attempt_id}]),
                                );
                            }
                            Ok(value)
                        }
                        Ok(_) | Err(_) => {
                            attempt.error = Some("answer is not a JSON object".into());
                            let (short, _) = excerpt(&bytes, 300);
                            Err(ApiError::new(
                                502,
                                "destination",
                                "Query",
                                format!(
                                    "Destination \"{name}\" answered with a body that is not a JSON object: {short}"
                                ),
                            ))
                        }
                    }
                }
            }
        };

        self.stats.request(source.id);
        self.stats
            .attempt(destination.id, answer.is_ok(), attempt.http_status);
        let mut done = pending.clone();
        done.attempts = 1;
        done.latency_ms = Some(latency_ms);
        done.updated_at = Utc::now();
        done.status = if answer.is_ok() {
            LogStatus::Succeeded
        } else {
            LogStatus::Failed
        };
        let writes = crate::store::Store::update_writes(
            &pending,
            &done,
            Some(&attempt),
            stored_body.as_deref(),
        );
        // Applied after the pending log (the journal keeps order); reads wait for it.
        if let Err(e) = journal.write_quiet(writes).await {
            tracing::error!(error = %e, log = %done.id, "could not record the query's outcome");
        }
        self.publish(&done);
        let meta = prepared
            .request
            .payload
            .get("Meta")
            .and_then(Value::as_object)
            .cloned()
            .map(Box::new);
        answer.map_err(|error| Rejection { error, meta })
    }

    /// One log with its attempts, for the admin API.
    pub fn log_detail(&self, id: Uuid) -> Result<Option<LogDetail>, ApiError> {
        let Some(log) = self.store.log(id).map_err(read_failure)? else {
            return Ok(None);
        };
        let attempts = self.store.attempts(id).map_err(read_failure)?;
        let request = self
            .store
            .request(log.request_id)
            .map_err(read_failure)?
            .map(|r| r.payload);
        let response = self
            .store
            .response_body(id)
            .map_err(read_failure)?
            .map(|bytes| {
                serde_json::from_slice::<Value>(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            });
        Ok(Some(LogDetail {
            log,
            attempts,
            request,
            response,
        }))
    }
}

/// A log with everything recorded about it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogDetail {
    pub log: crate::model::LogRecord,
    pub attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}
