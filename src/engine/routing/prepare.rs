//! A routed request made ready to store: the payload normalized (timestamps to UTC in
//! the source's time zone), the engine's Meta fields filled (Source, Destinations, Logs,
//! EventDateTime), and one PENDING log per destination.

use crate::engine::{Destination, Source};
use crate::model::log::new_log_id;
use crate::model::meta::{Envelope, first_patient_identifier};
use crate::model::time::{format_utc, normalize_payload};
use crate::model::{LogRecord, LogStatus, LogType};
use crate::store::StoredRequest;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

/// A routed request ready to store: normalized payload with Meta filled, and its logs.
pub(crate) struct Prepared {
    pub request: StoredRequest,
    pub logs: Vec<LogRecord>,
}

/// Normalizes the payload, fills the engine's Meta fields, and builds the logs.
pub(crate) fn prepare(
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
                legacy_ids: None,
            }
        })
        .collect();

    if let Some(meta) = payload.get_mut("Meta").and_then(Value::as_object_mut) {
        // Deprecated on the platform: a sender's are accepted and dropped; the engine's
        // own numbers take their place (`legacy::assign`).
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
