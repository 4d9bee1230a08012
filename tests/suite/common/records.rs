//! Records for the store tests: a PENDING notification log between two parties, the
//! request it came from, and the same log delivered with its attempt.

use chrono::Utc;
use switchboard::model::log::new_log_id;
use switchboard::model::{
    Attempt, AttemptOutcome, Environment, Exchange, LogRecord, LogStatus, LogType,
};
use switchboard::store::StoredRequest;
use uuid::Uuid;

/// A PENDING notification log from `source` to `destination`, made now.
pub fn pending_log(environment: Environment, source: Uuid, destination: Uuid) -> LogRecord {
    let (id, created_at) = new_log_id();
    LogRecord {
        id,
        request_id: Uuid::now_v7(),
        attempt_id: Uuid::now_v7(),
        log_type: LogType::Send,
        status: LogStatus::Pending,
        exchange: Exchange::Notification,
        environment,
        source_id: source,
        source_name: "Lab".into(),
        destination_id: destination,
        destination_name: "EHR".into(),
        data_model: "Results".into(),
        event_type: "New".into(),
        test: false,
        created_at,
        updated_at: created_at,
        attempts: 0,
        latency_ms: None,
        patient_id: None,
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    }
}

/// The request a log came from, with a small body.
pub fn request_of(log: &LogRecord) -> StoredRequest {
    StoredRequest {
        id: log.request_id,
        received_at: log.created_at,
        environment: log.environment,
        source_id: log.source_id,
        exchange: Exchange::Notification,
        payload: serde_json::json!({"Meta": {"DataModel": log.data_model}}),
    }
}

/// `log` after one successful attempt, and the attempt.
pub fn delivered(log: &LogRecord) -> (LogRecord, Attempt) {
    let mut new = log.clone();
    new.status = LogStatus::Succeeded;
    new.attempts += 1;
    let attempt = Attempt {
        id: Uuid::now_v7(),
        log_id: log.id,
        number: new.attempts,
        started_at: Utc::now(),
        outcome: AttemptOutcome::Succeeded,
        http_status: Some(200),
        latency_ms: 1.5,
        response_body: None,
        response_truncated: false,
        error: None,
    };
    (new, attempt)
}
