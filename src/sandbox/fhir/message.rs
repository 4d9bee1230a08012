//! `$process-message`: a `Bundle` of type `message` applied to the panel, the way the
//! data-model writebacks are. The first entry is the `MessageHeader` (`eventCoding`,
//! system `urn:redox:event-type`, e.g. `Observation-New`, or `eventUri`); the event is
//! taken as given. Then:
//! - a `Patient` entry adds the patient (or updates the one an identifier names: name,
//!   birth date, gender, telecom, address), visible to both APIs;
//! - an entry of a type the sandbox serves (Observation, DocumentReference, Condition,
//!   AllergyIntolerance, MedicationStatement, Immunization, Encounter, Appointment) is
//!   kept under its patient (its `subject`/`patient` reference: an entry of the bundle, a
//!   `Patient/{id}` of the panel, or a logical reference by identifier), with a sandbox id
//!   `{patient}-msg-{uuid}` and the reference rewritten to `Patient/{id}`, so the next
//!   search for that patient returns it; other references are kept as sent;
//! - entries of other types are acknowledged without change.
//!
//! Nothing is applied unless the whole bundle can be: a bundle that is not a message is
//! a 400, an entry naming no patient the sandbox can find is a 422, and a time without
//! an offset anywhere is a 400 (FHIR has no naive instants). The answer is a `Bundle` of
//! type `message` whose `MessageHeader.response.code` is `ok`, with `focus` naming what
//! was written.

use super::FhirError;
use super::ids::{EHRID_SYSTEM, MRN_SYSTEM, V2_0203, patient_id, patient_index};
use super::records::{TYPES, is_clinical};
use super::shape::instant;
use crate::sandbox::answers::MAX_WRITTEN;
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::types::{Demographics, Identifier, Patient};
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::HashMap;

/// FHIR resources kept per patient from messages, oldest dropped first.
pub const MAX_FHIR_WRITTEN: usize = 4 * MAX_WRITTEN;
/// The `eventCoding.system` of the platform's events.
pub const EVENT_SYSTEM: &str = "urn:redox:event-type";

/// Who an entry is about, before anything is applied.
enum Target {
    /// The `n`th Patient entry of the bundle.
    Entry(usize),
    Panel(usize),
}

pub fn process(panel: &mut Panel, base: &str, bundle: &Value) -> Result<Value, FhirError> {
    let entries = message_entries(bundle)?;
    let header = &entries[0];
    check_times(bundle, "Bundle")?;
    let patients: Vec<&Value> = entries[1..]
        .iter()
        .copied()
        .filter(|r| kind(r) == Some("Patient"))
        .collect();
    // Resolve everything first: a bundle is applied whole or not at all.
    let mut plan = Vec::new();
    for (n, r) in entries.iter().enumerate().skip(1) {
        let Some(k) = kind(r).filter(|k| is_clinical(k) && TYPES.contains(k)) else {
            continue;
        };
        let target = resolve(panel, bundle, &patients, r).ok_or_else(|| {
            FhirError::Unprocessable(format!(
                "Entry {n} ({k}) names no patient the sandbox knows: give it a subject (or \
                 patient) reference to a Patient entry of the bundle, to Patient/{{id}} \
                 (e.g. Patient/0000000001), or with identifier {{system: {MRN_SYSTEM}, value}}."
            ))
        })?;
        plan.push((k, r, target));
    }
    if let Some(n) = patients
        .iter()
        .position(|p| identifiers(p).is_empty() && known(panel, p).is_none())
    {
        return Err(FhirError::Unprocessable(format!(
            "Patient entry {} has neither an identifier nor an id the sandbox knows; give it \
             identifier {{system: {MRN_SYSTEM}, value}}.",
            n + 1
        )));
    }
    let mut indices = Vec::with_capacity(patients.len());
    for (n, p) in patients.iter().enumerate() {
        indices.push(upsert_patient(panel, p).ok_or_else(|| {
            FhirError::Unprocessable(format!(
                "Patient entry {} has neither an identifier nor an id the sandbox knows; give \
                 it identifier {{system: {MRN_SYSTEM}, value}}.",
                n + 1
            ))
        })?);
    }
    let mut focus = Vec::new();
    for (k, r, target) in plan {
        let index = match target {
            Target::Entry(n) => indices[n],
            Target::Panel(i) => i,
        };
        if let Some(id) = store(panel, index, r) {
            focus.push(json!({"reference": format!("{k}/{id}")}));
        }
    }
    focus.extend(indices.iter().filter_map(|i| {
        let p = panel.patient(*i)?;
        Some(json!({"reference": format!("Patient/{}", patient_id(p, *i))}))
    }));
    Ok(answer(base, header, bundle, focus))
}

fn kind(r: &Value) -> Option<&str> {
    r.get("resourceType").and_then(Value::as_str)
}

/// The resources of a message bundle, its MessageHeader first.
fn message_entries(bundle: &Value) -> Result<Vec<&Value>, FhirError> {
    let bad = |what: &str| {
        FhirError::Invalid(format!(
            "{what}; send a Bundle with type \"message\" whose first entry is a MessageHeader \
             with eventCoding {{system: \"{EVENT_SYSTEM}\", code: e.g. \"Observation-New\"}}."
        ))
    };
    if kind(bundle) != Some("Bundle") {
        return Err(bad("The body is not a Bundle"));
    }
    if bundle.get("type").and_then(Value::as_str) != Some("message") {
        return Err(bad("The Bundle's type is not \"message\""));
    }
    let entries: Vec<&Value> = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|e| e.get("resource")).collect())
        .unwrap_or_default();
    let Some(header) = entries.first() else {
        return Err(bad("The Bundle has no entries"));
    };
    if kind(header) != Some("MessageHeader") {
        return Err(bad("The first entry is not a MessageHeader"));
    }
    let code = header
        .get("eventCoding")
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str);
    let uri = header.get("eventUri").and_then(Value::as_str);
    if code.is_none_or(str::is_empty) && uri.is_none_or(str::is_empty) {
        return Err(bad("The MessageHeader has no eventCoding.code or eventUri"));
    }
    if entries.iter().any(|r| kind(r).is_none()) {
        return Err(bad("An entry's resource has no resourceType"));
    }
    Ok(entries)
}

/// Every string that starts like a date-time must carry an offset.
fn check_times(value: &Value, path: &str) -> Result<(), FhirError> {
    match value {
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_times(v, &format!("{path}.{k}"))),
        Value::Array(list) => list
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_times(v, &format!("{path}[{i}]"))),
        Value::String(s) => {
            let b = s.as_bytes();
            let looks = b.len() > 10
                && b[10] == b'T'
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-';
            if looks && crate::model::time::parse_instant(s).is_none() {
                return Err(FhirError::Invalid(format!(
                    "{path} = \"{s}\" is not a FHIR dateTime: a time needs Z or an offset \
                     (e.g. 2026-11-02T09:30:00Z)."
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The panel identifier a FHIR identifier is.
fn identifier(i: &Value) -> Option<Identifier> {
    let value = i.get("value").and_then(Value::as_str)?.trim().to_string();
    let system = i.get("system").and_then(Value::as_str);
    let typed = i
        .get("type")
        .and_then(|t| t.get("coding"))
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter().find_map(|c| {
                (c.get("system").and_then(Value::as_str) == Some(V2_0203))
                    .then(|| c.get("code").and_then(Value::as_str))
                    .flatten()
            })
        });
    let id_type = match (system, typed) {
        (Some(MRN_SYSTEM), _) | (_, Some("MR")) => "MR".to_string(),
        (Some(EHRID_SYSTEM), _) => "EHRID".to_string(),
        _ => i
            .get("type")
            .and_then(|t| t.get("text"))
            .and_then(Value::as_str)
            .or(typed)
            .unwrap_or("FHIR")
            .to_string(),
    };
    (!value.is_empty()).then_some(Identifier { id: value, id_type })
}

fn identifiers(r: &Value) -> Vec<Identifier> {
    r.get("identifier")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(identifier).collect())
        .unwrap_or_default()
}

/// The panel patient a FHIR Patient names (by id, then by identifier).
fn known(panel: &Panel, p: &Value) -> Option<usize> {
    p.get("id")
        .and_then(Value::as_str)
        .and_then(|id| patient_index(panel, id))
        .or_else(|| {
            let ids = identifiers(p);
            panel.find_any(
                ids.iter()
                    .map(|i| (i.id.as_str(), Some(i.id_type.as_str()))),
            )
        })
}

fn resolve(panel: &Panel, bundle: &Value, patients: &[&Value], r: &Value) -> Option<Target> {
    let reference = ["subject", "patient"]
        .iter()
        .find_map(|k| r.get(*k))
        .or_else(|| {
            r.get("participant")?.as_array()?.iter().find_map(|p| {
                let actor = p.get("actor")?;
                let text = actor.get("reference").and_then(Value::as_str).unwrap_or("");
                (text.contains("Patient/") || text.starts_with("urn:")).then_some(actor)
            })
        })?;
    if let Some(text) = reference.get("reference").and_then(Value::as_str) {
        // An entry of this bundle, by fullUrl or by Patient/{the entry's id}.
        let full_urls: HashMap<&str, usize> = bundle_patients(bundle);
        if let Some(n) = full_urls.get(text) {
            return Some(Target::Entry(*n));
        }
        if let Some(n) = patients.iter().position(|p| {
            p.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| text == format!("Patient/{id}"))
        }) {
            return Some(Target::Entry(n));
        }
        let id = text.rsplit_once("Patient/").map(|(_, id)| id)?;
        return patient_index(panel, id).map(Target::Panel);
    }
    let logical = reference.get("identifier").and_then(identifier)?;
    panel
        .find(&logical.id, Some(&logical.id_type))
        .map(Target::Panel)
}

/// fullUrl -> position among the bundle's Patient entries.
fn bundle_patients(bundle: &Value) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    let list = bundle.get("entry").and_then(Value::as_array);
    let patients = list
        .into_iter()
        .flatten()
        .skip(1)
        .filter(|e| e.get("resource").and_then(kind) == Some("Patient"));
    for (n, e) in patients.enumerate() {
        if let Some(url) = e.get("fullUrl").and_then(Value::as_str) {
            out.insert(url, n);
        }
    }
    out
}

fn demographics(d: &mut Demographics, p: &Value) {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if let Some(name) = p.get("name").and_then(|n| n.get(0)) {
        d.last_name = s(name.get("family")).or(d.last_name.take());
        let given = name.get("given");
        d.first_name = s(given.and_then(|g| g.get(0))).or(d.first_name.take());
        d.middle_name = s(given.and_then(|g| g.get(1))).or(d.middle_name.take());
    }
    d.dob = s(p.get("birthDate")).or(d.dob.take());
    if let Some(g) = p.get("gender").and_then(Value::as_str) {
        let mut sex = g.to_string();
        if let Some(first) = sex.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        d.sex = Some(sex);
    }
    for t in p
        .get("telecom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let value = s(t.get("value"));
        match (s(t.get("system")).as_deref(), s(t.get("use")).as_deref()) {
            (Some("email"), _) => d.email = value.or(d.email.take()),
            (Some("phone"), Some("mobile")) => d.mobile_phone = value.or(d.mobile_phone.take()),
            (Some("phone"), _) => d.home_phone = value.or(d.home_phone.take()),
            _ => {}
        }
    }
    if let Some(a) = p.get("address").and_then(|a| a.get(0)) {
        let to = &mut d.address;
        to.street = s(a.get("line").and_then(|l| l.get(0))).or(to.street.take());
        to.city = s(a.get("city")).or(to.city.take());
        to.state = s(a.get("state")).or(to.state.take());
        to.zip = s(a.get("postalCode")).or(to.zip.take());
        to.county = s(a.get("district")).or(to.county.take());
        to.country = s(a.get("country")).or(to.country.take());
    }
}

fn upsert_patient(panel: &mut Panel, p: &Value) -> Option<usize> {
    let ids = identifiers(p);
    let index = match known(panel, p) {
        Some(i) => i,
        None if ids.is_empty() => return None,
        None => panel.add_patient(Patient::new(Vec::new(), Demographics::default())),
    };
    for id in ids {
        panel.add_identifier(index, id);
    }
    if let Some(patient) = panel.patient_mut(index) {
        demographics(&mut patient.demographics, p);
    }
    Some(index)
}

/// Keeps a resource under patient `index`; returns its new id.
fn store(panel: &mut Panel, index: usize, r: &Value) -> Option<String> {
    let p = panel.patient(index)?;
    let pid = patient_id(p, index);
    let id = format!("{pid}-msg-{}", uuid::Uuid::new_v4().simple());
    let mut r = r.clone();
    let map = r.as_object_mut()?;
    map.insert("id".into(), json!(id));
    map.insert("meta".into(), json!({"lastUpdated": instant(Utc::now())}));
    let patient_ref = json!({"reference": format!("Patient/{pid}")});
    for key in ["subject", "patient"] {
        if map.contains_key(key) {
            map.insert(key.into(), patient_ref.clone());
        }
    }
    if let Some(list) = map.get_mut("participant").and_then(Value::as_array_mut) {
        for part in list {
            let is_patient = part
                .get("actor")
                .and_then(|a| a.get("reference"))
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains("Patient/") || t.starts_with("urn:"));
            if is_patient && let Some(obj) = part.as_object_mut() {
                obj.insert("actor".into(), patient_ref.clone());
            }
        }
    }
    let p = panel.patient_mut(index)?;
    p.written.fhir.push(r);
    let len = p.written.fhir.len();
    if len > MAX_FHIR_WRITTEN {
        p.written.fhir.drain(..len - MAX_FHIR_WRITTEN);
    }
    Some(id)
}

fn answer(base: &str, header: &Value, bundle: &Value, focus: Vec<Value>) -> Value {
    let valid = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|id| super::ids::valid_id(id))
            .map(str::to_string)
    };
    let request_id = valid(header.get("id"))
        .or_else(|| valid(bundle.get("id")))
        .unwrap_or_else(|| "unknown".into());
    let id = uuid::Uuid::new_v4().to_string();
    let mut reply = json!({
        "resourceType": "MessageHeader",
        "id": id,
        "source": {"name": crate::sandbox::DESTINATION_NAME, "endpoint": base},
        "response": {"identifier": request_id, "code": "ok"},
    });
    if let Value::Object(map) = &mut reply {
        for key in ["eventCoding", "eventUri"] {
            if let Some(v) = header.get(key) {
                map.insert(key.into(), v.clone());
            }
        }
        if !focus.is_empty() {
            map.insert("focus".into(), Value::Array(focus));
        }
    }
    json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "message",
        "timestamp": instant(Utc::now()),
        "entry": [{"fullUrl": format!("urn:uuid:{id}"), "resource": reply}],
    })
}
