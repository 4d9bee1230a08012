//! Which resources exist: every resource of one type for a patient (generated from the
//! chart, then what FHIR messages wrote), and the resource an id names (a read).

use super::appointments;
use super::clinical::{
    allergy, condition, document, encounter, immunization, lab_observation, medication, note_id,
    vital_observation,
};
use super::ids::{facility_index, parse_record, patient_index};
use super::people::{location, patient, practitioner};
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::types::Patient;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The resource types the sandbox serves, in the order the CapabilityStatement lists them:
/// those the engine's FHIR API searches.
pub const TYPES: &[&str] = &crate::model::fhir::RESOURCES;

/// Types whose resources belong to one patient (searched by `patient`).
pub fn is_clinical(kind: &str) -> bool {
    !matches!(kind, "Patient" | "Practitioner" | "Location")
}

/// Every generated resource of `kind` in patient `index`'s chart (appointments are not
/// here: they are computed for a time window, see [`appointments`]).
fn generated(panel: &Panel, p: &Patient, index: usize, kind: &str) -> Vec<Value> {
    let n = |len: usize| 0..len;
    match kind {
        "Encounter" => n(p.visits.len())
            .filter_map(|v| encounter(panel, p, index, v))
            .collect(),
        "Observation" => {
            let mut out: Vec<Value> = Vec::new();
            for (l, lab) in p.labs.iter().enumerate() {
                out.extend(
                    n(lab.observations.len()).filter_map(|o| lab_observation(p, index, l, o)),
                );
            }
            for v in n(p.visits.len()) {
                out.extend(n(6).filter_map(|s| vital_observation(panel, p, index, v, s)));
            }
            out.extend(super::results::of_patient(p, index));
            out
        }
        "Condition" => n(p.problems.len())
            .filter_map(|c| condition(p, index, c))
            .collect(),
        "AllergyIntolerance" => n(p.allergies.len())
            .filter_map(|a| allergy(p, index, a))
            .collect(),
        "MedicationStatement" => n(p.medications.len())
            .filter_map(|m| medication(panel, p, index, m))
            .collect(),
        "Immunization" => n(p.immunizations.len())
            .filter_map(|i| immunization(panel, p, index, i))
            .collect(),
        "DocumentReference" => p
            .notes
            .iter()
            .map(|note| document(panel, p, index, note))
            .collect(),
        _ => Vec::new(),
    }
}

/// What FHIR messages wrote of `kind` for this patient.
pub fn written<'a>(p: &'a Patient, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    p.written
        .fhir
        .iter()
        .filter(move |r| r.get("resourceType").and_then(Value::as_str) == Some(kind))
}

/// Every resource of `kind` of patient `index` (for Appointment, the generated ones in
/// `window`, by default the one `appointments::of_patient` takes).
pub fn of_patient(
    panel: &Panel,
    index: usize,
    kind: &str,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<Value> {
    let Some(p) = panel.patient(index) else {
        return Vec::new();
    };
    let mut out = if kind == "Appointment" {
        appointments::of_patient(panel, index, window)
    } else {
        generated(panel, p, index, kind)
    };
    out.extend(written(p, kind).cloned());
    out
}

/// The resource `kind/id`, if it exists.
pub fn read(panel: &Panel, kind: &str, id: &str) -> Option<Value> {
    match kind {
        "Patient" => {
            let index = patient_index(panel, id)?;
            Some(patient(panel, panel.patient(index)?, index))
        }
        "Practitioner" => panel
            .provider_by_npi(id)
            .and_then(|i| panel.provider(i))
            .map(practitioner),
        "Location" => facility_index(id).map(location),
        _ => read_record(panel, kind, id),
    }
}

fn read_record(panel: &Panel, kind: &str, id: &str) -> Option<Value> {
    let rid = parse_record(panel, id)?;
    let index = rid.patient;
    let p = panel.patient(index)?;
    if rid.kind == "msg" {
        return written(p, kind)
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
            .cloned();
    }
    if rid.kind == "note" {
        return (kind == "DocumentReference")
            .then(|| p.notes.iter().find(|n| note_id(p, index, n) == id))
            .flatten()
            .map(|n| document(panel, p, index, n));
    }
    if rid.kind == "res" {
        return (kind == "Observation")
            .then(|| super::results::read(p, index, rid.rest))
            .flatten();
    }
    if rid.kind == "appt" {
        return (kind == "Appointment")
            .then(|| appointments::read(panel, index, rid.rest))
            .flatten();
    }
    let nums = rid.numbers()?;
    let (a, b) = (nums.first().copied()?, nums.get(1).copied());
    let found = match (kind, rid.kind, b, nums.len()) {
        ("Encounter", "enc", None, 1) => encounter(panel, p, index, a),
        ("Observation", "lab", Some(b), 2) => lab_observation(p, index, a, b),
        ("Observation", "vs", Some(b), 2) => vital_observation(panel, p, index, a, b),
        ("Condition", "cond", None, 1) => condition(p, index, a),
        ("AllergyIntolerance", "alg", None, 1) => allergy(p, index, a),
        ("MedicationStatement", "med", None, 1) => medication(panel, p, index, a),
        ("Immunization", "imm", None, 1) => immunization(panel, p, index, a),
        _ => None,
    };
    // Ids are canonical: "0000000001-enc-02" names nothing.
    found.filter(|r| r.get("id").and_then(Value::as_str) == Some(id))
}
