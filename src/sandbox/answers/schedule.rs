//! Scheduling AvailableSlots and Booked (from the computed slots plus writebacks), and the
//! PatientAdmin queries: CensusQuery (who is in house) and VisitQuery (visits by patient,
//! number, start, place, class or status).

use super::AnswerError;
use super::render::{null_provider, patient_block, provider, ts, visit_location};
use super::request::{Request, allowed, borrowed, identifiers, text};
use crate::sandbox::panel::codes::APPOINTMENT_REASONS;
use crate::sandbox::panel::rng::hash;
use crate::sandbox::panel::slots::{Booking, SLOT_MINUTES, SlotKey, SlotState};
use crate::sandbox::panel::types::Patient;
use crate::sandbox::panel::{FACILITIES, Panel};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many slots, appointments or visits in one answer (earliest first).
pub const MAX_ITEMS: usize = 500;

/// The `[StartDateTime, EndDateTime)` window of a scheduling query; the end defaults to a
/// day after the start.
fn window(req: &Request) -> Result<(DateTime<Utc>, DateTime<Utc>), AnswerError> {
    let from = req.instant(&["StartDateTime"], false)?.ok_or_else(|| {
        AnswerError::BadRequest(format!(
            "{} needs StartDateTime (e.g. \"2026-11-02T09:00:00.000Z\"); EndDateTime defaults to a day later.",
            req.label()
        ))
    })?;
    let to = req
        .instant(&["EndDateTime"], true)?
        .unwrap_or(from + Duration::days(1));
    Ok((from, to))
}

/// Provider NPIs named by a list of provider objects.
fn provider_ids(list: Option<&Value>) -> Vec<String> {
    match list {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| p.get("ID").and_then(text))
            .collect(),
        Some(single @ Value::Object(_)) => single.get("ID").and_then(text).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// (facility, department) pairs from location objects; either may be absent.
fn places(list: Option<&Value>) -> Vec<(Option<String>, Option<String>)> {
    let read = |l: &Value| {
        (
            l.get("Facility").and_then(text),
            l.get("Department").and_then(text),
        )
    };
    match list {
        Some(Value::Array(items)) => items
            .iter()
            .map(read)
            .filter(|p| p.0.is_some() || p.1.is_some())
            .collect(),
        Some(single @ Value::Object(_)) => {
            let place = read(single);
            if place.0.is_some() || place.1.is_some() {
                vec![place]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

fn place_matches(
    places: &[(Option<String>, Option<String>)],
    facility: &str,
    department: &str,
) -> bool {
    let same = |want: &Option<String>, have: &str| {
        want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have))
    };
    places.is_empty()
        || places
            .iter()
            .any(|(f, d)| same(f, facility) && same(d, department))
}

/// Schedulable providers that pass the NPI and place filters.
fn providers_for(
    panel: &Panel,
    npis: &[String],
    places: &[(Option<String>, Option<String>)],
) -> Vec<usize> {
    (0..panel.providers().len())
        .filter(|i| panel.schedulable(*i))
        .filter(|i| {
            let p = &panel.providers()[*i];
            (npis.is_empty() || npis.contains(&p.npi))
                && place_matches(places, p.facility().name, p.department())
        })
        .collect()
}

fn clinic_location(panel: &Panel, provider: usize) -> Value {
    let p = &panel.providers()[provider];
    json!({"Type": "Clinic", "Facility": p.facility().name, "Department": p.department(), "Room": null})
}

fn slot_id(panel: &Panel, key: SlotKey) -> String {
    format!(
        "{}-{}",
        panel.providers()[key.provider].npi,
        key.start().format("%Y%m%d%H%M")
    )
}

pub(super) fn available_slots(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let (from, to) = window(req)?;
    let npis = provider_ids(req.get(&["Visit", "AttendingProviders"]));
    let places = places(req.get(&["Visit", "Locations"]));
    let reason = req.list(&["Visit", "Reasons"]).into_iter().next();
    let providers = providers_for(panel, &npis, &places);
    let keys = panel.slots(from, to, &providers, MAX_ITEMS, |key| {
        matches!(panel.slot_state(key), SlotState::Free)
    });
    let slots: Vec<Value> = keys
        .into_iter()
        .map(|key| {
            json!({
                "ID": slot_id(panel, key),
                "DateTime": ts(key.start()),
                "Reason": reason.clone().unwrap_or_else(|| "Office Visit".into()),
                "Duration": SLOT_MINUTES,
                "Provider": provider(panel, key.provider),
                "Location": clinic_location(panel, key.provider),
                "Notes": [],
            })
        })
        .collect();
    Ok(req.answer(vec![("AvailableSlots", Value::Array(slots))]))
}

/// A duration in minutes as JSON: whole numbers without a fraction (`30`, not `30.0`).
fn minutes(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e9 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// One appointment in the Booked shape.
#[allow(clippy::too_many_arguments)] // the fields of one appointment
fn appointment(
    panel: &Panel,
    number: &str,
    start: DateTime<Utc>,
    duration: f64,
    attending: Option<usize>,
    location: Value,
    patient: Option<&Patient>,
    reason: &str,
    status: &str,
    kind: Option<&str>,
) -> Value {
    let attending_value = attending.map_or_else(null_provider, |p| provider(panel, p));
    json!({
        "VisitNumber": number,
        "AccountNumber": null,
        "VisitDateTime": ts(start),
        "PatientClass": "Outpatient",
        "Status": status,
        "Duration": minutes(duration),
        "Reason": reason,
        "CancelReason": null,
        "LastUpdated": null,
        "ScheduledDateTime": null,
        "CancelDateTime": null,
        "Type": kind.unwrap_or("Office Visit"),
        "Instructions": [],
        "AttendingProvider": attending_value.clone(),
        "ConsultingProvider": null_provider(),
        "ReferringProvider": null_provider(),
        "VisitProvider": attending_value,
        "Location": location,
        "AdditionalStaff": [],
        "Diagnoses": [],
        "Equipment": [],
        "Patient": patient.map_or_else(|| json!({"Identifiers": [], "Notes": []}), patient_block),
        "AppointmentInfo": [],
    })
}

fn written_location(b: &Booking) -> Value {
    json!({"Type": "Clinic", "Facility": b.facility, "Department": b.department, "Room": b.room})
}

pub(super) fn booked(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let (from, to) = window(req)?;
    let mut npis = provider_ids(req.get(&["Visit", "AttendingProviders"]));
    npis.extend(provider_ids(req.get(&["Visit", "VisitProvider"])));
    let places = places(req.get(&["Visit", "Location"]));
    let wanted: Option<BTreeSet<usize>> = req
        .get(&["Visit", "Patients"])
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .map(|list| {
            list.iter()
                .filter_map(|p| panel.find_any(borrowed(&identifiers(Some(p)))))
                .collect()
        });
    let patient_ok = |i: usize| wanted.as_ref().is_none_or(|w| w.contains(&i));
    // Sort key (time, visit number) keeps the answer in time order across both sources.
    let mut visits: BTreeMap<(DateTime<Utc>, String), Value> = BTreeMap::new();
    let providers = providers_for(panel, &npis, &places);
    for key in panel.slots(from, to, &providers, MAX_ITEMS, |key| {
        match panel.slot_state(key) {
            SlotState::Panel { patient } => patient_ok(patient),
            _ => false,
        }
    }) {
        if let SlotState::Panel { patient } = panel.slot_state(key) {
            let h = hash(&[panel.seed(), key.number as u64, key.provider as u64]);
            let reason = APPOINTMENT_REASONS[(h % APPOINTMENT_REASONS.len() as u64) as usize];
            let number = key.visit_number();
            let value = appointment(
                panel,
                &number,
                key.start(),
                SLOT_MINUTES as f64,
                Some(key.provider),
                clinic_location(panel, key.provider),
                panel.patient(patient),
                reason,
                "Scheduled",
                None,
            );
            visits.insert((key.start(), number), value);
        }
    }
    for b in panel.bookings() {
        let provider_ok = npis.is_empty()
            || b.provider
                .and_then(|p| panel.provider(p))
                .is_some_and(|p| npis.contains(&p.npi));
        if b.start >= from
            && b.start < to
            && provider_ok
            && place_matches(&places, b.facility.as_deref().unwrap_or(""), &b.department)
            && patient_ok(b.patient)
        {
            let value = appointment(
                panel,
                &b.visit_number,
                b.start,
                b.duration,
                b.provider,
                written_location(b),
                panel.patient(b.patient),
                b.reason.as_deref().unwrap_or("Office Visit"),
                &b.status,
                b.visit_type.as_deref(),
            );
            visits.insert((b.start, b.visit_number.clone()), value);
        }
    }
    let list: Vec<Value> = visits.into_values().take(MAX_ITEMS).collect();
    Ok(req.answer(vec![("Visits", Value::Array(list))]))
}

/// Facility names and codes match a `Facilities` filter.
fn facility_ok(filter: &[String], index: usize) -> bool {
    let f = &FACILITIES[index.min(FACILITIES.len() - 1)];
    allowed(filter, Some(f.name)) || allowed(filter, Some(f.code))
}

pub(super) fn census(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let classes = req.list(&["PatientClasses"]);
    let departments = req.list(&["Departments"]);
    let facilities = req.list(&["Facilities"]);
    let patients: Vec<Value> = panel
        .patients()
        .iter()
        .filter_map(|p| {
            let visits: Vec<Value> = p
                .visits
                .iter()
                .filter(|v| {
                    v.end.is_none()
                        && allowed(&classes, Some(v.class.as_str()))
                        && allowed(&departments, Some(v.department))
                        && facility_ok(&facilities, v.facility)
                })
                .map(|v| {
                    json!({
                        "VisitNumber": v.number,
                        "VisitDateTime": ts(v.start),
                        "PatientClass": v.class.as_str(),
                        "Location": visit_location(v, true),
                    })
                })
                .collect();
            (!visits.is_empty()).then(|| {
                let mut block = patient_block(p);
                if let Value::Object(map) = &mut block {
                    map.shift_remove("Notes");
                    map.insert("Visits".into(), Value::Array(visits));
                }
                block
            })
        })
        .collect();
    Ok(req.answer(vec![("Patients", Value::Array(patients))]))
}

pub(super) fn visit_query(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let classes = req.list(&["PatientClasses"]);
    let departments = req.list(&["Departments"]);
    let facilities = req.list(&["Facilities"]);
    let statuses = req.list(&["VisitStatuses"]);
    let numbers = req.list(&["VisitNumbers"]);
    let since = req.instant(&["VisitStartDateTime"], false)?;
    let named = req.patients();
    if named.is_empty() && numbers.is_empty() && since.is_none() {
        return Err(AnswerError::BadRequest(
            "PatientAdmin VisitQuery needs Patients[].Identifiers, VisitNumbers or VisitStartDateTime \
             (PatientClasses, Departments, Facilities and VisitStatuses then narrow it)."
                .into(),
        ));
    }
    let scope: Vec<usize> = if named.is_empty() {
        (0..panel.patients().len()).collect()
    } else {
        let set: BTreeSet<usize> = named
            .iter()
            .filter_map(|ids| panel.find_any(borrowed(ids)))
            .collect();
        set.into_iter().collect()
    };
    let mut budget = MAX_ITEMS;
    let mut patients = Vec::new();
    for i in scope {
        let p = &panel.patients()[i];
        let mut visits: Vec<(DateTime<Utc>, Value)> = p
            .visits
            .iter()
            .filter(|v| {
                allowed(&numbers, Some(&v.number))
                    && since.is_none_or(|s| v.start >= s)
                    && allowed(&classes, Some(v.class.as_str()))
                    && allowed(&departments, Some(v.department))
                    && facility_ok(&facilities, v.facility)
                    && allowed(&statuses, Some(v.status()))
            })
            .map(|v| {
                (
                    v.start,
                    json!({
                        "VisitNumber": v.number,
                        "VisitDateTime": ts(v.start),
                        "PatientClass": v.class.as_str(),
                        "Location": visit_location(v, true),
                        "Reason": v.reason,
                        "Status": v.status(),
                    }),
                )
            })
            .collect();
        visits.extend(
            panel
                .bookings()
                .filter(|b| {
                    b.patient == i
                        && allowed(&numbers, Some(&b.visit_number))
                        && since.is_none_or(|s| b.start >= s)
                        && allowed(&classes, Some("Outpatient"))
                        && allowed(&departments, Some(&b.department))
                        && (facilities.is_empty() || allowed(&facilities, b.facility.as_deref()))
                        && allowed(&statuses, Some(&b.status))
                })
                .map(|b| {
                    (b.start, json!({
                        "VisitNumber": b.visit_number,
                        "VisitDateTime": ts(b.start),
                        "PatientClass": "Outpatient",
                        "Location": {"Type": "Clinic", "Facility": b.facility, "Department": b.department, "Room": b.room, "Bed": null},
                        "Reason": b.reason,
                        "Status": b.status,
                    }))
                }),
        );
        if visits.is_empty() {
            continue;
        }
        visits.sort_by_key(|v| v.0);
        visits.truncate(budget);
        budget -= visits.len();
        let mut block = patient_block(p);
        if let Value::Object(map) = &mut block {
            map.shift_remove("Notes");
            map.insert(
                "Visits".into(),
                Value::Array(visits.into_iter().map(|v| v.1).collect()),
            );
        }
        patients.push(block);
        if budget == 0 {
            break;
        }
    }
    Ok(req.answer(vec![("Patients", Value::Array(patients))]))
}
