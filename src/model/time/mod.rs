//! Timestamp normalization for exchanged payloads, and (`render`) writing them in a
//! destination's zone for one that asks (`render_time_zone`).
//!
//! This module is the single place that decides what a timestamp looks like
//! when it leaves the engine. The rules are:
//!
//! # Output format
//!
//! Every timestamp the engine generates ([`now_utc`], [`format_utc`]) and every
//! timestamp it rewrites inside a payload is UTC ISO 8601 with exactly three
//! fractional digits: `YYYY-MM-DDThh:mm:ss.sssZ`, e.g. `2024-03-10T07:30:00.000Z`.
//!
//! # Which fields are timestamps
//!
//! The decision is made from the JSON object **key** only (field names from the
//! Redox schemas), see [`is_timestamp_field`]:
//!
//! * a key that ends with `DateTime` (`EventDateTime`, `VisitDateTime`,
//!   `DateTime`, `StartDateTime`, `DeathDateTime`, ...), or
//! * a key that is exactly `DateTimeOfService`.
//!
//! Every other key (`DOB`, `StartDate`, `EffectiveDate`, `AvailableStartTime`,
//! free text such as `Notes`, `Comments`, `Value`, `FileContents`, ...) is never
//! touched, whatever its value looks like. [`normalize_payload`] recurses into
//! every object and array. Under a timestamp key, a string value is a
//! candidate; an array under a timestamp key is handled element-wise (its
//! string elements are candidates; objects inside it are walked with their own
//! keys deciding again).
//!
//! # Which values are rewritten
//!
//! A candidate string is rewritten only when it *fully* parses as one of these
//! ISO 8601 date-time forms (the date/time separator is `T` or a single space):
//!
//! * `YYYY-MM-DDThh:mm`
//! * `YYYY-MM-DDThh:mm:ss`
//! * `YYYY-MM-DDThh:mm:ss.f` with 1 to 9 fractional digits
//!
//! each optionally followed by a UTC designator `Z`/`z` or an offset `±hh:mm`,
//! `±hhmm` or `±hh` (offset hours 00-23, minutes 00-59).
//!
//! Anything else is left exactly as it is: date-only values (`2024-03-10`; a
//! date is never given a time and never shifted), compact or partial forms
//! (`20120807`, `2024-03`, `2024-03-10T10`), empty strings, surrounding
//! whitespace, trailing garbage, `null`, numbers and booleans. Out-of-range
//! fields also leave the value untouched: month 13, day 0, `2023-02-29` (the
//! leap day `2024-02-29` is valid), hour 24, minute 60, offset beyond ±23:59,
//! more than 9 fractional digits. A leap second (`23:59:60`) is not
//! representable in the output and is left untouched as well. A value whose
//! UTC conversion falls outside years 0000-9999 is also left untouched, since
//! it cannot be written in the four-digit-year output format.
//!
//! A request from a source is refused (400, naming the field) when a timestamp field
//! holds a value shaped as a date-time whose parts are impossible (month 13, hour 25,
//! offset `+99:00`, a five-digit year): see [`find_impossible`]. Only destinations'
//! answers still pass such values through untouched.
//!
//! # Conversion to UTC
//!
//! * An explicit offset (`Z`, `+05:30`, `-0400`, `+05`) is honoured.
//! * A time without an offset is local time in the source's configured zone
//!   (a [`chrono_tz::Tz`]), daylight saving time included:
//!   * **Gap** (spring forward; e.g. `2024-03-10T02:30:00` does not exist in
//!     `America/New_York`): the time is read with the offset in force *before*
//!     the transition, i.e. the instant a wall clock that had not yet been moved
//!     forward would mean: `2024-03-10T07:30:00.000Z` (EST, -05:00).
//!   * **Overlap** (fall back; e.g. `2024-11-03T01:30:00` happens twice in
//!     `America/New_York`): the **earlier** instant (first occurrence) is taken:
//!     `2024-11-03T05:30:00.000Z` (EDT, -04:00).
//!
//! # Precision
//!
//! Fractional seconds are **truncated** to milliseconds, never rounded, so a
//! time never moves into the next second, minute or day
//! (`23:59:59.9999` becomes `23:59:59.999`). Shorter fractions are padded with
//! zeros (`.5` becomes `.500`).
//!
//! Normalization is idempotent: the output format is itself an accepted input
//! with a `Z` offset and normalizes to itself.
//!
//! The parser is hand written and works on bytes without allocating; only the
//! output string is allocated.

use chrono::{
    DateTime, Datelike, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde_json::Value;

/// Format an instant the way the engine emits every timestamp: `2024-03-10T07:30:00.000Z`
///
/// Sub-millisecond precision is truncated. A leap-second instant (which chrono
/// can represent but the format cannot) is written as `hh:mm:59.999`. Years
/// outside 0000-9999 (never produced by the engine) use the ISO 8601 expanded
/// form with an explicit sign, e.g. `+10000-01-01T00:00:00.000Z`.
pub fn format_utc(instant: DateTime<Utc>) -> String {
    let naive = instant.naive_utc();
    let mut out = String::with_capacity(24);
    let year = naive.year();
    if (0..=9999).contains(&year) {
        push_digits(&mut out, year as u32, 4);
    } else {
        out.push(if year < 0 { '-' } else { '+' });
        let abs = year.unsigned_abs();
        let width = if abs > 9999 {
            abs.ilog10() as usize + 1
        } else {
            4
        };
        push_digits(&mut out, abs, width);
    }
    let nanos = naive.nanosecond();
    // chrono encodes a leap second as nanos >= 1_000_000_000 on second 59.
    let millis = if nanos >= 1_000_000_000 {
        999
    } else {
        nanos / 1_000_000
    };
    out.push('-');
    push_digits(&mut out, naive.month(), 2);
    out.push('-');
    push_digits(&mut out, naive.day(), 2);
    out.push('T');
    push_digits(&mut out, naive.hour(), 2);
    out.push(':');
    push_digits(&mut out, naive.minute(), 2);
    out.push(':');
    push_digits(&mut out, naive.second(), 2);
    out.push('.');
    push_digits(&mut out, millis, 3);
    out.push('Z');
    out
}

/// Now, formatted with [`format_utc`].
pub fn now_utc() -> String {
    format_utc(Utc::now())
}

/// True when a JSON object key names a timestamp field: it ends with
/// `DateTime` or is exactly `DateTimeOfService` (case-sensitive).
pub fn is_timestamp_field(key: &str) -> bool {
    key.ends_with("DateTime") || key == "DateTimeOfService"
}

/// Parses one value; `Some(normalized)` when it is a full date-time, `None`
/// when it must be left as is.
///
/// A value without an offset is read in `zone` (DST gap: offset before the
/// transition; overlap: earlier instant). See the module documentation for
/// the complete rule set.
pub fn normalize_timestamp(value: &str, zone: Tz) -> Option<String> {
    let parsed = parse(value.as_bytes())?;
    let utc = match parsed.offset_seconds {
        Some(offset) => parsed
            .local
            .checked_sub_signed(TimeDelta::seconds(offset.into()))?,
        None => local_to_utc(parsed.local, zone)?,
    };
    in_output_range(utc).then(|| format_utc(utc.and_utc()))
}

/// Walks a payload and rewrites every timestamp field in place. Returns how
/// many values changed form (for logging).
///
/// A value that is already in normalized form is parsed but not counted, so a
/// second pass over a normalized payload returns 0.
pub fn normalize_payload(payload: &mut Value, zone: Tz) -> usize {
    rewrite_timestamps(payload, |text| normalize_timestamp(text, zone))
}

/// The walk under [`normalize_payload`] and [`render_payload`]: every string under a
/// timestamp key is offered to `rewrite`; a `Some` different from the value replaces
/// it. Returns how many values changed.
fn rewrite_timestamps(payload: &mut Value, rewrite: impl Fn(&str) -> Option<String>) -> usize {
    let mut changed = 0;
    // Explicit stack (rather than recursion) so arbitrarily deep values built
    // in code cannot overflow the thread stack. The flag says whether the value
    // sits under a timestamp key (directly or inside arrays under one).
    let mut stack: Vec<(&mut Value, bool)> = vec![(payload, false)];
    while let Some((value, in_timestamp_field)) = stack.pop() {
        match value {
            Value::String(text) if in_timestamp_field => {
                if let Some(normalized) = rewrite(text)
                    && normalized != *text
                {
                    *text = normalized;
                    changed += 1;
                }
            }
            Value::Array(items) => {
                stack.extend(items.iter_mut().map(|item| (item, in_timestamp_field)));
            }
            Value::Object(map) => {
                stack.extend(
                    map.iter_mut()
                        .map(|(key, item)| (item, is_timestamp_field(key))),
                );
            }
            _ => {}
        }
    }
    changed
}

/// Parses an ISO 8601 instant WITH offset or `Z` (as [`normalize_timestamp`]
/// would) to a `DateTime<Utc>`; `None` otherwise. Used for query-string time
/// ranges.
///
/// The same forms and range checks as [`normalize_timestamp`] apply, and the
/// result is likewise truncated to milliseconds, so
/// `parse_instant(s).map(format_utc) == normalize_timestamp(s, any_zone)` for
/// every `s` that carries an offset. Naive (offset-less) values return `None`.
pub fn parse_instant(value: &str) -> Option<DateTime<Utc>> {
    let parsed = parse(value.as_bytes())?;
    let offset = parsed.offset_seconds?;
    let utc = parsed
        .local
        .checked_sub_signed(TimeDelta::seconds(offset.into()))?;
    in_output_range(utc).then(|| utc.and_utc())
}

/// A successfully parsed date-time: wall-clock value (already truncated to
/// milliseconds) and, when present, its offset east of UTC in seconds.
struct Parsed {
    local: NaiveDateTime,
    offset_seconds: Option<i32>,
}

/// Byte-level parser for the accepted forms. Allocation free.
fn parse(b: &[u8]) -> Option<Parsed> {
    // Shortest accepted form is `YYYY-MM-DDThh:mm` (16 bytes).
    if b.len() < 16 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    let mut pos = 16;

    let mut second = 0;
    let mut millis = 0;
    if b.get(pos) == Some(&b':') {
        second = digits(b, pos + 1, 2)?;
        pos += 3;
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            let count = pos - start;
            if !(1..=9).contains(&count) {
                return None;
            }
            // Truncate to milliseconds: keep the first three digits, pad.
            for i in 0..3 {
                millis *= 10;
                if i < count {
                    millis += u32::from(b[start + i] - b'0');
                }
            }
        }
    }

    let offset_seconds = match b.get(pos) {
        None => None,
        Some(b'Z' | b'z') => {
            pos += 1;
            Some(0)
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, pos + 1, 2)?;
            pos += 3;
            let om = match b.get(pos) {
                None => 0,
                Some(b':') => {
                    let m = digits(b, pos + 1, 2)?;
                    pos += 3;
                    m
                }
                Some(_) => {
                    let m = digits(b, pos, 2)?;
                    pos += 2;
                    m
                }
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let seconds = (oh * 3600 + om * 60) as i32;
            Some(if sign == b'-' { -seconds } else { seconds })
        }
        Some(_) => return None,
    };
    if pos != b.len() {
        return None;
    }

    // Range checks. `second == 60` (leap second) is rejected explicitly;
    // chrono would otherwise accept it only in its own leap-second encoding.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?;
    Some(Parsed {
        local: NaiveDateTime::new(date, time),
        offset_seconds,
    })
}

/// Reads `len` ASCII digits starting at `at`.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let slice = b.get(at..at + len)?;
    let mut value = 0u32;
    for &c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(c - b'0');
    }
    Some(value)
}

fn expect(b: &[u8], at: usize, byte: u8) -> Option<()> {
    (b.get(at) == Some(&byte)).then_some(())
}

/// Resolves a wall-clock time in `zone` to UTC, applying the gap/overlap rules.
fn local_to_utc(local: NaiveDateTime, zone: Tz) -> Option<NaiveDateTime> {
    let offset = match zone.offset_from_local_datetime(&local) {
        MappedLocalTime::Single(offset) => offset.fix().local_minus_utc(),
        // Overlap: the earlier instant is the one with the larger offset.
        MappedLocalTime::Ambiguous(a, b) => {
            let (a, b) = (a.fix().local_minus_utc(), b.fix().local_minus_utc());
            a.max(b)
        }
        MappedLocalTime::None => offset_before_gap(local, zone)?,
    };
    local.checked_sub_signed(TimeDelta::seconds(offset.into()))
}

/// For a wall-clock time inside a DST gap, finds the offset in force just
/// before the transition by stepping back in small increments until the wall
/// clock exists again. Steps are 15 minutes (no two tz transitions are that
/// close) and the search covers 48 hours, enough for the largest gaps on
/// record (whole skipped days, e.g. Pacific/Apia 2011-12-30).
fn offset_before_gap(local: NaiveDateTime, zone: Tz) -> Option<i32> {
    const STEP_MINUTES: i64 = 15;
    const MAX_STEPS: i64 = 48 * 60 / STEP_MINUTES;
    for step in 1..=MAX_STEPS {
        let probe = local.checked_sub_signed(TimeDelta::minutes(step * STEP_MINUTES))?;
        match zone.offset_from_local_datetime(&probe) {
            MappedLocalTime::Single(offset) => return Some(offset.fix().local_minus_utc()),
            // Just before the gap, the later occurrence is the one in force
            // right before the transition (smaller offset after falling back).
            MappedLocalTime::Ambiguous(a, b) => {
                let (a, b) = (a.fix().local_minus_utc(), b.fix().local_minus_utc());
                return Some(a.min(b));
            }
            MappedLocalTime::None => {}
        }
    }
    None
}

/// Whether a UTC value can be written in the four-digit-year output format.
fn in_output_range(utc: NaiveDateTime) -> bool {
    (0..=9999).contains(&utc.year())
}

fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = value;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &c in &buf[..width] {
        out.push(char::from(c));
    }
}

mod check;
mod render;
pub use check::{ImpossibleTimestamp, find_impossible, find_impossible_in, impossibility};
pub use render::{format_in_zone, render_payload, render_timestamp};

#[cfg(test)]
mod tests;
