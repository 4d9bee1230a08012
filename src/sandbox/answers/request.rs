//! Reading a request: its `Meta`, the patients it names, and the filters it carries. The
//! platform's payloads are loose (IDs arrive as strings or numbers, lists may hold
//! nulls), so every reader here is lenient about shape and strict only about what an
//! answer cannot do without.

use super::AnswerError;
use crate::model::time::{normalize_timestamp, now_utc, parse_instant};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value, json};

/// A request with its data model and event type read.
pub(super) struct Request<'a> {
    pub body: &'a Map<String, Value>,
    pub meta: &'a Map<String, Value>,
    pub model: &'a str,
    pub event: &'a str,
}

impl<'a> Request<'a> {
    pub fn parse(value: &'a Value) -> Result<Request<'a>, AnswerError> {
        let body = value.as_object().ok_or_else(|| {
            AnswerError::BadRequest("The request must be a JSON object with a Meta block.".into())
        })?;
        let meta = body.get("Meta").and_then(Value::as_object).ok_or_else(|| {
            AnswerError::BadRequest(
                "The request has no Meta object; send Meta.DataModel and Meta.EventType.".into(),
            )
        })?;
        let field = |name: &str| {
            meta.get(name).and_then(Value::as_str).ok_or_else(|| {
                AnswerError::BadRequest(format!(
                    "Meta.{name} is missing; send Meta.DataModel and Meta.EventType \
                     (e.g. \"PatientSearch\" and \"Query\")."
                ))
            })
        };
        Ok(Request {
            body,
            meta,
            model: field("DataModel")?,
            event: field("EventType")?,
        })
    }

    /// "Results Query", for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.model, self.event)
    }

    pub fn get(&self, path: &[&str]) -> Option<&'a Value> {
        at(self.body.get(*path.first()?)?, &path[1..])
    }

    pub fn text(&self, path: &[&str]) -> Option<String> {
        self.get(path).and_then(text)
    }

    /// The strings of an array field (numbers are read as their digits).
    pub fn list(&self, path: &[&str]) -> Vec<String> {
        self.get(path)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(text).collect())
            .unwrap_or_default()
    }

    /// A timestamp field, `None` when absent or empty; a value that is not a date-time
    /// is a bad request. A date alone means its midnight, or with `end_of_day` the next
    /// midnight (so an end date includes its day).
    pub fn instant(
        &self,
        path: &[&str],
        end_of_day: bool,
    ) -> Result<Option<DateTime<Utc>>, AnswerError> {
        let Some(raw) = self.text(path) else {
            return Ok(None);
        };
        parse_time(&raw, end_of_day).map(Some).ok_or_else(|| {
            AnswerError::BadRequest(format!(
                "{} \"{raw}\" is not an ISO 8601 date-time; send e.g. \"2026-11-02T09:00:00.000Z\".",
                path.join(".")
            ))
        })
    }

    /// A date field (`YYYY-MM-DD`, or the date part of a timestamp).
    pub fn date(&self, path: &[&str]) -> Result<Option<NaiveDate>, AnswerError> {
        let Some(raw) = self.text(path) else {
            return Ok(None);
        };
        raw.get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(Some)
            .ok_or_else(|| {
                AnswerError::BadRequest(format!(
                    "{} \"{raw}\" is not a date; send YYYY-MM-DD.",
                    path.join(".")
                ))
            })
    }

    /// The identifiers of the object at `path` (its `Identifiers` array).
    pub fn identifiers(&self, path: &[&str]) -> Vec<(String, Option<String>)> {
        identifiers(self.get(path))
    }

    /// The identifiers of every entry of the `Patients` array, one list per patient.
    pub fn patients(&self) -> Vec<Vec<(String, Option<String>)>> {
        self.get(&["Patients"])
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|p| identifiers(Some(p)))
                    .filter(|ids| !ids.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The answer's `Meta`: data model and event type as asked (see the module
    /// documentation on `EventType`), now, and Source / Destinations / Test copied from
    /// the request.
    pub fn response_meta(&self) -> Value {
        let mut meta = Map::new();
        meta.insert("DataModel".into(), json!(self.model));
        meta.insert("EventType".into(), json!(self.event));
        meta.insert("EventDateTime".into(), json!(now_utc()));
        meta.insert(
            "Test".into(),
            json!(
                self.meta
                    .get("Test")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            ),
        );
        if let Some(source @ Value::Object(_)) = self.meta.get("Source") {
            meta.insert("Source".into(), source.clone());
        }
        if let Some(destinations @ Value::Array(_)) = self.meta.get("Destinations") {
            meta.insert("Destinations".into(), destinations.clone());
        }
        if let Some(code @ Value::String(_)) = self.meta.get("FacilityCode") {
            meta.insert("FacilityCode".into(), code.clone());
        }
        Value::Object(meta)
    }

    /// An answer: `Meta` first, then the fields in order.
    pub fn answer(&self, fields: Vec<(&str, Value)>) -> Value {
        let mut out = Map::new();
        out.insert("Meta".into(), self.response_meta());
        for (key, value) in fields {
            out.insert(key.into(), value);
        }
        Value::Object(out)
    }
}

pub(super) fn at<'v>(mut value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    for key in path {
        value = value.get(key)?;
    }
    Some(value)
}

/// A non-empty trimmed string, or a number's digits.
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `Identifiers` of an object, as (ID, IDType) pairs; entries without an ID are skipped.
pub(super) fn identifiers(holder: Option<&Value>) -> Vec<(String, Option<String>)> {
    holder
        .and_then(|h| h.get("Identifiers"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| Some((text(i.get("ID")?)?, i.get("IDType").and_then(text))))
                .collect()
        })
        .unwrap_or_default()
}

/// Borrowed form of identifier pairs, for `Panel::find_any`.
pub(super) fn borrowed(
    ids: &[(String, Option<String>)],
) -> impl Iterator<Item = (&str, Option<&str>)> {
    ids.iter().map(|(id, t)| (id.as_str(), t.as_deref()))
}

/// Reads a date-time: with an offset as given; without one as UTC; a date alone as its
/// midnight (or the next one with `end_of_day`).
pub(super) fn parse_time(raw: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    // The engine's own reader: any offset honoured, a naive time read as UTC.
    if let Some(instant) =
        normalize_timestamp(raw, chrono_tz::Tz::UTC).and_then(|s| parse_instant(&s))
    {
        return Some(instant);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc();
    Some(if end_of_day {
        midnight + Duration::days(1)
    } else {
        midnight
    })
}

/// Case-insensitive membership; an empty filter lets everything through.
pub(super) fn allowed(filter: &[String], value: Option<&str>) -> bool {
    filter.is_empty()
        || value.is_some_and(|v| filter.iter().any(|f| f.eq_ignore_ascii_case(v.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_leniently() {
        let z = parse_time("2026-11-02T09:00:00.000Z", false).unwrap();
        assert_eq!(parse_time("2026-11-02T10:00:00+01:00", false), Some(z));
        assert_eq!(parse_time("2026-11-02T09:00:00", false), Some(z));
        assert_eq!(parse_time("2026-11-02T09:00", false), Some(z));
        assert_eq!(
            parse_time("2026-11-02", true),
            Some(z + Duration::hours(15))
        );
        assert_eq!(parse_time("yesterday", false), None);
    }

    #[test]
    fn reads_ids_and_lists() {
        let v = json!({"Meta": {"DataModel": "Notes", "EventType": "Query"},
            "Patients": [{"Identifiers": [{"ID": 17, "IDType": "MR"}, {"IDType": "X"}]}, {}],
            "VisitNumbers": ["1", 2, null, ""]});
        let r = Request::parse(&v).unwrap();
        assert_eq!(
            r.patients(),
            vec![vec![("17".to_string(), Some("MR".to_string()))]]
        );
        assert_eq!(r.list(&["VisitNumbers"]), vec!["1", "2"]);
        assert!(allowed(&[], None));
        assert!(allowed(&["final".into()], Some("Final")));
        assert!(Request::parse(&json!({"Meta": {}})).is_err());
        assert!(Request::parse(&json!([])).is_err());
    }
}
