//! Shared by the sandbox conformance tests: schema loading and validation, request
//! builders, and the matched / unmatched / multiple-match cases of every query event.

// Shared by two test crates (`sandbox_schemas`, `sandbox_strict`), each using a part.
#![allow(dead_code)]

use jsonschema::Validator;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;
use switchboard::model::catalog::{self, EventInfo, Exchange};
// The fix for `clinicaldecisions/request.json`'s `"type": ["null", "null"]`.
use switchboard::model::schema::dedupe_types;
use switchboard::sandbox::answers::respond;
use switchboard::sandbox::panel::{
    DEFAULT_PATIENTS, DEFAULT_SEED, DUPLICATE_DEMOGRAPHICS_MRNS, Panel, Patient,
};

pub const SCHEMAS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/redox-schemas/"
);
pub const UNKNOWN_MRN: &str = "9999999999";

pub fn panel() -> &'static Panel {
    static PANEL: OnceLock<Panel> = OnceLock::new();
    PANEL.get_or_init(|| Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS))
}

/// Compiled validators by schema file.
pub struct Schemas {
    compiled: HashMap<&'static str, Validator>,
    strict: bool,
}

impl Schemas {
    /// The schemas as published: fields they do not list are allowed.
    pub fn new() -> Schemas {
        Schemas {
            compiled: HashMap::new(),
            strict: false,
        }
    }

    /// The schemas with [`forbid_additional_properties`] applied to this test's copy:
    /// a field the schema does not list is an error, as in a generated model library.
    pub fn strict() -> Schemas {
        Schemas {
            compiled: HashMap::new(),
            strict: true,
        }
    }

    /// Validation errors of `instance` against `schema` (relative path), as text.
    pub fn check(&mut self, schema: &'static str, instance: &Value) -> Vec<String> {
        let strict = self.strict;
        let validator = self.compiled.entry(schema).or_insert_with(|| {
            let path = format!("{SCHEMAS}{schema}");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let mut value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            dedupe_types(&mut value);
            if strict {
                forbid_additional_properties(&mut value);
            }
            jsonschema::draft4::new(&value).unwrap_or_else(|e| panic!("{path}: {e}"))
        });
        validator
            .iter_errors(instance)
            .map(|e| format!("at '{}': {e}", e.instance_path()))
            .collect()
    }
}

/// Forbids fields a schema does not list, the way an independent model library generated
/// from the schemas does: every object schema that lists `properties` and says nothing
/// of `additionalProperties` (or `patternProperties`) gets `"additionalProperties":
/// false`. An object schema without `properties` (free-form, like an extension bag) and
/// one that already decides about extra fields are left as they are. The walk follows
/// the schema keywords (`properties`, `items`, `additionalItems`, `allOf`/`anyOf`/
/// `oneOf`, `not`, `definitions`, `patternProperties`, `dependencies`), never the names
/// of fields, so a field called `properties` or `items` is not mistaken for a keyword.
pub fn forbid_additional_properties(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    let lists_fields = map.get("properties").is_some_and(Value::is_object);
    if lists_fields
        && !map.contains_key("additionalProperties")
        && !map.contains_key("patternProperties")
    {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for keyword in [
        "properties",
        "patternProperties",
        "definitions",
        "dependencies",
    ] {
        if let Some(Value::Object(named)) = map.get_mut(keyword) {
            // `dependencies` may also map to a list of names: not a schema, skipped.
            named.values_mut().for_each(forbid_additional_properties);
        }
    }
    for keyword in ["items", "additionalItems", "additionalProperties", "not"] {
        match map.get_mut(keyword) {
            Some(Value::Array(list)) => list.iter_mut().for_each(forbid_additional_properties),
            Some(one) => forbid_additional_properties(one),
            None => {}
        }
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = map.get_mut(keyword) {
            list.iter_mut().for_each(forbid_additional_properties);
        }
    }
}

pub fn event(model: &str, name: &str) -> &'static EventInfo {
    catalog::lookup(model, name).unwrap_or_else(|e| panic!("{e}"))
}

/// The response event of a query: `<Event>Response` of the same model, else the model's
/// `Response` (PatientSearch Query -> Response, ClinicalDecisions Request -> Response).
pub fn response_of(query: &EventInfo) -> &'static EventInfo {
    let responses: Vec<&'static EventInfo> = catalog::all()
        .iter()
        .filter(|e| e.data_model == query.data_model && e.exchange == Exchange::Response)
        .collect();
    let named = format!("{}Response", query.event_type);
    responses
        .iter()
        .find(|e| e.event_type == named)
        .or_else(|| responses.iter().find(|e| e.event_type == "Response"))
        .copied()
        .unwrap_or_else(|| {
            panic!(
                "no response event for {} {}",
                query.data_model, query.event_type
            )
        })
}

pub fn meta(model: &str, event: &str) -> Value {
    json!({
        "DataModel": model,
        "EventType": event,
        "EventDateTime": "2026-11-02T12:00:00.000Z",
        "Test": true,
        "Source": {"ID": "5b7c0a11-c0de-4e57-8a00-000000000002", "Name": "Sandbox Dev Tools"},
        "Destinations": [{"ID": "5b7c0a11-c0de-4e57-8a00-000000000e4e", "Name": "Sandbox EHR"}],
    })
}

pub fn with_meta(model: &str, event: &str, body: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("Meta".into(), meta(model, event));
    if let Value::Object(fields) = body {
        out.extend(fields);
    }
    Value::Object(out)
}

pub fn mr(id: &str) -> Value {
    json!({"Identifiers": [{"ID": id, "IDType": "MR"}]})
}

pub fn mrn(p: &Patient) -> &str {
    p.mrn().expect("generated patients have an MR")
}

/// A patient with something of everything, for the matched cases.
pub fn rich(panel: &Panel) -> &Patient {
    panel
        .patients()
        .iter()
        .find(|p| {
            !p.labs.is_empty()
                && !p.referrals.is_empty()
                && !p.media.is_empty()
                && !p.procedures.is_empty()
                && !p.immunizations.is_empty()
                && !p.documents.is_empty()
                && !p.allergies.is_empty()
        })
        .expect("the default panel has a patient with a full chart")
}

pub fn demographics_of(p: &Patient) -> Value {
    let d = &p.demographics;
    json!({"FirstName": d.first_name, "LastName": d.last_name, "DOB": d.dob})
}

/// The demographics shared by the first declared duplicate group.
pub fn duplicated(panel: &Panel) -> Value {
    let leader = panel
        .find(DUPLICATE_DEMOGRAPHICS_MRNS[0][0], Some("MR"))
        .expect("the duplicate leader exists");
    demographics_of(&panel.patients()[leader])
}

/// (case, body without Meta) for one query event.
pub fn cases(panel: &Panel, model: &str, name: &str) -> Vec<(&'static str, Value)> {
    let p = rich(panel);
    let id = mrn(p);
    let visit = &p.visits[p.labs[0].visit];
    let npi = panel.providers()[p.pcp.unwrap_or(0)].npi.clone();
    let week = json!({"StartDateTime": "2026-11-09T00:00:00.000Z", "EndDateTime": "2026-11-14T00:00:00.000Z"});
    match (model, name) {
        ("PatientSearch", "Query") => vec![
            ("matched by identifier", json!({"Patient": mr(id)})),
            (
                "matched by demographics",
                json!({"Patient": {"Demographics": demographics_of(p)}}),
            ),
            ("unmatched", json!({"Patient": mr(UNKNOWN_MRN)})),
            (
                "unmatched demographics",
                json!({"Patient": {"Demographics": {"FirstName": "Nobody", "LastName": "Atall"}}}),
            ),
            (
                "multiple",
                json!({"Patient": {"Demographics": duplicated(panel)}}),
            ),
        ],
        ("PatientSearch", "LocationQuery") => vec![
            ("matched", json!({"Patient": mr(id)})),
            ("unmatched", json!({"Patient": mr(UNKNOWN_MRN)})),
        ],
        ("Vaccination", "PatientQuery") => vec![
            ("matched", json!({"Patient": mr(id)})),
            ("unmatched", json!({"Patient": mr(UNKNOWN_MRN)})),
            (
                "multiple",
                json!({"Patient": {"Demographics": duplicated(panel)}}),
            ),
        ],
        ("Clinical Summary", "PatientQuery") => vec![
            ("matched", json!({"Patient": mr(id)})),
            ("unmatched", json!({"Patient": mr(UNKNOWN_MRN)})),
        ],
        ("Clinical Summary", "VisitQuery") => vec![
            (
                "matched by number",
                json!({"Patient": mr(id), "Visit": {"VisitNumber": visit.number}}),
            ),
            (
                "matched by dates",
                json!({"Patient": mr(id), "Visit": {"StartDateTime": "2020-01-01T00:00:00.000Z", "EndDateTime": "2026-11-02T00:00:00.000Z"}}),
            ),
            ("unmatched patient", json!({"Patient": mr(UNKNOWN_MRN)})),
            (
                "unmatched visit",
                json!({"Patient": mr(id), "Visit": {"VisitNumber": "0"}}),
            ),
        ],
        ("Clinical Summary", "DocumentQuery") => vec![
            ("matched", json!({"Patient": mr(id)})),
            (
                "matched with filters",
                json!({"Patient": mr(id), "Document": {"StartDate": "2020-01-01", "EndDate": "2026-12-31", "Types": [{"Code": "34133-9", "Codeset": "LOINC", "Name": "Summarization of Episode Note"}]}}),
            ),
            ("unmatched", json!({"Patient": mr(UNKNOWN_MRN)})),
        ],
        ("Clinical Summary", "DocumentGet") => vec![
            ("matched", json!({"Document": {"ID": p.documents[0].id}})),
            ("unmatched", json!({"Document": {"ID": "no-such-document"}})),
        ],
        ("Scheduling", "AvailableSlots") => {
            let mut by_provider = week.clone();
            by_provider["Visit"] = json!({"AttendingProviders": [{"ID": npi, "IDType": "NPI"}], "Reasons": ["Follow-up visit"]});
            let mut nobody = week.clone();
            nobody["Visit"] =
                json!({"AttendingProviders": [{"ID": "0000000000", "IDType": "NPI"}]});
            vec![
                ("matched", week.clone()),
                ("matched by provider", by_provider),
                ("unmatched", nobody),
            ]
        }
        ("Scheduling", "Booked") => {
            let mut nobody = week.clone();
            nobody["Visit"] =
                json!({"AttendingProviders": [{"ID": "0000000000", "IDType": "NPI"}]});
            vec![("matched", week.clone()), ("unmatched", nobody)]
        }
        ("Results", "Query") => vec![
            ("matched", json!({"Patients": [mr(id)]})),
            (
                "matched with filters",
                json!({"Patients": [mr(id)], "Completion": {"StartDateTime": "2020-01-01T00:00:00.000Z", "EndDateTime": "2026-11-02T00:00:00.000Z"}, "ResultStatuses": ["Final"], "OrderIDs": [], "Procedures": []}),
            ),
            ("unmatched", json!({"Patients": [mr(UNKNOWN_MRN)]})),
        ],
        ("Order", "Query") => vec![
            ("matched", json!({"Patients": [mr(id)]})),
            ("matched by order", json!({"OrderIDs": [p.labs[0].id]})),
            ("unmatched", json!({"Patients": [mr(UNKNOWN_MRN)]})),
        ],
        ("Referral", "Query") => vec![
            ("matched", json!({"Patient": mr(id)})),
            ("unmatched", json!({"Patient": mr(UNKNOWN_MRN)})),
        ],
        ("Notes", "Query") => vec![
            ("matched", json!({"Patients": [mr(id)]})),
            (
                "matched by document",
                json!({"DocumentIDs": [p.notes[0].id]}),
            ),
            ("unmatched", json!({"Patients": [mr(UNKNOWN_MRN)]})),
        ],
        ("Media", "Query") => vec![
            ("matched", json!({"Patients": [mr(id)]})),
            ("unmatched", json!({"Patients": [mr(UNKNOWN_MRN)]})),
        ],
        ("Organization", "Query") => vec![
            (
                "matched",
                json!({"Directory": "Sandbox", "NameSearch": {"SearchType": "Contains", "Value": "clinic"}}),
            ),
            (
                "paged",
                json!({"Directory": "Sandbox", "Index": "2", "Limit": "3"}),
            ),
            (
                "unmatched",
                json!({"Directory": "Sandbox", "NameSearch": {"Value": "no such organization"}}),
            ),
        ],
        ("Provider", "ProviderQuery") => vec![
            (
                "matched",
                json!({"Provider": {"Identifiers": [{"ID": npi, "IDType": "NPI"}]}}),
            ),
            ("directory", json!({})),
            (
                "unmatched",
                json!({"Provider": {"Identifiers": [{"ID": "0000000000", "IDType": "NPI"}]}}),
            ),
        ],
        ("PatientAdmin", "CensusQuery") => vec![
            ("matched", json!({})),
            ("unmatched", json!({"Departments": ["Nowhere"]})),
        ],
        ("PatientAdmin", "VisitQuery") => vec![
            ("matched", json!({"Patients": [mr(id)]})),
            (
                "matched by start",
                json!({"VisitStartDateTime": "2026-10-01T00:00:00.000Z", "PatientClasses": ["Inpatient"]}),
            ),
            ("unmatched", json!({"Patients": [mr(UNKNOWN_MRN)]})),
        ],
        ("ClinicalDecisions", "Request") => {
            let orders = json!([{
                "Identifiers": [{"ID": "U1", "IDType": "Unsigned Order"}],
                "Product": {"Code": "308191", "Codeset": "RxNorm", "Name": "Amoxicillin 500 MG Oral Capsule"},
            }]);
            vec![
                (
                    "matched",
                    json!({"Patient": mr(id), "UnsignedMedicationOrders": orders, "UnsignedProcedureOrders": []}),
                ),
                (
                    "unmatched",
                    json!({"Patient": mr(UNKNOWN_MRN), "UnsignedMedicationOrders": [], "UnsignedProcedureOrders": []}),
                ),
            ]
        }
        _ => Vec::new(),
    }
}

pub fn query(panel: &Panel, model: &str, name: &str, body: Value) -> Value {
    respond(panel, &with_meta(model, name, body)).unwrap_or_else(|e| panic!("{model} {name}: {e}"))
}

/// Removes the values that are "now" (keys ending in DateTime) so two renderings compare.
pub fn without_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.ends_with("DateTime"));
            map.values_mut().for_each(without_times);
        }
        Value::Array(items) => items.iter_mut().for_each(without_times),
        _ => {}
    }
}

/// Every JSON file under a directory, recursively.
pub fn json_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}
