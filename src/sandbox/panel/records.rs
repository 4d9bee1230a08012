//! What a generated patient's visits produced: lab orders and results, other orders,
//! notes, immunizations, Clinical Summary documents, media and referrals. Each belongs to
//! one of the patient's visits.

use super::codes::{
    DOC_DISCHARGE, DOC_SUMMARY, LAB_BIAS, LAB_PANELS, LabTest, MEDIA_KINDS, PROBLEMS, PROCEDURES,
    REFERRALS, TestKind, VACCINES,
};
use super::context::{Context, Person, age_on, at, date_between, record_id, years_before};
use super::directory::HOSPITAL;
use super::files::base64;
use super::rng::Rng;
use super::types::{
    Document, Flag, Immunization, LabOrder, MediaItem, Note, Observation, Patient, PatientClass,
    ProcedureOrder, Provider, Referral, Visit,
};
use crate::model::time::format_utc;
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};

pub(super) fn labs(
    rng: &mut Rng,
    patient: &Patient,
    person: &Person,
    index: usize,
) -> Vec<LabOrder> {
    let mut out = Vec::new();
    for (v, visit) in patient.visits.iter().enumerate() {
        let percent = match visit.class {
            _ if person.age < 18 => 20,
            PatientClass::Outpatient => 45,
            PatientClass::Emergency => 75,
            PatientClass::Observation => 90,
            PatientClass::Inpatient => 100,
        };
        if !rng.chance(percent) {
            continue;
        }
        let followed: Vec<usize> = (0..LAB_PANELS.len())
            .filter(|p| {
                LAB_PANELS[*p]
                    .follows
                    .iter()
                    .any(|k| patient.has_problem(k))
            })
            .collect();
        let mut panels: Vec<usize> = match visit.class {
            PatientClass::Outpatient if !followed.is_empty() => {
                vec![followed[rng.index(followed.len())]]
            }
            PatientClass::Outpatient => vec![rng.pick(&[0, 1, 2])],
            _ => vec![0, 1],
        };
        if visit.class == PatientClass::Outpatient && rng.chance(30) {
            panels.push(rng.pick(&[0, 1, 5]));
        }
        if visit.class == PatientClass::Emergency && visit.reason.contains("breath") {
            panels.push(6);
        }
        panels.dedup();
        for panel in panels {
            let seq = out.len();
            let ordered = visit.start + Duration::minutes(rng.range(10, 40));
            let collected = ordered + Duration::minutes(rng.range(5, 60));
            let completed = collected + Duration::minutes(rng.range(60, 480));
            let observations = LAB_PANELS[panel]
                .tests
                .iter()
                .enumerate()
                .map(|(t, test)| observation(rng, patient, t, test))
                .collect();
            out.push(LabOrder {
                id: record_id(2, index, seq),
                panel,
                visit: v,
                ordered,
                collected,
                completed,
                provider: visit.attending,
                observations,
            });
        }
    }
    out
}

/// One result of `test` for `patient` (more often out of range for a condition the test
/// follows).
pub fn observation(rng: &mut Rng, patient: &Patient, t: usize, test: &LabTest) -> Observation {
    let bias = LAB_BIAS
        .iter()
        .find(|(problem, loinc, _)| *loinc == test.loinc && patient.has_problem(problem))
        .map(|b| b.2);
    match test.kind {
        TestKind::Numeric {
            low,
            high,
            typical,
            decimals,
        } => {
            let (lo, hi) = bias.unwrap_or(typical);
            let mut value = lo + (hi - lo) * rng.unit();
            if bias.is_none() && rng.chance(10) {
                // An out-of-range result now and then, on the side the range allows.
                value = match (low, high, rng.chance(50)) {
                    (Some(l), _, true) | (Some(l), None, _) => l * (0.8 + 0.18 * rng.unit()),
                    (_, Some(h), _) => h * (1.02 + 0.25 * rng.unit()),
                    (None, None, _) => value,
                };
            }
            let scale = 10f64.powi(i32::from(decimals));
            let value = (value * scale).round() / scale;
            let flag = match (low, high) {
                (Some(l), _) if value < l => Flag::Low,
                (_, Some(h)) if value > h => Flag::High,
                _ => Flag::Normal,
            };
            Observation {
                test: t,
                value: format!("{value:.prec$}", prec = usize::from(decimals)),
                flag,
            }
        }
        TestKind::Text { normal, abnormal } => {
            if rng.chance(if bias.is_some() { 70 } else { 6 }) {
                Observation {
                    test: t,
                    value: rng.pick(abnormal).to_string(),
                    flag: Flag::Abnormal,
                }
            } else {
                Observation {
                    test: t,
                    value: normal.to_string(),
                    flag: Flag::Normal,
                }
            }
        }
    }
}

pub(super) fn procedures(
    rng: &mut Rng,
    ctx: &Context,
    patient: &Patient,
    person: &Person,
    index: usize,
) -> Vec<ProcedureOrder> {
    if person.age < 18 {
        return Vec::new();
    }
    let outpatient: Vec<usize> = (0..patient.visits.len())
        .filter(|v| patient.visits[*v].class == PatientClass::Outpatient)
        .collect();
    if outpatient.is_empty() {
        return Vec::new();
    }
    let mut wanted: Vec<(usize, Option<usize>)> = Vec::new();
    for problem in patient.active_problems() {
        let key = problem.def().key;
        if let Some(p) = PROCEDURES.iter().position(|d| d.follows.contains(&key))
            && rng.chance(25)
            && wanted.iter().all(|w| w.0 != p)
        {
            wanted.push((p, Some(problem.def)));
        }
    }
    if person.female && person.age >= 40 && rng.chance(30) {
        wanted.push((6, None));
    }
    wanted
        .into_iter()
        .take(2)
        .enumerate()
        .map(|(seq, (def, diagnosis))| {
            let v = *outpatient.last().unwrap_or(&0);
            let v = if rng.chance(50) {
                v
            } else {
                outpatient[rng.index(outpatient.len())]
            };
            let visit = &patient.visits[v];
            let ordered = visit.start + Duration::minutes(rng.range(15, 50));
            let open = ctx.epoch - ordered < Duration::days(90);
            ProcedureOrder {
                id: record_id(3, index, seq),
                def,
                visit: v,
                ordered,
                status: if open { "New" } else { "Completed" },
                priority: if rng.chance(90) { "Routine" } else { "Stat" },
                provider: visit.attending,
                diagnosis,
            }
        })
        .collect()
}

pub(super) fn notes(rng: &mut Rng, ctx: &Context, patient: &Patient, person: &Person) -> Vec<Note> {
    let mut out = Vec::new();
    let first = patient.visits.len().saturating_sub(3);
    for visit in &patient.visits[first..] {
        let provider = &ctx.providers[visit.attending.min(ctx.providers.len().saturating_sub(1))];
        let kinds: &[&str] = match (visit.class, visit.end) {
            (PatientClass::Outpatient, _) => &["Progress Note"],
            (PatientClass::Emergency, _) => &["ED Provider Note"],
            (_, Some(_)) => &["History and Physical", "Discharge Summary"],
            (_, None) => &["History and Physical"],
        };
        for kind in kinds {
            let service = if *kind == "Discharge Summary" {
                visit.end.unwrap_or(visit.start)
            } else {
                visit.start
            };
            let documented = service + Duration::minutes(rng.range(30, 240));
            let text = note_text(kind, patient, person, visit, provider);
            // Discharge summaries come as files (Base64), the rest as plain text: receivers
            // meet both content types.
            let (content_type, contents) = if *kind == "Discharge Summary" {
                ("Base64 Encoded", base64(text.as_bytes()))
            } else {
                ("Plain Text", text)
            };
            let stem = kind.to_ascii_lowercase().replace(' ', "-");
            out.push(Note {
                id: rng.uuid(),
                visit_number: Some(visit.number.clone()),
                content_type: content_type.into(),
                file_name: Some(format!("{stem}-{}.txt", visit.number)),
                contents: Some(contents),
                document_type: kind.to_string(),
                service: Some(format_utc(service)),
                documented: Some(format_utc(documented)),
                author: Some(provider.npi.clone()),
            });
        }
    }
    out
}

fn note_text(
    kind: &str,
    patient: &Patient,
    person: &Person,
    visit: &Visit,
    provider: &Provider,
) -> String {
    let d = &patient.demographics;
    let name = format!(
        "{} {}",
        d.first_name.as_deref().unwrap_or(""),
        d.last_name.as_deref().unwrap_or("")
    );
    let assessment: Vec<String> = match visit.diagnosis {
        Some(p) => vec![format!("{} ({})", PROBLEMS[p].name, PROBLEMS[p].icd10)],
        None => patient
            .active_problems()
            .take(3)
            .map(|p| format!("{} ({})", p.def().name, p.def().icd10))
            .collect(),
    };
    let assessment = if assessment.is_empty() {
        format!("- {}; no chronic conditions on file.", visit.reason)
    } else {
        assessment
            .iter()
            .map(|a| format!("- {a}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let plan: Vec<String> = patient
        .medications
        .iter()
        .filter(|m| m.end.is_none())
        .take(3)
        .map(|m| format!("- Continue {}", m.def().name))
        .collect();
    let plan = if plan.is_empty() {
        "- Supportive care; return if symptoms worsen.".to_string()
    } else {
        plan.join("\n")
    };
    format!(
        "{title}\nPatient: {name} ({age} y, {sex})  MRN: {mrn}\nDate of service: {date}\n\
         Location: {facility}, {department}\nProvider: {provider}\n\nReason: {reason}\n\n\
         Assessment:\n{assessment}\n\nPlan:\n{plan}\n- Follow up with primary care in {weeks} weeks.\n\n\
         Electronically signed by {provider}\n(Synthetic record from the Switchboard sandbox.)\n",
        title = kind.to_ascii_uppercase(),
        age = person.age,
        sex = d.sex.as_deref().unwrap_or("Unknown"),
        mrn = patient.mrn().unwrap_or(""),
        date = visit.start.format("%Y-%m-%d"),
        facility = visit.facility().name,
        department = visit.department,
        provider = provider.display_name(),
        reason = visit.reason,
        weeks = 2 + visit.number.bytes().last().map_or(0, |b| b % 5),
    )
}

pub(super) fn immunizations(
    rng: &mut Rng,
    ctx: &Context,
    patient: &Patient,
    person: &Person,
    index: usize,
) -> Vec<Immunization> {
    let today = ctx.epoch.date_naive();
    let mut given: Vec<(usize, DateTime<Utc>)> = Vec::new();
    for (v, def) in VACCINES.iter().enumerate() {
        let (min_age, max_age) = def.ages;
        if person.age < min_age {
            continue;
        }
        if def.seasonal {
            for back in 0..3 {
                let season = NaiveDate::from_ymd_opt(today.year() - back, 9, 15).unwrap_or(today);
                let day = season + Days::new(rng.range(0, 70) as u64);
                if day < today && age_on(person.dob, day) >= min_age && rng.chance(55) {
                    given.push((v, at(rng, day, 14, 22)));
                }
            }
            continue;
        }
        let chance = match def.cvx {
            "208" => 50,
            "187" => 35,
            "133" => 60,
            "165" => 50,
            _ => 90,
        };
        if !rng.chance(chance) {
            continue;
        }
        if def.cvx == "165" && person.age > 40 {
            continue; // HPV9 exists since 2014
        }
        // Given at the start of its age window, or within the last ten years for adults.
        let earliest = years_before(today, person.age - min_age).max(person.dob);
        let latest = years_before(today, (person.age - max_age).max(0)).min(today);
        let mut from = if max_age > 60 {
            earliest.max(years_before(today, 10))
        } else {
            earliest
        };
        if def.cvx == "208" {
            // The COVID-19 vaccines exist since December 2020.
            from = from.max(NaiveDate::from_ymd_opt(2021, 1, 4).unwrap_or(from));
        }
        let day = date_between(rng, from, latest.min(from + Days::new(400)));
        // The record goes back 25 years: older childhood doses are not in it.
        if day < today && day > years_before(today, 25) {
            given.push((v, at(rng, day, 14, 22)));
        }
    }
    given.sort_by_key(|g| g.1);
    given
        .into_iter()
        .enumerate()
        .map(|(seq, (def, when))| {
            let infant = age_on(person.dob, when.date_naive()) < 3;
            let site = match (infant, rng.chance(50)) {
                (true, true) => ("LT", "Left Thigh"),
                (true, false) => ("RT", "Right Thigh"),
                (false, true) => ("LD", "Left Deltoid"),
                (false, false) => ("RD", "Right Deltoid"),
            };
            let lot = format!(
                "{}{}{}",
                char::from(b'A' + rng.below(26) as u8),
                char::from(b'A' + rng.below(26) as u8),
                rng.digits(4)
            );
            let pcp = patient.pcp.unwrap_or(0);
            Immunization {
                def,
                given: when,
                lot,
                expires: when.date_naive() + Days::new(rng.range(200, 700) as u64),
                site,
                provider: pcp,
                order_id: record_id(5, index, seq),
                facility: ctx
                    .providers
                    .get(pcp)
                    .map_or(HOSPITAL, |p| p.specialty().facility),
            }
        })
        .collect()
}

pub(super) fn documents(rng: &mut Rng, patient: &Patient) -> Vec<Document> {
    let mut out = Vec::new();
    for (v, visit) in patient.visits.iter().enumerate() {
        let Some(end) = visit.end else { continue };
        out.push(Document {
            id: rng.uuid(),
            visit: v,
            kind: DOC_SUMMARY,
            created: end + Duration::minutes(rng.range(30, 180)),
            author: visit.attending,
        });
        if matches!(
            visit.class,
            PatientClass::Inpatient | PatientClass::Observation
        ) {
            out.push(Document {
                id: rng.uuid(),
                visit: v,
                kind: DOC_DISCHARGE,
                created: end + Duration::minutes(rng.range(60, 600)),
                author: visit.attending,
            });
        }
    }
    out
}

pub(super) fn media(rng: &mut Rng, patient: &Patient) -> Vec<MediaItem> {
    let count = rng.weighted(&[60, 30, 10]);
    (0..count)
        .map(|_| {
            let v = rng.index(patient.visits.len());
            let visit = &patient.visits[v.min(patient.visits.len().saturating_sub(1))];
            MediaItem {
                id: rng.uuid(),
                visit: Some(v),
                kind: rng.index(MEDIA_KINDS.len()),
                created: visit.start + Duration::minutes(rng.range(5, 90)),
                provider: visit.attending,
            }
        })
        .collect()
}

pub(super) fn referrals(
    rng: &mut Rng,
    ctx: &Context,
    patient: &Patient,
    index: usize,
) -> Vec<Referral> {
    let mut out = Vec::new();
    let outpatient: Vec<usize> = (0..patient.visits.len())
        .filter(|v| patient.visits[*v].class == PatientClass::Outpatient)
        .collect();
    if outpatient.is_empty() {
        return out;
    }
    for problem in patient.active_problems() {
        if out.len() == 2 {
            break;
        }
        let Some((_, specialty)) = REFERRALS.iter().find(|r| r.0 == problem.def().key) else {
            continue;
        };
        if !rng.chance(30) {
            continue;
        }
        let Some(to) = ctx.pick_of(rng, specialty) else {
            continue;
        };
        let v = outpatient[rng.index(outpatient.len())];
        let created = patient.visits[v].start + Duration::hours(2);
        let expires = created + Duration::days(180);
        let status = if expires < ctx.epoch {
            ["Completed", "Expired"][rng.weighted(&[80, 20])]
        } else {
            ["Authorized", "Pending", "Denied"][rng.weighted(&[65, 28, 7])]
        };
        out.push(Referral {
            id: record_id(4, index, out.len()),
            problem: problem.def,
            to,
            from: patient.pcp.unwrap_or(patient.visits[v].attending),
            created,
            expires,
            status,
            priority: if rng.chance(85) { "Routine" } else { "Urgent" },
            authorization: format!("AUTH{}", rng.digits(8)),
            visits_authorized: rng.range(1, 6) as u32,
            visit: v,
        });
    }
    out
}
