//! Rendering timestamps for a destination that asks for its own zone
//! (`render_time_zone`): the same instant, written with that zone's offset in force
//! at that instant (`2026-07-01T10:00:00.000-05:00`) instead of `Z`. Only values
//! [`normalize_timestamp`](super::normalize_timestamp) would rewrite are touched, so
//! date-only values and non-timestamp fields stay exactly as they are.

use super::{format_utc, normalize_timestamp, parse_instant, push_digits, rewrite_timestamps};
use chrono::{DateTime, Datelike, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// `instant` as wall-clock time in `zone` with its offset, milliseconds kept. UTC
/// itself keeps the engine's `Z` form. `None` when the local year would leave
/// 0000-9999 or the offset has seconds (the value then stays in UTC).
pub fn format_in_zone(instant: DateTime<Utc>, zone: Tz) -> Option<String> {
    if zone == Tz::UTC {
        return Some(format_utc(instant));
    }
    let offset = zone
        .offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc();
    // Local mean time (before a zone adopted standard time, e.g. Panama's -05:19:36)
    // has seconds no ISO 8601 offset can carry: written to the minute it would name
    // another instant, so such a value stays in UTC.
    if offset % 60 != 0 {
        return None;
    }
    let local = instant
        .naive_utc()
        .checked_add_signed(TimeDelta::seconds(offset.into()))?;
    if !(0..=9999).contains(&local.year()) {
        return None;
    }
    // The local wall clock in the engine's format, its `Z` replaced by the offset.
    let mut out = format_utc(local.and_utc());
    out.pop();
    out.push(if offset < 0 { '-' } else { '+' });
    let minutes = offset.unsigned_abs() / 60;
    push_digits(&mut out, minutes / 60, 2);
    out.push(':');
    push_digits(&mut out, minutes % 60, 2);
    Some(out)
}

/// One value rendered in `zone`; `None` when it is not a full date-time. A value
/// without an offset is taken as UTC: by delivery time the engine has already
/// normalized what it accepted.
pub fn render_timestamp(value: &str, zone: Tz) -> Option<String> {
    let utc = normalize_timestamp(value, Tz::UTC)?;
    format_in_zone(parse_instant(&utc)?, zone)
}

/// Rewrites every timestamp field of `payload` in `zone` (the walk of
/// [`normalize_payload`](super::normalize_payload)); returns how many changed.
pub fn render_payload(payload: &mut Value, zone: Tz) -> usize {
    rewrite_timestamps(payload, |text| render_timestamp(text, zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NEW_YORK: Tz = chrono_tz::America::New_York;

    #[test]
    fn daylight_saving_edges_in_new_york() {
        // Spring forward 2026-03-08 at 07:00Z: before it -05:00, after it -04:00.
        let cases = [
            ("2026-03-08T06:59:59.999Z", "2026-03-08T01:59:59.999-05:00"),
            ("2026-03-08T07:30:00.000Z", "2026-03-08T03:30:00.000-04:00"),
            // Fall back 2026-11-01 at 06:00Z: 01:30 happens twice, told apart by offset.
            ("2026-11-01T05:30:00.000Z", "2026-11-01T01:30:00.000-04:00"),
            ("2026-11-01T06:30:00.000Z", "2026-11-01T01:30:00.000-05:00"),
            ("2026-07-01T15:00:00.000Z", "2026-07-01T11:00:00.000-04:00"),
        ];
        for (utc, local) in cases {
            assert_eq!(render_timestamp(utc, NEW_YORK).as_deref(), Some(local));
        }
    }

    #[test]
    fn only_timestamps_with_a_time_part_change() {
        let mut payload = json!({
            "Meta": {"EventDateTime": "2026-07-01T15:00:00.000Z"},
            "Patient": {"Demographics": {"DOB": "1980-01-01"}},
            "Visit": {"VisitDateTime": "2026-07-01", "Notes": "2026-07-01T15:00:00.000Z"},
        });
        assert_eq!(render_payload(&mut payload, NEW_YORK), 1);
        assert_eq!(
            payload["Meta"]["EventDateTime"],
            "2026-07-01T11:00:00.000-04:00"
        );
        assert_eq!(payload["Visit"]["VisitDateTime"], "2026-07-01");
        assert_eq!(payload["Visit"]["Notes"], "2026-07-01T15:00:00.000Z");
        assert_eq!(payload["Patient"]["Demographics"]["DOB"], "1980-01-01");
    }

    #[test]
    fn local_mean_time_stays_in_utc() {
        let panama: Tz = chrono_tz::America::Panama;
        assert_eq!(render_timestamp("1615-01-01T00:00z", panama), None);
        assert_eq!(
            render_timestamp("2026-01-01T00:00:00Z", panama).as_deref(),
            Some("2025-12-31T19:00:00.000-05:00")
        );
    }

    #[test]
    fn a_half_hour_zone_and_utc() {
        let kolkata: Tz = chrono_tz::Asia::Kolkata;
        assert_eq!(
            render_timestamp("2026-01-01T00:00:00Z", kolkata).as_deref(),
            Some("2026-01-01T05:30:00.000+05:30")
        );
        assert_eq!(
            render_timestamp("2026-01-01T00:00:00Z", Tz::UTC).as_deref(),
            Some("2026-01-01T00:00:00.000Z")
        );
    }
}
