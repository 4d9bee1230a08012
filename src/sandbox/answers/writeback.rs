//! Applying notifications and writebacks to the panel, so a later query sees them:
//! Notes New / Replace / Delete, Scheduling New / Reschedule / Modification / Cancel,
//! Results New (and NewUnsolicited), Media New / Replace / Delete, PatientAdmin
//! NewPatient / PatientUpdate, Clinical Summary PatientPush / VisitPush. Everything else
//! is acknowledged without change.
//!
//! A writeback about a patient the panel does not know adds that patient (from the
//! identifiers and demographics it carries), as an EHR interface that registers unknown
//! patients would; a writeback that names no patient at all is refused.
//!
//! Memory is bounded (a simulator may write for hours): a patient keeps at most
//! [`MAX_NOTES`] notes and [`MAX_WRITTEN`] written-back results orders, media items and
//! entries per pushed section, dropping the oldest first; appointments are bounded in
//! `panel::slots`.

use super::AnswerError;
use super::request::{Request, at, borrowed, identifiers, text};
use super::summary::SECTIONS;
use crate::sandbox::panel::slots::{SlotKey, SlotState};
use crate::sandbox::panel::types::{Address, Demographics, Identifier, Note, Patient};
use crate::sandbox::panel::{Booking, Panel};
use serde_json::{Value, json};

/// Notes kept per patient (generated and written back), oldest dropped first.
pub const MAX_NOTES: usize = 50;
/// Written-back results orders, media items and pushed entries per section kept per
/// patient, oldest dropped first.
pub const MAX_WRITTEN: usize = 25;

/// Drops the oldest entries beyond `max`.
fn keep_latest<T>(list: &mut Vec<T>, max: usize) {
    if list.len() > max {
        list.drain(..list.len() - max);
    }
}

pub(super) fn apply(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    match (req.model, req.event) {
        ("Notes", "New") => note_new(panel, req, false),
        ("Notes", "Replace") => note_new(panel, req, true),
        ("Notes", "Delete") => note_delete(panel, req),
        ("Scheduling", "New" | "Modification") => schedule(panel, req, None),
        ("Scheduling", "Reschedule") => {
            let old = req.text(&["Visit", "OldVisitNumber"]);
            schedule(panel, req, old)
        }
        ("Scheduling", "Cancel") => cancel(panel, req),
        ("Results", "New" | "NewUnsolicited") => results_new(panel, req),
        ("Media", "New") => media_new(panel, req, false),
        ("Media", "Replace") => media_new(panel, req, true),
        ("Media", "Delete") => media_delete(panel, req),
        ("PatientAdmin", "NewPatient" | "PatientUpdate") => patient_upsert(panel, req),
        ("Clinical Summary", "PatientPush" | "VisitPush") => push(panel, req),
        _ => Ok(()),
    }
}

fn no_patient(req: &Request, path: &str) -> AnswerError {
    AnswerError::BadRequest(format!(
        "{} needs {path}.Identifiers (e.g. {{\"ID\": \"0000000001\", \"IDType\": \"MR\"}}): the sandbox \
         files it under that patient.",
        req.label()
    ))
}

/// The patient a writeback is about (`path` is the object holding `Identifiers` and
/// `Demographics`), added to the panel when unknown.
fn patient_for(panel: &mut Panel, req: &Request, path: &[&str]) -> Result<usize, AnswerError> {
    let holder = req.get(path);
    let ids = identifiers(holder);
    if ids.is_empty() {
        return Err(no_patient(req, &path.join(".")));
    }
    if let Some(index) = panel.find_any(borrowed(&ids)) {
        return Ok(index);
    }
    let identifiers = ids
        .into_iter()
        .map(|(id, id_type)| Identifier {
            id,
            id_type: id_type.unwrap_or_default(),
        })
        .collect();
    let demographics = demographics(holder.and_then(|h| h.get("Demographics")));
    Ok(panel.add_patient(Patient::new(identifiers, demographics)))
}

fn demographics(value: Option<&Value>) -> Demographics {
    let mut d = Demographics::default();
    if let Some(v) = value {
        merge_demographics(&mut d, v);
    }
    d
}

/// Copies the fields a payload gives (non-empty) over the stored ones.
fn merge_demographics(d: &mut Demographics, v: &Value) {
    let get = |path: &[&str]| at(v, path).and_then(text);
    let put = |slot: &mut Option<String>, path: &[&str]| {
        if let Some(value) = get(path) {
            *slot = Some(value);
        }
    };
    put(&mut d.first_name, &["FirstName"]);
    put(&mut d.middle_name, &["MiddleName"]);
    put(&mut d.last_name, &["LastName"]);
    put(&mut d.dob, &["DOB"]);
    put(&mut d.sex, &["Sex"]);
    put(&mut d.home_phone, &["PhoneNumber", "Home"]);
    put(&mut d.mobile_phone, &["PhoneNumber", "Mobile"]);
    put(&mut d.language, &["Language"]);
    put(&mut d.race, &["Race"]);
    put(&mut d.marital_status, &["MaritalStatus"]);
    put(&mut d.religion, &["Religion"]);
    let a: &mut Address = &mut d.address;
    put(&mut a.street, &["Address", "StreetAddress"]);
    put(&mut a.city, &["Address", "City"]);
    put(&mut a.state, &["Address", "State"]);
    put(&mut a.zip, &["Address", "ZIP"]);
    put(&mut a.county, &["Address", "County"]);
    put(&mut a.country, &["Address", "Country"]);
    if let Some(h) = v.get("IsHispanic").and_then(Value::as_bool) {
        d.is_hispanic = Some(h);
    }
    // Most models list e-mail addresses as strings, Clinical Summary as {"Address": ...}.
    let email = v
        .get("EmailAddresses")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find_map(|e| text(e).or_else(|| e.get("Address").and_then(text)))
        });
    if email.is_some() {
        d.email = email;
    }
}

fn note_new(panel: &mut Panel, req: &Request, replace: bool) -> Result<(), AnswerError> {
    let id = req.text(&["Note", "DocumentID"]).ok_or_else(|| {
        AnswerError::BadRequest(format!("{} needs Note.DocumentID.", req.label()))
    })?;
    let index = patient_for(panel, req, &["Patient"])?;
    let note = Note {
        id: id.clone(),
        visit_number: req.text(&["Visit", "VisitNumber"]),
        content_type: req
            .text(&["Note", "ContentType"])
            .unwrap_or_else(|| "Plain Text".into()),
        file_name: req.text(&["Note", "FileName"]),
        contents: req.text(&["Note", "FileContents"]),
        document_type: req
            .text(&["Note", "DocumentType"])
            .unwrap_or_else(|| "Note".into()),
        service: req.text(&["Note", "ServiceDateTime"]),
        documented: req.text(&["Note", "DocumentationDateTime"]),
        author: req.text(&["Note", "Provider", "ID"]),
    };
    let original = replace
        .then(|| req.text(&["Note", "OriginalDocumentID"]))
        .flatten();
    if let Some(p) = panel.patient_mut(index) {
        p.notes
            .retain(|n| n.id != id && original.as_deref().is_none_or(|o| n.id != o));
        p.notes.push(note);
        keep_latest(&mut p.notes, MAX_NOTES);
    }
    Ok(())
}

fn note_delete(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    let id = req.text(&["Note", "DocumentID"]).ok_or_else(|| {
        AnswerError::BadRequest("Notes Delete needs Note.DocumentID (the note to delete).".into())
    })?;
    let index = patient_for(panel, req, &["Patient"])?;
    if let Some(p) = panel.patient_mut(index) {
        p.notes.retain(|n| n.id != id);
    }
    Ok(())
}

/// Scheduling New / Modification / Reschedule: books the visit (replacing one with the
/// same number, and first cancelling `old` for a Reschedule).
fn schedule(panel: &mut Panel, req: &Request, old: Option<String>) -> Result<(), AnswerError> {
    let number = req.text(&["Visit", "VisitNumber"]).ok_or_else(|| {
        AnswerError::BadRequest(format!("{} needs Visit.VisitNumber.", req.label()))
    })?;
    let start = req
        .instant(&["Visit", "VisitDateTime"], false)?
        .ok_or_else(|| {
            AnswerError::BadRequest(format!(
                "{} needs Visit.VisitDateTime (e.g. a DateTime from an AvailableSlots answer).",
                req.label()
            ))
        })?;
    let previous = old
        .as_deref()
        .and_then(|o| panel.booking(o).cloned())
        .or_else(|| panel.booking(&number).cloned());
    let patient = if req.identifiers(&["Patient"]).is_empty() {
        previous
            .as_ref()
            .map(|b| b.patient)
            .ok_or_else(|| no_patient(req, "Patient"))?
    } else {
        patient_for(panel, req, &["Patient"])?
    };
    if let Some(old) = &old {
        panel.cancel_booking(old);
    }
    let department = req.text(&["Visit", "Location", "Department"]);
    let facility = req.text(&["Visit", "Location", "Facility"]);
    let named = ["AttendingProvider", "VisitProvider"]
        .iter()
        .find_map(|role| req.text(&["Visit", role, "ID"]))
        .and_then(|npi| panel.provider_by_npi(&npi));
    // Without a provider, the first provider of the department whose slot is free then.
    let provider = named.or_else(|| {
        let dep = department.as_deref()?;
        (0..panel.providers().len()).find(|i| {
            let p = &panel.providers()[*i];
            panel.schedulable(*i)
                && p.department().eq_ignore_ascii_case(dep)
                && facility
                    .as_deref()
                    .is_none_or(|f| f.eq_ignore_ascii_case(p.facility().name))
                && SlotKey::at(*i, start)
                    .is_some_and(|k| matches!(panel.slot_state(k), SlotState::Free))
        })
    });
    let provider_place = provider
        .and_then(|p| panel.provider(p))
        .map(|p| (p.facility().name, p.department()));
    let booking = Booking {
        visit_number: number,
        patient,
        start,
        duration: req
            .get(&["Visit", "Duration"])
            .and_then(Value::as_f64)
            .or(previous.as_ref().map(|b| b.duration))
            .unwrap_or(30.0),
        provider,
        facility: facility.or_else(|| provider_place.map(|p| p.0.to_string())),
        department: department
            .or_else(|| provider_place.map(|p| p.1.to_string()))
            .unwrap_or_default(),
        room: req.text(&["Visit", "Location", "Room"]),
        reason: req
            .text(&["Visit", "Reason"])
            .or(previous.as_ref().and_then(|b| b.reason.clone())),
        status: req
            .text(&["Visit", "Status"])
            .unwrap_or_else(|| "Scheduled".into()),
        visit_type: req.text(&["Visit", "Type"]),
    };
    panel.book(booking);
    Ok(())
}

fn cancel(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    let number = req.text(&["Visit", "VisitNumber"]).ok_or_else(|| {
        AnswerError::BadRequest(
            "Scheduling Cancel needs Visit.VisitNumber (the appointment to cancel).".into(),
        )
    })?;
    panel.cancel_booking(&number);
    Ok(())
}

fn results_new(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    let orders = req
        .get(&["Orders"])
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            AnswerError::BadRequest(format!("{} needs Orders (at least one).", req.label()))
        })?;
    let visit = req.text(&["Visit", "VisitNumber"]);
    let index = patient_for(panel, req, &["Patient"])?;
    let Some(p) = panel.patient_mut(index) else {
        return Ok(());
    };
    for order in orders {
        let mut order = order.clone();
        if order.get("Visit").is_none() {
            super::render::with_first(&mut order, "Visit", json!({"VisitNumber": visit}));
        }
        // A later message for the same order (preliminary, then final) replaces it.
        let id = order.get("ID").and_then(text);
        if id.is_some() {
            p.written
                .results
                .retain(|o| o.get("ID").and_then(text) != id);
        }
        p.written.results.push(order);
    }
    keep_latest(&mut p.written.results, MAX_WRITTEN);
    Ok(())
}

fn media_new(panel: &mut Panel, req: &Request, replace: bool) -> Result<(), AnswerError> {
    let media = req
        .get(&["Media"])
        .filter(|m| m.is_object())
        .ok_or_else(|| AnswerError::BadRequest(format!("{} needs a Media object.", req.label())))?;
    let id = media.get("DocumentID").and_then(text).ok_or_else(|| {
        AnswerError::BadRequest(format!("{} needs Media.DocumentID.", req.label()))
    })?;
    let original = replace
        .then(|| media.get("OriginalDocumentID").and_then(text))
        .flatten();
    let item = json!({
        "Visit": {"VisitNumber": req.text(&["Visit", "VisitNumber"])},
        "FileType": media.get("FileType"),
        "FileName": media.get("FileName"),
        "FileContents": media.get("FileContents"),
        "DocumentType": media.get("DocumentType"),
        "DocumentID": id,
        "DocumentDescription": media.get("DocumentDescription"),
        "CreationDateTime": media.get("CreationDateTime"),
        "ServiceDateTime": media.get("ServiceDateTime"),
    });
    let index = patient_for(panel, req, &["Patient"])?;
    if let Some(p) = panel.patient_mut(index) {
        let gone = |doc: &str| doc == id || original.as_deref() == Some(doc);
        p.media.retain(|m| !gone(&m.id));
        p.written
            .media
            .retain(|m| !m.get("DocumentID").and_then(text).is_some_and(|d| gone(&d)));
        p.written.media.push(item);
        keep_latest(&mut p.written.media, MAX_WRITTEN);
    }
    Ok(())
}

fn media_delete(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    let id = req.text(&["Media", "DocumentID"]).ok_or_else(|| {
        AnswerError::BadRequest("Media Delete needs Media.DocumentID (the file to delete).".into())
    })?;
    let index = patient_for(panel, req, &["Patient"])?;
    if let Some(p) = panel.patient_mut(index) {
        p.media.retain(|m| m.id != id);
        p.written
            .media
            .retain(|m| m.get("DocumentID").and_then(text).as_deref() != Some(id.as_str()));
    }
    Ok(())
}

/// NewPatient adds (or, for a known identifier, updates); PatientUpdate updates (or adds).
fn patient_upsert(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    let ids = req.identifiers(&["Patient"]);
    let index = patient_for(panel, req, &["Patient"])?;
    for (id, id_type) in ids {
        panel.add_identifier(
            index,
            Identifier {
                id,
                id_type: id_type.unwrap_or_default(),
            },
        );
    }
    if let (Some(p), Some(d)) = (
        panel.patient_mut(index),
        req.get(&["Patient", "Demographics"]),
    ) {
        merge_demographics(&mut p.demographics, d);
    }
    Ok(())
}

/// PatientPush / VisitPush: the pushed sections join the patient's record.
fn push(panel: &mut Panel, req: &Request) -> Result<(), AnswerError> {
    let index = patient_for(panel, req, &["Header", "Patient"])?;
    let sections: Vec<(&str, Vec<Value>)> = SECTIONS
        .iter()
        .filter_map(|s| {
            let list = req.get(&[s])?.as_array()?;
            (!list.is_empty()).then(|| (*s, list.clone()))
        })
        .collect();
    if let Some(p) = panel.patient_mut(index) {
        for (name, list) in sections {
            p.written
                .sections
                .entry(name.to_string())
                .or_default()
                .extend(list);
        }
    }
    Ok(())
}
