//! The shapes of the panel's records. Generated records point into the static tables of
//! [`super::codes`] and [`super::directory`] by index (cheap to generate, nothing to
//! copy); what arrives by writeback is kept as text, or as the JSON it came in when the
//! answer returns it in the same shape.

use super::codes::{
    ALLERGIES, Code, LAB_PANELS, LabTest, MEDICATIONS, PROBLEMS, PROCEDURES, VACCINES,
};
// The directory owns its providers; re-exported so the panel's types are in one place.
pub use super::directory::Provider;
use super::directory::{FACILITIES, Facility};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub id: String,
    /// `MR`, `EHRID`, or whatever a writeback named.
    pub id_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub county: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Demographics {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub dob: Option<String>,
    /// `Male`, `Female` or `Unknown` for generated patients.
    pub sex: Option<String>,
    pub address: Address,
    pub home_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub race: Option<String>,
    pub is_hispanic: Option<bool>,
    pub marital_status: Option<String>,
    pub religion: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub first_name: String,
    pub last_name: String,
    pub relation: &'static str,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insurance {
    /// Index into [`super::codes::PAYERS`].
    pub payer: usize,
    pub member_number: String,
    pub group_number: String,
    pub effective: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientClass {
    Outpatient,
    Emergency,
    Inpatient,
    Observation,
}

impl PatientClass {
    pub fn as_str(self) -> &'static str {
        match self {
            PatientClass::Outpatient => "Outpatient",
            PatientClass::Emergency => "Emergency",
            PatientClass::Inpatient => "Inpatient",
            PatientClass::Observation => "Observation",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub number: String,
    pub class: PatientClass,
    pub start: DateTime<Utc>,
    /// `None`: the patient is still in house (the census).
    pub end: Option<DateTime<Utc>>,
    pub facility: usize,
    pub department: &'static str,
    pub room: Option<String>,
    pub bed: Option<String>,
    /// Provider index.
    pub attending: usize,
    pub reason: String,
    /// Index into [`PROBLEMS`] of the visit's diagnosis.
    pub diagnosis: Option<usize>,
}

impl Visit {
    pub fn facility(&self) -> &'static Facility {
        &FACILITIES[self.facility]
    }

    /// The visit status as PatientAdmin spells it.
    pub fn status(&self) -> &'static str {
        match (self.end, self.class) {
            (None, _) => "Admitted",
            (Some(_), PatientClass::Outpatient) => "Completed",
            (Some(_), _) => "Discharged",
        }
    }

    /// `Location.Type`: the kind of place within the facility.
    pub fn location_type(&self) -> &'static str {
        match self.class {
            PatientClass::Outpatient => "Clinic",
            PatientClass::Emergency => "Emergency",
            PatientClass::Inpatient | PatientClass::Observation => "Inpatient",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allergy {
    /// Index into [`ALLERGIES`].
    pub def: usize,
    pub reaction: Code,
    pub severity: Code,
    pub since: NaiveDate,
}

impl Allergy {
    pub fn def(&self) -> &'static super::codes::AllergyDef {
        &ALLERGIES[self.def]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index into [`PROBLEMS`].
    pub def: usize,
    pub start: NaiveDate,
    /// Set for resolved problems.
    pub end: Option<NaiveDate>,
}

impl Problem {
    pub fn def(&self) -> &'static super::codes::ProblemDef {
        &PROBLEMS[self.def]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medication {
    /// Index into [`MEDICATIONS`].
    pub def: usize,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub prescriber: usize,
}

impl Medication {
    pub fn def(&self) -> &'static super::codes::MedicationDef {
        &MEDICATIONS[self.def]
    }
}

/// How a result compares with its reference range (`AbnormalFlag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Normal,
    Low,
    High,
    Abnormal,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Normal => "Normal",
            Flag::Low => "Low",
            Flag::High => "High",
            Flag::Abnormal => "Abnormal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Index into the panel's tests.
    pub test: usize,
    pub value: String,
    pub flag: Flag,
}

/// A lab order and its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabOrder {
    pub id: String,
    /// Index into [`LAB_PANELS`].
    pub panel: usize,
    /// Index into the patient's visits.
    pub visit: usize,
    pub ordered: DateTime<Utc>,
    pub collected: DateTime<Utc>,
    pub completed: DateTime<Utc>,
    pub provider: usize,
    pub observations: Vec<Observation>,
}

impl LabOrder {
    pub fn panel(&self) -> &'static super::codes::LabPanel {
        &LAB_PANELS[self.panel]
    }

    pub fn test(&self, observation: &Observation) -> &'static LabTest {
        &self.panel().tests[observation.test]
    }
}

/// A non-lab order (imaging, cardiology, therapy), still open or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureOrder {
    pub id: String,
    /// Index into [`PROCEDURES`].
    pub def: usize,
    pub visit: usize,
    pub ordered: DateTime<Utc>,
    pub status: &'static str,
    pub priority: &'static str,
    pub provider: usize,
    pub diagnosis: Option<usize>,
}

impl ProcedureOrder {
    pub fn def(&self) -> &'static super::codes::ProcedureDef {
        &PROCEDURES[self.def]
    }
}

/// A clinical note, generated or written back (hence plain strings throughout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: String,
    pub visit_number: Option<String>,
    /// `Plain Text` or `Base64 Encoded`.
    pub content_type: String,
    pub file_name: Option<String>,
    pub contents: Option<String>,
    pub document_type: String,
    pub service: Option<String>,
    pub documented: Option<String>,
    /// ID (NPI) of the author.
    pub author: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Immunization {
    /// Index into [`VACCINES`].
    pub def: usize,
    pub given: DateTime<Utc>,
    pub lot: String,
    pub expires: NaiveDate,
    pub site: (&'static str, &'static str),
    pub provider: usize,
    pub order_id: String,
    pub facility: usize,
}

impl Immunization {
    pub fn def(&self) -> &'static super::codes::VaccineDef {
        &VACCINES[self.def]
    }
}

/// A Clinical Summary document (a visit summary or a discharge summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub visit: usize,
    /// LOINC (code, name).
    pub kind: (&'static str, &'static str),
    pub created: DateTime<Utc>,
    pub author: usize,
}

/// A scanned or attached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaItem {
    pub id: String,
    pub visit: Option<usize>,
    /// Index into [`super::codes::MEDIA_KINDS`].
    pub kind: usize,
    pub created: DateTime<Utc>,
    pub provider: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub id: String,
    /// Index into [`PROBLEMS`].
    pub problem: usize,
    /// Provider referred to, and the one who referred.
    pub to: usize,
    pub from: usize,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub status: &'static str,
    pub priority: &'static str,
    pub authorization: String,
    pub visits_authorized: u32,
    pub visit: usize,
}

/// What writebacks added, kept in the shape the answers return it in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Written {
    /// Results New orders (`Orders[]` items).
    pub results: Vec<Value>,
    /// Media New items (`Media[]` items of Media QueryResponse).
    pub media: Vec<Value>,
    /// Clinical Summary PatientPush sections by name (`Allergies`, `Medications`, ...).
    pub sections: BTreeMap<String, Vec<Value>>,
    /// FHIR resources FHIR messages wrote (`sandbox::fhir`), with the sandbox's ids.
    pub fhir: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub identifiers: Vec<Identifier>,
    pub demographics: Demographics,
    /// Provider index of the primary care provider.
    pub pcp: Option<usize>,
    pub contact: Option<Contact>,
    pub insurance: Option<Insurance>,
    /// Oldest first.
    pub visits: Vec<Visit>,
    pub allergies: Vec<Allergy>,
    pub problems: Vec<Problem>,
    pub medications: Vec<Medication>,
    pub labs: Vec<LabOrder>,
    pub procedures: Vec<ProcedureOrder>,
    pub notes: Vec<Note>,
    pub immunizations: Vec<Immunization>,
    pub documents: Vec<Document>,
    pub media: Vec<MediaItem>,
    pub referrals: Vec<Referral>,
    /// Tobacco use: 0 never, 1 former, 2 current.
    pub tobacco: u8,
    pub written: Written,
}

impl Patient {
    /// A patient known only by identifiers and demographics (added by a writeback).
    pub fn new(identifiers: Vec<Identifier>, demographics: Demographics) -> Patient {
        Patient {
            identifiers,
            demographics,
            pcp: None,
            contact: None,
            insurance: None,
            visits: Vec::new(),
            allergies: Vec::new(),
            problems: Vec::new(),
            medications: Vec::new(),
            labs: Vec::new(),
            procedures: Vec::new(),
            notes: Vec::new(),
            immunizations: Vec::new(),
            documents: Vec::new(),
            media: Vec::new(),
            referrals: Vec::new(),
            tobacco: 0,
            written: Written::default(),
        }
    }

    /// The medical record number (`IDType` `MR`), when there is one.
    pub fn mrn(&self) -> Option<&str> {
        self.identifiers
            .iter()
            .find(|i| i.id_type == "MR")
            .map(|i| i.id.as_str())
    }

    /// Problems still active.
    pub fn active_problems(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.end.is_none())
    }

    pub fn has_problem(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.def().key == key)
    }
}
