//! Small builders for FHIR datatypes (Coding, CodeableConcept, Reference, Quantity) and
//! [`compact`], which every generated resource goes through: FHIR forbids empty
//! elements (`""`, `[]`, `{}`, `null`), while the panel has many optional fields.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

pub fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

/// A CodeableConcept of one coding, with the display as its text.
pub fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [coding(system, code, display)], "text": display})
}

pub fn text_concept(text: &str) -> Value {
    json!({ "text": text })
}

pub fn reference(target: &str, display: Option<&str>) -> Value {
    json!({"reference": target, "display": display})
}

pub fn instant(at: DateTime<Utc>) -> Value {
    json!(crate::model::time::format_utc(at))
}

pub fn date(day: NaiveDate) -> Value {
    json!(day.format("%Y-%m-%d").to_string())
}

/// A number as a FHIR decimal (the text as written when it parses: `5.0` stays `5.0`).
pub fn decimal(text: &str) -> Option<Value> {
    let t = text.trim();
    let number: serde_json::Number = serde_json::from_str(t).ok()?;
    Some(Value::Number(number))
}

/// A UCUM quantity; the unit is left out when there is none (a ratio like specific
/// gravity).
pub fn quantity(value: Value, unit: &str) -> Value {
    if unit.is_empty() {
        json!({ "value": value })
    } else {
        json!({"value": value, "unit": unit, "system": super::ids::UCUM, "code": unit})
    }
}

/// Removes `null`, blank strings, empty arrays and empty objects, recursively.
pub fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, compact(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(list) => Value::Array(
            list.into_iter()
                .map(compact)
                .filter(|v| !is_empty(v))
                .collect(),
        ),
        Value::String(s) => Value::String(s.trim().to_string()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_drops_what_fhir_forbids() {
        let v = compact(
            json!({"a": null, "b": "", "c": [null, ""], "d": {"e": []}, "f": " x ", "g": 0}),
        );
        assert_eq!(v, json!({"f": "x", "g": 0}));
    }

    #[test]
    fn decimals_keep_their_text() {
        assert_eq!(decimal("5.0").map(|v| v.to_string()), Some("5.0".into()));
        assert_eq!(decimal("140").map(|v| v.to_string()), Some("140".into()));
        assert_eq!(decimal("Negative"), None);
    }
}
