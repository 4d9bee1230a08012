//! Appointment slots. They are not stored: a slot exists for every schedulable provider
//! on every weekday from 09:00 to 16:30 UTC, every 30 minutes, for whatever dates are
//! asked. Whether a slot is taken is a hash of (seed, provider, time): about 45% are
//! booked by a panel patient, the rest are free. Writebacks sit on top: a Scheduling New
//! books a slot (and is listed by Booked), a Cancel frees it, a Reschedule moves it.

use super::Panel;
use super::rng::hash;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use std::collections::{BTreeMap, BTreeSet};

pub const SLOT_MINUTES: i64 = 30;
/// First and last slot start, in minutes after midnight UTC.
pub const FIRST_SLOT: i64 = 9 * 60;
pub const LAST_SLOT: i64 = 16 * 60 + 30;
/// Percent of slots free before any writeback.
pub const FREE_PERCENT: u64 = 55;
/// Written-back appointments kept; beyond this the earliest one is dropped (a simulator
/// left running books without end).
pub const MAX_BOOKINGS: usize = 10_000;
/// The longest date range looked at in one query, in days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Slot numbers count 30-minute steps from this instant (2000-01-01T00:00:00Z).
const SLOT_ORIGIN: i64 = 946_684_800;
const STREAM_SLOTS: u64 = 0x510f;

/// One provider's slot at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotKey {
    pub provider: usize,
    /// 30-minute steps since 2000-01-01T00:00:00Z.
    pub number: i64,
}

impl SlotKey {
    /// The slot of `provider` starting at `start`, if `start` is a slot time (a weekday,
    /// 09:00-16:30 UTC, on the half hour).
    pub fn at(provider: usize, start: DateTime<Utc>) -> Option<SlotKey> {
        let seconds = start.timestamp() - SLOT_ORIGIN;
        if seconds < 0 || seconds % (SLOT_MINUTES * 60) != 0 || start.timestamp_subsec_millis() != 0
        {
            return None;
        }
        let key = SlotKey {
            provider,
            number: seconds / (SLOT_MINUTES * 60),
        };
        key.is_open_time().then_some(key)
    }

    pub fn start(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(SLOT_ORIGIN + self.number * SLOT_MINUTES * 60, 0)
            .unwrap_or_default()
    }

    fn is_open_time(&self) -> bool {
        let start = self.start();
        let minute = i64::from(start.time().num_seconds_from_midnight() / 60);
        !matches!(start.weekday(), Weekday::Sat | Weekday::Sun)
            && (FIRST_SLOT..=LAST_SLOT).contains(&minute)
    }

    /// The visit number of the panel patient booked in this slot: `7`, the provider
    /// (2 digits) and the slot number (9 digits), so a Cancel naming it can be decoded.
    pub fn visit_number(&self) -> String {
        format!("7{:02}{:09}", self.provider, self.number)
    }

    /// The slot a [`SlotKey::visit_number`] names.
    pub fn from_visit_number(text: &str) -> Option<SlotKey> {
        if text.len() != 12 || !text.starts_with('7') || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let key = SlotKey {
            provider: text[1..3].parse().ok()?,
            number: text[3..].parse().ok()?,
        };
        key.is_open_time().then_some(key)
    }
}

/// An appointment written back by Scheduling New (or moved by Reschedule).
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub visit_number: String,
    /// Patient index.
    pub patient: usize,
    pub start: DateTime<Utc>,
    /// Minutes.
    pub duration: f64,
    /// Provider index, when the booking named a known provider (or a department whose
    /// provider had the slot free).
    pub provider: Option<usize>,
    pub facility: Option<String>,
    pub department: String,
    pub room: Option<String>,
    pub reason: Option<String>,
    pub status: String,
    pub visit_type: Option<String>,
}

impl Booking {
    pub fn slot(&self) -> Option<SlotKey> {
        SlotKey::at(self.provider?, self.start)
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::seconds((self.duration * 60.0) as i64)
    }
}

/// The writebacks' layer over the computed slots.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    bookings: BTreeMap<String, Booking>,
    by_slot: BTreeMap<SlotKey, String>,
    /// Slots of panel patients whose appointment was cancelled or moved.
    released: BTreeSet<SlotKey>,
}

/// Who holds a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlotState<'a> {
    Free,
    /// Booked for a panel patient by the generator.
    Panel {
        patient: usize,
    },
    Written(&'a Booking),
}

impl Panel {
    /// The patient the generator booked into a slot, if it did.
    fn generated_booking(&self, key: SlotKey) -> Option<usize> {
        if self.generated == 0 {
            return None;
        }
        let h = hash(&[
            self.seed,
            STREAM_SLOTS,
            key.provider as u64,
            key.number as u64,
        ]);
        (h % 100 >= FREE_PERCENT).then_some(((h >> 32) % self.generated as u64) as usize)
    }

    pub fn slot_state(&self, key: SlotKey) -> SlotState<'_> {
        if let Some(booking) = self
            .schedule
            .by_slot
            .get(&key)
            .and_then(|number| self.schedule.bookings.get(number))
        {
            return SlotState::Written(booking);
        }
        if self.schedule.released.contains(&key) {
            return SlotState::Free;
        }
        match self.generated_booking(key) {
            Some(patient) => SlotState::Panel { patient },
            None => SlotState::Free,
        }
    }

    /// Providers who see patients by appointment.
    pub fn schedulable(&self, provider: usize) -> bool {
        self.providers
            .get(provider)
            .is_some_and(|p| p.active && p.specialty().appointments)
    }

    /// Slot keys of `providers` from `from` (inclusive) to `to` (exclusive), earliest
    /// first (all providers' 09:00, then 09:30...), that satisfy `keep`, at most `limit`.
    /// The range is cut at [`MAX_RANGE_DAYS`].
    pub fn slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        providers: &[usize],
        limit: usize,
        mut keep: impl FnMut(SlotKey) -> bool,
    ) -> Vec<SlotKey> {
        let mut out = Vec::new();
        if providers.is_empty() || to <= from {
            return out;
        }
        let to = to.min(from + Duration::days(MAX_RANGE_DAYS));
        let step = SLOT_MINUTES * 60;
        let first = (from.timestamp() - SLOT_ORIGIN).max(0);
        let mut number = first.div_euclid(step) + i64::from(first.rem_euclid(step) != 0);
        let last = (to.timestamp() - SLOT_ORIGIN).max(0);
        while number * step < last {
            let probe = SlotKey {
                provider: 0,
                number,
            };
            if probe.is_open_time() {
                for provider in providers {
                    let key = SlotKey {
                        provider: *provider,
                        number,
                    };
                    if keep(key) {
                        out.push(key);
                        if out.len() >= limit {
                            return out;
                        }
                    }
                }
                number += 1;
            } else {
                // Jump to the next slot time instead of stepping through nights.
                let start = probe.start();
                let minute = i64::from(start.time().num_seconds_from_midnight() / 60);
                number += if minute < FIRST_SLOT {
                    (FIRST_SLOT - minute) / SLOT_MINUTES
                } else {
                    (24 * 60 - minute + FIRST_SLOT) / SLOT_MINUTES
                }
                .max(1);
            }
        }
        out
    }

    /// Books an appointment (replacing one with the same visit number).
    pub fn book(&mut self, booking: Booking) {
        self.cancel_booking(&booking.visit_number);
        if let Some(key) = booking.slot() {
            self.schedule
                .by_slot
                .insert(key, booking.visit_number.clone());
        }
        self.schedule
            .bookings
            .insert(booking.visit_number.clone(), booking);
        if self.schedule.bookings.len() > MAX_BOOKINGS
            && let Some(earliest) = self
                .schedule
                .bookings
                .values()
                .min_by_key(|b| b.start)
                .map(|b| b.visit_number.clone())
        {
            self.cancel_booking(&earliest);
        }
    }

    /// Cancels an appointment by visit number: a written-back one, or one the generator
    /// booked. Returns the booking when it was a written-back one.
    pub fn cancel_booking(&mut self, visit_number: &str) -> Option<Booking> {
        if let Some(booking) = self.schedule.bookings.remove(visit_number) {
            if let Some(key) = booking.slot()
                && self.schedule.by_slot.get(&key).map(String::as_str) == Some(visit_number)
            {
                self.schedule.by_slot.remove(&key);
            }
            return Some(booking);
        }
        if let Some(key) = SlotKey::from_visit_number(visit_number)
            && self.generated_booking(key).is_some()
        {
            self.schedule.released.insert(key);
        }
        None
    }

    pub fn booking(&self, visit_number: &str) -> Option<&Booking> {
        self.schedule.bookings.get(visit_number)
    }

    /// Written-back appointments, by visit number.
    pub fn bookings(&self) -> impl Iterator<Item = &Booking> {
        self.schedule.bookings.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn slot_keys_round_trip() {
        let monday = Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap();
        let key = SlotKey::at(3, monday).expect("a slot time");
        assert_eq!(key.start(), monday);
        assert_eq!(SlotKey::from_visit_number(&key.visit_number()), Some(key));
        assert_eq!(SlotKey::at(3, monday + Duration::minutes(10)), None);
        assert_eq!(
            SlotKey::at(3, Utc.with_ymd_and_hms(2026, 11, 2, 17, 0, 0).unwrap()),
            None
        );
        assert_eq!(
            SlotKey::at(3, Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap()),
            None
        );
        assert_eq!(SlotKey::from_visit_number("100000100"), None);
    }

    #[test]
    fn slots_cover_weekdays_only() {
        let panel = Panel::generate(9, 20);
        let from = Utc.with_ymd_and_hms(2026, 11, 6, 0, 0, 0).unwrap(); // a Friday
        let keys = panel.slots(from, from + Duration::days(3), &[5], 1000, |_| true);
        // Friday's 16 slots; Saturday and Sunday have none.
        assert_eq!(keys.len(), 16);
        assert_eq!(keys[0].start(), from + Duration::hours(9));
        assert_eq!(keys[15].start(), from + Duration::minutes(16 * 60 + 30));
        let limited = panel.slots(from, from + Duration::days(30), &[5, 6], 7, |_| true);
        assert_eq!(limited.len(), 7);
    }
}
