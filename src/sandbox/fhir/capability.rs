//! `GET metadata`: the CapabilityStatement, written from the same tables the server runs
//! on ([`super::records::TYPES`], [`super::params::of`]), so it lists exactly what the
//! sandbox supports: read and search-type on each type, the search parameters, and the
//! `$process-message` operation.

use super::params;
use super::records::TYPES;
use serde_json::{Value, json};

/// FHIR R4 as the R4 JSON Schema's `FHIRVersion` value set spells it.
pub const FHIR_VERSION: &str = "4.0.0";
/// When this statement last changed (FHIR requires a date).
const DATE: &str = "2026-12-02";

pub fn statement(base: &str) -> Value {
    let resources: Vec<Value> = TYPES
        .iter()
        .map(|kind| {
            let mut search: Vec<Value> = params::of(kind)
                .iter()
                .map(|p| json!({"name": p.name, "type": p.kind.as_str(), "documentation": p.doc}))
                .collect();
            search.push(json!({"name": "_count", "type": "number", "documentation": "Page size (default 50, at most 500); the next link carries _offset."}));
            search.push(json!({"name": "_offset", "type": "number", "documentation": "Matches to skip (also read as _getpagesoffset)."}));
            json!({
                "type": kind,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": false,
                "updateCreate": false,
                "searchParam": search,
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "id": "sandbox-ehr",
        "name": "SandboxEHR",
        "title": "Switchboard Sandbox EHR FHIR server",
        "status": "active",
        "experimental": true,
        "date": DATE,
        "publisher": "Switchboard",
        "description": "The built-in Sandbox EHR's synthetic panel (the same patients as its data-model API) as FHIR R4: read and search, and FHIR messages through $process-message.",
        "kind": "instance",
        "software": {"name": "Switchboard Sandbox EHR", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Switchboard Sandbox EHR", "url": base},
        // R4: the schema's value set (4.0.0's) has no 4.0.1, the technical correction.
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Search by GET {type}?params or POST {type}/_search with a form body. Unknown parameters and modifiers are refused (400).",
            "resource": resources,
            "operation": [{
                "name": "process-message",
                "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
                "documentation": "POST $process-message with a Bundle of type message (first entry a MessageHeader with eventCoding system urn:redox:event-type).",
            }],
        }],
    })
}
