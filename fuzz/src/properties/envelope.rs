//! `POST /endpoint` and `/query`: the envelope parser (`model::meta::parse_envelope`).
//! Input: the request body.
//!
//! Accepted: within the nesting limit, readable back from storage (two more levels),
//! Meta checked (a catalog event, destinations named once), no impossible timestamp,
//! and still accepted once its timestamps are normalized, which is idempotent.
//! Refused: a 4xx in the platform's shape, echoing the sender's Meta when it had one.

use serde_json::{Map, Value, json};
use switchboard::model::catalog;
use switchboard::model::depth::{MAX_JSON_DEPTH, depth_within};
use switchboard::model::meta::{Envelope, EnvelopeError, parse_envelope};
use switchboard::model::time::{find_impossible_in, normalize_payload};

pub fn check(data: &[u8]) {
    match parse_envelope(data) {
        Ok(envelope) => accepted(data, envelope),
        Err(refusal) => refused(data, &refusal),
    }
}

fn accepted(data: &[u8], envelope: Envelope) {
    let depth = depth_within(data, MAX_JSON_DEPTH);
    assert!(
        depth.is_some_and(|d| d <= MAX_JSON_DEPTH),
        "accepted a body nested past {MAX_JSON_DEPTH}"
    );
    // A stored record wraps the payload in two more containers; serde_json's default
    // limit (128) must still read it.
    let stored = serde_json::to_vec(&json!({"record": {"payload": envelope.payload}}))
        .expect("an accepted payload serializes");
    serde_json::from_slice::<Value>(&stored).expect("an accepted payload reads back stored");

    let Some(Value::Object(meta)) = envelope.payload.get("Meta") else {
        panic!("accepted without a Meta object");
    };
    let named = |field: &str| meta.get(field).and_then(Value::as_str).unwrap_or_default();
    let event = catalog::lookup(named("DataModel"), named("EventType"))
        .expect("an accepted Meta names a catalog event");
    assert!(
        std::ptr::eq(event, envelope.meta.event),
        "Meta read as another event"
    );
    let ids: Vec<&str> = envelope
        .meta
        .destinations
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert!(!ids.is_empty(), "accepted without destinations");
    for (i, id) in ids.iter().enumerate() {
        assert!(!id.is_empty() && id.trim() == *id, "destination ID {id:?}");
        assert!(!ids[..i].contains(id), "destination {id} accepted twice");
    }
    assert_eq!(find_impossible_in(&envelope.payload), None);

    let mut payload = Value::Object(envelope.payload);
    normalize_payload(&mut payload, chrono_tz::America::New_York);
    let once = payload.clone();
    assert_eq!(
        normalize_payload(&mut payload, chrono_tz::Asia::Kolkata),
        0,
        "normalizing a normalized payload changed it"
    );
    assert_eq!(payload, once);
    let again = serde_json::to_vec(&payload).expect("serializes");
    if let Err(e) = parse_envelope(&again) {
        panic!("accepted, then refused once normalized: {}", e.error);
    }
}

fn refused(data: &[u8], refusal: &EnvelopeError) {
    super::assert_platform_error(&refusal.error, data);
    let Some(echo) = refusal.meta.as_deref() else {
        return;
    };
    let sent: Option<Map<String, Value>> = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|v| v.get("Meta").and_then(Value::as_object).cloned());
    assert_eq!(
        Some(echo),
        sent.as_ref(),
        "the echoed Meta is not the one sent"
    );
    let body = refusal.error.body(Some(echo));
    assert!(
        body["Meta"]["Errors"].is_array(),
        "no Errors beside the echo: {body}"
    );
}
