//! The sandbox's synthetic patient panel: deterministic, seeded, no real PHI.
//!
//! [`Panel::generate`] builds the same panel from the same seed and size on every machine
//! (a SplitMix64 stream per patient, see [`rng`]). By default it holds
//! [`DEFAULT_PATIENTS`] patients, 50 providers and the organizations of the fictional
//! "Sandbox Health System" in and around Madison, WI.
//!
//! Each patient has an MR identifier that is its 1-based number zero-padded to ten
//! digits (`0000000001`, `0000000002`, ...) and an `EHRID` (a UUID), demographics with an
//! address, phones in the fictional 555-01xx range and `@example.com` e-mail, and a chart
//! that hangs together: allergies, problems, the medications that treat them, visits,
//! lab results, other orders, notes, immunizations, Clinical Summary documents, media and
//! referrals. Clinical dates lie before [`PANEL_EPOCH`] (a fixed instant, so the panel
//! never changes); about 3% of patients are in house at the epoch (the census).
//! Appointment slots are computed for any date asked (see [`slots`]).
//!
//! Record numbers are readable: visit numbers, order, referral and immunization-order IDs
//! are ten digits, a kind digit (1 visit, 2 lab order, 3 other order, 4 referral,
//! 5 immunization order), the patient number (7 digits) and a sequence (2 digits), so
//! `1000001600` is the first visit of patient `0000000016`. Notes, documents and media
//! have UUIDs. An appointment the generator booked has the visit number
//! `7<provider:2><slot:9>` (see [`SlotKey::visit_number`]).
//!
//! Writebacks change the panel in memory (see `answers::apply`); nothing is persisted.

pub mod codes;
mod context;
pub mod directory;
pub mod files;
mod generate;
mod history;
mod names;
mod records;
pub mod rng;
pub mod samples;
pub mod slots;
pub mod types;

pub use directory::{FACILITIES, Facility, ORGANIZATIONS, Organization, SPECIALTIES, Specialty};
pub use generate::mrn;
pub use records::observation;
pub use slots::{Booking, SlotKey, SlotState};
pub use types::{Demographics, Identifier, Patient, PatientClass, Provider, Visit};

use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;

/// Seed of the built-in panel.
pub const DEFAULT_SEED: u64 = 0x5b7c_0a11;
/// Patients in the built-in panel.
pub const DEFAULT_PATIENTS: usize = 1000;

/// The fixed "now" of the generated record, `2026-11-02T00:00:00Z` (a Monday): every
/// generated visit, result and note lies before it.
pub const PANEL_EPOCH: (i32, u32, u32) = (2026, 11, 2);

/// Groups of patients that share FirstName, LastName, DOB and Sex (different middle
/// names, addresses and records), so a demographic search finds several. The first MRN
/// of a group is the one the others copy. They exist in any panel large enough to hold
/// the group's last MRN (the default panel holds them all).
pub const DUPLICATE_DEMOGRAPHICS_MRNS: &[&[&str]] = &[
    &["0000000007", "0000000507"],
    &["0000000042", "0000000642"],
    &["0000000100", "0000000900", "0000000950"],
];

/// Demographic search criteria (PatientSearch Query, Vaccination PatientQuery). Every
/// given field must match, case-insensitively; absent fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Criteria {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `YYYY-MM-DD` (a longer value is compared on its first ten characters).
    pub dob: Option<String>,
    pub sex: Option<String>,
    /// Compared on the first five characters (ZIP+4 matches its ZIP).
    pub zip: Option<String>,
}

impl Criteria {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.dob.is_none()
            && self.sex.is_none()
            && self.zip.is_none()
    }

    pub fn matches(&self, d: &Demographics) -> bool {
        fn same(want: &Option<String>, have: &Option<String>, len: usize) -> bool {
            let Some(want) = want else { return true };
            let Some(have) = have else { return false };
            let cut = |s: &str| s.trim().chars().take(len).collect::<String>();
            cut(want).eq_ignore_ascii_case(&cut(have))
        }
        same(&self.first_name, &d.first_name, usize::MAX)
            && same(&self.last_name, &d.last_name, usize::MAX)
            && same(&self.dob, &d.dob, 10)
            && same(&self.sex, &d.sex, usize::MAX)
            && same(&self.zip, &d.address.zip, 5)
    }
}

/// The synthetic patient panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    seed: u64,
    /// Patients made by the generator (writebacks may add more after them).
    generated: usize,
    epoch: DateTime<Utc>,
    patients: Vec<Patient>,
    providers: Vec<Provider>,
    schedule: slots::Schedule,
    /// Identifier value -> patients holding it (any identifier type).
    index: HashMap<String, Vec<usize>>,
}

impl Panel {
    /// Deterministic: the same seed and size give the same panel, on every machine.
    pub fn generate(seed: u64, patients: usize) -> Panel {
        let (y, m, d) = PANEL_EPOCH;
        let epoch = Utc
            .with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let providers = directory::providers(seed);
        let ctx = context::Context {
            seed,
            providers: &providers,
            epoch,
        };
        let list: Vec<Patient> = (0..patients)
            .map(|i| generate::patient(&ctx, i, duplicate_of(i)))
            .collect();
        let mut panel = Panel {
            seed,
            generated: list.len(),
            epoch,
            patients: Vec::with_capacity(list.len()),
            providers,
            schedule: slots::Schedule::default(),
            index: HashMap::with_capacity(list.len() * 2),
        };
        for patient in list {
            panel.add_patient(patient);
        }
        panel
    }

    /// A patient made up from (seed, index) with the same generator, without a panel
    /// (used by the notification stream when the panel is empty).
    pub fn make_patient(&self, index: usize) -> Patient {
        let ctx = context::Context {
            seed: self.seed,
            providers: &self.providers,
            epoch: self.epoch,
        };
        generate::patient(&ctx, index, None)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The instant the generated record is "as of".
    pub fn epoch(&self) -> DateTime<Utc> {
        self.epoch
    }

    /// Patients made by the generator (the first ones of [`Panel::patients`]).
    pub fn generated(&self) -> usize {
        self.generated
    }

    pub fn patients(&self) -> &[Patient] {
        &self.patients
    }

    pub fn patient(&self, index: usize) -> Option<&Patient> {
        self.patients.get(index)
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    pub fn provider(&self, index: usize) -> Option<&Provider> {
        self.providers.get(index)
    }

    /// The provider with this NPI.
    pub fn provider_by_npi(&self, npi: &str) -> Option<usize> {
        let npi = npi.trim();
        self.providers.iter().position(|p| p.npi == npi)
    }

    pub fn facilities(&self) -> &'static [Facility] {
        FACILITIES
    }

    pub fn organizations(&self) -> &'static [Organization] {
        ORGANIZATIONS
    }

    /// The first `n` patients as (MRN, FirstName, LastName, DOB), for the README.
    pub fn first_patients(&self, n: usize) -> Vec<(String, String, String, String)> {
        self.patients
            .iter()
            .take(n)
            .map(|p| {
                let d = &p.demographics;
                (
                    p.mrn().unwrap_or_default().to_string(),
                    d.first_name.clone().unwrap_or_default(),
                    d.last_name.clone().unwrap_or_default(),
                    d.dob.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The patient holding identifier `id`, of type `id_type` when one is given (`MR` and
    /// `MRN` are the same type; the comparison ignores case).
    pub fn find(&self, id: &str, id_type: Option<&str>) -> Option<usize> {
        let candidates = self.index.get(id.trim())?;
        candidates.iter().copied().find(|i| {
            self.patients[*i]
                .identifiers
                .iter()
                .any(|x| x.id == id.trim() && type_matches(&x.id_type, id_type))
        })
    }

    /// The first patient any of `identifiers` (ID, IDType) names.
    pub fn find_any<'a>(
        &self,
        identifiers: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Option<usize> {
        identifiers
            .into_iter()
            .find_map(|(id, id_type)| self.find(id, id_type))
    }

    /// Patients whose demographics match, in MRN order. Empty criteria match no one.
    pub fn search(&self, criteria: &Criteria) -> Vec<usize> {
        if criteria.is_empty() {
            return Vec::new();
        }
        (0..self.patients.len())
            .filter(|i| criteria.matches(&self.patients[*i].demographics))
            .collect()
    }

    /// Adds a patient (a writeback for someone the panel did not know); returns its index.
    pub fn add_patient(&mut self, patient: Patient) -> usize {
        let index = self.patients.len();
        for identifier in &patient.identifiers {
            self.index
                .entry(identifier.id.clone())
                .or_default()
                .push(index);
        }
        self.patients.push(patient);
        index
    }

    /// Mutable access for writebacks. Identifiers must change through
    /// [`Panel::add_identifier`] so the index stays right.
    pub fn patient_mut(&mut self, index: usize) -> Option<&mut Patient> {
        self.patients.get_mut(index)
    }

    /// Gives a patient one more identifier (a PatientUpdate naming a new one).
    pub fn add_identifier(&mut self, index: usize, identifier: Identifier) {
        let Some(patient) = self.patients.get_mut(index) else {
            return;
        };
        if patient
            .identifiers
            .iter()
            .any(|x| x.id == identifier.id && x.id_type == identifier.id_type)
        {
            return;
        }
        let list = self.index.entry(identifier.id.clone()).or_default();
        if !list.contains(&index) {
            list.push(index);
        }
        patient.identifiers.push(identifier);
    }
}

/// Identifier types compare case-insensitively, with `MRN` and `MR#` meaning `MR`; an
/// absent or blank type matches any.
fn type_matches(stored: &str, asked: Option<&str>) -> bool {
    fn canonical(t: &str) -> String {
        let t = t.trim().to_ascii_uppercase();
        match t.as_str() {
            "MRN" | "MR#" => "MR".to_string(),
            _ => t,
        }
    }
    match asked.map(str::trim) {
        None | Some("") => true,
        Some(asked) => canonical(stored) == canonical(asked),
    }
}

/// The patient index whose name, DOB and sex patient `index` copies, if any.
fn duplicate_of(index: usize) -> Option<usize> {
    let mrn = generate::mrn(index);
    DUPLICATE_DEMOGRAPHICS_MRNS.iter().find_map(|group| {
        let leader = group.first()?;
        (group[1..].contains(&mrn.as_str()))
            .then(|| leader.parse::<usize>().ok())
            .flatten()
            .and_then(|n| n.checked_sub(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_panels_and_lookups() {
        let panel = Panel::generate(1, 12);
        assert_eq!(panel.patients().len(), 12);
        assert_eq!(panel.patients()[0].mrn(), Some("0000000001"));
        assert_eq!(panel.find("0000000012", Some("MRN")), Some(11));
        assert_eq!(panel.find("0000000012", Some("EHRID")), None);
        assert_eq!(panel.find("0000000013", None), None);
        let ehrid = panel.patients()[3].identifiers[1].id.clone();
        assert_eq!(panel.find(&ehrid, Some("ehrid")), Some(3));
        assert!(panel.search(&Criteria::default()).is_empty());
        assert_eq!(Panel::generate(1, 0).patients().len(), 0);
    }

    #[test]
    fn duplicates_are_declared_and_real() {
        assert_eq!(duplicate_of(506), Some(6));
        assert_eq!(duplicate_of(949), Some(99));
        assert_eq!(duplicate_of(99), None);
        let panel = Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS);
        for group in DUPLICATE_DEMOGRAPHICS_MRNS {
            let leader = &panel.patients()[panel.find(group[0], Some("MR")).unwrap()];
            let d = &leader.demographics;
            let found = panel.search(&Criteria {
                first_name: d.first_name.clone(),
                last_name: d.last_name.clone(),
                dob: d.dob.clone(),
                ..Criteria::default()
            });
            let mrns: Vec<&str> = found
                .iter()
                .map(|i| panel.patients()[*i].mrn().unwrap())
                .collect();
            assert_eq!(&mrns, group);
        }
    }

    #[test]
    fn no_accidental_duplicates() {
        let panel = Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS);
        let mut seen = HashMap::new();
        let declared: usize = DUPLICATE_DEMOGRAPHICS_MRNS
            .iter()
            .map(|g| g.len() - 1)
            .sum();
        let mut repeats = 0;
        for p in panel.patients() {
            let d = &p.demographics;
            let key = (d.first_name.clone(), d.last_name.clone(), d.dob.clone());
            if seen.insert(key, ()).is_some() {
                repeats += 1;
            }
        }
        assert_eq!(repeats, declared);
    }
}
