//! Finding people and places: PatientSearch Query and LocationQuery, Vaccination
//! PatientQuery (which searches the same way), Provider ProviderQuery and Organization
//! Query.

use super::AnswerError;
use super::render::{
    contacts, demographics, facility, facility_address, guarantor, identifiers, insurances, pcp,
    provider, provider_npi,
};
use super::request::{Request, borrowed};
use crate::model::time::format_utc;
use crate::sandbox::panel::directory::{
    COUNTRY, ORGANIZATIONS, Organization, STATE, facility_organization,
};
use crate::sandbox::panel::types::Patient;
use crate::sandbox::panel::{Criteria, Panel};
use serde_json::{Value, json};

/// At most this many patients in `PotentialMatches`.
pub const MAX_MATCHES: usize = 50;

/// What a patient search found.
pub(super) enum Found {
    None,
    One(usize),
    Several(Vec<usize>),
}

/// Searches by `Patient.Identifiers` first, then by `Patient.Demographics`.
pub(super) fn find_patients(panel: &Panel, req: &Request) -> Result<Found, AnswerError> {
    let ids = req.identifiers(&["Patient"]);
    let demo = |field: &[&str]| {
        let mut path = vec!["Patient", "Demographics"];
        path.extend_from_slice(field);
        req.text(&path)
    };
    let criteria = Criteria {
        first_name: demo(&["FirstName"]),
        last_name: demo(&["LastName"]),
        dob: demo(&["DOB"]),
        sex: demo(&["Sex"]),
        zip: demo(&["Address", "ZIP"]),
    };
    if ids.is_empty() && criteria.is_empty() {
        return Err(AnswerError::BadRequest(format!(
            "{} needs Patient.Identifiers (e.g. {{\"ID\": \"0000000001\", \"IDType\": \"MR\"}}) or \
             Patient.Demographics (FirstName, LastName, DOB, Sex, Address.ZIP).",
            req.label()
        )));
    }
    if let Some(index) = panel.find_any(borrowed(&ids)) {
        return Ok(Found::One(index));
    }
    let mut matches = panel.search(&criteria);
    matches.truncate(MAX_MATCHES);
    Ok(match matches.len() {
        0 => Found::None,
        1 => Found::One(matches[0]),
        _ => Found::Several(matches),
    })
}

/// The patient as PatientSearch returns it.
fn searched(panel: &Panel, patient: &Patient) -> Value {
    json!({
        "Identifiers": identifiers(patient),
        "Demographics": demographics(patient),
        "Notes": [],
        "Contacts": contacts(patient),
        "PCP": pcp(panel, patient),
        "Guarantor": guarantor(patient),
        "Insurances": insurances(patient),
    })
}

pub(super) fn patient_search(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let (patient, matches) = match find_patients(panel, req)? {
        Found::None => (json!({}), Vec::new()),
        Found::One(i) => (searched(panel, &panel.patients()[i]), Vec::new()),
        Found::Several(list) => (
            json!({}),
            list.iter()
                .map(|i| searched(panel, &panel.patients()[*i]))
                .collect(),
        ),
    };
    Ok(req.answer(vec![
        ("Patient", patient),
        ("PotentialMatches", Value::Array(matches)),
    ]))
}

/// Where the patient has records: one entry per facility the patient was seen at (and
/// the primary care provider's).
pub(super) fn location_query(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = req.identifiers(&["Patient"]);
    if ids.is_empty() {
        return Err(AnswerError::BadRequest(
            "PatientSearch LocationQuery needs Patient.Identifiers (e.g. MR 0000000001).".into(),
        ));
    }
    let Some(index) = panel.find_any(borrowed(&ids)) else {
        return Ok(req.answer(vec![("Patients", json!([]))]));
    };
    let patient = &panel.patients()[index];
    let mut facilities: Vec<usize> = patient
        .pcp
        .and_then(|p| panel.provider(p))
        .map(|p| p.specialty().facility)
        .into_iter()
        .chain(patient.visits.iter().map(|v| v.facility))
        .collect();
    facilities.sort_unstable();
    facilities.dedup();
    let entries: Vec<Value> = facilities
        .into_iter()
        .map(|f| {
            let org = facility_organization(f);
            let place = facility(f);
            json!({
                "Identifiers": identifiers(patient),
                "Organization": {
                    "Name": org.name,
                    "Aliases": org.aliases,
                    "Identifiers": [{"ID": org.id, "IDType": "NPI"}],
                    "Contacts": [{
                        "Purpose": "Medical Records",
                        "Name": format!("{} Health Information Management", org.name),
                        "EmailAddresses": ["records@example.com"],
                        "PhoneNumber": {"Home": null, "Work": place.phone, "Mobile": null},
                    }],
                    "Address": facility_address(place),
                },
            })
        })
        .collect();
    Ok(req.answer(vec![("Patients", Value::Array(entries))]))
}

/// Vaccination PatientQuery: the patient (found as PatientSearch finds) with vaccinations.
pub(super) fn vaccinations(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let brief = |p: &Patient| {
        json!({
            "Identifiers": identifiers(p),
            "Demographics": demographics(p),
            "Notes": [],
            "Contacts": contacts(p),
            "PCP": pcp(panel, p),
        })
    };
    let (patient, matches) = match find_patients(panel, req)? {
        Found::None => (json!({}), Vec::new()),
        Found::One(i) => {
            let p = &panel.patients()[i];
            let mut value = brief(p);
            let list: Vec<Value> = p.immunizations.iter().map(|imm| {
                let def = imm.def();
                let f = facility(imm.facility);
                json!({
                    "DateTime": format_utc(imm.given),
                    "Product": {
                        "Code": def.cvx,
                        "Codeset": "CVX",
                        "Description": def.name,
                        "LotNumber": imm.lot,
                        "ExpirationDate": imm.expires.format("%Y-%m-%d").to_string(),
                        "Manufacturer": {"Code": def.maker.0, "Codeset": "MVX", "Name": def.maker.1},
                    },
                    "Route": {"Code": def.route.hl7, "Codeset": "HL7 0162", "Name": def.route.name},
                    "Site": {"Code": imm.site.0, "Codeset": "HL7 0163", "Name": imm.site.1},
                    "Dose": {"Quantity": def.dose_ml, "Units": "mL"},
                    "Order": {"ID": imm.order_id, "EHRID": null, "Provider": provider_npi(panel, imm.provider)},
                    "ClinicalInfo": [],
                    "Notes": [],
                    "RefusalReason": null,
                    "Provider": provider(panel, imm.provider),
                    "Location": {"Type": f.kind, "Facility": f.name, "Department": "Immunizations", "Room": null},
                })
            }).collect();
            super::render::set(&mut value, "Vaccinations", Value::Array(list));
            (value, Vec::new())
        }
        Found::Several(list) => (
            json!({}),
            list.iter().map(|i| brief(&panel.patients()[*i])).collect(),
        ),
    };
    Ok(req.answer(vec![
        ("Patient", patient),
        ("PotentialMatches", Value::Array(matches)),
    ]))
}

/// Provider ProviderQuery: by NPI, and/or names and city/state/ZIP (case-insensitive
/// equality); no criteria lists the whole directory.
pub(super) fn providers(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids: Vec<String> = req
        .identifiers(&["Provider"])
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let demo = |field: &[&str]| {
        let mut path = vec!["Provider", "Demographics"];
        path.extend_from_slice(field);
        req.text(&path)
    };
    let same = |want: &Option<String>, have: &str| {
        want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have))
    };
    let (first, last) = (demo(&["FirstName"]), demo(&["LastName"]));
    let (city, state, zip) = (
        demo(&["Address", "City"]),
        demo(&["Address", "State"]),
        demo(&["Address", "ZIP"]),
    );
    let list: Vec<Value> = panel
        .providers()
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let f = p.facility();
            (ids.is_empty() || ids.contains(&p.npi))
                && same(&first, &p.first_name)
                && same(&last, &p.last_name)
                && same(&city, f.city)
                && same(&state, STATE)
                && same(&zip, f.zip)
        })
        .map(|(i, p)| {
            let spec = p.specialty();
            let f = p.facility();
            let org = facility_organization(spec.facility);
            json!({
                "Identifiers": [{"ID": p.npi, "IDType": "NPI"}],
                "IsActive": p.active,
                "Demographics": {
                    "FirstName": p.first_name,
                    "LastName": p.last_name,
                    "MiddleName": null,
                    "Credentials": [p.credentials],
                    "Addresses": [facility_address(f)],
                    "EmailAddresses": [p.email],
                    "PhoneNumber": {"Home": null, "Office": p.phone, "Mobile": null},
                    "Sex": p.sex,
                    "DOB": null,
                    "Languages": p.languages,
                },
                "Qualifications": [{
                    "Identifiers": [{"ID": p.license, "IDType": "WI State License"}],
                    "Code": spec.taxonomy,
                    "Codeset": "NUCC",
                    "Description": spec.name,
                    "StartDate": p.since.format("%Y-%m-%d").to_string(),
                    "EndDate": null,
                }],
                "Roles": [{
                    "Identifiers": [{"ID": format!("ROLE-{}", p.npi), "IDType": "Sandbox Role ID"}],
                    "Organization": {
                        "Identifiers": [{"ID": org.id, "IDType": "NPI"}],
                        "IsActive": "true",
                        "Type": "prov",
                        "Name": org.name,
                        "Address": facility_address(f),
                    },
                    "Specialties": [{"Code": spec.taxonomy, "Codeset": "NUCC", "Description": spec.name}],
                    "Locations": [{
                        "Identifiers": [{"ID": format!("{}-{}", f.code, spec.department.to_ascii_uppercase().replace(['/', ' ', '\''], "")), "IDType": "Sandbox Location ID"}],
                        "Status": if p.active { "active" } else { "inactive" },
                        "Name": format!("{} {}", f.name, spec.department),
                        "Description": spec.department,
                        "Address": facility_address(f),
                        "EmailAddresses": [],
                        "PhoneNumber": {"Office": f.phone},
                    }],
                    "Services": [],
                    "Availability": if panel.schedulable(i) {
                        json!([{"Days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "AvailableStartTime": "09:00", "AvailableEndTime": "17:00"}])
                    } else {
                        json!([])
                    },
                }],
            })
        })
        .collect();
    Ok(req.answer(vec![("Providers", Value::Array(list))]))
}

/// Organization Query: a directory search with paging (`Index`, `Limit`).
pub(super) fn organizations(_panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let directory = req.text(&["Directory"]).ok_or_else(|| {
        AnswerError::BadRequest(
            "Organization Query needs Directory (the name of the directory to search, e.g. \"Sandbox\").".into(),
        )
    })?;
    let id = req.text(&["Identifier", "ID"]);
    let name = req
        .text(&["NameSearch", "Value"])
        .map(|v| v.to_ascii_lowercase());
    let how = req
        .text(&["NameSearch", "SearchType"])
        .unwrap_or_else(|| "Contains".into())
        .to_ascii_lowercase();
    let state = req.text(&["State"]);
    // No geography in the sandbox: a radius search matches the ZIP's three-digit area.
    let zip_area = req
        .text(&["RadiusSearch", "ZipCode"])
        .map(|z| z.chars().take(3).collect::<String>());
    let since = req.date(&["LastUpdated"])?;
    let number = |path: &[&str], default: usize| -> Result<usize, AnswerError> {
        match req.text(path) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| {
                AnswerError::BadRequest(format!(
                    "{} \"{raw}\" is not a whole number.",
                    path.join(".")
                ))
            }),
        }
    };
    let index = number(&["Index"], 0)?;
    let limit = number(&["Limit"], 50)?.clamp(1, 500);
    let matching: Vec<&Organization> = ORGANIZATIONS
        .iter()
        .filter(|o| {
            let lower = o.name.to_ascii_lowercase();
            id.as_deref().is_none_or(|id| id == o.id)
                && name.as_deref().is_none_or(|n| match how.as_str() {
                    "exact" => lower == n,
                    "startswith" | "starts with" | "prefix" => lower.starts_with(n),
                    _ => lower.contains(n),
                })
                && state
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case(STATE))
                && zip_area.as_deref().is_none_or(|z| o.zip.starts_with(z))
                && since.is_none_or(|d| o.updated >= d.format("%Y-%m-%d").to_string().as_str())
        })
        .collect();
    let count = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(index)
        .take(limit)
        .map(organization)
        .collect();
    Ok(req.answer(vec![
        ("Directory", json!(directory)),
        ("Organizations", Value::Array(page)),
        ("Paging", json!({"Count": count, "Index": index})),
    ]))
}

fn organization(o: &Organization) -> Value {
    let parent = o.part_of.map(|p| &ORGANIZATIONS[p]);
    json!({
        "Active": o.active,
        "Name": o.name,
        "Aliases": o.aliases,
        "Identifiers": [{"ID": o.id, "IDType": "NPI"}],
        "Type": {"System": "http://terminology.hl7.org/CodeSystem/organization-type", "Value": o.kind},
        "PartOf": {"Identifier": {
            "Type": parent.map(|_| "NPI"),
            "System": parent.map(|_| "http://hl7.org/fhir/sid/us-npi"),
            "Value": parent.map(|p| p.id),
        }},
        "Contacts": [{
            "Purpose": "General",
            "Name": format!("{} Front Desk", o.name),
            "EmailAddresses": [],
            "PhoneNumber": {"Home": null, "Work": o.phone, "Mobile": null},
        }],
        "Address": {
            "StreetAddress": o.street,
            "City": o.city,
            "State": STATE,
            "ZIP": o.zip,
            "County": o.county,
            "Country": COUNTRY,
        },
        "ManagingOrg": parent.map(|p| p.name),
    })
}
