//! The chart of a generated patient: allergies, problems, the medications that treat them,
//! and the visits (with their places, providers, reasons and diagnoses).

use super::codes::{
    ALLERGIES, MEDICATIONS, PROBLEMS, REASONS_CHILD, REASONS_EMERGENCY, REASONS_INPATIENT,
    REASONS_OBSERVATION, REASONS_OUTPATIENT, REFERRALS, SEVERITY_MILD, SEVERITY_MODERATE,
    SEVERITY_SEVERE,
};
use super::context::{Context, Person, at, date_between, record_id, years_before};
use super::directory::HOSPITAL;
use super::rng::Rng;
use super::types::{Allergy, Medication, Patient, PatientClass, Problem, Visit};
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};

pub(super) fn allergies(rng: &mut Rng, person: &Person, today: NaiveDate) -> Vec<Allergy> {
    let count = rng.weighted(&[62, 28, 10]);
    let mut weights: Vec<u32> = ALLERGIES.iter().map(|a| a.weight).collect();
    let mut out = Vec::new();
    for _ in 0..count {
        let def = rng.weighted(&weights);
        weights[def] = 0;
        let d = &ALLERGIES[def];
        let reaction = rng.pick(d.reactions);
        let severity = if reaction.name == "Anaphylaxis" {
            SEVERITY_SEVERE
        } else {
            [SEVERITY_MILD, SEVERITY_MODERATE, SEVERITY_SEVERE][rng.weighted(&[50, 38, 12])]
        };
        let since = date_between(rng, person.dob, today);
        out.push(Allergy {
            def,
            reaction,
            severity,
            since,
        });
    }
    out
}

pub(super) fn problems(rng: &mut Rng, person: &Person, today: NaiveDate) -> Vec<Problem> {
    let group = if person.age < 18 {
        0
    } else if person.age < 50 {
        1
    } else {
        2
    };
    let chronic = match group {
        0 => rng.weighted(&[70, 30]),
        1 => rng.weighted(&[35, 40, 25]),
        _ => 1 + rng.weighted(&[30, 35, 25, 10]),
    };
    let mut weights: Vec<u32> = PROBLEMS
        .iter()
        .map(|p| if p.chronic { p.weights[group] } else { 0 })
        .collect();
    let mut out = Vec::new();
    let onset_from = std::cmp::max(years_before(today, 15), person.dob + Days::new(365 * 2));
    let recent = today - Days::new(60);
    for _ in 0..chronic {
        if weights.iter().all(|w| *w == 0) {
            break;
        }
        let def = rng.weighted(&weights);
        weights[def] = 0;
        out.push(Problem {
            def,
            start: date_between(
                rng,
                onset_from.min(recent).max(person.dob),
                recent.max(person.dob),
            ),
            end: None,
        });
    }
    if rng.chance(50) {
        let acute: Vec<u32> = PROBLEMS
            .iter()
            .map(|p| if p.chronic { 0 } else { p.weights[group] })
            .collect();
        let def = rng.weighted(&acute);
        let start = date_between(rng, years_before(today, 3).max(person.dob), recent);
        out.push(Problem {
            def,
            start,
            end: Some(start + Days::new(rng.range(14, 30) as u64)),
        });
    }
    out
}

pub(super) fn medications(
    rng: &mut Rng,
    patient: &Patient,
    pcp: usize,
    today: NaiveDate,
) -> Vec<Medication> {
    let avoid: Vec<&str> = patient.allergies.iter().map(|a| a.def().class).collect();
    let mut out: Vec<Medication> = Vec::new();
    for problem in &patient.problems {
        let def = problem.def();
        if def.chronic && !rng.chance(85) {
            continue;
        }
        let candidates: Vec<usize> = (0..MEDICATIONS.len())
            .filter(|m| {
                let med = &MEDICATIONS[*m];
                med.treats.contains(&def.key)
                    && !avoid.contains(&med.class)
                    && out.iter().all(|o| o.def != *m)
            })
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let m = candidates[rng.index(candidates.len())];
        let start = (problem.start + Days::new(rng.range(0, 45) as u64)).min(today);
        let end = problem
            .end
            .map(|_| start + Days::new(rng.range(7, 10) as u64));
        out.push(Medication {
            def: m,
            start,
            end,
            prescriber: pcp,
        });
    }
    out
}

pub(super) fn visits(
    rng: &mut Rng,
    ctx: &Context,
    patient: &Patient,
    person: &Person,
    index: usize,
) -> Vec<Visit> {
    let today = ctx.epoch.date_naive();
    let count = 1 + rng.below(4) as usize + usize::from(patient.problems.len() > 2);
    let from = years_before(today, 3).max(person.dob);
    let mut starts: Vec<(DateTime<Utc>, PatientClass)> = (0..count)
        .map(|_| {
            let class = if person.age < 18 {
                [
                    PatientClass::Outpatient,
                    PatientClass::Emergency,
                    PatientClass::Inpatient,
                ][rng.weighted(&[82, 15, 3])]
            } else {
                [
                    PatientClass::Outpatient,
                    PatientClass::Emergency,
                    PatientClass::Inpatient,
                    PatientClass::Observation,
                ][rng.weighted(&[72, 14, 9, 5])]
            };
            let day = date_between(rng, from, today - Days::new(8));
            let start = match class {
                PatientClass::Outpatient => at(rng, day, 14, 22),
                _ => at(rng, day, 0, 24),
            };
            (start, class)
        })
        .collect();
    starts.sort_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(count + 1);
    for (seq, (start, class)) in starts.into_iter().enumerate() {
        out.push(visit(
            rng, ctx, patient, person, index, seq, start, class, true,
        ));
    }
    // About 3% are in house right now (relative to the panel's epoch): the census.
    if rng.chance(3) {
        let class = [
            PatientClass::Inpatient,
            PatientClass::Observation,
            PatientClass::Emergency,
        ][rng.weighted(&[70, 15, 15])];
        let back = match class {
            PatientClass::Emergency => Duration::minutes(rng.range(30, 600)),
            _ => Duration::hours(rng.range(6, 96)),
        };
        let seq = out.len();
        out.push(visit(
            rng,
            ctx,
            patient,
            person,
            index,
            seq,
            ctx.epoch - back,
            class,
            false,
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)] // one visit needs the whole context of its patient
fn visit(
    rng: &mut Rng,
    ctx: &Context,
    patient: &Patient,
    person: &Person,
    index: usize,
    seq: usize,
    start: DateTime<Utc>,
    class: PatientClass,
    ended: bool,
) -> Visit {
    let chronic: Vec<usize> = patient
        .problems
        .iter()
        .filter(|p| p.def().chronic)
        .map(|p| p.def)
        .collect();
    let reason = match class {
        PatientClass::Outpatient => (String::new(), None),
        PatientClass::Emergency => hospital_reason(rng, patient, REASONS_EMERGENCY),
        PatientClass::Inpatient => hospital_reason(rng, patient, REASONS_INPATIENT),
        PatientClass::Observation => hospital_reason(rng, patient, REASONS_OBSERVATION),
    };
    let hospital_provider = |rng: &mut Rng, key: &str| ctx.pick_of(rng, key).unwrap_or(0);
    let (attending, room, bed, length, reason, diagnosis) = match class {
        PatientClass::Outpatient => {
            let specialist = chronic
                .iter()
                .find_map(|p| REFERRALS.iter().find(|r| r.0 == PROBLEMS[*p].key))
                .filter(|_| rng.chance(30))
                .and_then(|r| ctx.pick_of(rng, r.1));
            let attending = specialist.or(patient.pcp).unwrap_or(0);
            let follow_up =
                (!chronic.is_empty() && rng.chance(45)).then(|| chronic[rng.index(chronic.len())]);
            let reason = match follow_up {
                Some(p) => format!("Follow-up: {}", PROBLEMS[p].name),
                None if person.age < 18 => rng.pick(REASONS_CHILD).to_string(),
                None => rng.pick(REASONS_OUTPATIENT).to_string(),
            };
            let room = format!("Exam {}", rng.range(1, 12));
            (
                attending,
                Some(room),
                None,
                Duration::minutes(rng.range(20, 60)),
                reason,
                follow_up,
            )
        }
        PatientClass::Emergency => (
            hospital_provider(rng, "emergency"),
            Some(format!("ED-{:02}", rng.range(1, 24))),
            None,
            Duration::minutes(rng.range(120, 540)),
            reason.0,
            reason.1,
        ),
        PatientClass::Inpatient => (
            hospital_provider(rng, "hospitalist"),
            Some(format!("4W-{}", rng.range(401, 432))),
            Some(rng.pick(&["A", "B"]).to_string()),
            Duration::hours(rng.range(26, 150)),
            reason.0,
            reason.1,
        ),
        PatientClass::Observation => (
            hospital_provider(rng, "hospitalist"),
            Some(format!("3E-{}", rng.range(301, 320))),
            Some("A".to_string()),
            Duration::hours(rng.range(12, 40)),
            reason.0,
            reason.1,
        ),
    };
    let provider = &ctx.providers[attending.min(ctx.providers.len().saturating_sub(1))];
    let (facility, department) = match class {
        PatientClass::Outpatient => (provider.specialty().facility, provider.department()),
        PatientClass::Emergency => (HOSPITAL, "Emergency"),
        _ => (HOSPITAL, "Medical/Surgical"),
    };
    Visit {
        number: record_id(1, index, seq),
        class,
        start,
        end: ended.then(|| start + length),
        facility,
        department,
        room,
        bed,
        attending,
        reason,
        diagnosis,
    }
}

/// A hospital visit reason: one about a problem the patient has (and then diagnosed with
/// it) more often than not, else one about nothing on file.
fn hospital_reason(
    rng: &mut Rng,
    patient: &Patient,
    table: &[(&str, &str)],
) -> (String, Option<usize>) {
    let theirs: Vec<(&str, usize)> = table
        .iter()
        .filter_map(|(reason, key)| {
            let problem = patient
                .problems
                .iter()
                .find(|p| !key.is_empty() && p.def().key == *key)?;
            Some((*reason, problem.def))
        })
        .collect();
    if !theirs.is_empty() && rng.chance(70) {
        let (reason, problem) = theirs[rng.index(theirs.len())];
        return (reason.to_string(), Some(problem));
    }
    let generic: Vec<&str> = table
        .iter()
        .filter(|(_, key)| key.is_empty())
        .map(|(reason, _)| *reason)
        .collect();
    (rng.pick(&generic).to_string(), None)
}
