//! The JSON pieces shared by the answers: identifiers, demographics, addresses, providers,
//! locations, codes. Shapes follow the published schemas; fields the panel has no value
//! for are present as `null` (as the platform's own payloads do) rather than left out.

use crate::model::time::format_utc;
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::{Code, PAYERS};
use crate::sandbox::panel::directory::{COUNTRY, FACILITIES, Facility, STATE};
use crate::sandbox::panel::types::{Address, Patient, Visit};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

pub fn ts(instant: DateTime<Utc>) -> Value {
    json!(format_utc(instant))
}

pub fn day(date: NaiveDate) -> Value {
    json!(date.format("%Y-%m-%d").to_string())
}

pub fn identifiers(patient: &Patient) -> Value {
    Value::Array(
        patient
            .identifiers
            .iter()
            .map(|i| json!({"ID": i.id, "IDType": i.id_type}))
            .collect(),
    )
}

/// `{"Identifiers": [...]}`, the way most models name the patient of a record.
pub fn patient_ref(patient: &Patient) -> Value {
    json!({ "Identifiers": identifiers(patient) })
}

pub fn address(a: &Address) -> Value {
    json!({
        "StreetAddress": a.street,
        "City": a.city,
        "State": a.state,
        "ZIP": a.zip,
        "County": a.county,
        "Country": a.country,
    })
}

pub fn facility_address(f: &Facility) -> Value {
    json!({
        "StreetAddress": f.street,
        "City": f.city,
        "State": STATE,
        "ZIP": f.zip,
        "County": f.county,
        "Country": COUNTRY,
    })
}

pub fn null_address() -> Value {
    json!({"StreetAddress": null, "City": null, "State": null, "ZIP": null, "County": null, "Country": null})
}

/// Demographics in the shape shared by PatientSearch, PatientAdmin, Results, Notes...
pub fn demographics(patient: &Patient) -> Value {
    let d = &patient.demographics;
    json!({
        "FirstName": d.first_name,
        "MiddleName": d.middle_name,
        "LastName": d.last_name,
        "DOB": d.dob,
        "SSN": null,
        "Sex": d.sex,
        "Race": d.race,
        "IsHispanic": d.is_hispanic,
        "MaritalStatus": d.marital_status,
        "IsDeceased": false,
        "DeathDateTime": null,
        "PhoneNumber": {"Home": d.home_phone, "Office": null, "Mobile": d.mobile_phone},
        "EmailAddresses": d.email.iter().collect::<Vec<_>>(),
        "Language": d.language,
        "Citizenship": [],
        "Address": address(&d.address),
    })
}

/// `{Identifiers, Demographics, Notes}`: the patient block of most events.
pub fn patient_block(patient: &Patient) -> Value {
    json!({
        "Identifiers": identifiers(patient),
        "Demographics": demographics(patient),
        "Notes": [],
    })
}

/// A provider in the common shape (`ID`/`IDType` NPI, names, credentials, address,
/// e-mail, office phone, location).
pub fn provider(panel: &Panel, index: usize) -> Value {
    let Some(p) = panel.provider(index) else {
        return null_provider();
    };
    let f = p.facility();
    json!({
        "ID": p.npi,
        "IDType": "NPI",
        "FirstName": p.first_name,
        "LastName": p.last_name,
        "Credentials": [p.credentials],
        "Address": facility_address(f),
        "EmailAddresses": [p.email],
        "PhoneNumber": {"Office": p.phone},
        "Location": {"Type": f.kind, "Facility": f.name, "Department": p.department(), "Room": null},
    })
}

/// A provider with the `NPI` field some models add in front.
pub fn provider_npi(panel: &Panel, index: usize) -> Value {
    let mut value = provider(panel, index);
    let npi = value.get("ID").cloned().unwrap_or(Value::Null);
    with_first(&mut value, "NPI", npi);
    value
}

pub fn null_provider() -> Value {
    json!({
        "ID": null,
        "IDType": null,
        "FirstName": null,
        "LastName": null,
        "Credentials": [],
        "Address": null_address(),
        "EmailAddresses": [],
        "PhoneNumber": {"Office": null},
        "Location": {"Type": null, "Facility": null, "Department": null, "Room": null},
    })
}

pub fn null_provider_npi() -> Value {
    let mut value = null_provider();
    with_first(&mut value, "NPI", Value::Null);
    value
}

/// Inserts `key` as the first field of an object.
pub fn with_first(value: &mut Value, key: &str, field: Value) {
    if let Value::Object(map) = value {
        let rest = std::mem::take(map);
        map.insert(key.into(), field);
        map.extend(rest);
    }
}

/// Removes `key` from an object, for a shared shape one schema does not list in full.
pub fn unset(value: &mut Value, key: &str) {
    if let Value::Object(map) = value {
        map.remove(key);
    }
}

/// Sets `key` on an object (the end of it when new).
pub fn set(value: &mut Value, key: &str, field: Value) {
    if let Value::Object(map) = value {
        map.insert(key.into(), field);
    }
}

/// `Location` of a visit; `Bed` only where the schema has it.
pub fn visit_location(visit: &Visit, with_bed: bool) -> Value {
    let mut location = json!({
        "Type": visit.location_type(),
        "Facility": visit.facility().name,
        "Department": visit.department,
        "Room": visit.room,
    });
    if with_bed {
        set(&mut location, "Bed", json!(visit.bed));
    }
    location
}

/// A code the way Clinical Summary writes it (OID, system name, no alternates).
pub fn cs_code(code: &Code) -> Value {
    json!({
        "Code": code.code,
        "CodeSystem": code.system.oid(),
        "CodeSystemName": code.system.name(),
        "Name": code.name,
        "AltCodes": [],
    })
}

/// A code for the Clinical Summary fields whose schema lists no `AltCodes` (an allergy's
/// or problem's status, a severity): a strict client rejects the empty list there.
pub fn cs_plain_code(code: &Code) -> Value {
    json!({
        "Code": code.code,
        "CodeSystem": code.system.oid(),
        "CodeSystemName": code.system.name(),
        "Name": code.name,
    })
}

pub fn cs_null_code() -> Value {
    json!({"Code": null, "CodeSystem": null, "CodeSystemName": null, "Name": null, "AltCodes": []})
}

/// The patient's emergency contact, as `Contacts`.
pub fn contacts(patient: &Patient) -> Value {
    let Some(c) = &patient.contact else {
        return json!([]);
    };
    json!([{
        "FirstName": c.first_name,
        "MiddleName": null,
        "LastName": c.last_name,
        "Address": address(&patient.demographics.address),
        "PhoneNumber": {"Home": c.phone, "Office": null, "Mobile": null},
        "RelationToPatient": c.relation,
        "EmailAddresses": [],
        "Roles": ["Emergency Contact"],
    }])
}

pub fn pcp(panel: &Panel, patient: &Patient) -> Value {
    patient
        .pcp
        .map_or_else(null_provider_npi, |p| provider_npi(panel, p))
}

/// `Insurances`, with the patient as the insured (or the parent for a child).
pub fn insurances(patient: &Patient) -> Value {
    let Some(ins) = &patient.insurance else {
        return json!([]);
    };
    let (company_id, company, plan_id, plan, plan_type, _) = PAYERS[ins.payer];
    let d = &patient.demographics;
    let child = patient
        .contact
        .as_ref()
        .filter(|c| matches!(c.relation, "Mother" | "Father"));
    let insured = match child {
        Some(parent) => json!({
            "Identifiers": [],
            "LastName": parent.last_name,
            "MiddleName": null,
            "FirstName": parent.first_name,
            "SSN": null,
            "Relationship": "Parent",
            "DOB": null,
            "Sex": if parent.relation == "Mother" { "Female" } else { "Male" },
            "Address": address(&d.address),
        }),
        None => json!({
            "Identifiers": [],
            "LastName": d.last_name,
            "MiddleName": d.middle_name,
            "FirstName": d.first_name,
            "SSN": null,
            "Relationship": "Self",
            "DOB": d.dob,
            "Sex": d.sex,
            "Address": address(&d.address),
        }),
    };
    json!([{
        "Plan": {"ID": plan_id, "IDType": "Payer ID", "Name": plan, "Type": plan_type},
        "MemberNumber": ins.member_number,
        "Company": {
            "ID": company_id,
            "IDType": "Payer ID",
            "Name": company,
            "Address": {
                "StreetAddress": "700 Harbor Way",
                "City": "Madison",
                "State": STATE,
                "ZIP": "53711",
                "County": "Dane",
                "Country": COUNTRY,
            },
            "PhoneNumber": "+18005550190",
        },
        "GroupNumber": ins.group_number,
        "GroupName": format!("{company} Group"),
        "EffectiveDate": day(ins.effective),
        "ExpirationDate": null,
        "PolicyNumber": ins.member_number,
        "Priority": "Primary",
        "AgreementType": null,
        "CoverageType": null,
        "Insured": insured,
    }])
}

/// The guarantor: the patient, or the parent for a child.
pub fn guarantor(patient: &Patient) -> Value {
    let d = &patient.demographics;
    let parent = patient
        .contact
        .as_ref()
        .filter(|c| matches!(c.relation, "Mother" | "Father"));
    let (first, middle, last, dob, sex, relation) = match parent {
        Some(p) => (
            Some(p.first_name.clone()),
            None,
            Some(p.last_name.clone()),
            None,
            Some(
                if p.relation == "Mother" {
                    "Female"
                } else {
                    "Male"
                }
                .to_string(),
            ),
            p.relation,
        ),
        None => (
            d.first_name.clone(),
            d.middle_name.clone(),
            d.last_name.clone(),
            d.dob.clone(),
            d.sex.clone(),
            "Self",
        ),
    };
    let spouse = patient
        .contact
        .as_ref()
        .filter(|c| c.relation == "Spouse" && parent.is_none());
    json!({
        "Number": patient.mrn().map(|m| format!("G{m}")),
        "FirstName": first,
        "MiddleName": middle,
        "LastName": last,
        "SSN": null,
        "DOB": dob,
        "Sex": sex,
        "Spouse": {
            "FirstName": spouse.map(|s| s.first_name.clone()),
            "LastName": spouse.map(|s| s.last_name.clone()),
        },
        "Address": address(&d.address),
        "PhoneNumber": {"Home": d.home_phone, "Business": null, "Mobile": d.mobile_phone},
        "EmailAddresses": d.email.iter().collect::<Vec<_>>(),
        "Type": "Personal",
        "RelationToPatient": relation,
        "Employer": {"Name": null, "Address": null_address(), "PhoneNumber": null},
    })
}

/// The facility record of a facility index.
pub fn facility(index: usize) -> &'static Facility {
    &FACILITIES[index.min(FACILITIES.len() - 1)]
}
