//! Patient, Practitioner and Location from the panel: the same people and places the
//! data-model answers describe (a Patient's name, birth date and gender are the
//! PatientSearch answer's FirstName/MiddleName/LastName, DOB and Sex).

use super::ids::{EHRID_SYSTEM, FACILITY_SYSTEM, MRN_SYSTEM, NPI_SYSTEM, V2_0203, patient_id};
use super::shape::{compact, concept, reference};
use crate::sandbox::panel::directory::{COUNTRY, STATE};
use crate::sandbox::panel::types::{Identifier, Patient, Provider};
use crate::sandbox::panel::{FACILITIES, Panel};
use serde_json::{Value, json};

/// FHIR's administrative gender from the panel's `Sex` (`Male`, `Female`, `Unknown`, or
/// whatever a writeback sent).
pub fn gender(sex: Option<&str>) -> &'static str {
    match sex.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("male" | "m") => "male",
        Some("female" | "f") => "female",
        Some("other" | "o") => "other",
        _ => "unknown",
    }
}

fn identifier(i: &Identifier) -> Value {
    match i.id_type.to_ascii_uppercase().as_str() {
        "MR" | "MRN" | "MR#" => json!({
            "use": "usual",
            "type": {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}], "text": "MRN"},
            "system": MRN_SYSTEM,
            "value": i.id,
        }),
        "EHRID" => {
            json!({"use": "secondary", "type": {"text": "EHRID"}, "system": EHRID_SYSTEM, "value": i.id})
        }
        _ => json!({"type": {"text": i.id_type}, "value": i.id}),
    }
}

fn marital(status: Option<&str>) -> Option<Value> {
    let (code, display) = match status?.trim().to_ascii_lowercase().as_str() {
        "married" => ("M", "Married"),
        "single" => ("S", "Never Married"),
        "divorced" => ("D", "Divorced"),
        "widowed" => ("W", "Widowed"),
        "separated" => ("L", "Legally Separated"),
        _ => return Some(json!({ "text": status })),
    };
    Some(concept(
        "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
        code,
        display,
    ))
}

pub fn patient(panel: &Panel, p: &Patient, index: usize) -> Value {
    let d = &p.demographics;
    let a = &d.address;
    let given: Vec<&String> = d.first_name.iter().chain(&d.middle_name).collect();
    let pcp = p.pcp.and_then(|i| panel.provider(i));
    let telecom: Vec<Value> = [
        ("phone", &d.home_phone, "home"),
        ("phone", &d.mobile_phone, "mobile"),
        ("email", &d.email, "home"),
    ]
    .into_iter()
    .filter_map(|(system, value, use_)| {
        Some(json!({"system": system, "value": value.as_ref()?, "use": use_}))
    })
    .collect();
    compact(json!({
        "resourceType": "Patient",
        "id": patient_id(p, index),
        "identifier": p.identifiers.iter().map(identifier).collect::<Vec<_>>(),
        "active": true,
        "name": [{"use": "official", "family": d.last_name, "given": given}],
        "telecom": telecom,
        "gender": gender(d.sex.as_deref()),
        "birthDate": d.dob.as_deref().filter(|b| super::params::is_date(b)),
        "deceasedBoolean": false,
        "address": [{
            "use": "home",
            "line": a.street.iter().collect::<Vec<_>>(),
            "city": a.city,
            "district": a.county,
            "state": a.state,
            "postalCode": a.zip,
            "country": a.country,
        }],
        "maritalStatus": marital(d.marital_status.as_deref()),
        "communication": d.language.as_ref().map(|l| json!([{
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": l}], "text": l},
            "preferred": true,
        }])),
        "generalPractitioner": pcp.map(|g| json!([reference(&format!("Practitioner/{}", g.npi), Some(&g.display_name()))])),
    }))
}

pub fn practitioner(p: &Provider) -> Value {
    let f = p.facility();
    compact(json!({
        "resourceType": "Practitioner",
        "id": p.npi,
        "identifier": [{"system": NPI_SYSTEM, "value": p.npi}],
        "active": p.active,
        "name": [{"use": "official", "family": p.last_name, "given": [p.first_name], "suffix": [p.credentials]}],
        "telecom": [
            {"system": "phone", "value": p.phone, "use": "work"},
            {"system": "email", "value": p.email, "use": "work"},
        ],
        "address": [{
            "use": "work", "line": [f.street], "city": f.city, "district": f.county,
            "state": STATE, "postalCode": f.zip, "country": COUNTRY,
        }],
        "gender": gender(Some(p.sex)),
        "qualification": [{"code": {
            "coding": [{"system": "http://nucc.org/provider-taxonomy", "code": p.specialty().taxonomy, "display": p.specialty().name}],
            "text": p.specialty().name,
        }}],
        "communication": p.languages.iter()
            .map(|l| json!({"coding": [{"system": "urn:ietf:bcp:47", "code": l}]}))
            .collect::<Vec<_>>(),
    }))
}

pub fn location(index: usize) -> Value {
    let f = &FACILITIES[index.min(FACILITIES.len() - 1)];
    let (code, display) = if f.kind == "Hospital" {
        ("HOSP", "Hospital")
    } else {
        ("OF", "Outpatient facility")
    };
    compact(json!({
        "resourceType": "Location",
        "id": f.code,
        "identifier": [{"system": FACILITY_SYSTEM, "value": f.code}],
        "status": "active",
        "name": f.name,
        "alias": [f.code],
        "mode": "instance",
        "type": [concept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", code, display)],
        "telecom": [{"system": "phone", "value": f.phone, "use": "work"}],
        "address": {
            "use": "work", "line": [f.street], "city": f.city, "district": f.county,
            "state": STATE, "postalCode": f.zip, "country": COUNTRY,
        },
        "physicalType": concept("http://terminology.hl7.org/CodeSystem/location-physical-type", "bu", "Building"),
    }))
}

/// `Practitioner/{npi}` of a provider index, with the name as display.
pub fn practitioner_ref(panel: &Panel, index: usize) -> Option<Value> {
    let p = panel.provider(index)?;
    Some(reference(
        &format!("Practitioner/{}", p.npi),
        Some(&p.display_name()),
    ))
}

/// `Location/{code}` of a facility index.
pub fn location_ref(index: usize) -> Value {
    let f = &FACILITIES[index.min(FACILITIES.len() - 1)];
    reference(&format!("Location/{}", f.code), Some(f.name))
}
