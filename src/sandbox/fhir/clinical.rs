//! A patient's chart as FHIR resources: Encounter (visits), Observation (lab results,
//! category `laboratory`, and the vital signs of each visit, category `vital-signs`, the
//! same values the Clinical Summary answers carry), Condition (problems),
//! AllergyIntolerance, MedicationStatement, Immunization and DocumentReference (notes).

use super::ids::{
    CVX, DOCUMENT_SYSTEM, ICD10, LOINC, NCI, ORDER_SYSTEM, RXNORM, SNOMED, VISIT_SYSTEM, id_part,
    patient_reference, record_id,
};
use super::people::{location_ref, practitioner_ref};
use super::shape::{
    coding, compact, concept, date, decimal, instant, quantity, reference, text_concept,
};
use crate::sandbox::answers::vital_signs;
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::{AllergyKind, System, TestKind};
use crate::sandbox::panel::types::{Flag, Note, Patient, PatientClass};
use serde_json::{Value, json};

const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// The patient a record belongs to: `Patient/{id}` with the name as display.
pub fn subject(p: &Patient, index: usize) -> Value {
    let d = &p.demographics;
    let name = format!(
        "{} {}",
        d.first_name.as_deref().unwrap_or(""),
        d.last_name.as_deref().unwrap_or("")
    );
    reference(&patient_reference(p, index), Some(name.trim()))
}

fn encounter_ref(p: &Patient, index: usize, visit: usize) -> Value {
    json!({ "reference": format!("Encounter/{}", record_id(p, index, "enc", &[visit])) })
}

pub fn encounter(panel: &Panel, p: &Patient, index: usize, v: usize) -> Option<Value> {
    let visit = p.visits.get(v)?;
    let (code, display) = match visit.class {
        PatientClass::Outpatient => ("AMB", "ambulatory"),
        PatientClass::Emergency => ("EMER", "emergency"),
        PatientClass::Inpatient => ("IMP", "inpatient encounter"),
        PatientClass::Observation => ("OBSENC", "observation encounter"),
    };
    let diagnosis = visit.diagnosis.map(|d| {
        let def = &crate::sandbox::panel::codes::PROBLEMS[d];
        json!([{"coding": [coding(SNOMED, def.snomed, def.name), coding(ICD10, def.icd10, def.name)], "text": def.name}])
    });
    Some(compact(json!({
        "resourceType": "Encounter",
        "id": record_id(p, index, "enc", &[v]),
        "identifier": [{"system": VISIT_SYSTEM, "value": visit.number}],
        "status": if visit.end.is_some() { "finished" } else { "in-progress" },
        "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", code, display),
        "type": [text_concept(visit.class.as_str())],
        "subject": subject(p, index),
        "participant": [{
            "type": [concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "ATND", "attender")],
            "individual": practitioner_ref(panel, visit.attending),
        }],
        "period": {"start": instant(visit.start), "end": visit.end.map(instant)},
        "reasonCode": diagnosis.unwrap_or_else(|| json!([text_concept(&visit.reason)])),
        "location": [{"location": location_ref(visit.facility), "status": if visit.end.is_some() { "completed" } else { "active" }}],
    })))
}

fn interpretation(flag: Flag) -> Value {
    let (code, display) = match flag {
        Flag::Normal => ("N", "Normal"),
        Flag::Low => ("L", "Low"),
        Flag::High => ("H", "High"),
        Flag::Abnormal => ("A", "Abnormal"),
    };
    json!([concept(INTERPRETATION, code, display)])
}

fn category(code: &str, display: &str) -> Value {
    json!([{"coding": [coding(OBSERVATION_CATEGORY, code, display)], "text": display}])
}

/// Lab result `n` of lab order `lab`.
pub fn lab_observation(p: &Patient, index: usize, lab: usize, n: usize) -> Option<Value> {
    let order = p.labs.get(lab)?;
    let o = order.observations.get(n)?;
    let test = order.test(o);
    let (value, range) = match test.kind {
        TestKind::Numeric { low, high, .. } => {
            let bound = |b: Option<f64>| b.map(|x| quantity(json!(x), test.units));
            (
                decimal(&o.value).map(|v| json!({"valueQuantity": quantity(v, test.units)})),
                json!([{"low": bound(low), "high": bound(high)}]),
            )
        }
        TestKind::Text { normal, .. } => (None, json!([{ "text": normal }])),
    };
    let mut resource = json!({
        "resourceType": "Observation",
        "id": record_id(p, index, "lab", &[lab, n]),
        "identifier": [{"system": ORDER_SYSTEM, "value": format!("{}-{}", order.id, n + 1)}],
        "status": "final",
        "category": category("laboratory", "Laboratory"),
        "code": concept(LOINC, test.loinc, test.name),
        "subject": subject(p, index),
        "encounter": encounter_ref(p, index, order.visit),
        "effectiveDateTime": instant(order.collected),
        "issued": instant(order.completed),
        "interpretation": interpretation(o.flag),
        "referenceRange": range,
    });
    let value = value.unwrap_or_else(|| json!({"valueString": o.value}));
    if let (Value::Object(r), Value::Object(v)) = (&mut resource, value) {
        r.extend(v);
    }
    Some(compact(resource))
}

/// Vital sign `n` of visit `v`.
pub fn vital_observation(
    panel: &Panel,
    p: &Patient,
    index: usize,
    v: usize,
    n: usize,
) -> Option<Value> {
    let visit = p.visits.get(v)?;
    let sign = vital_signs(panel, p, visit).into_iter().nth(n)?;
    let value = decimal(&sign.value)?;
    Some(compact(json!({
        "resourceType": "Observation",
        "id": record_id(p, index, "vs", &[v, n]),
        "status": "final",
        "category": category("vital-signs", "Vital Signs"),
        "code": concept(LOINC, sign.code, sign.name),
        "subject": subject(p, index),
        "encounter": encounter_ref(p, index, v),
        "effectiveDateTime": instant(visit.start),
        "valueQuantity": quantity(value, sign.units),
    })))
}

pub fn condition(p: &Patient, index: usize, n: usize) -> Option<Value> {
    let problem = p.problems.get(n)?;
    let def = problem.def();
    let status = if problem.end.is_none() {
        "active"
    } else {
        "resolved"
    };
    Some(compact(json!({
        "resourceType": "Condition",
        "id": record_id(p, index, "cond", &[n]),
        "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", status, if status == "active" { "Active" } else { "Resolved" }),
        "verificationStatus": concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
        "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
        "code": {"coding": [coding(SNOMED, def.snomed, def.name), coding(ICD10, def.icd10, def.name)], "text": def.name},
        "subject": subject(p, index),
        "onsetDateTime": date(problem.start),
        "abatementDateTime": problem.end.map(date),
        "recordedDate": date(problem.start),
    })))
}

fn severity(code: &str) -> Option<&'static str> {
    match code {
        "255604002" => Some("mild"),
        "6736007" => Some("moderate"),
        "24484000" => Some("severe"),
        _ => None,
    }
}

fn system_uri(system: System) -> &'static str {
    match system {
        System::RxNorm => RXNORM,
        System::Loinc => LOINC,
        System::Icd10 => ICD10,
        System::Cvx => CVX,
        System::Nci => NCI,
        _ => SNOMED,
    }
}

pub fn allergy(p: &Patient, index: usize, n: usize) -> Option<Value> {
    let a = p.allergies.get(n)?;
    let def = a.def();
    let category = match def.kind {
        AllergyKind::Drug => "medication",
        AllergyKind::Food => "food",
        AllergyKind::Environment => "environment",
    };
    let sev = severity(a.severity.code);
    Some(compact(json!({
        "resourceType": "AllergyIntolerance",
        "id": record_id(p, index, "alg", &[n]),
        "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
        "verificationStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
        "type": "allergy",
        "category": [category],
        "criticality": if sev == Some("severe") { "high" } else { "low" },
        "code": concept(system_uri(def.substance.system), def.substance.code, def.substance.name),
        "patient": subject(p, index),
        "onsetDateTime": date(a.since),
        "recordedDate": date(a.since),
        "reaction": [{
            "manifestation": [concept(system_uri(a.reaction.system), a.reaction.code, a.reaction.name)],
            "severity": sev,
        }],
    })))
}

pub fn medication(panel: &Panel, p: &Patient, index: usize, n: usize) -> Option<Value> {
    let m = p.medications.get(n)?;
    let def = m.def();
    let sig = format!(
        "{} {} every {} {}{}",
        def.dose.0,
        def.dose.1,
        def.frequency.0,
        if def.frequency.1 == "h" {
            "hours"
        } else {
            "days"
        },
        if def.prn { " as needed" } else { "" },
    );
    Some(compact(json!({
        "resourceType": "MedicationStatement",
        "id": record_id(p, index, "med", &[n]),
        "status": if m.end.is_none() { "active" } else { "completed" },
        "medicationCodeableConcept": concept(RXNORM, def.rxnorm, def.name),
        "subject": subject(p, index),
        "effectivePeriod": {"start": date(m.start), "end": m.end.map(date)},
        "informationSource": practitioner_ref(panel, m.prescriber),
        "dosage": [{
            "text": sig,
            "timing": {"repeat": {"frequency": 1, "period": decimal(def.frequency.0), "periodUnit": if def.frequency.1 == "h" { "h" } else { "d" }}},
            "asNeededBoolean": def.prn,
            "route": concept(NCI, def.route.nci, def.route.name),
            "doseAndRate": [{"doseQuantity": {"value": decimal(def.dose.0), "unit": def.dose.1}}],
        }],
    })))
}

pub fn immunization(panel: &Panel, p: &Patient, index: usize, n: usize) -> Option<Value> {
    let i = p.immunizations.get(n)?;
    let def = i.def();
    let route = match def.route.hl7 {
        "IM" => ("IM", "Injection, intramuscular"),
        "SC" => ("SQ", "Injection, subcutaneous"),
        _ => ("PO", "Swallow, oral"),
    };
    Some(compact(json!({
        "resourceType": "Immunization",
        "id": record_id(p, index, "imm", &[n]),
        "identifier": [{"system": ORDER_SYSTEM, "value": i.order_id}],
        "status": "completed",
        "vaccineCode": concept(CVX, def.cvx, def.name),
        "patient": subject(p, index),
        "occurrenceDateTime": instant(i.given),
        "primarySource": true,
        "location": location_ref(i.facility),
        "manufacturer": {"display": def.maker.1},
        "lotNumber": i.lot,
        "expirationDate": date(i.expires),
        "site": concept("http://terminology.hl7.org/CodeSystem/v3-ActSite", i.site.0, i.site.1),
        "route": concept("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", route.0, route.1),
        "doseQuantity": quantity(decimal(def.dose_ml).unwrap_or(json!(0.5)), "mL"),
        "performer": [{"actor": practitioner_ref(panel, i.provider)}],
    })))
}

fn note_type(kind: &str) -> Value {
    let code = match kind {
        "Progress Note" => Some(("11506-3", "Progress note")),
        "ED Provider Note" => Some(("34111-5", "Emergency department Note")),
        "History and Physical" => Some(("34117-2", "History and physical note")),
        "Discharge Summary" => Some(("18842-5", "Discharge summary")),
        _ => None,
    };
    match code {
        Some((c, d)) => json!({"coding": [coding(LOINC, c, d)], "text": kind}),
        None => text_concept(kind),
    }
}

/// A note's contents as Base64 (plain-text notes are encoded; a Base64 note that does
/// not decode is encoded as it is, so `attachment.data` is always valid).
fn note_data(note: &Note) -> Option<String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let contents = note.contents.as_deref()?;
    let already = note.content_type.eq_ignore_ascii_case("Base64 Encoded")
        && !contents.trim().is_empty()
        && engine.decode(contents.trim()).is_ok();
    Some(if already {
        contents.trim().to_string()
    } else {
        engine.encode(contents.as_bytes())
    })
}

pub fn note_id(p: &Patient, index: usize, note: &Note) -> String {
    format!(
        "{}-note-{}",
        super::ids::patient_id(p, index),
        id_part(&note.id)
    )
}

pub fn document(panel: &Panel, p: &Patient, index: usize, note: &Note) -> Value {
    let visit = note
        .visit_number
        .as_deref()
        .and_then(|n| p.visits.iter().position(|v| v.number == n));
    let author = note
        .author
        .as_deref()
        .and_then(|npi| panel.provider_by_npi(npi))
        .and_then(|a| practitioner_ref(panel, a));
    let at = |t: &Option<String>| {
        t.as_deref()
            .and_then(crate::model::time::parse_instant)
            .map(instant)
    };
    compact(json!({
        "resourceType": "DocumentReference",
        "id": note_id(p, index, note),
        "identifier": [{"system": DOCUMENT_SYSTEM, "value": note.id}],
        "status": "current",
        "type": note_type(&note.document_type),
        "category": [concept("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note", "Clinical Note")],
        "subject": subject(p, index),
        "date": at(&note.documented),
        "author": author.map(|a| json!([a])),
        "content": [{"attachment": {
            "contentType": "text/plain",
            "data": note_data(note),
            "title": note.file_name,
        }}],
        "context": {
            "encounter": visit.map(|v| json!([encounter_ref(p, index, v)])),
            "period": {"start": at(&note.service)},
        },
    }))
}
