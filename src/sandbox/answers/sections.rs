//! The sections of a Clinical Summary, built from a patient's chart: allergies,
//! encounters, immunizations, medications, problems, results, vital signs, social
//! history, plan of care and procedures, plus what PatientPush added.

use super::render::{
    cs_code, cs_null_code, cs_plain_code, facility_address, provider, set, ts, unset,
};
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::{
    CATEGORY_PROBLEM, Code, PROBLEMS, STATUS_ACTIVE, STATUS_RESOLVED, System, TestKind,
};
use crate::sandbox::panel::rng::hash;
use crate::sandbox::panel::types::{Patient, PatientClass, Visit};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub(super) fn code(code: &'static str, system: System, name: &'static str) -> Code {
    Code { code, system, name }
}

pub(super) fn cs_provider(panel: &Panel, index: usize) -> Value {
    let mut value = provider(panel, index);
    set(&mut value, "Type", Value::Null);
    value
}

pub(super) fn allergies(patient: &Patient) -> Vec<Value> {
    patient
        .allergies
        .iter()
        .map(|a| {
            let def = a.def();
            let severe = a.severity.code == "24484000";
            json!({
                "Type": cs_code(&def.kind.code()),
                "Substance": cs_code(&def.substance),
                "Reaction": [{
                    "Code": a.reaction.code,
                    "CodeSystem": a.reaction.system.oid(),
                    "CodeSystemName": a.reaction.system.name(),
                    "Name": a.reaction.name,
                    "AltCodes": [],
                    "Severity": cs_plain_code(&a.severity),
                    "Text": null,
                }],
                "Severity": cs_plain_code(&a.severity),
                "Criticality": {
                    "Code": if severe { "CRITH" } else { "CRITL" },
                    "CodeSystem": "2.16.840.1.113883.5.1063",
                    "CodeSystemName": "ObservationValue",
                    "Name": if severe { "High criticality" } else { "Low criticality" },
                },
                "Status": cs_plain_code(&STATUS_ACTIVE),
                "StartDate": a.since.format("%Y-%m-%d").to_string(),
                "EndDate": null,
                "Comment": null,
            })
        })
        .collect()
}

pub(super) fn encounter(panel: &Panel, v: &Visit) -> Value {
    let kind = match v.class {
        PatientClass::Outpatient => code("99213", System::Cpt, "Office outpatient visit"),
        PatientClass::Emergency => code("99284", System::Cpt, "Emergency department visit"),
        PatientClass::Inpatient => code("99223", System::Cpt, "Initial hospital inpatient care"),
        PatientClass::Observation => code("99220", System::Cpt, "Initial observation care"),
    };
    // An encounter's provider has a Role, not the Type of a header's provider.
    let mut attending = cs_provider(panel, v.attending);
    unset(&mut attending, "Type");
    set(
        &mut attending,
        "Role",
        json!({
            "Code": "59058001", "CodeSystem": System::Snomed.oid(), "CodeSystemName": "SNOMED CT",
            "Name": "General physician", "AltCodes": [],
        }),
    );
    let f = v.facility();
    // An encounter location's address has no County in the schema: it is dropped.
    let mut address = facility_address(f);
    unset(&mut address, "County");
    json!({
        "Identifiers": [{"ID": v.number, "IDType": "Sandbox Visit Number"}],
        "Type": cs_code(&kind),
        "DateTime": ts(v.start),
        "EndDateTime": v.end.map(ts),
        "Providers": [attending],
        "Locations": [{
            "Address": address,
            "Type": {"Code": null, "CodeSystem": null, "CodeSystemName": null, "Name": f.kind, "AltCodes": []},
            "Name": f.name,
        }],
        "Diagnosis": v.diagnosis.map(problem_code).into_iter().collect::<Vec<_>>(),
        "ReasonForVisit": [{"Code": null, "CodeSystem": null, "CodeSystemName": null, "Name": v.reason, "AltCodes": []}],
    })
}

pub(super) fn problem_code(index: usize) -> Value {
    let def = &PROBLEMS[index];
    json!({
        "Code": def.snomed,
        "CodeSystem": System::Snomed.oid(),
        "CodeSystemName": "SNOMED CT",
        "Name": def.name,
        "AltCodes": [{"Code": def.icd10, "CodeSystem": System::Icd10.oid(), "CodeSystemName": "ICD-10-CM", "Name": def.name}],
    })
}

pub(super) fn immunizations(patient: &Patient, visit: Option<&Visit>) -> Vec<Value> {
    patient
        .immunizations
        .iter()
        .filter(|i| visit.is_none_or(|v| i.given.date_naive() == v.start.date_naive()))
        .map(|i| {
            let def = i.def();
            json!({
                "DateTime": ts(i.given),
                "Route": {"Code": def.route.nci, "CodeSystem": System::Nci.oid(), "CodeSystemName": "NCI Thesaurus", "Name": def.route.name, "AltCodes": []},
                "Product": {
                    "Manufacturer": def.maker.1,
                    "Code": def.cvx,
                    "CodeSystem": System::Cvx.oid(),
                    "CodeSystemName": "CVX",
                    "Name": def.name,
                    "AltCodes": [],
                    "LotNumber": i.lot,
                },
                "Dose": {"Quantity": def.dose_ml, "Units": "mL"},
            })
        })
        .collect()
}

pub(super) fn medications(patient: &Patient, at: Option<DateTime<Utc>>) -> Vec<Value> {
    patient
        .medications
        .iter()
        .filter(|m| {
            at.is_none_or(|t| {
                let day = t.date_naive();
                m.start <= day && m.end.is_none_or(|e| e >= day)
            })
        })
        .map(|m| {
            let def = m.def();
            let every = format!(
                "Take {} {} {} every {} {}{}",
                def.dose.0,
                def.dose.1,
                if def.route.hl7 == "PO" { "by mouth" } else { "by inhalation" },
                def.frequency.0,
                if def.frequency.1 == "h" { "hours" } else { "days" },
                if def.prn { " as needed" } else { "" },
            );
            json!({
                "Prescription": true,
                "FreeTextSig": every,
                "Dose": {"Quantity": def.dose.0, "Units": def.dose.1},
                "Rate": {"Quantity": null, "Units": null},
                "Route": {"Code": def.route.nci, "CodeSystem": System::Nci.oid(), "CodeSystemName": "NCI Thesaurus", "Name": def.route.name, "AltCodes": []},
                "StartDate": m.start.format("%Y-%m-%d").to_string(),
                "EndDate": m.end.map(|e| e.format("%Y-%m-%d").to_string()),
                "Frequency": {"Period": def.frequency.0, "Unit": def.frequency.1},
                "IsPRN": def.prn,
                "Product": cs_code(&code(def.rxnorm, System::RxNorm, def.name)),
            })
        })
        .collect()
}

pub(super) fn problems(patient: &Patient) -> Vec<Value> {
    patient
        .problems
        .iter()
        .map(|p| {
            let mut value = problem_code(p.def);
            let status = if p.end.is_none() {
                STATUS_ACTIVE
            } else {
                STATUS_RESOLVED
            };
            let map = value
                .as_object_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut out = Map::new();
            out.insert(
                "StartDate".into(),
                json!(p.start.format("%Y-%m-%d").to_string()),
            );
            out.insert(
                "EndDate".into(),
                json!(p.end.map(|e| e.format("%Y-%m-%d").to_string())),
            );
            out.extend(map);
            out.insert("Category".into(), cs_code(&CATEGORY_PROBLEM));
            out.insert("HealthStatus".into(), cs_null_code());
            out.insert("Status".into(), cs_plain_code(&status));
            out.insert("Comment".into(), Value::Null);
            value = Value::Object(out);
            value
        })
        .collect()
}

pub(super) fn results(patient: &Patient, visit: Option<usize>) -> Vec<Value> {
    patient
        .labs
        .iter()
        .filter(|l| visit.is_none_or(|v| l.visit == v))
        .map(|l| {
            let panel = l.panel();
            let observations: Vec<Value> = l
                .observations
                .iter()
                .map(|o| {
                    let test = l.test(o);
                    let (low, high, numeric) = match test.kind {
                        TestKind::Numeric { low, high, .. } => (low, high, true),
                        TestKind::Text { .. } => (None, None, false),
                    };
                    json!({
                        "Code": test.loinc,
                        "CodeSystem": System::Loinc.oid(),
                        "CodeSystemName": "LOINC",
                        "Name": test.name,
                        "AltCodes": [],
                        "Status": "Final",
                        "Interpretation": o.flag.as_str(),
                        "DateTime": ts(l.completed),
                        "CodedValue": cs_null_code(),
                        "Value": o.value,
                        "ValueType": if numeric { "PhysicalQuantity" } else { "String" },
                        "Units": (!test.units.is_empty()).then_some(test.units),
                        "ReferenceRange": {"Low": low, "High": high, "Text": null},
                    })
                })
                .collect();
            json!({
                "Code": panel.loinc,
                "CodeSystem": System::Loinc.oid(),
                "CodeSystemName": "LOINC",
                "Name": panel.name,
                "AltCodes": [],
                "Status": "Final",
                "Producer": super::records::lab_producer(),
                "Observations": observations,
            })
        })
        .collect()
}

/// One vital sign of a visit: LOINC code and name, the value as written, UCUM units.
pub struct VitalSign {
    pub code: &'static str,
    pub name: &'static str,
    pub value: String,
    pub units: &'static str,
}

/// Vital signs of a visit: deterministic from the visit, plausible for age and sex. The
/// FHIR server reads the same values (`sandbox::fhir`), so both APIs agree.
pub fn vital_signs(panel: &Panel, patient: &Patient, v: &Visit) -> Vec<VitalSign> {
    let h = hash(&[
        panel.seed(),
        v.number
            .bytes()
            .fold(0, |a, b| a * 10 + u64::from(b.wrapping_sub(b'0'))),
    ]);
    let pick =
        |shift: u32, lo: f64, hi: f64| lo + (hi - lo) * (((h >> shift) & 0xff) as f64 / 255.0);
    let age = patient
        .demographics
        .dob
        .as_deref()
        .and_then(|d| d.get(..4)?.parse::<i32>().ok())
        .map_or(40, |y| {
            (v.start.format("%Y").to_string().parse::<i32>().unwrap_or(y) - y).max(0)
        });
    let female = patient.demographics.sex.as_deref() == Some("Female");
    let height = if age < 18 {
        52.0 + 6.5 * f64::from(age) + pick(0, -4.0, 4.0)
    } else if female {
        pick(0, 152.0, 175.0)
    } else {
        pick(0, 165.0, 192.0)
    };
    let bmi = if patient.has_problem("obesity") {
        pick(8, 30.5, 38.0)
    } else {
        pick(8, 19.5, 29.0)
    };
    let weight = if age < 2 {
        3.5 + 0.5 * f64::from(age * 12)
    } else {
        bmi * (height / 100.0).powi(2)
    };
    let systolic = if patient.has_problem("htn") {
        pick(16, 128.0, 152.0)
    } else {
        pick(16, 104.0, 128.0)
    };
    let sign = |code, name, value: String, units| VitalSign {
        code,
        name,
        value,
        units,
    };
    vec![
        sign("8302-2", "Body height", format!("{height:.0}"), "cm"),
        sign("29463-7", "Body weight", format!("{weight:.1}"), "kg"),
        sign(
            "8480-6",
            "Systolic blood pressure",
            format!("{systolic:.0}"),
            "mm[Hg]",
        ),
        sign(
            "8462-4",
            "Diastolic blood pressure",
            format!("{:.0}", systolic * 0.64),
            "mm[Hg]",
        ),
        sign(
            "8867-4",
            "Heart rate",
            format!("{:.0}", pick(24, 58.0, 96.0)),
            "/min",
        ),
        sign(
            "8310-5",
            "Body temperature",
            format!("{:.1}", pick(32, 36.4, 37.3)),
            "Cel",
        ),
    ]
}

/// Vital signs of a visit in the Clinical Summary shape.
pub(super) fn vitals(panel: &Panel, patient: &Patient, v: &Visit) -> Value {
    let observations: Vec<Value> = vital_signs(panel, patient, v)
        .into_iter()
        .map(|s| {
            json!({
                "Code": s.code, "CodeSystem": System::Loinc.oid(), "CodeSystemName": "LOINC", "Name": s.name,
                "AltCodes": [], "Status": "completed", "Interpretation": "Normal",
                "DateTime": ts(v.start), "Value": s.value, "Units": s.units,
            })
        })
        .collect();
    json!({ "DateTime": ts(v.start), "Observations": observations })
}

pub(super) fn tobacco(patient: &Patient) -> Value {
    let (code, name) = match patient.tobacco {
        1 => ("8517006", "Former smoker"),
        2 => ("77176002", "Smoker"),
        _ => ("266919005", "Never smoker"),
    };
    json!({
        "Observations": [],
        "Pregnancy": [],
        "TobaccoUse": [{
            "Code": code, "CodeSystem": System::Snomed.oid(), "CodeSystemName": "SNOMED CT",
            "Name": name, "AltCodes": [], "IsSmokingStatus": true, "StartDate": null, "EndDate": null,
        }],
    })
}

pub(super) fn plan_of_care(patient: &Patient, visit: Option<usize>) -> Value {
    let orders: Vec<Value> = patient
        .procedures
        .iter()
        .filter(|o| o.status == "New" && visit.is_none_or(|v| o.visit == v))
        .map(|o| {
            let mut value = cs_code(&code(o.def().cpt, System::Cpt, o.def().name));
            set(&mut value, "Status", json!("Active"));
            set(&mut value, "DateTime", ts(o.ordered));
            value
        })
        .collect();
    json!({"Orders": orders, "Procedures": [], "Encounters": [], "MedicationAdministration": [], "Supplies": [], "Services": []})
}

pub(super) fn procedures(patient: &Patient) -> Value {
    let done: Vec<Value> = patient
        .procedures
        .iter()
        .filter(|o| o.status == "Completed")
        .map(|o| {
            let mut value = cs_code(&code(o.def().cpt, System::Cpt, o.def().name));
            set(&mut value, "DateTime", ts(o.ordered));
            set(&mut value, "Status", json!("completed"));
            set(&mut value, "TargetSite", cs_null_code());
            value
        })
        .collect();
    json!({"Observations": [], "Procedures": done, "Services": []})
}

/// Appends what PatientPush wrote for this patient to the generated sections.
pub(super) fn with_written(patient: &Patient, name: &str, mut list: Vec<Value>) -> Value {
    if let Some(extra) = patient.written.sections.get(name) {
        list.extend(extra.iter().cloned());
    }
    Value::Array(list)
}
