//! Generation of one synthetic patient: a pure function of (seed, index) and the provider
//! list, so patient 17 is the same whatever the panel size and a notification stream can
//! make up a patient without a panel.
//!
//! The record hangs together the way a real chart does: medications treat the problems
//! (and avoid the allergies), labs follow the conditions they monitor and come out of
//! range more often for them, vaccines fit the age, and every result, note and document
//! belongs to one of the visits.

use super::codes::PAYERS;
use super::context::{Context, Person, age_on, phone, years_before};
use super::directory::{COUNTRY, STATE, person_name};
use super::names::{
    FEMALE_FIRST, LANGUAGES, MALE_FIRST, PLACES, RACES, RELIGIONS, STREET_NAMES, STREET_SUFFIXES,
};
use super::rng::Rng;
use super::types::{Address, Contact, Demographics, Identifier, Insurance, Patient, Written};
use super::{history, records};
use chrono::{Datelike, Days, NaiveDate};

pub(super) const STREAM_PATIENTS: u64 = 1;

/// The MR identifier of patient `index` (0-based): its 1-based number, zero-padded to 10.
pub fn mrn(index: usize) -> String {
    format!("{:010}", index + 1)
}

/// Who a patient is: drawn first from the patient's stream, so a duplicate can copy
/// another patient's identity by drawing it from that patient's stream.
#[derive(Clone, Copy)]
struct Identity {
    sex: &'static str,
    female: bool,
    first: &'static str,
    last: &'static str,
    dob: NaiveDate,
}

fn identity(rng: &mut Rng, today: NaiveDate) -> Identity {
    let sex = match rng.below(100) {
        0..49 => "Female",
        49..98 => "Male",
        _ => "Unknown",
    };
    let female = match sex {
        "Female" => true,
        "Male" => false,
        _ => rng.chance(50),
    };
    let (first, last) = person_name(rng, female);
    let age = match rng.weighted(&[22, 40, 20, 18]) {
        0 => rng.range(0, 17),
        1 => rng.range(18, 49),
        2 => rng.range(50, 64),
        _ => rng.range(65, 95),
    };
    let dob = years_before(today, age)
        .checked_sub_days(Days::new(rng.range(1, 364) as u64))
        .unwrap_or(today);
    Identity {
        sex,
        female,
        first,
        last,
        dob,
    }
}

/// Patient `index`; with `same_as`, it takes the name, sex and DOB of that patient (the
/// panel's declared duplicates) and draws everything else itself.
pub(super) fn patient(ctx: &Context, index: usize, same_as: Option<usize>) -> Patient {
    let mut rng = Rng::derive(ctx.seed, STREAM_PATIENTS, index as u64);
    let today = ctx.epoch.date_naive();
    let mut who = identity(&mut rng, today);
    if let Some(other) = same_as {
        who = identity(
            &mut Rng::derive(ctx.seed, STREAM_PATIENTS, other as u64),
            today,
        );
    }
    let (demographics, person, area) = demographics(&mut rng, today, &who);
    let identifiers = vec![
        Identifier {
            id: mrn(index),
            id_type: "MR".into(),
        },
        Identifier {
            id: rng.uuid(),
            id_type: "EHRID".into(),
        },
    ];
    let primary = if person.age < 18 {
        "pediatrics"
    } else if rng.chance(55) {
        "family"
    } else {
        "internal"
    };
    let pcp = ctx.pick_of(&mut rng, primary);
    let contact = contact(&mut rng, &demographics, &person, &area);
    let insurance = insurance(&mut rng, &person, today);
    let allergies = history::allergies(&mut rng, &person, today);
    let problems = history::problems(&mut rng, &person, today);
    let mut patient = Patient::new(identifiers, demographics);
    patient.pcp = pcp;
    patient.contact = contact;
    patient.insurance = insurance;
    patient.allergies = allergies;
    patient.problems = problems;
    patient.tobacco = if person.age < 16 {
        0
    } else {
        rng.weighted(&[60, 25, 15]) as u8
    };
    patient.medications = history::medications(&mut rng, &patient, pcp.unwrap_or(0), today);
    patient.visits = history::visits(&mut rng, ctx, &patient, &person, index);
    patient.labs = records::labs(&mut rng, &patient, &person, index);
    patient.procedures = records::procedures(&mut rng, ctx, &patient, &person, index);
    patient.notes = records::notes(&mut rng, ctx, &patient, &person);
    patient.immunizations = records::immunizations(&mut rng, ctx, &patient, &person, index);
    patient.documents = records::documents(&mut rng, &patient);
    patient.media = records::media(&mut rng, &patient);
    patient.referrals = records::referrals(&mut rng, ctx, &patient, index);
    patient.written = Written::default();
    patient
}

fn demographics(rng: &mut Rng, today: NaiveDate, who: &Identity) -> (Demographics, Person, String) {
    let Identity {
        sex,
        female,
        first,
        last,
        dob,
    } = *who;
    let middle = rng.chance(70).then(|| {
        let list = if female { FEMALE_FIRST } else { MALE_FIRST };
        let mut m = rng.pick(list);
        if m == first {
            m = list[(list.iter().position(|n| *n == m).unwrap_or(0) + 1) % list.len()];
        }
        m.to_string()
    });
    let age = age_on(dob, today);
    let weights: Vec<u32> = PLACES.iter().map(|p| p.4).collect();
    let (city, county, zip, area, _) = PLACES[rng.weighted(&weights)];
    let mut street = format!(
        "{} {} {}",
        rng.range(100, 9899),
        rng.pick(STREET_NAMES),
        rng.pick(STREET_SUFFIXES)
    );
    if rng.chance(8) {
        street.push_str(&format!(
            " Apt {}{}",
            rng.range(1, 4),
            char::from(b'A' + rng.below(4) as u8)
        ));
    }
    let language = LANGUAGES[rng.weighted(&LANGUAGES.iter().map(|l| l.1).collect::<Vec<_>>())].0;
    let race = RACES[rng.weighted(&RACES.iter().map(|r| r.1).collect::<Vec<_>>())].0;
    let is_hispanic = language == "es" || rng.chance(5);
    let marital = if age < 18 {
        "Single"
    } else if age >= 70 {
        ["Married", "Widowed", "Divorced", "Single"][rng.weighted(&[45, 35, 12, 8])]
    } else {
        ["Single", "Married", "Divorced", "Widowed"][rng.weighted(&[32, 52, 13, 3])]
    };
    let email = rng.chance(if age < 16 { 10 } else { 80 }).then(|| {
        format!(
            "{}.{}{}@example.com",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase().replace('\'', ""),
            rng.range(1, 99)
        )
    });
    let demographics = Demographics {
        first_name: Some(first.into()),
        middle_name: middle,
        last_name: Some(last.into()),
        dob: Some(dob.format("%Y-%m-%d").to_string()),
        sex: Some(sex.into()),
        address: Address {
            street: Some(street),
            city: Some(city.into()),
            state: Some(STATE.into()),
            zip: Some(zip.into()),
            county: Some(county.into()),
            country: Some(COUNTRY.into()),
        },
        home_phone: rng.chance(65).then(|| phone(rng, area)),
        mobile_phone: rng.chance(85).then(|| phone(rng, area)),
        email,
        language: Some(language.into()),
        race: Some(race.into()),
        is_hispanic: Some(is_hispanic),
        marital_status: Some(marital.into()),
        religion: rng.chance(60).then(|| rng.pick(RELIGIONS).to_string()),
    };
    (demographics, Person { dob, age, female }, area.to_string())
}

fn contact(rng: &mut Rng, d: &Demographics, person: &Person, area: &str) -> Option<Contact> {
    if !rng.chance(85) {
        return None;
    }
    let last = d.last_name.clone().unwrap_or_default();
    let (relation, female) = if person.age < 18 {
        if rng.chance(60) {
            ("Mother", true)
        } else {
            ("Father", false)
        }
    } else if d.marital_status.as_deref() == Some("Married") {
        ("Spouse", !person.female || rng.chance(5))
    } else {
        let female = rng.chance(50);
        (if person.age > 60 { "Child" } else { "Sibling" }, female)
    };
    let (first, _) = person_name(rng, female);
    Some(Contact {
        first_name: first.into(),
        last_name: last,
        relation,
        phone: phone(rng, area),
    })
}

fn insurance(rng: &mut Rng, person: &Person, today: NaiveDate) -> Option<Insurance> {
    if !rng.chance(94) {
        return None;
    }
    let eligible: Vec<usize> = (0..PAYERS.len())
        .filter(|i| (PAYERS[*i].5.0..=PAYERS[*i].5.1).contains(&person.age))
        .collect();
    let payer = eligible[rng.index(eligible.len())];
    let year = today.year() - rng.range(0, 6) as i32;
    Some(Insurance {
        payer,
        member_number: format!("{}{}", PAYERS[payer].0, rng.digits(9)),
        group_number: format!("G{}", rng.digits(5)),
        effective: NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today),
    })
}
