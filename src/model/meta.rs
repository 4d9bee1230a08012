//! Reading and checking the `Meta` block of a request envelope.
//!
//! [`parse_envelope`] turns the raw body into the payload object plus a checked
//! [`RequestMeta`]. Every problem found is reported at once, each with a `Text` that
//! names the field and says what to send instead.

use crate::model::catalog::{self, EventInfo};
use crate::model::error::ApiError;
use crate::model::time::{ImpossibleTimestamp, find_impossible_in};
use serde_json::{Map, Value};

/// A destination as named by the sender.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationRef {
    pub id: String,
    pub name: Option<String>,
}

/// The checked routing part of `Meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMeta {
    pub event: &'static EventInfo,
    pub destinations: Vec<DestinationRef>,
    /// `Meta.Source.ID` when the sender gave one.
    pub source_id: Option<String>,
    pub test: bool,
}

/// A parsed request: the whole payload object and its checked Meta.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub payload: Map<String, Value>,
    pub meta: RequestMeta,
}

/// A failed parse: the error and, when it could be read, the sender's Meta to echo back.
#[derive(Debug, Clone)]
pub struct EnvelopeError {
    pub error: ApiError,
    pub meta: Option<Box<Map<String, Value>>>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &str, want: &str, got: &Value) -> ApiError {
    ApiError::bad_request(format!(
        "{field} must be {want}, but it is {}.",
        type_name(got)
    ))
}

fn impossible_timestamp(bad: &ImpossibleTimestamp) -> ApiError {
    ApiError::bad_request(format!(
        "{} is \"{}\", which is not a possible date and time ({}). Send an ISO 8601 date-time \
         such as 2024-05-01T12:00:00Z, or a date such as 2024-05-01.",
        bad.path, bad.value, bad.reason
    ))
}

pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let fail = |error, meta| EnvelopeError { error, meta };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(fail(
            ApiError::bad_request(
                "The request body is empty. Send one JSON object with a Meta block \
                 (Meta.DataModel, Meta.EventType, Meta.Destinations).",
            ),
            None,
        ));
    }
    if crate::model::depth::depth_within(body, crate::model::depth::MAX_JSON_DEPTH).is_none() {
        return Err(fail(
            ApiError::bad_request(format!(
                "The request body nests objects and arrays more than {} levels deep; \
                 nothing was accepted. Flatten the payload (platform payloads nest about 8 deep).",
                crate::model::depth::MAX_JSON_DEPTH
            )),
            None,
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        fail(
            ApiError::bad_request(format!(
                "The request body is not valid JSON ({e}). Send one JSON object with a Meta block."
            )),
            None,
        )
    })?;
    let Value::Object(payload) = value else {
        return Err(fail(
            ApiError::bad_request(format!(
                "The request body must be a JSON object, but it is {}.",
                type_name(&value)
            )),
            None,
        ));
    };
    let meta = match payload.get("Meta") {
        Some(Value::Object(meta)) => meta,
        Some(other) => return Err(fail(wrong_type("Meta", "an object", other), None)),
        None => {
            return Err(fail(
                ApiError::bad_request(
                    "Meta is missing. Every request needs a Meta object with DataModel, \
                     EventType and Destinations.",
                ),
                None,
            ));
        }
    };
    let checked = parse_meta(meta).and_then(|meta| match find_impossible_in(&payload) {
        None => Ok(meta),
        Some(bad) => Err(impossible_timestamp(&bad)),
    });
    match checked {
        Ok(meta) => Ok(Envelope { payload, meta }),
        Err(error) => {
            let echo = payload
                .get("Meta")
                .and_then(Value::as_object)
                .cloned()
                .map(Box::new);
            Err(fail(error, echo))
        }
    }
}

fn required_string<'a>(meta: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match meta.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(ApiError::bad_request(format!(
            "Meta.{field} is empty. Set it to the name from the data model catalog."
        ))),
        Some(other) => Err(wrong_type(&format!("Meta.{field}"), "a string", other)),
        None => Err(ApiError::bad_request(format!(
            "Meta.{field} is missing. Set it to the name from the data model catalog \
             (e.g. \"PatientAdmin\" / \"Arrival\")."
        ))),
    }
}

fn parse_meta(meta: &Map<String, Value>) -> Result<RequestMeta, ApiError> {
    let mut errors: Vec<ApiError> = Vec::new();
    let data_model = required_string(meta, "DataModel").map_err(|e| errors.push(e));
    let event_type = required_string(meta, "EventType").map_err(|e| errors.push(e));
    let mut event = None;
    if let (Ok(model), Ok(ev)) = (data_model, event_type) {
        match catalog::lookup(model, ev) {
            Ok(info) => event = Some(info),
            Err(e) => errors.push(ApiError::bad_request(e.to_string())),
        }
    }

    let destinations = parse_destinations(meta.get("Destinations")).map_err(|e| errors.push(e));

    let mut source_id = None;
    match meta.get("Source") {
        None | Some(Value::Null) => {}
        Some(Value::Object(source)) => match source.get("ID") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => source_id = Some(id.clone()),
            Some(other) => errors.push(wrong_type("Meta.Source.ID", "a string", other)),
        },
        Some(other) => errors.push(wrong_type("Meta.Source", "an object", other)),
    }

    let test = match meta.get("Test") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(wrong_type("Meta.Test", "true or false", other));
            false
        }
    };
    for field in ["EventDateTime", "FacilityCode"] {
        match meta.get(field) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => errors.push(wrong_type(&format!("Meta.{field}"), "a string", other)),
        }
    }
    match meta.get("Extensions") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => errors.push(wrong_type("Meta.Extensions", "an object", other)),
    }

    let mut errors = errors.into_iter();
    if let Some(first) = errors.next() {
        return Err(errors.fold(first, ApiError::and));
    }
    match (event, destinations) {
        (Some(event), Ok(destinations)) => Ok(RequestMeta {
            event,
            destinations,
            source_id,
            test,
        }),
        _ => Err(ApiError::internal("Meta check lost its error")),
    }
}

fn parse_destinations(value: Option<&Value>) -> Result<Vec<DestinationRef>, ApiError> {
    let list = match value {
        Some(Value::Array(list)) => list,
        Some(other) => return Err(wrong_type("Meta.Destinations", "an array", other)),
        None => {
            return Err(ApiError::bad_request(
                "Meta.Destinations is missing. Name at least one destination: \
                 \"Destinations\": [{\"ID\": \"<destination id>\"}] (IDs are on the connections list).",
            ));
        }
    };
    if list.is_empty() {
        return Err(ApiError::bad_request(
            "Meta.Destinations is empty. Name at least one destination by ID.",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let Value::Object(dest) = item else {
            return Err(wrong_type(
                &format!("Meta.Destinations[{i}]"),
                "an object with an ID",
                item,
            ));
        };
        let id = match dest.get("ID") {
            // Canonical form, so one destination cannot be named twice in two spellings.
            Some(Value::String(id)) if !id.trim().is_empty() => uuid::Uuid::parse_str(id.trim())
                .map(|u| u.to_string())
                .unwrap_or_else(|_| id.trim().to_string()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ApiError::bad_request(format!(
                    "Meta.Destinations[{i}].ID is missing. Give the destination's ID \
                     (a UUID from the connections list)."
                )));
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("Meta.Destinations[{i}].ID"),
                    "a string",
                    other,
                ));
            }
        };
        let name = dest.get("Name").and_then(Value::as_str).map(str::to_string);
        if out.iter().any(|d: &DestinationRef| d.id == id) {
            return Err(ApiError::bad_request(format!(
                "Meta.Destinations names {id} more than once. Name each destination once."
            )));
        }
        out.push(DestinationRef { id, name });
    }
    Ok(out)
}

/// The first patient identifier of a payload (`Patient.Identifiers[0].ID`), if any.
pub fn first_patient_identifier(payload: &Map<String, Value>) -> Option<String> {
    payload
        .get("Patient")?
        .get("Identifiers")?
        .as_array()?
        .first()?
        .get("ID")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_texts(body: &str) -> Vec<String> {
        let err = parse_envelope(body.as_bytes()).expect_err("should fail");
        err.error.entries.into_iter().map(|e| e.text).collect()
    }

    #[test]
    fn accepts_a_good_envelope() {
        let env = parse_envelope(
            br#"{"Meta":{"DataModel":"PatientAdmin","EventType":"Arrival","Test":true,
                "Destinations":[{"ID":"af394f14-b34a-464f-8d24-895f370af4c9","Name":"x"}]},
                "Patient":{"Identifiers":[{"ID":"0000000001","IDType":"MR"}]}}"#,
        )
        .expect("valid");
        assert_eq!(env.meta.event.event_type, "Arrival");
        assert!(env.meta.test);
        assert_eq!(env.meta.destinations.len(), 1);
        assert_eq!(
            first_patient_identifier(&env.payload).as_deref(),
            Some("0000000001")
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let texts = err_texts(r#"{"Meta":{"DataModel":5,"Test":"yes"}}"#);
        assert!(
            texts
                .iter()
                .any(|t| t.contains("Meta.DataModel must be a string"))
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("Meta.EventType is missing"))
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("Meta.Destinations is missing"))
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("Meta.Test must be true or false"))
        );
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert!(err_texts("")[0].contains("empty"));
        assert!(err_texts("{nope")[0].contains("not valid JSON"));
        assert!(err_texts("[1]")[0].contains("must be a JSON object"));
        assert!(err_texts(r#"{"Patient":{}}"#)[0].contains("Meta is missing"));
        assert!(
            err_texts(
                r#"{"Meta":{"DataModel":"PatientAdmin","EventType":"Arrival","Destinations":[]}}"#
            )[0]
            .contains("empty")
        );
    }
}
