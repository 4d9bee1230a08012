//! FHIR message templates: a `Bundle` of type `message` whose first entry is a
//! `MessageHeader` (`eventCoding` system `urn:redox:event-type`, the event code,
//! `source.endpoint` the source's ID), then the patient and the resource the message
//! is about, filled from the environment's [`Samples`].

use crate::model::template::Samples;
use crate::model::time::format_utc;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// The event-code system of `MessageHeader.eventCoding`.
pub const EVENT_SYSTEM: &str = "urn:redox:event-type";

/// HL7 v2 table 0203 (identifier types): `MR` marks the MRN.
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

/// A FHIR message the composer can start from.
#[derive(Debug, PartialEq, Eq)]
pub struct MessageKind {
    /// `MessageHeader.eventCoding.code`.
    pub code: &'static str,
    /// The resource whose operation takes it.
    pub resource: &'static str,
    /// The operation, `{resource}/{operation}`.
    pub operation: &'static str,
    /// The data model its log has.
    pub data_model: &'static str,
}

pub const MESSAGES: [MessageKind; 2] = [
    MessageKind {
        code: "Observation-New",
        resource: "Observation",
        operation: "$observation-create",
        data_model: "FHIR.Message.Observation",
    },
    MessageKind {
        code: "Media-New",
        resource: "DocumentReference",
        operation: "$write",
        data_model: "FHIR.Message.Media",
    },
];

/// The message as pretty JSON (two-space indent, trailing newline), as the editor shows
/// it. `source` is the source's ID for `MessageHeader.source.endpoint`.
pub fn template_text(
    kind: &MessageKind,
    source: Uuid,
    now: DateTime<Utc>,
    samples: &Samples,
) -> String {
    let mut text =
        serde_json::to_string_pretty(&template(kind, source, now, samples)).unwrap_or_default();
    text.push('\n');
    text
}

/// The message as a JSON value. Entry ids are derived from `now`, so one template is
/// stable for a test's fixed clock and differs from one composed a moment later.
pub fn template(kind: &MessageKind, source: Uuid, now: DateTime<Utc>, samples: &Samples) -> Value {
    let stamp = now.timestamp_millis() as u128;
    let urn = |n: u128| format!("urn:uuid:{}", Uuid::from_u128((stamp << 8) | n));
    let (focus, patient) = (urn(2), urn(3));
    let when = format_utc(now);
    let subject = json!({
        "reference": format!("Patient/{}", samples.fhir_patient_id),
        "display": format!("{}, {}", samples.last_name, samples.first_name),
    });
    let resource = match kind.resource {
        "Observation" => observation(samples, &when, subject),
        _ => document(samples, &when, subject),
    };
    json!({
        "resourceType": "Bundle",
        "id": Uuid::from_u128((stamp << 8) | 1).to_string(),
        "type": "message",
        "timestamp": when,
        "entry": [
            {
                "fullUrl": urn(1),
                "resource": {
                    "resourceType": "MessageHeader",
                    "eventCoding": {"system": EVENT_SYSTEM, "code": kind.code},
                    "source": {"endpoint": source.to_string()},
                    "focus": [{"reference": focus}]
                }
            },
            {"fullUrl": focus, "resource": resource},
            {
                "fullUrl": patient,
                "resource": {
                    "resourceType": "Patient",
                    "id": samples.fhir_patient_id,
                    "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "value": samples.mrn}],
                    "name": [{"family": samples.last_name, "given": [samples.first_name]}],
                    "birthDate": samples.dob
                }
            }
        ]
    })
}

fn observation(samples: &Samples, when: &str, subject: Value) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory"
        }]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": samples.result_code}]},
        "subject": subject,
        "effectiveDateTime": when,
        "issued": when,
        "valueQuantity": {"value": 7.2, "unit": "mg/dL"}
    })
}

fn document(samples: &Samples, when: &str, subject: Value) -> Value {
    let note = format!(
        "Test document for {} {}, sent from the Switchboard console.",
        samples.first_name, samples.last_name
    );
    json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Progress note"},
        "subject": subject,
        "date": when,
        "content": [{"attachment": {
            "contentType": "text/plain",
            "title": "Switchboard test document",
            "data": base64::engine::general_purpose::STANDARD.encode(note)
        }}]
    })
}

/// What is wrong with a message's shape, as warnings: the engine refuses a body that is
/// not a `Bundle` of type `message` opening with a `MessageHeader`.
pub fn shape_issues(value: &Value) -> Vec<String> {
    let mut issues = Vec::new();
    if value["resourceType"] != "Bundle" {
        issues.push("resourceType must be \"Bundle\"".to_string());
    }
    if value["type"] != "message" {
        issues.push("type must be \"message\"".to_string());
    }
    if value["entry"][0]["resource"]["resourceType"] != "MessageHeader" {
        issues.push("the first entry must be a MessageHeader".to_string());
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_message_opens_with_its_header_and_names_the_patient() {
        let now = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("a time");
        let samples = Samples {
            fhir_patient_id: "pat-1".into(),
            ..Samples::default()
        };
        let source = Uuid::from_u128(7);
        for kind in &MESSAGES {
            let value = template(kind, source, now, &samples);
            assert!(shape_issues(&value).is_empty(), "{value}");
            let header = &value["entry"][0]["resource"];
            assert_eq!(header["eventCoding"]["code"], kind.code);
            assert_eq!(header["eventCoding"]["system"], EVENT_SYSTEM);
            assert_eq!(header["source"]["endpoint"], source.to_string());
            let focus = &value["entry"][1];
            assert_eq!(header["focus"][0]["reference"], focus["fullUrl"]);
            assert_eq!(focus["resource"]["resourceType"], kind.resource);
            assert_eq!(focus["resource"]["subject"]["reference"], "Patient/pat-1");
            assert_eq!(value["timestamp"], "2026-01-02T03:04:05.000Z");
            let text = template_text(kind, source, now, &samples);
            assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(value));
        }
        let issues = shape_issues(&json!({"resourceType": "Patient"}));
        assert_eq!(issues.len(), 3, "{issues:?}");
    }
}
