//! The notification stream of `switchboard simulate`: admissions, transfers, discharges,
//! new results, new notes and new appointments about panel patients, in roughly the mix
//! a hospital interface carries. Notification `n` is a pure function of the panel seed
//! and `n` (which patient, which event, which values), except its times, which are "now"
//! so the live feed looks live.

use super::records::lab_result;
use super::render::{
    contacts, facility_address, guarantor, insurances, null_provider, patient_block, pcp, provider,
    set, ts,
};
use crate::model::time::format_utc;
use crate::sandbox::panel::codes::{LAB_PANELS, PROBLEMS, REASONS_EMERGENCY, REASONS_INPATIENT};
use crate::sandbox::panel::directory::HOSPITAL;
use crate::sandbox::panel::rng::Rng;
use crate::sandbox::panel::slots::SlotState;
use crate::sandbox::panel::types::{LabOrder, Patient};
use crate::sandbox::panel::{FACILITIES, Panel, observation};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Map, Value, json};

const STREAM_NOTIFICATIONS: u64 = 3;

/// Relative weights of: Arrival, Transfer, Discharge, Results New, Notes New, Scheduling New.
const MIX: [u32; 6] = [18, 8, 14, 26, 18, 16];

/// The n-th notification of a realistic stream about panel patients (deterministic in n).
/// Meta has DataModel, EventType, EventDateTime (now, UTC ms) and Test = true; no
/// Destinations (the caller fills them).
pub fn sample_notification(panel: &Panel, n: u64) -> Value {
    let mut rng = Rng::derive(panel.seed(), STREAM_NOTIFICATIONS, n);
    let now = Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let made;
    let (index, patient) = if panel.generated() > 0 {
        let i = rng.index(panel.generated());
        (i, &panel.patients()[i])
    } else {
        // An empty panel still streams: the generator makes the patient up.
        let i = (n % 1000) as usize;
        made = panel.make_patient(i);
        (i, &made)
    };
    let ctx = Ctx {
        panel,
        patient,
        visit_number: format!("9{:07}01", index + 1),
        now,
    };
    let (model, event, fields) = match rng.weighted(&MIX) {
        0 => (
            "PatientAdmin",
            "Arrival",
            admission(&ctx, &mut rng, Move::Arrival),
        ),
        1 => (
            "PatientAdmin",
            "Transfer",
            admission(&ctx, &mut rng, Move::Transfer),
        ),
        2 => (
            "PatientAdmin",
            "Discharge",
            admission(&ctx, &mut rng, Move::Discharge),
        ),
        3 => ("Results", "New", results(&ctx, &mut rng, n)),
        4 => ("Notes", "New", note(&ctx, &mut rng)),
        _ => ("Scheduling", "New", appointment(&ctx, &mut rng, n)),
    };
    let mut out = Map::new();
    out.insert(
        "Meta".into(),
        json!({
            "DataModel": model,
            "EventType": event,
            "EventDateTime": format_utc(now),
            "Test": true,
        }),
    );
    for (key, value) in fields {
        out.insert(key.into(), value);
    }
    Value::Object(out)
}

struct Ctx<'a> {
    panel: &'a Panel,
    patient: &'a Patient,
    /// The stream's own visit for this patient, shared by its admission, transfer and
    /// discharge.
    visit_number: String,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn attending(&self, rng: &mut Rng, key: &str) -> usize {
        let list: Vec<usize> = (0..self.panel.providers().len())
            .filter(|i| self.panel.providers()[*i].specialty().key == key)
            .collect();
        if list.is_empty() {
            self.patient.pcp.unwrap_or(0)
        } else {
            list[rng.index(list.len())]
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Move {
    Arrival,
    Transfer,
    Discharge,
}

fn hospital_location(kind: &str, department: &str, room: String, bed: &str) -> Value {
    let f = &FACILITIES[HOSPITAL];
    json!({
        "Type": kind,
        "Facility": f.name,
        "Department": department,
        "Room": room,
        "Bed": bed,
        "Address": facility_address(f),
    })
}

/// Where the patient is, and since when: the emergency department or the ward on
/// arrival, intensive care on transfer, the ward until discharge.
fn placement(
    ctx: &Ctx,
    rng: &mut Rng,
    step: Move,
    emergency: bool,
    ward: &Value,
) -> (DateTime<Utc>, Value) {
    match step {
        Move::Arrival if emergency => (
            ctx.now - Duration::minutes(rng.range(1, 30)),
            hospital_location(
                "Emergency",
                "Emergency",
                format!("ED-{:02}", rng.range(1, 24)),
                "",
            ),
        ),
        Move::Arrival => (ctx.now - Duration::minutes(rng.range(5, 90)), ward.clone()),
        Move::Transfer => (
            ctx.now - Duration::hours(rng.range(2, 48)),
            hospital_location(
                "Inpatient",
                "Intensive Care",
                format!("ICU-{}", rng.range(201, 216)),
                "A",
            ),
        ),
        Move::Discharge => (ctx.now - Duration::hours(rng.range(26, 120)), ward.clone()),
    }
}

fn admission_allergies(p: &Patient) -> Value {
    p.allergies
        .iter()
        .map(|a| {
            let def = a.def();
            json!({
                "Code": def.substance.code,
                "Codeset": def.substance.system.name(),
                "Name": def.substance.name,
                "Type": {"Code": def.kind.code().code, "Codeset": "SNOMED CT", "Name": def.kind.code().name},
                "OnsetDateTime": null,
                "Reaction": [{"Code": a.reaction.code, "Codeset": "SNOMED CT", "Name": a.reaction.name}],
                "Severity": {"Code": a.severity.code, "Codeset": "SNOMED CT", "Name": a.severity.name},
                "Status": "Active",
            })
        })
        .collect()
}

fn admission_diagnoses(p: &Patient) -> Value {
    p.active_problems()
        .take(3)
        .map(|x| {
            json!({"Code": x.def().icd10, "Codeset": "ICD-10", "Name": x.def().name, "Type": null, "DocumentedDateTime": null})
        })
        .collect()
}

/// What a discharge adds to the visit: when, the disposition, and where to.
fn discharge(ctx: &Ctx, rng: &mut Rng, visit: &mut Value) {
    set(
        visit,
        "DischargeDateTime",
        ts(ctx.now - Duration::minutes(rng.range(1, 20))),
    );
    set(
        visit,
        "DischargeStatus",
        json!({"Code": "01", "Codeset": "HL7 0112", "Description": "Discharged to home or self care"}),
    );
    set(
        visit,
        "DischargeLocation",
        json!({"Type": "Home", "Facility": null, "Department": null, "Room": null}),
    );
}

/// Arrival, Transfer or Discharge of the stream's visit.
fn admission(ctx: &Ctx, rng: &mut Rng, step: Move) -> Vec<(&'static str, Value)> {
    let p = ctx.patient;
    let emergency = step == Move::Arrival && rng.chance(45);
    let (class, reason) = if emergency {
        ("Emergency", rng.pick(REASONS_EMERGENCY).0)
    } else {
        ("Inpatient", rng.pick(REASONS_INPATIENT).0)
    };
    let attending = ctx.attending(
        rng,
        if emergency {
            "emergency"
        } else {
            "hospitalist"
        },
    );
    let ward = hospital_location(
        "Inpatient",
        "Medical/Surgical",
        format!("4W-{}", rng.range(401, 432)),
        "A",
    );
    let (start, location) = placement(ctx, rng, step, emergency, &ward);
    let mut patient = patient_block(p);
    set(&mut patient, "Contacts", contacts(p));
    set(&mut patient, "Diagnoses", admission_diagnoses(p));
    set(&mut patient, "Allergies", admission_allergies(p));
    set(&mut patient, "PCP", pcp(ctx.panel, p));
    let mut visit = json!({
        "VisitNumber": ctx.visit_number,
        "AccountNumber": null,
        "PatientClass": if step == Move::Arrival { class } else { "Inpatient" },
        "VisitDateTime": ts(start),
        "Duration": null,
        "Reason": reason,
        "Instructions": [],
        "Balance": null,
        "DiagnosisRelatedGroup": null,
        "DiagnosisRelatedGroupType": null,
        "AttendingProvider": provider(ctx.panel, attending),
        "ConsultingProvider": null_provider(),
        "ReferringProvider": p.pcp.map_or_else(null_provider, |x| provider(ctx.panel, x)),
        "AdmittingProvider": provider(ctx.panel, attending),
        "Location": location,
        "Guarantor": guarantor(p),
        "Insurances": insurances(p),
    });
    match step {
        Move::Arrival => {}
        Move::Transfer => set(&mut visit, "PreviousLocation", ward),
        Move::Discharge => discharge(ctx, rng, &mut visit),
    }
    vec![("Patient", patient), ("Visit", visit)]
}

fn outpatient_visit(ctx: &Ctx, provider_index: usize, start: DateTime<Utc>) -> Value {
    let place = ctx
        .panel
        .provider(provider_index)
        .map(|p| (p.facility().name, p.department()));
    json!({
        "VisitNumber": ctx.visit_number,
        "AccountNumber": null,
        "PatientClass": "Outpatient",
        "VisitDateTime": ts(start),
        "Location": {
            "Type": "Clinic",
            "Facility": place.map(|p| p.0),
            "Department": place.map(|p| p.1),
            "Room": null,
            "Bed": null,
        },
    })
}

fn results(ctx: &Ctx, rng: &mut Rng, n: u64) -> Vec<(&'static str, Value)> {
    let p = ctx.patient;
    let followed: Vec<usize> = (0..LAB_PANELS.len())
        .filter(|i| LAB_PANELS[*i].follows.iter().any(|k| p.has_problem(k)))
        .collect();
    let panel_index = if !followed.is_empty() && rng.chance(70) {
        followed[rng.index(followed.len())]
    } else {
        rng.index(3)
    };
    let ordering = p.pcp.unwrap_or_else(|| ctx.attending(rng, "family"));
    let completed = ctx.now - Duration::minutes(rng.range(1, 30));
    let lab = LabOrder {
        id: format!("8{n:011}"),
        panel: panel_index,
        visit: p.visits.len().saturating_sub(1),
        ordered: completed - Duration::minutes(rng.range(120, 300)),
        collected: completed - Duration::minutes(rng.range(60, 110)),
        completed,
        provider: ordering,
        observations: LAB_PANELS[panel_index]
            .tests
            .iter()
            .enumerate()
            .map(|(t, test)| observation(rng, p, t, test))
            .collect(),
    };
    let mut order = lab_result(ctx.panel, p, &lab);
    if let Value::Object(map) = &mut order {
        // Results New carries the patient and visit once, at the top.
        map.shift_remove("Patient");
        map.shift_remove("Visit");
        map.insert("Priority".into(), json!("Routine"));
    }
    let mut visit = outpatient_visit(ctx, ordering, lab.collected);
    set(
        &mut visit,
        "AttendingProvider",
        provider(ctx.panel, ordering),
    );
    set(&mut visit, "ReferringProvider", null_provider());
    let mut patient = patient_block(p);
    set(&mut patient, "Contacts", contacts(p));
    vec![
        ("Patient", patient),
        ("Orders", json!([order])),
        ("Visit", visit),
    ]
}

fn note(ctx: &Ctx, rng: &mut Rng) -> Vec<(&'static str, Value)> {
    let p = ctx.patient;
    let author = p.pcp.unwrap_or_else(|| ctx.attending(rng, "family"));
    let service = ctx.now - Duration::minutes(rng.range(20, 180));
    let d = &p.demographics;
    let focus = p
        .active_problems()
        .next()
        .map_or("general health", |x| PROBLEMS[x.def].name);
    let signer = ctx
        .panel
        .provider(author)
        .map(|a| a.display_name())
        .unwrap_or_default();
    let text = format!(
        "PROGRESS NOTE\nPatient: {} {}  MRN: {}\nDate of service: {}\n\n\
         Seen today for follow-up of {}. Vital signs stable. Reviewed medications and recent results.\n\n\
         Plan:\n- Continue current treatment.\n- Follow up in {} weeks.\n\nElectronically signed by {}\n\
         (Synthetic record from the Switchboard sandbox.)\n",
        d.first_name.as_deref().unwrap_or(""),
        d.last_name.as_deref().unwrap_or(""),
        p.mrn().unwrap_or(""),
        service.format("%Y-%m-%d"),
        focus.to_ascii_lowercase(),
        rng.range(2, 12),
        signer,
    );
    let note = json!({
        "ContentType": "Plain Text",
        "FileName": format!("progress-note-{}.txt", ctx.visit_number),
        "FileContents": text,
        "Components": [],
        "DocumentType": "Progress Note",
        "DocumentID": rng.uuid(),
        "ServiceDateTime": ts(service),
        "DocumentationDateTime": ts(ctx.now),
        "Provider": provider(ctx.panel, author),
        "Status": "Signed",
        "Authenticator": provider(ctx.panel, author),
        "Availability": "Available",
        "Notifications": [],
    });
    let mut visit = outpatient_visit(ctx, author, service);
    if let Value::Object(map) = &mut visit {
        map.shift_remove("PatientClass");
    }
    vec![
        ("Patient", patient_block(p)),
        ("Visit", visit),
        ("Note", note),
        ("Orders", json!([])),
    ]
}

fn appointment(ctx: &Ctx, rng: &mut Rng, n: u64) -> Vec<(&'static str, Value)> {
    let panel = ctx.panel;
    let p = ctx.patient;
    let schedulable: Vec<usize> = (0..panel.providers().len())
        .filter(|i| panel.schedulable(*i))
        .collect();
    let provider_index = p
        .pcp
        .filter(|x| panel.schedulable(*x) && rng.chance(70))
        .or_else(|| (!schedulable.is_empty()).then(|| schedulable[rng.index(schedulable.len())]))
        .unwrap_or(0);
    let from = ctx.now + Duration::days(1);
    let skip = rng.range(0, 40) as usize;
    let keys = panel.slots(
        from,
        from + Duration::days(21),
        &[provider_index],
        skip + 1,
        |k| matches!(panel.slot_state(k), SlotState::Free),
    );
    let start = keys.last().map_or_else(
        || {
            (from + Duration::hours(rng.range(0, 96)))
                .duration_trunc(Duration::minutes(30))
                .unwrap_or(from)
        },
        |k| k.start(),
    );
    let reason = if rng.chance(60) {
        p.active_problems()
            .next()
            .map_or("Annual physical".to_string(), |x| {
                format!("Follow-up: {}", x.def().name)
            })
    } else {
        "Annual physical".to_string()
    };
    let place = panel
        .provider(provider_index)
        .map(|x| (x.facility().name, x.department()));
    let visit = json!({
        "VisitNumber": format!("6{n:011}"),
        "AccountNumber": null,
        "VisitDateTime": ts(start),
        "PatientClass": "Outpatient",
        "Status": "Scheduled",
        "Duration": 30,
        "Reason": reason,
        "Type": "Office Visit",
        "Instructions": [],
        "AttendingProvider": provider(panel, provider_index),
        "ConsultingProvider": null_provider(),
        "ReferringProvider": null_provider(),
        "VisitProvider": provider(panel, provider_index),
        "Location": {
            "Type": "Clinic",
            "Facility": place.map(|x| x.0),
            "Department": place.map_or("Family Medicine", |x| x.1),
            "Room": null,
        },
        "AdditionalStaff": [],
        "Diagnoses": [],
        "Equipment": [],
    });
    vec![
        ("Patient", patient_block(p)),
        ("AppointmentInfo", json!([])),
        ("Visit", visit),
    ]
}
