//! The filter language (`model::filter`), typed at the console's `/` and sent as
//! `GET /admin/v1/events?filter=`. Input: the filter text (UTF-8, lossily).
//!
//! A filter that parses renders (its `Display`, the canonical form) to text that parses
//! to the same filter, and renders the same again; both match the same logs. A refusal
//! points at a range of the input on character boundaries and says something.

use chrono::{TimeZone, Utc};
use switchboard::model::filter::Filter;
use switchboard::model::{Environment, Exchange, LogRecord, LogStatus, LogType};
use uuid::Uuid;

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let filter = match Filter::parse(&text) {
        Ok(filter) => filter,
        Err(e) => {
            assert!(
                e.start <= e.end && e.end <= text.len(),
                "error range {}..{} outside {text:?}",
                e.start,
                e.end
            );
            assert!(
                text.is_char_boundary(e.start) && text.is_char_boundary(e.end),
                "error range {}..{} splits a character of {text:?}",
                e.start,
                e.end
            );
            assert!(!e.message.trim().is_empty(), "an error that says nothing");
            return;
        }
    };
    let shown = filter.to_string();
    let reparsed = Filter::parse(&shown)
        .unwrap_or_else(|e| panic!("{text:?} renders as {shown:?}, which does not parse: {e}"));
    assert_eq!(
        reparsed, filter,
        "{text:?} renders as {shown:?}, another filter"
    );
    assert_eq!(reparsed.to_string(), shown, "rendering is not stable");
    assert_eq!(filter.is_empty(), text.trim().is_empty());
    for log in logs() {
        assert_eq!(filter.matches(&log), reparsed.matches(&log));
    }
}

/// Two logs that differ in every field a filter looks at, one with non-ASCII names.
fn logs() -> [LogRecord; 2] {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 8, 7, 30, 0)
        .single()
        .unwrap_or_default();
    let first = LogRecord {
        id: Uuid::from_u128(0x0190_0000_aaaa_7bbb_8ccc_0000_0000_1234),
        request_id: Uuid::from_u128(2),
        attempt_id: Uuid::from_u128(3),
        log_type: LogType::Send,
        status: LogStatus::Failed,
        exchange: Exchange::Notification,
        environment: Environment::Production,
        source_id: Uuid::from_u128(4),
        source_name: "Lab Feed".into(),
        destination_id: Uuid::from_u128(5),
        destination_name: "Acme EHR".into(),
        data_model: "PatientAdmin".into(),
        event_type: "Arrival".into(),
        test: false,
        created_at: at,
        updated_at: at,
        attempts: 3,
        latency_ms: Some(12.5),
        patient_id: Some("MRN-0042".into()),
        quarantined: true,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    };
    let second = LogRecord {
        id: Uuid::from_u128(6),
        log_type: LogType::Request,
        status: LogStatus::Succeeded,
        exchange: Exchange::Query,
        environment: Environment::Development,
        source_name: "Zürich Ärzte İ".into(),
        destination_name: "ΣΊΣΥΦΟΣ ﬀ".into(),
        data_model: "FHIR.Patient".into(),
        event_type: "search".into(),
        patient_id: None,
        quarantined: false,
        ..first.clone()
    };
    [first, second]
}
