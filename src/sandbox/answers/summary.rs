//! Clinical Summary: PatientQuery (the whole chart as a CCD-like summary), VisitQuery (one
//! visit's summary), DocumentQuery (the list of documents) and DocumentGet (one document,
//! as CDA XML).

use super::AnswerError;
use super::render::{insurances, null_provider, set, ts};
use super::request::{Request, borrowed};
use super::sections::{
    allergies, cs_provider, encounter, immunizations, medications, plan_of_care, problems,
    procedures, results, tobacco, vitals, with_written,
};
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::{PROBLEMS, System};
use crate::sandbox::panel::rng::{hash, mix};
use crate::sandbox::panel::types::{Patient, Visit};
use serde_json::{Value, json};

/// The sections a summary may carry, in the order the schema lists them.
pub(super) const SECTIONS: &[&str] = &[
    "AdvanceDirectives",
    "Allergies",
    "Encounters",
    "FamilyHistory",
    "Immunizations",
    "Insurances",
    "MedicalEquipment",
    "Medications",
    "Problems",
    "Results",
    "VitalSigns",
];

fn patient_required(req: &Request) -> Result<Vec<(String, Option<String>)>, AnswerError> {
    let ids = req.identifiers(&["Patient"]);
    if ids.is_empty() {
        return Err(AnswerError::BadRequest(format!(
            "{} needs Patient.Identifiers (e.g. {{\"ID\": \"0000000001\", \"IDType\": \"MR\"}}).",
            req.label()
        )));
    }
    Ok(ids)
}

/// `Header`: the document, the patient and the primary care provider.
fn header(panel: &Panel, patient: &Patient, visit: Option<&Visit>, title: &str) -> Value {
    let d = &patient.demographics;
    let author = patient.pcp.or(visit.map(|v| v.attending));
    let mut document = json!({
        "Author": author.map_or_else(null_provider, |a| cs_provider(panel, a)),
        "ID": summary_id(panel, patient, visit),
        "Locale": "US",
        "Title": title,
        "DateTime": crate::model::time::now_utc(),
        "Type": "Summarization of Episode Note",
        "TypeCode": {
            "Code": "34133-9",
            "CodeSystem": System::Loinc.oid(),
            "CodeSystemName": "LOINC",
            "Name": "Summarization of Episode Note",
        },
    });
    if let Some(v) = visit {
        set(
            &mut document,
            "Visit",
            json!({
                "Location": super::render::visit_location(v, false),
                "StartDateTime": ts(v.start),
                "EndDateTime": v.end.map(ts),
                "Reason": v.reason,
                "VisitNumber": v.number,
            }),
        );
    }
    json!({
        "Document": document,
        "Patient": {
            "Identifiers": patient.identifiers.iter()
                .map(|i| json!({"ID": i.id, "IDType": i.id_type, "Type": null}))
                .collect::<Vec<_>>(),
            "Demographics": {
                "FirstName": d.first_name,
                "MiddleName": d.middle_name,
                "LastName": d.last_name,
                "DOB": d.dob,
                "SSN": null,
                "Sex": d.sex,
                "Address": super::render::address(&d.address),
                "PhoneNumber": {"Home": d.home_phone, "Mobile": d.mobile_phone},
                "EmailAddresses": d.email.iter().map(|e| json!({"Address": e})).collect::<Vec<_>>(),
                "Language": d.language,
                "Race": d.race,
                "Ethnicity": d.is_hispanic.map(|h| if h { "Hispanic or Latino" } else { "Not Hispanic or Latino" }),
                "Religion": d.religion,
                "MaritalStatus": d.marital_status,
            },
        },
        "PCP": patient.pcp.map_or_else(null_provider, |p| cs_provider(panel, p)),
    })
}

/// A stable document ID for a generated summary (the same patient and visit give the same
/// ID, as a real EHR's stored document would).
fn summary_id(panel: &Panel, patient: &Patient, visit: Option<&Visit>) -> String {
    let key = format!(
        "{}|{}",
        patient.mrn().unwrap_or_default(),
        visit.map_or("", |v| v.number.as_str())
    );
    let h = hash(&[
        panel.seed(),
        key.bytes()
            .fold(0u64, |a, b| a.wrapping_mul(131).wrapping_add(u64::from(b))),
    ]);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&h.to_le_bytes());
    bytes[8..].copy_from_slice(&mix(h).to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The empty answer for a patient the panel does not know.
fn unknown(req: &Request, ids: &[(String, Option<String>)]) -> Value {
    let mut fields = vec![(
        "Header",
        json!({"Patient": {"Identifiers": ids.iter()
            .map(|(id, t)| json!({"ID": id, "IDType": t, "Type": null}))
            .collect::<Vec<_>>()}}),
    )];
    fields.extend(SECTIONS.iter().map(|s| (*s, json!([]))));
    req.answer(fields)
}

pub(super) fn patient_query(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = patient_required(req)?;
    let Some(index) = panel.find_any(borrowed(&ids)) else {
        return Ok(unknown(req, &ids));
    };
    let p = &panel.patients()[index];
    let recent: Vec<&Visit> = p.visits.iter().rev().take(3).collect();
    let fields = vec![
        (
            "Header",
            header(panel, p, None, "Sandbox Health System: Health Summary"),
        ),
        ("AdvanceDirectivesText", Value::Null),
        (
            "AdvanceDirectives",
            with_written(p, "AdvanceDirectives", vec![]),
        ),
        ("AllergyText", Value::Null),
        ("Allergies", with_written(p, "Allergies", allergies(p))),
        ("EncountersText", Value::Null),
        (
            "Encounters",
            with_written(
                p,
                "Encounters",
                p.visits.iter().map(|v| encounter(panel, v)).collect(),
            ),
        ),
        ("FamilyHistoryText", Value::Null),
        ("FamilyHistory", with_written(p, "FamilyHistory", vec![])),
        ("ImmunizationText", Value::Null),
        (
            "Immunizations",
            with_written(p, "Immunizations", immunizations(p, None)),
        ),
        ("InsurancesText", Value::Null),
        (
            "Insurances",
            with_written(
                p,
                "Insurances",
                insurances(p).as_array().cloned().unwrap_or_default(),
            ),
        ),
        ("MedicalEquipmentText", Value::Null),
        (
            "MedicalEquipment",
            with_written(p, "MedicalEquipment", vec![]),
        ),
        ("MedicationsText", Value::Null),
        (
            "Medications",
            with_written(p, "Medications", medications(p, None)),
        ),
        ("PlanOfCareText", Value::Null),
        ("PlanOfCare", plan_of_care(p, None)),
        ("ProblemsText", Value::Null),
        ("Problems", with_written(p, "Problems", problems(p))),
        ("ProceduresText", Value::Null),
        ("Procedures", procedures(p)),
        ("ResultText", Value::Null),
        ("Results", with_written(p, "Results", results(p, None))),
        ("SocialHistoryText", Value::Null),
        ("SocialHistory", tobacco(p)),
        ("VitalSignsText", Value::Null),
        (
            "VitalSigns",
            with_written(
                p,
                "VitalSigns",
                recent.iter().map(|v| vitals(panel, p, v)).collect(),
            ),
        ),
    ];
    Ok(req.answer(fields))
}

pub(super) fn visit_query(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = patient_required(req)?;
    let number = req.text(&["Visit", "VisitNumber"]);
    let from = req.instant(&["Visit", "StartDateTime"], false)?;
    let to = req.instant(&["Visit", "EndDateTime"], true)?;
    let Some(index) = panel.find_any(borrowed(&ids)) else {
        return Ok(unknown(req, &ids));
    };
    let p = &panel.patients()[index];
    let chosen = p
        .visits
        .iter()
        .enumerate()
        .rev()
        .find(|(_, v)| match &number {
            Some(n) => &v.number == n,
            None => from.is_none_or(|f| v.start >= f) && to.is_none_or(|t| v.start < t),
        });
    let Some((vi, v)) = chosen else {
        return Ok(unknown(req, &ids));
    };
    let note = p
        .notes
        .iter()
        .find(|n| {
            n.visit_number.as_deref() == Some(v.number.as_str()) && n.content_type == "Plain Text"
        })
        .and_then(|n| n.contents.clone());
    let diagnoses: Vec<Value> = v
        .diagnosis
        .iter()
        .map(|d| {
            let def = &PROBLEMS[*d];
            json!({
                "Value": def.name,
                "DateTime": ts(v.start),
                "IsNegativeIndicator": false,
                "Codes": [
                    {"Code": def.icd10, "CodeSystem": System::Icd10.oid(), "CodeSystemName": "ICD-10-CM", "Name": def.name},
                    {"Code": def.snomed, "CodeSystem": System::Snomed.oid(), "CodeSystemName": "SNOMED CT", "Name": def.name},
                ],
            })
        })
        .collect();
    let fields = vec![
        (
            "Header",
            header(
                panel,
                p,
                Some(v),
                &format!("{}: Visit Summary", v.facility().name),
            ),
        ),
        ("AllergyText", Value::Null),
        ("Allergies", Value::Array(allergies(p))),
        ("AssessmentText", Value::Null),
        ("Assessment", json!({"Diagnoses": diagnoses})),
        ("ChiefComplaintText", json!(v.reason)),
        ("EncountersText", Value::Null),
        ("Encounters", json!([encounter(panel, v)])),
        ("HistoryOfPresentIllnessText", json!(note)),
        ("ImmunizationText", Value::Null),
        ("Immunizations", Value::Array(immunizations(p, Some(v)))),
        ("MedicationsText", Value::Null),
        ("Medications", Value::Array(medications(p, Some(v.start)))),
        ("MedicationsAdministeredText", Value::Null),
        ("MedicationsAdministered", json!([])),
        ("PlanOfCareText", Value::Null),
        ("PlanOfCare", plan_of_care(p, Some(vi))),
        ("ProblemsText", Value::Null),
        ("Problems", Value::Array(problems(p))),
        ("ReasonForVisitText", json!(v.reason)),
        ("ResultText", Value::Null),
        ("Results", Value::Array(results(p, Some(vi)))),
        ("SocialHistoryText", Value::Null),
        ("SocialHistory", tobacco(p)),
        ("VitalSignsText", Value::Null),
        ("VitalSigns", json!([vitals(panel, p, v)])),
    ];
    Ok(req.answer(fields))
}

pub(super) fn document_query(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = patient_required(req)?;
    let from = req.date(&["Document", "StartDate"])?;
    let to = req.date(&["Document", "EndDate"])?;
    let visit_id = req.text(&["Visit", "ID"]);
    let visit_from = req.instant(&["Visit", "StartDateTime"], false)?;
    let visit_to = req.instant(&["Visit", "EndDateTime"], true)?;
    let department = req.text(&["Location", "Department"]);
    let types: Vec<String> = req
        .get(&["Document", "Types"])
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .flat_map(|t| [t.get("Code"), t.get("Name")])
                .flatten()
                .filter_map(super::request::text)
                .collect()
        })
        .unwrap_or_default();
    let Some(index) = panel.find_any(borrowed(&ids)) else {
        let echo: Vec<Value> = ids
            .iter()
            .map(|(id, t)| json!({"ID": id, "IDType": t}))
            .collect();
        return Ok(req.answer(vec![
            ("Patient", json!({"Identifiers": echo})),
            ("Documents", json!([])),
        ]));
    };
    let p = &panel.patients()[index];
    let documents: Vec<Value> = p
        .documents
        .iter()
        .filter(|d| {
            let v = &p.visits[d.visit];
            let day = d.created.date_naive();
            from.is_none_or(|f| day >= f)
                && to.is_none_or(|t| day <= t)
                && visit_id.as_deref().is_none_or(|id| id == v.number)
                && visit_from.is_none_or(|f| v.start >= f)
                && visit_to.is_none_or(|t| v.start < t)
                && department.as_deref().is_none_or(|dep| dep.eq_ignore_ascii_case(v.department))
                && (types.is_empty() || types.iter().any(|t| t == d.kind.0 || t.eq_ignore_ascii_case(d.kind.1)))
        })
        .map(|d| {
            let v = &p.visits[d.visit];
            json!({
                "Location": {"Department": v.department},
                "Author": cs_provider(panel, d.author),
                "Visit": {"ID": v.number, "StartDateTime": ts(v.start), "EndDateTime": v.end.map(ts)},
                "DateTime": ts(d.created),
                "ID": d.id,
                "Locale": "US",
                "Title": super::cda::title(v, d),
                "Type": {"Code": d.kind.0, "Codeset": "LOINC", "Name": d.kind.1},
            })
        })
        .collect();
    Ok(req.answer(vec![
        (
            "Patient",
            json!({"Identifiers": super::render::identifiers(p)}),
        ),
        ("Documents", Value::Array(documents)),
    ]))
}

pub(super) fn document_get(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let id = req.text(&["Document", "ID"]).ok_or_else(|| {
        AnswerError::BadRequest(
            "Clinical Summary DocumentGet needs Document.ID (an ID from a DocumentQuery answer)."
                .into(),
        )
    })?;
    let found = panel
        .patients()
        .iter()
        .find_map(|p| p.documents.iter().find(|d| d.id == id).map(|d| (p, d)));
    let (file_type, data) = match found {
        Some((p, d)) => ("XML", super::cda::cda(panel, p, d)),
        None => ("", String::new()),
    };
    Ok(req.answer(vec![
        ("Document", json!({"ID": id})),
        ("FileType", json!(file_type)),
        ("Data", json!(data)),
    ]))
}
