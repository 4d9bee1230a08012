//! Values in timestamp fields that have the shape of a date-time but cannot be one
//! (`2024-13-45T25:61:00`, an offset of `+99:00`, the year 99999). Normalization leaves
//! them as they are, like any value that is not a timestamp; a source sending one is
//! told instead, with the field, since a receiver cannot read it either.
//!
//! Only values that fully match the lenient shape
//! `Y{4,}-M{1,2}-D{1,2}[(T| )h{1,2}:mm[:ss[.f+]][Z|±hh[[:]mm]]]` are judged; text that
//! merely starts like a date (`2024-05-01 or later`) is not a timestamp and passes.

use super::is_timestamp_field;
use chrono::NaiveDate;
use serde_json::{Map, Value};

/// A timestamp field holding an impossible date or time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpossibleTimestamp {
    /// Where it is, e.g. `Visit.VisitDateTime` or `Orders[2].CollectionDateTime`.
    pub path: String,
    pub value: String,
    /// What is impossible about it, e.g. `month 13`.
    pub reason: String,
}

/// Deeper than the door's nesting limit; values built in code beyond it are not walked.
const MAX_WALK_DEPTH: usize = 256;

/// The first impossible timestamp in `payload`, in document order.
pub fn find_impossible(payload: &Value) -> Option<ImpossibleTimestamp> {
    let mut path = String::new();
    walk(payload, &mut path, false, 0)
}

/// [`find_impossible`] for a payload object.
pub fn find_impossible_in(payload: &Map<String, Value>) -> Option<ImpossibleTimestamp> {
    let mut path = String::new();
    walk_object(payload, &mut path, 0)
}

fn walk(
    value: &Value,
    path: &mut String,
    in_timestamp_field: bool,
    depth: usize,
) -> Option<ImpossibleTimestamp> {
    if depth > MAX_WALK_DEPTH {
        return None;
    }
    match value {
        Value::String(text) if in_timestamp_field => {
            impossibility(text).map(|reason| ImpossibleTimestamp {
                path: path.clone(),
                value: text.clone(),
                reason,
            })
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            // Writing to a String cannot fail.
            let _ = std::fmt::Write::write_fmt(path, format_args!("[{i}]"));
            let found = walk(item, path, in_timestamp_field, depth + 1);
            path.truncate(len);
            found
        }),
        Value::Object(map) => walk_object(map, path, depth),
        _ => None,
    }
}

fn walk_object(
    map: &Map<String, Value>,
    path: &mut String,
    depth: usize,
) -> Option<ImpossibleTimestamp> {
    map.iter().find_map(|(key, item)| {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        let found = walk(item, path, is_timestamp_field(key), depth + 1);
        path.truncate(len);
        found
    })
}

/// A cursor over the value's bytes for the lenient shape.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// Between `min` and `max` ASCII digits, as (value, count); values past u32 saturate.
    fn number(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let start = self.at;
        let mut value: u32 = 0;
        while self.at < self.b.len() && self.at - start < max && self.b[self.at].is_ascii_digit() {
            value = value
                .saturating_mul(10)
                .saturating_add(u32::from(self.b[self.at] - b'0'));
            self.at += 1;
        }
        let count = self.at - start;
        (count >= min).then_some((value, count))
    }

    fn byte(&mut self, wanted: &[u8]) -> Option<u8> {
        let b = *self.b.get(self.at)?;
        wanted.contains(&b).then(|| {
            self.at += 1;
            b
        })
    }

    fn done(&self) -> bool {
        self.at == self.b.len()
    }
}

/// Why `text` cannot be the date-time it is shaped as, or `None` when it is possible
/// or not shaped as one.
pub fn impossibility(text: &str) -> Option<String> {
    let mut r = Reader {
        b: text.as_bytes(),
        at: 0,
    };
    let (year, year_digits) = r.number(4, 12)?;
    r.byte(b"-")?;
    let (month, _) = r.number(1, 2)?;
    r.byte(b"-")?;
    let (day, _) = r.number(1, 2)?;
    let mut time = None;
    let mut offset = None;
    if !r.done() {
        r.byte(b"T ")?;
        let (hour, _) = r.number(1, 2)?;
        r.byte(b":")?;
        let (minute, _) = r.number(2, 2)?;
        let mut second = 0;
        if r.byte(b":").is_some() {
            second = r.number(2, 2)?.0;
            if r.byte(b".").is_some() {
                r.number(1, usize::MAX)?;
            }
        }
        time = Some((hour, minute, second));
        if r.byte(b"Zz").is_none() && r.byte(b"+-").is_some() {
            let (hours, _) = r.number(2, 2)?;
            r.byte(b":");
            let minutes = if r.done() { 0 } else { r.number(2, 2)?.0 };
            offset = Some((hours, minutes));
        }
        if !r.done() {
            return None;
        }
    }
    if year_digits > 4 {
        return Some(format!("year {year} has more than four digits"));
    }
    if !(1..=12).contains(&month) {
        return Some(format!("month {month}"));
    }
    if NaiveDate::from_ymd_opt(year as i32, month, day).is_none() {
        return Some(format!("day {day} of {year}-{month:02}"));
    }
    if let Some((hour, minute, second)) = time {
        if hour > 23 {
            return Some(format!("hour {hour}"));
        }
        if minute > 59 {
            return Some(format!("minute {minute}"));
        }
        if second > 59 {
            return Some(format!("second {second}"));
        }
    }
    if let Some((hours, minutes)) = offset
        && (hours > 23 || minutes > 59)
    {
        return Some(format!("offset {hours:02}:{minutes:02}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judges_only_values_shaped_as_timestamps() {
        for possible in [
            "2024-05-01T12:00:00Z",
            "2024-05-01",
            "2024-02-29T00:00",
            "2024-5-1T9:00",
            "2024-05-01T23:59:59.999999+14:00",
            "2024-05-01T12:00-0500",
            "",
            "unknown",
            "2024-05-01 or later",
            "20240501",
            "2024-05",
            "2024-13-45 maybe",
        ] {
            assert_eq!(impossibility(possible), None, "{possible}");
        }
        for (impossible, why) in [
            ("2024-13-45T25:61:00", "month 13"),
            ("2024-02-30", "day 30 of 2024-02"),
            ("2023-02-29T10:00:00Z", "day 29 of 2023-02"),
            ("2024-05-01T25:00:00", "hour 25"),
            ("2024-05-01T10:61", "minute 61"),
            ("2024-05-01T10:00:60Z", "second 60"),
            ("2024-05-01T10:00:00+99:00", "offset 99:00"),
            (
                "99999-01-01T00:00:00",
                "year 99999 has more than four digits",
            ),
        ] {
            assert_eq!(
                impossibility(impossible).as_deref(),
                Some(why),
                "{impossible}"
            );
        }
    }

    #[test]
    fn names_the_field_with_its_path_and_ignores_other_fields() {
        let payload = json!({
            "Meta": {"EventDateTime": "2024-05-01T10:00:00Z"},
            "Patient": {"Demographics": {"DOB": "2024-13-45"}},
            "Orders": [{"ID": "1"}, {"CollectionDateTime": "2024-13-45T25:61:00"}]
        });
        let found = find_impossible(&payload).expect("found");
        assert_eq!(found.path, "Orders[1].CollectionDateTime");
        assert_eq!(found.reason, "month 13");
        assert_eq!(
            find_impossible(&json!({"Notes": "2024-13-45T25:61:00"})),
            None
        );
    }
}
