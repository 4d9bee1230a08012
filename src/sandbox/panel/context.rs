//! What generating one patient's chart needs, shared by the parts that write it
//! (`generate` for the person, `history` and `records` for the chart): the rest of the
//! panel (`Context`), who the patient is (`Person`), and the date and identifier helpers.

use super::rng::Rng;
use super::types::Provider;
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};

/// What generation needs to know about the rest of the panel.
pub(super) struct Context<'a> {
    pub seed: u64,
    pub providers: &'a [Provider],
    pub epoch: DateTime<Utc>,
}

impl Context<'_> {
    /// Provider indices of one specialty key (any facility).
    pub fn of(&self, key: &str) -> Vec<usize> {
        self.providers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.specialty().key == key)
            .map(|(i, _)| i)
            .collect()
    }

    pub fn pick_of(&self, rng: &mut Rng, key: &str) -> Option<usize> {
        let list = self.of(key);
        (!list.is_empty()).then(|| list[rng.index(list.len())])
    }
}

/// The numeric identifiers of one patient's records: a kind digit, the patient number
/// (7 digits) and a sequence (2 digits), so they are unique across the panel and readable.
pub(super) fn record_id(kind: u8, index: usize, seq: usize) -> String {
    format!("{kind}{:07}{:02}", index + 1, seq % 100)
}

pub(super) fn date_between(rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days();
    if span <= 0 {
        return from;
    }
    from + Days::new(rng.range(0, span) as u64)
}

/// An instant on `date` between `from_hour` and `to_hour` (UTC), on a 5-minute mark.
pub(super) fn at(rng: &mut Rng, date: NaiveDate, from_hour: i64, to_hour: i64) -> DateTime<Utc> {
    let minutes = rng.range(from_hour * 12, to_hour * 12 - 1) * 5;
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::minutes(minutes)
}

pub(super) fn years_before(date: NaiveDate, years: i64) -> NaiveDate {
    date.checked_sub_days(Days::new(
        (years.max(0) as u64) * 365 + years.max(0) as u64 / 4,
    ))
    .unwrap_or(date)
}

pub(super) fn phone(rng: &mut Rng, area: &str) -> String {
    format!("+1{area}5550{}", rng.range(100, 199))
}

pub(super) fn age_on(dob: NaiveDate, date: NaiveDate) -> i64 {
    let mut age = i64::from(date.year() - dob.year());
    if (date.month(), date.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age
}

pub(super) struct Person {
    pub dob: NaiveDate,
    pub age: i64,
    pub female: bool,
}
