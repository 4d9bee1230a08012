//! The platform's schemas, embedded, and validation of a request text against them with
//! every problem pointed at a line, for the composer's live validation.
//!
//! ```no_run
//! use switchboard::model::schema;
//! let text = r#"{"Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival"}}"#;
//! let v = schema::validate(text);
//! assert!(v.can_send()); // syntactically valid JSON: sending is allowed...
//! for issue in &v.schema_issues {
//!     // ...but the schema wants a Patient: shown as a warning the user may override.
//!     println!("line {}: {} {}", issue.line, issue.path, issue.message);
//! }
//! ```
//!
//! - [`validate`] reads the event from the text's own `Meta.DataModel` / `Meta.EventType`
//!   (the user may edit them); [`validate_as`] takes the event.
//! - A JSON syntax error makes a request unsendable ([`Validation::can_send`]); schema
//!   issues are warnings the user may override, as the issue asks.
//! - Each schema is compiled once, on first use, and cached for the life of the process
//!   ([`warm`] does it ahead of the first keystroke). Validating a typical template then
//!   takes tens of microseconds, so it can run on every keystroke.

mod embedded;
pub mod position;

use crate::model::catalog::{self, EventInfo};
use jsonschema::Validator;
use position::PositionIndex;
use serde_json::Value;
use std::sync::OnceLock;

pub use position::Position;

/// Longest message kept for one issue: a type error quotes the offending value, which
/// can be a whole object.
const MAX_MESSAGE_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("no embedded schema {0}; the catalog and schemas/redox/ disagree")]
    Missing(String),
    #[error("the embedded schema {path} does not compile: {reason}")]
    Invalid { path: String, reason: String },
}

/// Paths (relative to `schemas/redox/`) of every embedded schema, sorted.
pub fn paths() -> impl Iterator<Item = &'static str> {
    embedded::SCHEMAS.iter().map(|(path, _)| *path)
}

/// The text of an embedded schema, e.g. `schema_text("patientadmin/arrival.json")`.
pub fn schema_text(path: &str) -> Option<&'static str> {
    position_of(path).map(|i| embedded::SCHEMAS[i].1)
}

/// The schema of an event as a JSON value (with [`dedupe_types`] applied).
pub fn schema_value(event: &EventInfo) -> Result<Value, SchemaError> {
    let text =
        schema_text(event.schema).ok_or_else(|| SchemaError::Missing(event.schema.into()))?;
    let mut value: Value = serde_json::from_str(text).map_err(|e| SchemaError::Invalid {
        path: event.schema.into(),
        reason: e.to_string(),
    })?;
    dedupe_types(&mut value);
    Ok(value)
}

fn position_of(path: &str) -> Option<usize> {
    embedded::SCHEMAS
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
}

/// The published `clinicaldecisions/request.json` says `"type": ["null", "null"]`, which
/// the draft-4 meta-schema forbids (type arrays hold unique items), so the validator
/// refuses to compile it. Removing repeated entries of `type` arrays does not change
/// what any schema accepts.
pub fn dedupe_types(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                let mut seen = Vec::new();
                types.retain(|t| {
                    let new = !seen.contains(t);
                    seen.push(t.clone());
                    new
                });
            }
            map.values_mut().for_each(dedupe_types);
        }
        Value::Array(items) => items.iter_mut().for_each(dedupe_types),
        _ => {}
    }
}

type Compiled = Result<Validator, SchemaError>;

/// One slot per embedded schema; each compiled on first use. Compiling all of them up
/// front would cost about a second at startup for schemas most sessions never use.
static COMPILED: [OnceLock<Compiled>; embedded::SCHEMAS.len()] =
    [const { OnceLock::new() }; embedded::SCHEMAS.len()];

fn validator(event: &EventInfo) -> Result<&'static Validator, SchemaError> {
    let slot =
        position_of(event.schema).ok_or_else(|| SchemaError::Missing(event.schema.into()))?;
    COMPILED[slot]
        .get_or_init(|| {
            let value = schema_value(event)?;
            jsonschema::draft4::new(&value).map_err(|e| SchemaError::Invalid {
                path: event.schema.into(),
                reason: e.to_string(),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Compiles the event's schema now, so the first validation is as fast as the rest.
pub fn warm(event: &EventInfo) -> Result<(), SchemaError> {
    validator(event).map(|_| ())
}

/// Schema errors of a parsed request, as (JSON pointer, message); empty when valid.
pub fn check(event: &EventInfo, instance: &Value) -> Result<Vec<(String, String)>, SchemaError> {
    Ok(validator(event)?
        .iter_errors(instance)
        .map(|e| {
            (
                e.instance_path().as_str().to_string(),
                shorten(&e.to_string()),
            )
        })
        .collect())
}

/// A JSON syntax error: the text cannot be sent until it is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
}

/// One way the request departs from its schema (or names no known event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaIssue {
    /// JSON pointer of the offending value (RFC 6901), e.g. `/Patient/Identifiers/0/ID`;
    /// for a missing property, the object that lacks it.
    pub json_path: String,
    /// The same place as users read it: `Patient.Identifiers[0].ID` (`(root)` for the
    /// whole document).
    pub path: String,
    /// 1-based line of the text where that value starts.
    pub line: usize,
    pub message: String,
}

/// The outcome of validating a request text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Validation {
    pub syntax_error: Option<SyntaxError>,
    /// Sorted by line. Empty when the text has a syntax error (nothing to check yet).
    pub schema_issues: Vec<SchemaIssue>,
    /// The event validated against, when the text (or the caller) named one.
    pub event: Option<&'static EventInfo>,
}

impl Validation {
    /// Valid JSON: the only hard condition for sending.
    pub fn can_send(&self) -> bool {
        self.syntax_error.is_none()
    }

    /// Valid JSON that meets its schema.
    pub fn is_clean(&self) -> bool {
        self.syntax_error.is_none() && self.schema_issues.is_empty()
    }
}

/// Validates a request against the schema of the event its `Meta` names.
pub fn validate(text: &str) -> Validation {
    let value = match parse(text) {
        Ok(value) => value,
        Err(syntax) => return syntax,
    };
    let meta = value.get("Meta");
    let field = |name: &str| meta.and_then(|m| m.get(name)).and_then(Value::as_str);
    let (model, event) = (field("DataModel"), field("EventType"));
    let problem = match (&value, meta, model, event) {
        (Value::Object(_), _, Some(model), Some(event)) => match catalog::lookup(model, event) {
            Ok(info) => return finish(text, &value, info),
            Err(catalog::CatalogError::UnknownDataModel(m)) => ("/Meta/DataModel", m),
            Err(catalog::CatalogError::UnknownEventType(m)) => ("/Meta/EventType", m),
        },
        (Value::Object(_), Some(Value::Object(_)), _, _) => (
            "/Meta",
            "Meta needs DataModel and EventType strings (e.g. \"PatientAdmin\" and \"Arrival\") \
             to be checked against a schema."
                .to_string(),
        ),
        (Value::Object(_), _, _, _) => (
            "",
            "The request has no Meta object; add Meta with DataModel, EventType and Destinations."
                .to_string(),
        ),
        _ => (
            "",
            "A request is one JSON object with a Meta block.".to_string(),
        ),
    };
    let index = PositionIndex::build(text);
    Validation {
        syntax_error: None,
        schema_issues: vec![issue(&index, &value, problem.0, problem.1)],
        event: None,
    }
}

/// Validates a request against `event`'s schema, whatever its `Meta` says.
pub fn validate_as(event: &'static EventInfo, text: &str) -> Validation {
    match parse(text) {
        Ok(value) => finish(text, &value, event),
        Err(syntax) => Validation {
            event: Some(event),
            ..syntax
        },
    }
}

fn parse(text: &str) -> Result<Value, Validation> {
    serde_json::from_str(text).map_err(|e| Validation {
        syntax_error: Some(SyntaxError {
            message: syntax_message(&e),
            line: e.line().max(1),
            column: char_column(text, e.line(), e.column()),
        }),
        schema_issues: Vec::new(),
        event: None,
    })
}

/// serde_json counts columns in bytes; the editor (and [`Position`]) in characters.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column.max(1);
    };
    let mut end = byte_column.min(line_text.len());
    while !line_text.is_char_boundary(end) {
        end -= 1;
    }
    line_text[..end].chars().count().max(1)
}

/// serde_json's message without its own " at line L column C" (we report those apart).
fn syntax_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

fn finish(text: &str, value: &Value, event: &'static EventInfo) -> Validation {
    let errors = match check(event, value) {
        Ok(errors) => errors,
        // An embedded schema that does not compile is our bug (a test guards it); say
        // so rather than pretend the request is valid.
        Err(e) => vec![(String::new(), e.to_string())],
    };
    // The position index is only needed when there is something to point at.
    let index = if errors.is_empty() {
        PositionIndex::default()
    } else {
        PositionIndex::build(text)
    };
    let mut schema_issues: Vec<SchemaIssue> = errors
        .into_iter()
        .map(|(pointer, message)| issue(&index, value, &pointer, message))
        .collect();
    schema_issues.sort_by(|a, b| a.line.cmp(&b.line).then(a.json_path.cmp(&b.json_path)));
    Validation {
        syntax_error: None,
        schema_issues,
        event: Some(event),
    }
}

fn issue(index: &PositionIndex, value: &Value, pointer: &str, message: String) -> SchemaIssue {
    SchemaIssue {
        json_path: pointer.to_string(),
        path: readable_path(value, pointer),
        line: index.nearest(pointer).line,
        message,
    }
}

/// `/Patient/Identifiers/0/ID` → `Patient.Identifiers[0].ID`, walking the value so a
/// numeric key of an object stays a key.
pub fn readable_path(value: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut at = Some(value);
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Some(Value::Array(items)) => {
                out.push('[');
                out.push_str(&segment);
                out.push(']');
                at = segment.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            _ => {
                if !out.is_empty() {
                    out.push('.');
                }
                at = at.and_then(|v| v.get(&segment));
                out.push_str(&segment);
            }
        }
    }
    if out.is_empty() {
        out.push_str("(root)");
    }
    out
}

fn shorten(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_string();
    }
    let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_event_has_an_embedded_schema_that_compiles() {
        for event in catalog::all() {
            assert!(schema_text(event.schema).is_some(), "{}", event.schema);
        }
        // Compiling all of them is the slow part of this module's tests; one per data
        // model here, all of them in tests/suite/composer_core.rs.
        let mut seen = std::collections::HashSet::new();
        for event in catalog::all() {
            if seen.insert(event.data_model) {
                warm(event).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn every_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/redox");
        let mut on_disk = Vec::new();
        for model in std::fs::read_dir(&root).expect("schemas/redox") {
            let model = model.expect("entry").path();
            if !model.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&model).expect("model dir") {
                let file = file.expect("entry").path();
                let rel = file.strip_prefix(&root).expect("under root");
                on_disk.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = paths().map(String::from).collect();
        assert_eq!(embedded, on_disk);
        assert!(root.join("LICENSE").is_file());
        // Sorted, as the binary search needs.
        assert!(embedded.windows(2).all(|w| w[0] < w[1]));
    }

    fn arrival() -> &'static EventInfo {
        catalog::lookup("PatientAdmin", "Arrival").expect("known")
    }

    #[test]
    fn issues_point_at_lines() {
        let text = r#"{
  "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival"},
  "Patient": {
    "Identifiers": [
      {"ID": "0000000001", "IDType": "MR"},
      {
        "ID": 17,
        "IDType": "MR"
      },
      {"ID": "x"}
    ]
  }
}"#;
        let v = validate(text);
        assert!(v.can_send() && !v.is_clean());
        assert_eq!(v.event, Some(arrival()));
        let found: Vec<(usize, &str)> = v
            .schema_issues
            .iter()
            .map(|i| (i.line, i.path.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (7, "Patient.Identifiers[1].ID"),
                (10, "Patient.Identifiers[2]")
            ],
            "{:?}",
            v.schema_issues
        );
        assert_eq!(v.schema_issues[0].json_path, "/Patient/Identifiers/1/ID");
        assert!(v.schema_issues[1].message.contains("IDType"));
    }

    #[test]
    fn syntax_errors_block_sending() {
        let v = validate("{\n  \"Meta\": {\n    \"DataModel\": \"Notes\",\n  }\n}");
        let e = v.syntax_error.as_ref().expect("syntax error");
        assert_eq!(e.line, 4);
        assert!(!e.message.contains(" at line "), "{}", e.message);
        assert!(!v.can_send() && v.schema_issues.is_empty());
        // Columns count characters: "é" is one.
        let v = validate("{\"é\": x}");
        let ascii = validate("{\"e\": x}");
        assert_eq!(
            v.syntax_error.map(|e| e.column),
            ascii.syntax_error.map(|e| e.column)
        );
        let v = validate_as(arrival(), "");
        assert!(!v.can_send());
        assert_eq!(v.event, Some(arrival()));
    }

    #[test]
    fn unknown_events_and_missing_meta_are_issues_not_crashes() {
        let v =
            validate("{\"Meta\": {\"DataModel\": \"PatientAdmin\",\n \"EventType\": \"Arival\"}}");
        assert_eq!(v.schema_issues.len(), 1);
        assert_eq!(v.schema_issues[0].line, 2);
        assert!(
            v.schema_issues[0]
                .message
                .contains("Did you mean \"Arrival\"")
        );
        let v = validate("{\"Meta\": {}}");
        assert_eq!(v.schema_issues[0].path, "Meta");
        let v = validate("[1]");
        assert_eq!(v.schema_issues[0].path, "(root)");
        assert!(v.can_send() && v.event.is_none());
        let v = validate("{}");
        assert!(v.schema_issues[0].message.contains("no Meta"));
    }

    #[test]
    fn long_messages_are_cut() {
        let big = format!(
            "{{\"Meta\": {{\"DataModel\": \"PatientAdmin\", \"EventType\": \"Arrival\"}}, \"Patient\": [\"{}\"]}}",
            "x".repeat(1000)
        );
        let v = validate(&big);
        assert_eq!(v.schema_issues.len(), 1, "{:?}", v.schema_issues);
        assert!(v.schema_issues[0].message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn readable_paths_keep_numeric_keys() {
        let value = serde_json::json!({"a": {"0": [ {"b/c": 1} ]}});
        assert_eq!(readable_path(&value, "/a/0/0/b~1c"), "a.0[0].b/c");
        assert_eq!(readable_path(&value, ""), "(root)");
    }
}
