//! What data-model Results New writebacks wrote, as FHIR Observations (category
//! `laboratory`), so a result sent to the sandbox through either API is in the next FHIR
//! Observation search. Each result of an order is one Observation with the id
//! `{patient id}-res-{order ID}-{n}`; values the sender gave that FHIR cannot carry (a
//! time without an offset, a number that is not one) are left out or kept as text.

use super::clinical::subject;
use super::ids::{LOINC, ORDER_SYSTEM, id_part, patient_id};
use super::shape::{coding, compact, decimal, instant, quantity};
use crate::model::time::parse_instant;
use crate::sandbox::panel::types::Patient;
use serde_json::{Value, json};

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn at(v: &Value, key: &str) -> Option<Value> {
    text(v, key).and_then(|t| parse_instant(&t)).map(instant)
}

fn status(result: &Value, order: &Value) -> &'static str {
    let s = text(result, "Status").or_else(|| text(order, "ResultsStatus"));
    match s.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("final") => "final",
        Some("preliminary") => "preliminary",
        Some("corrected") => "corrected",
        Some("canceled" | "cancelled") => "cancelled",
        Some("amended") => "amended",
        _ => "unknown",
    }
}

fn interpretation(flag: Option<String>) -> Option<Value> {
    let (code, display) = match flag?.to_ascii_lowercase().as_str() {
        "normal" | "n" => ("N", "Normal"),
        "low" | "l" => ("L", "Low"),
        "high" | "h" => ("H", "High"),
        "abnormal" | "a" => ("A", "Abnormal"),
        _ => return None,
    };
    let system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
    Some(json!([{"coding": [coding(system, code, display)], "text": display}]))
}

fn observation(p: &Patient, index: usize, order: &Value, n: usize) -> Option<Value> {
    let order_id = text(order, "ID")?;
    let result = order.get("Results")?.as_array()?.get(n)?;
    let description = text(result, "Description");
    let code = text(result, "Code");
    let loinc = text(result, "Codeset").is_some_and(|c| c.eq_ignore_ascii_case("LOINC"));
    let concept = match (code, loinc) {
        (Some(c), true) => {
            json!({"coding": [{"system": LOINC, "code": c, "display": description}], "text": description})
        }
        (Some(c), false) => json!({"text": description.unwrap_or(c)}),
        (None, _) => json!({"text": description.unwrap_or_else(|| "Result".into())}),
    };
    let units = text(result, "Units").unwrap_or_default();
    let raw = text(result, "Value");
    let numeric = text(result, "ValueType").is_some_and(|t| t.eq_ignore_ascii_case("Numeric"));
    let value = match raw.as_deref().filter(|_| numeric).and_then(decimal) {
        Some(v) => json!({ "valueQuantity": quantity(v, &units) }),
        None => json!({ "valueString": raw }),
    };
    let range = result.get("ReferenceRange");
    let bound = |k: &str| {
        range
            .and_then(|r| text(r, k))
            .and_then(|t| decimal(&t))
            .map(|v| quantity(v, &units))
    };
    let visit = order
        .get("Visit")
        .and_then(|v| text(v, "VisitNumber"))
        .and_then(|n| p.visits.iter().position(|v| v.number == n));
    let mut resource = json!({
        "resourceType": "Observation",
        "id": format!("{}-res-{}-{n}", patient_id(p, index), id_part(&order_id)),
        "identifier": [{"system": ORDER_SYSTEM, "value": format!("{order_id}-{}", n + 1)}],
        "status": status(result, order),
        "category": [{"coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")], "text": "Laboratory"}],
        "code": concept,
        "subject": subject(p, index),
        "encounter": visit.map(|v| json!({"reference": format!("Encounter/{}", super::ids::record_id(p, index, "enc", &[v]))})),
        "effectiveDateTime": at(order, "CollectionDateTime").or_else(|| at(result, "CompletionDateTime")),
        "issued": at(result, "CompletionDateTime"),
        "interpretation": interpretation(text(result, "AbnormalFlag")),
        "referenceRange": [{"low": bound("Low"), "high": bound("High"), "text": range.and_then(|r| text(r, "Text"))}],
    });
    if let (Value::Object(r), Value::Object(v)) = (&mut resource, value) {
        r.extend(v);
    }
    Some(compact(resource))
}

/// Every result the data-model writebacks wrote for this patient.
pub fn of_patient(p: &Patient, index: usize) -> Vec<Value> {
    p.written
        .results
        .iter()
        .flat_map(|order| {
            let count = order
                .get("Results")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            (0..count).filter_map(move |n| observation(p, index, order, n))
        })
        .collect()
}

/// The result `rest` (`{order ID part}-{n}`) names.
pub fn read(p: &Patient, index: usize, rest: &str) -> Option<Value> {
    let (part, n) = rest.rsplit_once('-')?;
    let n: usize = n.parse().ok()?;
    let order = p
        .written
        .results
        .iter()
        .find(|o| text(o, "ID").is_some_and(|id| id_part(&id) == part))?;
    observation(p, index, order, n)
}
