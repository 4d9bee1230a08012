//! What the FHIR API supports, as one table: the resources, their search parameters
//! and kinds. Search validation and the CapabilityStatement are both read from it, so
//! what `metadata` promises is exactly what a search accepts.
//!
//! Choices where the platform is silent **(ours)**: no modifiers (`family:exact` is a
//! 400, never a silently different search); a Patient search needs `_id`, `identifier`,
//! or `family` + `given` + `birthdate` (the platform's rule); a patient-scoped resource
//! needs `patient` or `_id`; the server's own paging parameters ([`PAGING`]) pass through
//! as they are, so a `next` link followed through the engine works.

use crate::model::ApiError;
use serde_json::{Value, json};

/// How a parameter's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `value` or `system|value`.
    Token,
    String,
    /// A date with an optional prefix (`eq ge gt le lt ne`).
    Date,
    /// `Patient/{id}` or `{id}`.
    Reference,
}

impl Kind {
    fn fhir_type(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::String => "string",
            Kind::Date => "date",
            Kind::Reference => "reference",
        }
    }
}

/// One resource the API answers for.
#[derive(Debug)]
pub struct ResourceSpec {
    pub name: &'static str,
    pub params: &'static [(&'static str, Kind)],
    /// Searches must name the patient (or `_id`).
    pub patient_scoped: bool,
}

const PATIENT: &[(&str, Kind)] = &[
    ("_id", Kind::Token),
    ("identifier", Kind::Token),
    ("family", Kind::String),
    ("given", Kind::String),
    ("birthdate", Kind::Date),
    ("gender", Kind::Token),
];
const BY_PATIENT: &[(&str, Kind)] = &[("_id", Kind::Token), ("patient", Kind::Reference)];
const BY_PATIENT_DATE: &[(&str, Kind)] = &[
    ("_id", Kind::Token),
    ("patient", Kind::Reference),
    ("date", Kind::Date),
];
const OBSERVATION: &[(&str, Kind)] = &[
    ("_id", Kind::Token),
    ("patient", Kind::Reference),
    ("category", Kind::Token),
    ("code", Kind::Token),
    ("date", Kind::Date),
];
const DIRECTORY: &[(&str, Kind)] = &[
    ("_id", Kind::Token),
    ("identifier", Kind::Token),
    ("name", Kind::String),
];

/// Every resource the API reads and searches.
pub const RESOURCES: &[ResourceSpec] = &[
    spec("Patient", PATIENT, false),
    spec("Encounter", BY_PATIENT_DATE, true),
    spec("Observation", OBSERVATION, true),
    spec("Condition", BY_PATIENT, true),
    spec("AllergyIntolerance", BY_PATIENT_DATE, true),
    spec("MedicationStatement", BY_PATIENT, true),
    spec("Immunization", BY_PATIENT_DATE, true),
    spec("DocumentReference", BY_PATIENT_DATE, true),
    spec("Appointment", BY_PATIENT_DATE, true),
    spec("Practitioner", DIRECTORY, false),
    spec("Location", DIRECTORY, false),
];

const fn spec(
    name: &'static str,
    params: &'static [(&'static str, Kind)],
    patient_scoped: bool,
) -> ResourceSpec {
    ResourceSpec {
        name,
        params,
        patient_scoped,
    }
}

/// The server's paging parameters, passed on untouched (they come from its `next`
/// links, which the engine rewrites to its own base and must then forward).
pub const PAGING: &[&str] = &[
    "_page",
    "_offset",
    "_getpages",
    "_getpagesoffset",
    "_cursor",
];

/// The most entries one page may ask for.
pub const MAX_COUNT: u32 = 1000;

const DATE_PREFIXES: &[&str] = &["eq", "ge", "gt", "le", "lt", "ne"];

pub fn resource(name: &str) -> Option<&'static ResourceSpec> {
    RESOURCES.iter().find(|r| r.name == name)
}

/// The resource named in a path, or a 404 listing the supported ones.
pub fn known_resource(name: &str) -> Result<&'static ResourceSpec, ApiError> {
    resource(name).ok_or_else(|| {
        let names: Vec<&str> = RESOURCES.iter().map(|r| r.name).collect();
        ApiError::not_found(format!(
            "\"{name}\" is not a resource this FHIR API serves. Supported: {}.",
            names.join(", ")
        ))
    })
}

/// Checks a search's parameters against the table. Values are never echoed in the
/// errors: they may be PHI.
pub fn validate_search(spec: &ResourceSpec, params: &[(String, String)]) -> Result<(), ApiError> {
    let mut problems: Vec<String> = Vec::new();
    for (name, value) in params {
        if let Some(e) = param_problem(spec, name, value) {
            problems.push(e);
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad_request(problems.join(" ")));
    }
    let has = |n: &str| params.iter().any(|(k, _)| k == n);
    let paged = params.iter().any(|(k, _)| PAGING.contains(&k.as_str()));
    if paged {
        return Ok(());
    }
    if spec.name == "Patient"
        && !(has("_id") || has("identifier") || (has("family") && has("given") && has("birthdate")))
    {
        return Err(ApiError::bad_request(
            "A Patient search needs _id, or identifier, or family + given + birthdate.",
        ));
    }
    if spec.patient_scoped && !(has("patient") || has("_id")) {
        return Err(ApiError::bad_request(format!(
            "A {} search needs patient (Patient/{{id}}) or _id.",
            spec.name
        )));
    }
    Ok(())
}

/// What is wrong with one parameter, if anything.
fn param_problem(spec: &ResourceSpec, name: &str, value: &str) -> Option<String> {
    let supported = || {
        let mut names: Vec<&str> = spec.params.iter().map(|(n, _)| *n).collect();
        names.push("_count");
        names.join(", ")
    };
    if let Some((base, modifier)) = name.split_once(':') {
        return Some(format!(
            "The modifier :{modifier} (on {base}) is not supported; search {base} without it."
        ));
    }
    if PAGING.contains(&name) || name == "_format" {
        return None;
    }
    if name == "_count" {
        let ok = value
            .parse::<u32>()
            .is_ok_and(|n| (1..=MAX_COUNT).contains(&n));
        return (!ok).then(|| format!("_count must be a whole number from 1 to {MAX_COUNT}."));
    }
    let Some((_, kind)) = spec.params.iter().find(|(n, _)| *n == name) else {
        return Some(format!(
            "{} has no search parameter \"{name}\". Supported: {}.",
            spec.name,
            supported()
        ));
    };
    if value.trim().is_empty() {
        return Some(format!("{name} is empty; give it a value or leave it out."));
    }
    match kind {
        Kind::Date if !value.split(',').all(valid_date_value) => Some(format!(
            "{name} must be a date (YYYY, YYYY-MM, YYYY-MM-DD, or a dateTime with an offset), \
             optionally after a prefix: {}.",
            DATE_PREFIXES.join(" ")
        )),
        Kind::Token
            if name == "gender" && !["male", "female", "other", "unknown"].contains(&value) =>
        {
            Some("gender must be male, female, other or unknown.".to_string())
        }
        _ => None,
    }
}

fn valid_date_value(value: &str) -> bool {
    let date = DATE_PREFIXES
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(value);
    let partial = |s: &str, fmt: &str| chrono::NaiveDate::parse_from_str(s, fmt).is_ok();
    match date.len() {
        4 => date.bytes().all(|b| b.is_ascii_digit()),
        7 => partial(&format!("{date}-01"), "%Y-%m-%d"),
        10 => partial(date, "%Y-%m-%d"),
        _ => chrono::DateTime::parse_from_rfc3339(date).is_ok(),
    }
}

/// The CapabilityStatement `metadata` answers: generated from [`RESOURCES`].
pub fn capability_statement(base: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|r| {
            let mut params: Vec<Value> = r
                .params
                .iter()
                .map(|(name, kind)| json!({"name": name, "type": kind.fhir_type()}))
                .collect();
            params.push(json!({"name": "_count", "type": "number"}));
            json!({
                "type": r.name,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": params,
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "Switchboard", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Switchboard FHIR R4 API", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "Authorization: Bearer <token> from /v2/auth/token or /auth/authenticate"},
            "resource": resources,
            "operation": MESSAGE_OPERATIONS
                .iter()
                .map(|op| json!({"name": op, "definition": format!("{base}/OperationDefinition/{op}")}))
                .collect::<Vec<_>>(),
        }],
    })
}

/// Message operations are any `{Resource}/$<operation>` taking a message Bundle; these
/// are the ones named in the CapabilityStatement.
const MESSAGE_OPERATIONS: &[&str] = &[
    "observation-create",
    "diagnosticreport-create",
    "write",
    "patient-admin",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn patient_searches_are_checked_against_the_table() {
        let patient = resource("Patient").expect("Patient");
        assert!(validate_search(patient, &p(&[("identifier", "0000000001")])).is_ok());
        let full = p(&[
            ("family", "Baker"),
            ("given", "Ann"),
            ("birthdate", "ge1980-01-01"),
        ]);
        assert!(validate_search(patient, &full).is_ok());
        for bad in [
            p(&[("identifier", "1"), ("nickname", "x")]),
            p(&[("family:exact", "Baker"), ("identifier", "1")]),
            p(&[("identifier", "1"), ("birthdate", "ab1980")]),
            p(&[("identifier", "1"), ("_count", "0")]),
            p(&[("family", "Baker")]),
            p(&[("identifier", "1"), ("gender", "m")]),
        ] {
            let e = validate_search(patient, &bad).expect_err("refused");
            assert_eq!(e.status, 400);
            assert!(!e.entries[0].text.contains("Baker"), "{e}");
        }
    }

    #[test]
    fn the_capability_statement_lists_the_table() {
        let cs = capability_statement("http://x/fhir/R4/s/Development");
        let listed = cs["rest"][0]["resource"].as_array().expect("resources");
        assert_eq!(listed.len(), RESOURCES.len());
        for (entry, spec) in listed.iter().zip(RESOURCES) {
            assert_eq!(entry["type"], spec.name);
            let names: Vec<&str> = entry["searchParam"]
                .as_array()
                .expect("params")
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            for (name, _) in spec.params {
                assert!(names.contains(name));
            }
        }
    }
}
