//! Appointment: the slots the generator booked for a patient (the ones Scheduling Booked
//! lists) and the appointments Scheduling writebacks made. Generated slots are computed
//! for a time window, never stored, so a search by patient looks at a window: the one its
//! `date` parameters give, else [`DEFAULT_DAYS`] days from the panel's epoch.

use super::clinical::subject;
use super::ids::{VISIT_SYSTEM, facility_by_name, id_part, patient_id};
use super::people::{location_ref, practitioner_ref};
use super::shape::{compact, instant, text_concept};
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::APPOINTMENT_REASONS;
use crate::sandbox::panel::rng::hash;
use crate::sandbox::panel::slots::{Booking, MAX_RANGE_DAYS, SLOT_MINUTES, SlotKey, SlotState};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// Days after the panel's epoch a search without `date` looks at.
pub const DEFAULT_DAYS: i64 = 28;
/// Appointments computed for one search at most.
const MAX_APPOINTMENTS: usize = 500;

fn status(text: &str) -> &'static str {
    match text
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-', '_'], "")
        .as_str()
    {
        "cancelled" | "canceled" => "cancelled",
        "arrived" => "arrived",
        "completed" | "fulfilled" => "fulfilled",
        "noshow" => "noshow",
        "pending" => "pending",
        _ => "booked",
    }
}

#[allow(clippy::too_many_arguments)] // the fields of one appointment
fn appointment(
    panel: &Panel,
    index: usize,
    number: &str,
    start: DateTime<Utc>,
    minutes: i64,
    provider: Option<usize>,
    facility: Option<usize>,
    reason: &str,
    state: &str,
) -> Option<Value> {
    let p = panel.patient(index)?;
    let actor = |r: Value| json!({"actor": r, "required": "required", "status": "accepted"});
    let mut participants = vec![actor(subject(p, index))];
    participants.extend(provider.and_then(|i| practitioner_ref(panel, i)).map(actor));
    participants.extend(facility.map(location_ref).map(actor));
    let minutes = minutes.max(1);
    Some(compact(json!({
        "resourceType": "Appointment",
        "id": format!("{}-appt-{}", patient_id(p, index), id_part(number)),
        "identifier": [{"system": VISIT_SYSTEM, "value": number}],
        "status": status(state),
        "reasonCode": [text_concept(reason)],
        "description": reason,
        "start": instant(start),
        "end": instant(start + Duration::minutes(minutes)),
        "minutesDuration": minutes,
        "participant": participants,
    })))
}

fn generated(panel: &Panel, index: usize, key: SlotKey) -> Option<Value> {
    let h = hash(&[panel.seed(), key.number as u64, key.provider as u64]);
    let reason = APPOINTMENT_REASONS[(h % APPOINTMENT_REASONS.len() as u64) as usize];
    let facility = panel.provider(key.provider)?.specialty().facility;
    appointment(
        panel,
        index,
        &key.visit_number(),
        key.start(),
        SLOT_MINUTES,
        Some(key.provider),
        Some(facility),
        reason,
        "Scheduled",
    )
}

fn written(panel: &Panel, b: &Booking) -> Option<Value> {
    let facility = b
        .facility
        .as_deref()
        .and_then(facility_by_name)
        .or_else(|| Some(panel.provider(b.provider?)?.specialty().facility));
    appointment(
        panel,
        b.patient,
        &b.visit_number,
        b.start,
        b.duration.round() as i64,
        b.provider,
        facility,
        b.reason.as_deref().unwrap_or("Office Visit"),
        &b.status,
    )
}

/// Patient `index`'s appointments: the generated ones in `window` (default: the epoch and
/// [`DEFAULT_DAYS`] after it; at most `MAX_RANGE_DAYS` long), and every written one.
pub fn of_patient(
    panel: &Panel,
    index: usize,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<Value> {
    let (from, to) =
        window.unwrap_or((panel.epoch(), panel.epoch() + Duration::days(DEFAULT_DAYS)));
    let to = to.min(from + Duration::days(MAX_RANGE_DAYS));
    let providers: Vec<usize> = (0..panel.providers().len())
        .filter(|i| panel.schedulable(*i))
        .collect();
    let keys = panel.slots(
        from,
        to,
        &providers,
        MAX_APPOINTMENTS,
        |key| matches!(panel.slot_state(key), SlotState::Panel { patient } if patient == index),
    );
    let mut out: Vec<(DateTime<Utc>, Value)> = keys
        .into_iter()
        .filter_map(|k| Some((k.start(), generated(panel, index, k)?)))
        .collect();
    out.extend(
        panel
            .bookings()
            .filter(|b| b.patient == index)
            .filter_map(|b| Some((b.start, written(panel, b)?))),
    );
    out.sort_by_key(|(start, _)| *start);
    out.into_iter().map(|(_, v)| v).collect()
}

/// The appointment whose id ends in `part` (after `{patient}-appt-`).
pub fn read(panel: &Panel, index: usize, part: &str) -> Option<Value> {
    if let Some(key) = SlotKey::from_visit_number(part)
        && matches!(panel.slot_state(key), SlotState::Panel { patient } if patient == index)
    {
        return generated(panel, index, key);
    }
    panel
        .bookings()
        .find(|b| b.patient == index && id_part(&b.visit_number) == part)
        .and_then(|b| written(panel, b))
}
