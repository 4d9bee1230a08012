//! Accepting requests: check the envelope, route it to destinations through
//! subscriptions, fill in the engine's Meta fields, normalize timestamps, and persist
//! the request with one log (and queue entry) per destination before acknowledging.

use super::delivery;
use super::{Destination, Engine, Source, store_failure};
use crate::model::catalog::Exchange;
use crate::model::log::new_log_id;
use crate::model::meta::{Envelope, EnvelopeError, first_patient_identifier, parse_envelope};
use crate::model::time::{format_utc, normalize_payload};
use crate::model::{ApiError, LogRecord, LogStatus, LogType};
use crate::store::{QueueId, StoredRequest};
use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// A refused request: the error and the sender's Meta to echo in the error body.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub error: ApiError,
    pub meta: Option<Box<Map<String, Value>>>,
}

impl From<EnvelopeError> for Rejection {
    fn from(e: EnvelopeError) -> Self {
        Rejection {
            error: e.error,
            meta: e.meta,
        }
    }
}

impl Rejection {
    pub(crate) fn new(error: ApiError, envelope: &Envelope) -> Self {
        Rejection {
            error,
            meta: envelope
                .payload
                .get("Meta")
                .and_then(Value::as_object)
                .cloned()
                .map(Box::new),
        }
    }
}

/// A routed request ready to store: normalized payload with Meta filled, and its logs.
pub(crate) struct Prepared {
    pub request: StoredRequest,
    pub logs: Vec<LogRecord>,
}

impl Engine {
    /// `POST /endpoint`. Sync events sent here are answered as queries, as the
    /// platform's older clients expect.
    pub async fn endpoint(&self, source: &Source, body: &[u8]) -> Result<Value, Rejection> {
        self.ensure_writable()
            .map_err(|error| Rejection { error, meta: None })?;
        let envelope = parse_envelope(body)?;
        match envelope.meta.event.exchange {
            Exchange::Query => self.forward_query(source, envelope).await,
            Exchange::Response => Err(Rejection::new(response_event_error(&envelope), &envelope)),
            Exchange::Notification | Exchange::Writeback => self.accept(source, envelope).await,
        }
    }

    /// Accepts a notification or writeback: routed, stored, flushed, then answered.
    async fn accept(&self, source: &Source, envelope: Envelope) -> Result<Value, Rejection> {
        let destinations = self
            .route(source, &envelope)
            .map_err(|e| Rejection::new(e, &envelope))?;
        let prepared = self.prepare(source, envelope, &destinations, LogType::Send);
        let lanes: Vec<u64> = prepared
            .logs
            .iter()
            .zip(&destinations)
            .map(|(log, d)| delivery::lane(d, log))
            .collect();
        let writes = self
            .store
            .accepted_writes(&prepared.request, &prepared.logs, Some(&lanes))
            .map_err(|e| Rejection {
                error: store_failure(e),
                meta: None,
            })?;
        // Persist before acknowledging: the 200 promises the request survives a crash.
        // The whole write set is one journal record (one sled key), flushed with the
        // other requests waiting; it is applied to history and the queues right after.
        let journal = self.store.journal();
        let record = journal.record(writes).await.map_err(|e| Rejection {
            error: store_failure(e),
            meta: None,
        })?;
        if let Err(e) = self.commit.durable().await {
            journal.discard(record);
            tracing::error!(error = %e, "a request's flush failed");
            return Err(Rejection {
                error: ApiError::new(
                    503,
                    "storage",
                    "Storage",
                    format!(
                        "The disk did not confirm the request ({e}); it was not acknowledged. \
                         Retry shortly (a retried request may arrive twice); if it persists, \
                         check the engine's disk and logs."
                    ),
                )
                .with_header("Retry-After", "5".into()),
                meta: None,
            });
        }
        let queues: Vec<QueueId> = prepared
            .logs
            .iter()
            .zip(lanes)
            .map(|(log, lane)| QueueId {
                destination: log.destination_id,
                source: log.source_id,
                lane,
            })
            .collect();
        // The logs are announced once applied (see `Delivery::after_accept`).
        journal.apply(
            record,
            Some(self.delivery.after_accept(queues, prepared.logs)),
        );
        self.stats.request(source.id);
        Ok(json!({ "Meta": prepared.request.payload["Meta"] }))
    }

    /// Resolves `Meta.Destinations` to configured destinations the source may reach.
    pub(crate) fn route(
        &self,
        source: &Source,
        envelope: &Envelope,
    ) -> Result<Vec<Destination>, ApiError> {
        let data_model = envelope.meta.event.data_model;
        if let Some(claimed) = &envelope.meta.source_id
            && Uuid::parse_str(claimed.trim()).ok() != Some(source.id)
        {
            return Err(ApiError::forbidden(format!(
                "Meta.Source.ID {claimed} is not the source this token belongs to ({} \"{}\"). \
                 Leave Meta.Source out or use this source's ID.",
                source.id, source.name
            )));
        }
        let mut unknown: Option<ApiError> = None;
        let mut refused: Option<ApiError> = None;
        let mut found = Vec::new();
        for (i, wanted) in envelope.meta.destinations.iter().enumerate() {
            let destination = Uuid::parse_str(&wanted.id)
                .ok()
                .and_then(|id| self.registry.destination(id));
            let Some(destination) = destination else {
                let e = ApiError::not_found(format!(
                    "Meta.Destinations[{i}].ID {} is not a destination of this engine. \
                     `switchboard connections` lists destination IDs.",
                    wanted.id
                ));
                unknown = Some(match unknown {
                    Some(prev) => prev.and(e),
                    None => e,
                });
                continue;
            };
            let problem = if destination.environment != source.environment {
                tracing::warn!(
                    source = %source.name, destination = %destination.name,
                    "refused: request across environments"
                );
                Some(ApiError::forbidden(format!(
                    "Destination \"{}\" is in {}, but source \"{}\" is in {}. Requests only \
                     flow between a source and a destination of the same environment type.",
                    destination.name, destination.environment, source.name, source.environment
                )))
            } else if !self
                .registry
                .subscribed(source.id, destination.id, data_model)
            {
                tracing::warn!(
                    source = %source.name, destination = %destination.name, data_model,
                    "refused: no subscription"
                );
                Some(ApiError::forbidden(format!(
                    "Source \"{}\" has no subscription to send {data_model} to destination \
                     \"{}\". Add a [[subscriptions]] entry for this pair and data model.",
                    source.name, destination.name
                )))
            } else {
                None
            };
            match problem {
                Some(e) => {
                    refused = Some(match refused {
                        Some(prev) => prev.and(e),
                        None => e,
                    })
                }
                None => found.push(destination.clone()),
            }
        }
        match (unknown, refused) {
            (Some(e), _) | (None, Some(e)) => Err(e),
            (None, None) => Ok(found),
        }
    }

    /// Normalizes the payload, fills the engine's Meta fields, and builds the logs.
    pub(crate) fn prepare(
        &self,
        source: &Source,
        envelope: Envelope,
        destinations: &[Destination],
        log_type: LogType,
    ) -> Prepared {
        let now = Utc::now();
        let event = envelope.meta.event;
        let test = envelope.meta.test;
        let mut payload = Value::Object(envelope.payload);
        normalize_payload(&mut payload, source.timezone);
        let patient_id = payload.as_object().and_then(first_patient_identifier);

        let request_id = Uuid::now_v7();
        let logs: Vec<LogRecord> = destinations
            .iter()
            .map(|d| {
                let (id, created_at) = new_log_id();
                LogRecord {
                    id,
                    request_id,
                    attempt_id: Uuid::now_v7(),
                    log_type,
                    status: LogStatus::Pending,
                    exchange: event.exchange,
                    environment: source.environment,
                    source_id: source.id,
                    source_name: source.name.clone(),
                    destination_id: d.id,
                    destination_name: d.name.clone(),
                    data_model: event.data_model.to_string(),
                    event_type: event.event_type.to_string(),
                    test,
                    created_at,
                    updated_at: created_at,
                    attempts: 0,
                    latency_ms: None,
                    patient_id: patient_id.clone(),
                    quarantined: false,
                    released_at_attempt: 0,
                    resend_of: None,
                }
            })
            .collect();

        if let Some(meta) = payload.get_mut("Meta").and_then(Value::as_object_mut) {
            // Deprecated on the platform: accepted, never emitted.
            meta.remove("Message");
            meta.remove("Transmission");
            if meta.get("EventDateTime").is_none_or(Value::is_null) {
                meta.insert("EventDateTime".into(), json!(format_utc(now)));
            }
            meta.insert(
                "Source".into(),
                json!({"ID": source.id, "Name": source.name}),
            );
            meta.insert(
                "Destinations".into(),
                destinations
                    .iter()
                    .map(|d| json!({"ID": d.id, "Name": d.name}))
                    .collect(),
            );
            meta.insert(
                "Logs".into(),
                logs.iter()
                    .map(|l| json!({"ID": l.id, "AttemptID": l.attempt_id}))
                    .collect(),
            );
        }
        Prepared {
            request: StoredRequest {
                id: request_id,
                received_at: now,
                environment: source.environment,
                source_id: source.id,
                exchange: event.exchange,
                payload,
            },
            logs,
        }
    }
}

pub(crate) fn response_event_error(envelope: &Envelope) -> ApiError {
    let event = envelope.meta.event;
    ApiError::bad_request(format!(
        "{} {} is the reply to a query; it comes back from the destination and cannot be \
         sent. Send the query event (e.g. {} {}) to /query instead.",
        event.data_model,
        event.event_type,
        event.data_model,
        event
            .event_type
            .strip_suffix("Response")
            .filter(|s| !s.is_empty())
            .unwrap_or("Query")
    ))
}
