//! The composer's sample values (`model::template::Samples`) taken from one patient of
//! the panel, and the built-in Development variable profile made from the first one.
//!
//! Record IDs (visit, order, document, note, media) are the patient's own where it has
//! them, so a composed query finds something; a patient without one keeps the
//! placeholder of `Samples::default`.

use super::codes::{MEDICATIONS, VACCINES};
use super::directory::FACILITIES;
use super::{DEFAULT_SEED, Panel, mrn};
use crate::model::template::Samples;
use crate::model::variables::Variables;
use std::sync::OnceLock;

/// The organization directory the sandbox answers Organization Query from.
pub const DIRECTORY: &str = "Sandbox";

/// Samples from patient `index` (0-based) of `panel`; placeholders past its end.
pub fn samples(panel: &Panel, index: usize) -> Samples {
    let base = Samples {
        mrn: mrn(index),
        other_mrn: mrn(index + 1),
        directory: DIRECTORY.into(),
        ..Samples::default()
    };
    let Some(p) = panel.patient(index) else {
        return base;
    };
    let d = &p.demographics;
    let visit = p.visits.last();
    let facility = visit.map(|v| v.facility()).or(FACILITIES.first());
    let provider = p.pcp.and_then(|i| panel.provider(i)).or(panel.provider(0));
    let or = |value: Option<String>, fallback: &String| value.unwrap_or_else(|| fallback.clone());
    Samples {
        mrn: or(p.mrn().map(String::from), &base.mrn),
        first_name: or(d.first_name.clone(), &base.first_name),
        last_name: or(d.last_name.clone(), &base.last_name),
        dob: or(d.dob.clone(), &base.dob),
        sex: or(d.sex.clone(), &base.sex),
        facility: or(facility.map(|f| f.code.to_string()), &base.facility),
        facility_name: or(facility.map(|f| f.name.to_string()), &base.facility_name),
        department: or(visit.map(|v| v.department.to_string()), &base.department),
        provider_npi: or(provider.map(|p| p.npi.clone()), &base.provider_npi),
        visit_number: or(visit.map(|v| v.number.clone()), &base.visit_number),
        order_id: or(p.labs.last().map(|o| o.id.clone()), &base.order_id),
        document_id: or(p.documents.last().map(|x| x.id.clone()), &base.document_id),
        note_id: or(p.notes.last().map(|n| n.id.clone()), &base.note_id),
        media_id: or(p.media.last().map(|m| m.id.clone()), &base.media_id),
        medication_code: or(
            p.medications
                .first()
                .map(|m| m.def().rxnorm)
                .or(MEDICATIONS.first().map(|m| m.rxnorm))
                .map(String::from),
            &base.medication_code,
        ),
        vaccine_code: or(
            p.immunizations
                .first()
                .map(|i| i.def().cvx)
                .or(VACCINES.first().map(|v| v.cvx))
                .map(String::from),
            &base.vaccine_code,
        ),
        result_code: or(
            p.labs
                .last()
                .and_then(|o| o.panel().tests.first())
                .map(|t| t.loinc.to_string()),
            &base.result_code,
        ),
        ..base
    }
}

/// Samples from the first patient of the built-in panel. Generation is per patient
/// (patient 1 is the same in a panel of any size), so only the first is made.
pub fn default_samples() -> &'static Samples {
    static SAMPLES: OnceLock<Samples> = OnceLock::new();
    SAMPLES.get_or_init(|| samples(&Panel::generate(DEFAULT_SEED, 1), 0))
}

/// The built-in Development profile: `mrn`, `facility`, `department`, `provider_npi`,
/// `first_name`, `last_name`, `dob`, `sex` of the built-in panel's first patient.
pub fn default_profile() -> Variables {
    default_samples().variables()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::panel::DEFAULT_PATIENTS;

    #[test]
    fn the_default_profile_names_the_first_patient() {
        let profile = default_profile();
        assert_eq!(profile["mrn"], "0000000001");
        let big = Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS);
        let first = &big.patients()[0].demographics;
        assert_eq!(Some(&profile["first_name"]), first.first_name.as_ref());
        assert_eq!(&samples(&big, 0), default_samples());
        assert!(FACILITIES.iter().any(|f| f.code == profile["facility"]));
    }

    /// The console's tests stand in for an engine with these values (they may not name
    /// the sandbox); when the panel changes, this says to refresh their copy.
    #[test]
    fn the_consoles_test_copy_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/console/testdata/development-samples.json"
        );
        let mut current = serde_json::to_string_pretty(default_samples()).expect("json");
        current.push('\n');
        let copy = std::fs::read_to_string(path).unwrap_or_default();
        if std::env::var_os("SWITCHBOARD_BLESS").is_some() {
            std::fs::write(path, &current).expect("write the copy");
            return;
        }
        assert_eq!(
            copy, current,
            "{path} is stale: rerun with SWITCHBOARD_BLESS=1 to refresh it"
        );
    }

    #[test]
    fn ids_belong_to_the_patient() {
        let panel = Panel::generate(DEFAULT_SEED, 50);
        for i in 0..50 {
            let s = samples(&panel, i);
            let p = &panel.patients()[i];
            if let Some(note) = p.notes.last() {
                assert_eq!(s.note_id, note.id);
            }
            if let Some(visit) = p.visits.last() {
                assert_eq!(s.visit_number, visit.number);
            }
        }
        assert_eq!(samples(&panel, 99).mrn, "0000000100");
    }
}
