//! One property check per parser at the engine's doors. Each `check` takes the raw
//! input a fuzzer (or a kept finding) gives and panics, with what was expected, when a
//! property does not hold; a parser's own panic is a finding too.
//!
//! Some inputs start with a selector byte (a content type, a time zone, a resource):
//! each module says how it reads its input.

pub mod auth;
pub mod envelope;
pub mod fhir_search;
pub mod filter;
pub mod jwt;
pub mod timestamp;

use serde_json::Value;
use switchboard::model::ApiError;

/// An error answer in the platform's shape: a 4xx with entries that say something, and
/// a body `{"Meta": {..., "Errors": [{ID 1.., Text, Type, Module}]}}`.
pub(crate) fn assert_platform_error(error: &ApiError, input: &[u8]) {
    assert!(
        (400..500).contains(&error.status),
        "a bad input must get a 4xx, got {} ({error}) for {input:?}",
        error.status
    );
    assert!(!error.entries.is_empty(), "an error without entries");
    for entry in &error.entries {
        assert!(
            !entry.text.trim().is_empty() && !entry.kind.is_empty() && !entry.module.is_empty(),
            "an error entry that says nothing: {entry:?}"
        );
    }
    let body = error.body(None);
    let errors = body["Meta"]["Errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no Meta.Errors array in {body}"));
    assert_eq!(errors.len(), error.entries.len());
    for (i, e) in errors.iter().enumerate() {
        assert_eq!(
            e["ID"],
            Value::from(i + 1),
            "error IDs count from 1: {body}"
        );
        for field in ["Text", "Type", "Module"] {
            assert!(e[field].is_string(), "{field} is not a string in {body}");
        }
    }
}
