//! FHIR messages (`POST …/{Resource}/$<operation>` with a `Bundle` of type `message`):
//! checked, accepted durably like `/endpoint` (one SEND log, one queue entry, flushed
//! before the answer), and delivered by the push queues to the destination's
//! `{fhir_url}/$process-message` with the Bundle as the source sent it.
//!
//! The log's data model and event come from the MessageHeader's event **(ours)**: a code
//! `Model-Event` (e.g. `Observation-New`, system `urn:redox:event-type`) gives
//! `FHIR.Message.Observation` and `observation-created`; the verbs New, Update,
//! Delete, Cancel, Arrival, Discharge, Transfer, Registration, Replace become
//! created, updated, deleted, cancelled, arrived, discharged, transferred, registered,
//! replaced, any other is kebab-cased; `PatientAdmin` is named `patient` in the event.
//! An `eventUri` is read the same way from its last segment; without a `Model-` part,
//! the model is the operation's resource. The source is the token's, whatever
//! `MessageHeader.source.endpoint` says.

use super::{FhirAnswer, Party, new_log, stored_request};
use crate::engine::Engine;
use crate::engine::routing::Prepared;
use crate::model::catalog::Exchange;
use crate::model::{ApiError, LogType};
use serde_json::{Value, json};

/// The data model and event type a message is logged under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    pub data_model: String,
    pub event_type: String,
}

/// Reads the event of a message Bundle, after checking its shape (422 otherwise).
pub fn message_event(bundle: &Value, resource: &str) -> Result<MessageEvent, ApiError> {
    let refuse = |text: &str| ApiError::new(422, "request", "FHIR", text.to_string());
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(refuse(
            "The body must be a Bundle (resourceType \"Bundle\").",
        ));
    }
    if bundle.get("type").and_then(Value::as_str) != Some("message") {
        return Err(refuse("The Bundle's type must be \"message\"."));
    }
    let header = bundle
        .pointer("/entry/0/resource")
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("MessageHeader"))
        .ok_or_else(|| {
            refuse("The Bundle's first entry must be a MessageHeader (entry[0].resource).")
        })?;
    let code = header
        .pointer("/eventCoding/code")
        .and_then(Value::as_str)
        .or_else(|| {
            header
                .get("eventUri")
                .and_then(Value::as_str)
                .and_then(|uri| uri.rsplit(['/', ':', '#']).next())
        })
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            refuse(
                "The MessageHeader needs eventCoding (system urn:redox:event-type, code such as \
                 Observation-New) or eventUri.",
            )
        })?;
    Ok(event_of(code, resource))
}

/// `Observation-New` → (`FHIR.Message.Observation`, `observation-created`).
fn event_of(code: &str, resource: &str) -> MessageEvent {
    let (model, verb) = match code.split_once('-') {
        Some((model, verb))
            if model.chars().all(|c| c.is_ascii_alphanumeric())
                && model.starts_with(|c: char| c.is_ascii_uppercase()) =>
        {
            (model.to_string(), verb)
        }
        // No `Model-` part (an eventUri such as `…/observation-create`): the name as
        // given, kebab-cased, under the operation's resource.
        _ => {
            return MessageEvent {
                data_model: format!("FHIR.Message.{resource}"),
                event_type: kebab(code),
            };
        }
    };
    let past = match verb {
        "New" | "Create" => "created".to_string(),
        "Update" => "updated".into(),
        "Delete" => "deleted".into(),
        "Cancel" => "cancelled".into(),
        "Arrival" => "arrived".into(),
        "Discharge" => "discharged".into(),
        "Transfer" => "transferred".into(),
        "Registration" => "registered".into(),
        "Replace" => "replaced".into(),
        other => kebab(other),
    };
    let subject = match model.as_str() {
        "PatientAdmin" => "patient".to_string(),
        m => kebab(m),
    };
    let event_type = if past.starts_with(&format!("{subject}-")) {
        past
    } else {
        format!("{subject}-{past}")
    };
    MessageEvent {
        data_model: format!("FHIR.Message.{model}"),
        event_type,
    }
}

/// `DiagnosticReport` → `diagnostic-report`; `observation_create` → `observation-create`.
fn kebab(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('-');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        match c {
            '_' | ' ' | '.' => out.push('-'),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// The first value in `bundle` that has a time but no offset, as the path to it.
/// FHIR's `instant` and `dateTime` require an offset whenever there is a time; every
/// string shaped like a dateTime is checked, so no element is missed.
pub fn naive_timestamp(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(s) if is_naive_date_time(s) => Some(path.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = naive_timestamp(v, path);
            path.truncate(len);
            found
        }),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(k);
            let found = naive_timestamp(v, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// `2026-07-01T10:00:00` (time, no `Z` or `±hh:mm`).
fn is_naive_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shaped = b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16);
    if !shaped {
        return false;
    }
    let rest = &s[16..];
    let zoned = rest.ends_with('Z')
        || rest
            .rfind(['+', '-'])
            .is_some_and(|i| rest.len() - i == 6 && rest.as_bytes()[rest.len() - 3] == b':');
    let plain = rest
        .bytes()
        .all(|c| c.is_ascii_digit() || c == b':' || c == b'.');
    plain && !zoned
}

impl Engine {
    /// Accepts a FHIR message for `party`'s destination: checked, stored, flushed, then
    /// answered with an OperationOutcome (severity information) naming the log.
    pub async fn fhir_message(
        &self,
        party: &Party,
        resource: &str,
        operation: &str,
        bytes: &[u8],
    ) -> Result<FhirAnswer, ApiError> {
        let bundle: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "The body is not JSON ({e}); send a Bundle of type message as application/fhir+json."
            ))
        })?;
        let event = message_event(&bundle, resource)?;
        if let Some(path) = naive_timestamp(&bundle, &mut String::new()) {
            return Err(ApiError::bad_request(format!(
                "{path} has a time but no offset; FHIR instant and dateTime values need one \
                 (e.g. 2026-07-01T10:00:00Z or 2026-07-01T10:00:00-05:00)."
            )));
        }
        self.fhir_allowed(party, &event.data_model)?;
        let destinations = std::slice::from_ref(&party.destination);
        let room = self.admit(destinations).await?;
        let request = stored_request(&party.source, Exchange::Writeback, bundle);
        let log = new_log(
            party,
            &request,
            event.data_model,
            event.event_type,
            LogType::Send,
            None,
        );
        let id = log.id;
        self.persist_accepted(
            Prepared {
                request,
                logs: vec![log],
            },
            destinations,
        )
        .await
        .map_err(|r| r.error)?;
        room.keep();
        self.stats.request(party.source.id);
        tracing::debug!(operation, log = %id, "FHIR message accepted");
        Ok(FhirAnswer {
            status: 200,
            log_id: Some(id),
            body: json!({
                "resourceType": "OperationOutcome",
                "id": id,
                "issue": [{
                    "severity": "information",
                    "code": "informational",
                    "details": {"text": format!("Accepted: log {id}; delivered asynchronously.")},
                    "diagnostics": format!("Switchboard log ID {id}"),
                }],
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_to_data_models_and_kebab_events() {
        let e = event_of("Observation-New", "Observation");
        assert_eq!(e.data_model, "FHIR.Message.Observation");
        assert_eq!(e.event_type, "observation-created");
        assert_eq!(
            event_of("PatientAdmin-Arrival", "Patient").event_type,
            "patient-arrived"
        );
        let e = event_of("diagnosticreport-create", "DiagnosticReport");
        assert_eq!(e.data_model, "FHIR.Message.DiagnosticReport");
        assert_eq!(e.event_type, "diagnosticreport-create");
    }

    #[test]
    fn naive_date_times_are_found_and_zoned_ones_are_not() {
        for naive in [
            "2026-07-01T10:00:00",
            "2026-07-01T10:00",
            "2026-07-01T10:00:00.123",
        ] {
            assert!(is_naive_date_time(naive), "{naive}");
        }
        for fine in [
            "2026-07-01",
            "2026-07-01T10:00:00Z",
            "2026-07-01T10:00:00.5+02:00",
            "2026-07-01T10:00:00-05:00",
            "note at 2026-07-01T10:00:00",
        ] {
            assert!(!is_naive_date_time(fine), "{fine}");
        }
        let bundle = json!({"entry": [{"resource": {"effectiveDateTime": "2026-07-01T10:00:00"}}]});
        assert_eq!(
            naive_timestamp(&bundle, &mut String::new()).as_deref(),
            Some("entry[0].resource.effectiveDateTime")
        );
    }
}
