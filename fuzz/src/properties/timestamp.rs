//! Timestamp normalization (`model::time`). Input: one byte choosing the source's time
//! zone (any of the tz database's), then the value (UTF-8, lossily).
//!
//! A normalized value is the engine's `YYYY-MM-DDThh:mm:ss.sssZ`, reads back as the
//! same UTC RFC 3339 instant, and normalizes to itself in any zone. A value with an
//! offset means the same instant in every zone (`parse_instant` agrees). A value the
//! engine rewrites is never called impossible, and an impossible one is never
//! rewritten. Rendering in a zone keeps the instant. Over a payload, normalizing twice
//! changes nothing the second time.

use chrono::{DateTime, SecondsFormat};
use chrono_tz::{TZ_VARIANTS, Tz};
use serde_json::{Value, json};
use switchboard::model::time::{
    format_utc, impossibility, normalize_payload, normalize_timestamp, parse_instant,
    render_timestamp,
};

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Spread over the whole database (about every second zone).
    let zone = TZ_VARIANTS[usize::from(selector) * TZ_VARIANTS.len() / 256];
    let text = String::from_utf8_lossy(rest);
    one_value(&text, zone);
    in_a_payload(&text, zone);
    if let Ok(mut payload) = serde_json::from_slice::<Value>(rest) {
        normalize_payload(&mut payload, zone);
        let once = payload.clone();
        assert_eq!(
            normalize_payload(&mut payload, zone),
            0,
            "second pass changed {once}"
        );
        assert_eq!(payload, once);
    }
}

fn one_value(text: &str, zone: Tz) {
    let normalized = normalize_timestamp(text, zone);
    let instant = parse_instant(text);
    if let Some(instant) = instant {
        assert_eq!(
            normalized.as_deref(),
            Some(format_utc(instant).as_str()),
            "{text:?} has an offset: parse_instant and normalize_timestamp must agree"
        );
    }
    if let Some(why) = impossibility(text) {
        assert_eq!(
            normalized, None,
            "{text:?} is impossible ({why}) yet was rewritten"
        );
    }
    if let Some(rendered) = render_timestamp(text, zone) {
        assert_eq!(
            normalize_timestamp(&rendered, Tz::UTC),
            normalize_timestamp(text, Tz::UTC),
            "{text:?} rendered in {zone} as {rendered:?} is another instant"
        );
    }
    let Some(normalized) = normalized else {
        return;
    };
    assert!(
        is_engine_form(&normalized),
        "{text:?} became {normalized:?}"
    );
    let read = DateTime::parse_from_rfc3339(&normalized)
        .unwrap_or_else(|e| panic!("{normalized:?} is not RFC 3339: {e}"));
    assert_eq!(
        read.offset().local_minus_utc(),
        0,
        "{normalized:?} is not UTC"
    );
    assert_eq!(
        read.to_rfc3339_opts(SecondsFormat::Millis, true),
        normalized,
        "{normalized:?} reads back as another instant"
    );
    for again_in in [zone, Tz::UTC, chrono_tz::Pacific::Kiritimati] {
        assert_eq!(
            normalize_timestamp(&normalized, again_in).as_deref(),
            Some(normalized.as_str()),
            "normalizing {normalized:?} again (in {again_in}) is not idempotent"
        );
    }
    assert_eq!(impossibility(&normalized), None);
}

/// `YYYY-MM-DDThh:mm:ss.sssZ`, digits where digits go.
fn is_engine_form(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The same value under a timestamp key, in an array under one, and under a key that
/// is not a timestamp's (never touched).
fn in_a_payload(text: &str, zone: Tz) {
    let mut payload = json!({
        "Visit": {"VisitDateTime": text, "Notes": text},
        "Orders": [{"CollectionDateTime": [text, 5]}],
    });
    let changed = normalize_payload(&mut payload, zone);
    let expected = normalize_timestamp(text, zone).filter(|n| n != text);
    assert_eq!(changed, if expected.is_some() { 2 } else { 0 }, "{payload}");
    let now = expected.as_deref().unwrap_or(text);
    assert_eq!(payload["Visit"]["VisitDateTime"], now);
    assert_eq!(payload["Orders"][0]["CollectionDateTime"][0], now);
    assert_eq!(
        payload["Visit"]["Notes"], text,
        "a non-timestamp field was touched"
    );
}
