//! Resource ids and code systems: how the panel's records are named in FHIR, and how an
//! id is turned back into the record, so a read of any id a search returned works (also
//! after a restart: ids are derived from the panel, never from a counter).
//!
//! - Patient: its MRN (`0000000001`); a patient added by a writeback whose MR value is
//!   not a valid FHIR id (or who has none) is `pt{index}`.
//! - Practitioner: the NPI. Location: the facility code (`SGH`).
//! - Records of a patient: `{patient id}-{kind}-{n}[-{m}]`, where `n` (and `m`) count the
//!   record in the patient's chart (`0000000001-enc-2`, `0000000001-lab-0-3`); notes
//!   carry their document ID instead (`{patient}-note-{ID without dashes}`), appointments
//!   their visit number, and what a FHIR message wrote `{patient}-msg-{uuid}`.

use crate::sandbox::panel::types::Patient;
use crate::sandbox::panel::{FACILITIES, Panel};

/// The system of the panel's medical record numbers (`Identifier.system` of the MR).
pub const MRN_SYSTEM: &str = "urn:switchboard:sandbox:mrn";
/// The system of the panel's EHR ids (the `EHRID` identifier type).
pub const EHRID_SYSTEM: &str = "urn:switchboard:sandbox:ehrid";
/// Visit numbers (`Encounter.identifier`, `Appointment.identifier`).
pub const VISIT_SYSTEM: &str = "urn:switchboard:sandbox:visit";
/// Note document IDs (`DocumentReference.identifier`).
pub const DOCUMENT_SYSTEM: &str = "urn:switchboard:sandbox:document";
/// Facility codes (`Location.identifier`).
pub const FACILITY_SYSTEM: &str = "urn:switchboard:sandbox:facility";
/// Lab order IDs (`Observation.identifier` of a lab result).
pub const ORDER_SYSTEM: &str = "urn:switchboard:sandbox:order";
pub const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";
pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub const CPT: &str = "http://www.ama-assn.org/go/cpt";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const NCI: &str = "http://ncimeta.nci.nih.gov";
pub const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

/// A valid FHIR id: 1-64 of `A-Z a-z 0-9 - .`.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The FHIR id of the patient at `index`.
pub fn patient_id(patient: &Patient, index: usize) -> String {
    match patient.mrn() {
        Some(mrn) if valid_id(mrn) && !mrn.contains('-') => mrn.to_string(),
        _ => format!("pt{index}"),
    }
}

/// The patient a Patient id names.
pub fn patient_index(panel: &Panel, id: &str) -> Option<usize> {
    let index = match id.strip_prefix("pt") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok()?,
        _ => panel.find(id, Some("MR"))?,
    };
    let patient = panel.patient(index)?;
    (patient_id(patient, index) == id).then_some(index)
}

/// `Patient/{id}`.
pub fn patient_reference(patient: &Patient, index: usize) -> String {
    format!("Patient/{}", patient_id(patient, index))
}

/// The id of one of a patient's records.
pub fn record_id(patient: &Patient, index: usize, kind: &str, parts: &[usize]) -> String {
    let mut id = format!("{}-{kind}", patient_id(patient, index));
    for part in parts {
        id.push('-');
        id.push_str(&part.to_string());
    }
    id
}

/// A record id taken apart: the patient, the kind, and what follows.
pub struct RecordId<'a> {
    pub patient: usize,
    pub kind: &'a str,
    pub rest: &'a str,
}

impl RecordId<'_> {
    /// The numbers after the kind (`lab-0-3` gives `[0, 3]`).
    pub fn numbers(&self) -> Option<Vec<usize>> {
        self.rest.split('-').map(|n| n.parse().ok()).collect()
    }
}

pub fn parse_record<'a>(panel: &Panel, id: &'a str) -> Option<RecordId<'a>> {
    let mut parts = id.splitn(3, '-');
    let patient = patient_index(panel, parts.next()?)?;
    let kind = parts.next()?;
    let rest = parts.next()?;
    Some(RecordId {
        patient,
        kind,
        rest,
    })
}

/// A document ID as an id part: its letters and digits when that is short enough, else
/// a hash of it (so any written-back ID still gives a valid, stable id).
pub fn id_part(raw: &str) -> String {
    let clean: String = raw.chars().filter(char::is_ascii_alphanumeric).collect();
    if (1..=40).contains(&clean.len()) && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return clean;
    }
    let h = raw.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("h{h:016x}")
}

/// The facility index a Location id (the facility code) names.
pub fn facility_index(id: &str) -> Option<usize> {
    FACILITIES.iter().position(|f| f.code == id)
}

/// The facility index of a facility name (written-back appointments name one).
pub fn facility_by_name(name: &str) -> Option<usize> {
    FACILITIES
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(name.trim()))
}
