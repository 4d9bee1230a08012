use super::*;
use chrono::FixedOffset;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;

const NY: Tz = chrono_tz::America::New_York;
const BERLIN: Tz = chrono_tz::Europe::Berlin;
const LONDON: Tz = chrono_tz::Europe::London;
const KOLKATA: Tz = chrono_tz::Asia::Kolkata;
const LORD_HOWE: Tz = chrono_tz::Australia::Lord_Howe;
const UTC: Tz = chrono_tz::UTC;

fn norm(value: &str, zone: Tz) -> Option<String> {
    normalize_timestamp(value, zone)
}

// ---- format / now -------------------------------------------------

#[test]
fn format_utc_has_millis_and_z() {
    let t = Utc.with_ymd_and_hms(2024, 3, 10, 7, 30, 0).unwrap();
    assert_eq!(format_utc(t), "2024-03-10T07:30:00.000Z");
    let t = t + TimeDelta::nanoseconds(123_999_999);
    assert_eq!(format_utc(t), "2024-03-10T07:30:00.123Z");
}

#[test]
fn format_utc_years_outside_four_digits() {
    let t = Utc.with_ymd_and_hms(5, 1, 2, 3, 4, 5).unwrap();
    assert_eq!(format_utc(t), "0005-01-02T03:04:05.000Z");
    let t = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(format_utc(t), "+10000-01-01T00:00:00.000Z");
    let t = Utc.with_ymd_and_hms(-1, 12, 31, 0, 0, 0).unwrap();
    assert_eq!(format_utc(t), "-0001-12-31T00:00:00.000Z");
}

#[test]
fn format_utc_leap_second_is_clamped() {
    let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
        .unwrap()
        .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
        .unwrap()
        .and_utc();
    assert_eq!(format_utc(leap), "2016-12-31T23:59:59.999Z");
}

#[test]
fn now_utc_is_normalized_form() {
    let now = now_utc();
    assert_eq!(now.len(), 24);
    assert!(now.ends_with('Z'));
    assert_eq!(norm(&now, NY).as_deref(), Some(now.as_str()));
    assert!(parse_instant(&now).is_some());
}

// ---- field names --------------------------------------------------

#[test]
fn timestamp_field_names() {
    for key in [
        "EventDateTime",
        "VisitDateTime",
        "DateTime",
        "StartDateTime",
        "DeathDateTime",
        "DateTimeOfService",
    ] {
        assert!(is_timestamp_field(key), "{key}");
    }
    for key in [
        "DOB",
        "StartDate",
        "EffectiveDate",
        "AvailableStartTime",
        "Notes",
        "Comments",
        "Value",
        "FileContents",
        "DateTimeOfServiceX",
        "Datetime",
        "eventdatetime",
        "",
    ] {
        assert!(!is_timestamp_field(key), "{key}");
    }
}

// ---- explicit offsets ---------------------------------------------

#[test]
fn z_designator() {
    let want = Some("2024-03-10T07:30:00.000Z".to_string());
    assert_eq!(norm("2024-03-10T07:30:00Z", NY), want);
    assert_eq!(norm("2024-03-10T07:30:00z", NY), want);
    assert_eq!(norm("2024-03-10T07:30Z", NY), want);
    assert_eq!(norm("2024-03-10 07:30:00Z", NY), want);
}

#[test]
fn positive_offsets() {
    let want = Some("2024-01-15T04:30:00.000Z".to_string());
    assert_eq!(norm("2024-01-15T10:00:00+05:30", NY), want);
    assert_eq!(norm("2024-01-15T10:00:00+0530", NY), want);
    assert_eq!(norm("2024-01-15T10:00+05:30", NY), want);
    assert_eq!(
        norm("2024-01-15T10:00:00+05", NY).as_deref(),
        Some("2024-01-15T05:00:00.000Z")
    );
}

#[test]
fn negative_offsets() {
    let want = Some("2024-01-15T14:00:00.000Z".to_string());
    assert_eq!(norm("2024-01-15T10:00:00-04:00", UTC), want);
    assert_eq!(norm("2024-01-15T10:00:00-0400", UTC), want);
    assert_eq!(norm("2024-01-15T10:00:00-04", UTC), want);
    assert_eq!(norm("2024-01-15 10:00:00-04", UTC), want);
}

#[test]
fn offsets_crossing_day_month_year() {
    assert_eq!(
        norm("2024-12-31T22:00:00-05:00", UTC).as_deref(),
        Some("2025-01-01T03:00:00.000Z")
    );
    assert_eq!(
        norm("2024-03-01T01:00:00+05:00", UTC).as_deref(),
        Some("2024-02-29T20:00:00.000Z")
    );
    assert_eq!(
        norm("2024-01-01T00:00:00+23:59", UTC).as_deref(),
        Some("2023-12-31T00:01:00.000Z")
    );
}

#[test]
fn offset_with_explicit_zone_ignores_source_zone() {
    for zone in [NY, BERLIN, KOLKATA, LORD_HOWE, UTC] {
        assert_eq!(
            norm("2024-03-10T02:30:00-05:00", zone).as_deref(),
            Some("2024-03-10T07:30:00.000Z")
        );
    }
}

#[test]
fn bad_offsets_untouched() {
    for v in [
        "2024-01-15T10:00:00+24:00",
        "2024-01-15T10:00:00+05:60",
        "2024-01-15T10:00:00+5",
        "2024-01-15T10:00:00+053",
        "2024-01-15T10:00:00+05:3",
        "2024-01-15T10:00:00+05:30:00",
        "2024-01-15T10:00:00+",
        "2024-01-15T10:00:00ZZ",
        "2024-01-15T10:00:00 Z",
        "2024-01-15T10:00:00UTC",
        "2024-01-15T10:00:00Z ",
    ] {
        assert_eq!(norm(v, UTC), None, "{v}");
    }
}

// ---- naive times in zones -----------------------------------------

#[test]
fn naive_in_various_zones() {
    let v = "2024-01-15T10:00:00";
    assert_eq!(norm(v, NY).as_deref(), Some("2024-01-15T15:00:00.000Z"));
    assert_eq!(norm(v, LONDON).as_deref(), Some("2024-01-15T10:00:00.000Z"));
    assert_eq!(
        norm(v, KOLKATA).as_deref(),
        Some("2024-01-15T04:30:00.000Z")
    );
    assert_eq!(norm(v, UTC).as_deref(), Some("2024-01-15T10:00:00.000Z"));
    assert_eq!(norm(v, BERLIN).as_deref(), Some("2024-01-15T09:00:00.000Z"));
    // Lord Howe summer time is +11:00, standard +10:30.
    assert_eq!(
        norm(v, LORD_HOWE).as_deref(),
        Some("2024-01-14T23:00:00.000Z")
    );
    assert_eq!(
        norm("2024-07-15T10:00:00", LORD_HOWE).as_deref(),
        Some("2024-07-14T23:30:00.000Z")
    );
}

#[test]
fn naive_summer_time() {
    let v = "2024-07-15T10:00";
    assert_eq!(norm(v, NY).as_deref(), Some("2024-07-15T14:00:00.000Z"));
    assert_eq!(norm(v, LONDON).as_deref(), Some("2024-07-15T09:00:00.000Z"));
    assert_eq!(norm(v, BERLIN).as_deref(), Some("2024-07-15T08:00:00.000Z"));
}

#[test]
fn dst_gap_new_york_uses_offset_before_transition() {
    assert_eq!(
        norm("2024-03-10T02:30:00", NY).as_deref(),
        Some("2024-03-10T07:30:00.000Z")
    );
    assert_eq!(
        norm("2024-03-10T02:00:00", NY).as_deref(),
        Some("2024-03-10T07:00:00.000Z")
    );
    assert_eq!(
        norm("2024-03-10T02:59:59.999", NY).as_deref(),
        Some("2024-03-10T07:59:59.999Z")
    );
    // Either side of the gap is ordinary.
    assert_eq!(
        norm("2024-03-10T01:59:00", NY).as_deref(),
        Some("2024-03-10T06:59:00.000Z")
    );
    assert_eq!(
        norm("2024-03-10T03:00:00", NY).as_deref(),
        Some("2024-03-10T07:00:00.000Z")
    );
}

#[test]
fn dst_overlap_new_york_takes_earlier() {
    assert_eq!(
        norm("2024-11-03T01:30:00", NY).as_deref(),
        Some("2024-11-03T05:30:00.000Z")
    );
    assert_eq!(
        norm("2024-11-03T01:00:00", NY).as_deref(),
        Some("2024-11-03T05:00:00.000Z")
    );
    assert_eq!(
        norm("2024-11-03T02:00:00", NY).as_deref(),
        Some("2024-11-03T07:00:00.000Z")
    );
}

#[test]
fn dst_gap_and_overlap_berlin() {
    // 2024-03-31 02:00 CET -> 03:00 CEST.
    assert_eq!(
        norm("2024-03-31T02:30:00", BERLIN).as_deref(),
        Some("2024-03-31T01:30:00.000Z")
    );
    // 2024-10-27 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    assert_eq!(
        norm("2024-10-27T02:30:00", BERLIN).as_deref(),
        Some("2024-10-27T00:30:00.000Z")
    );
}

#[test]
fn dst_gap_and_overlap_lord_howe_half_hour() {
    // 2024-10-06 02:00 +10:30 -> 02:30 +11:00.
    assert_eq!(
        norm("2024-10-06T02:15:00", LORD_HOWE).as_deref(),
        Some("2024-10-05T15:45:00.000Z")
    );
    // 2024-04-07 02:00 +11:00 -> 01:30 +10:30; 01:45 happens twice.
    assert_eq!(
        norm("2024-04-07T01:45:00", LORD_HOWE).as_deref(),
        Some("2024-04-06T14:45:00.000Z")
    );
}

#[test]
fn whole_skipped_day_apia() {
    // Samoa skipped 2011-12-30 entirely (-10:00 -> +14:00).
    assert_eq!(
        norm("2011-12-30T12:00:00", chrono_tz::Pacific::Apia).as_deref(),
        Some("2011-12-30T22:00:00.000Z")
    );
}

// ---- calendar validity --------------------------------------------

#[test]
fn leap_day() {
    assert_eq!(
        norm("2024-02-29T12:00:00Z", UTC).as_deref(),
        Some("2024-02-29T12:00:00.000Z")
    );
    assert_eq!(
        norm("2000-02-29T12:00:00", UTC).as_deref(),
        Some("2000-02-29T12:00:00.000Z")
    );
    assert_eq!(norm("2023-02-29T12:00:00Z", UTC), None);
    assert_eq!(norm("1900-02-29T12:00:00", UTC), None);
}

#[test]
fn out_of_range_fields_untouched() {
    for v in [
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:61Z",
    ] {
        assert_eq!(norm(v, UTC), None, "{v}");
    }
}

#[test]
fn leap_second_untouched() {
    assert_eq!(norm("2016-12-31T23:59:60Z", UTC), None);
    assert_eq!(norm("2016-12-31T23:59:60.500", UTC), None);
    assert_eq!(parse_instant("2016-12-31T23:59:60Z"), None);
}

#[test]
fn year_out_of_output_range_untouched() {
    assert_eq!(norm("0000-01-01T00:00:00+01:00", UTC), None);
    assert_eq!(norm("9999-12-31T23:00:00-05:00", UTC), None);
    assert_eq!(
        norm("0000-01-01T00:00:00Z", UTC).as_deref(),
        Some("0000-01-01T00:00:00.000Z")
    );
    assert_eq!(
        norm("9999-12-31T23:59:59.999Z", UTC).as_deref(),
        Some("9999-12-31T23:59:59.999Z")
    );
}

// ---- fractions ----------------------------------------------------

#[test]
fn fractional_seconds_truncated_and_padded() {
    let cases = [
        ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.500Z"),
        ("2024-01-01T00:00:00.12Z", "2024-01-01T00:00:00.120Z"),
        ("2024-01-01T00:00:00.123Z", "2024-01-01T00:00:00.123Z"),
        ("2024-01-01T00:00:00.123456Z", "2024-01-01T00:00:00.123Z"),
        ("2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.123Z"),
        ("2024-01-01T00:00:00.999999999Z", "2024-01-01T00:00:00.999Z"),
        ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"),
    ];
    for (input, want) in cases {
        assert_eq!(norm(input, UTC).as_deref(), Some(want), "{input}");
    }
}

#[test]
fn truncation_never_crosses_day() {
    assert_eq!(
        norm("2024-12-31T23:59:59.9999999", UTC).as_deref(),
        Some("2024-12-31T23:59:59.999Z")
    );
    assert_eq!(
        norm("2024-12-31T18:59:59.9995-05:00", NY).as_deref(),
        Some("2024-12-31T23:59:59.999Z")
    );
}

#[test]
fn bad_fractions_untouched() {
    for v in [
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00.",
        "2024-01-01T00:00:00.1234567890Z",
        "2024-01-01T00:00.5Z",
        "2024-01-01T00:00:00,5Z",
    ] {
        assert_eq!(norm(v, UTC), None, "{v}");
    }
}

// ---- non date-times -----------------------------------------------

#[test]
fn not_date_times_untouched() {
    for v in [
        "",
        "2024-03-10",
        "2024-03",
        "2024",
        "20120807",
        "20120807103000",
        "2024-03-10T10",
        "2024-03-10T1:00",
        "2024-03-10T10:0",
        "2024-03-10t10:00",
        "2024-03-10  10:00",
        " 2024-03-10T10:00",
        "2024-03-10T10:00 ",
        "2024-3-10T10:00",
        "+2024-03-10T10:00",
        "2024/03/10T10:00",
        "2024-03-10T10:00:0",
        "2024-03-10T10:00:00abc",
        "now",
        "2024-03-10T１0:00",
    ] {
        assert_eq!(norm(v, NY), None, "{v:?}");
        assert_eq!(parse_instant(v), None, "{v:?}");
    }
}

// ---- parse_instant ------------------------------------------------

#[test]
fn parse_instant_requires_offset() {
    let want = Utc.with_ymd_and_hms(2024, 3, 10, 7, 30, 0).unwrap();
    assert_eq!(parse_instant("2024-03-10T07:30:00Z"), Some(want));
    assert_eq!(parse_instant("2024-03-10T02:30:00-05:00"), Some(want));
    assert_eq!(parse_instant("2024-03-10T13:00+0530"), Some(want));
    assert_eq!(parse_instant("2024-03-10T07:30:00"), None);
    assert_eq!(parse_instant("2024-03-10"), None);
    assert_eq!(
        parse_instant("2024-03-10T07:30:00.123456Z"),
        Some(want + TimeDelta::milliseconds(123))
    );
}

// ---- payloads -----------------------------------------------------

#[test]
fn redox_payload() {
    let mut payload = json!({
        "Meta": {
            "DataModel": "Scheduling",
            "EventType": "New",
            "EventDateTime": "2024-03-10T02:30:00",
            "Test": true,
            "Source": {"ID": "7ce6f387", "Name": "EHR"}
        },
        "Patient": {
            "Demographics": {"DOB": "1990-01-02", "DeathDateTime": null},
            "Notes": ["2024-03-10T02:30:00"]
        },
        "Visit": {
            "VisitDateTime": "2024-03-10T02:30:00",
            "StartDate": "2024-03-10T02:30:00",
            "EffectiveDate": "2024-03-10T02:30:00Z",
            "AvailableStartTime": "2024-03-10T02:30:00",
            "Duration": 15,
            "DateTimeOfService": "2024-07-01T09:00:00-04:00"
        }
    });
    let changed = normalize_payload(&mut payload, NY);
    assert_eq!(changed, 3);
    let want = json!({
        "Meta": {
            "DataModel": "Scheduling",
            "EventType": "New",
            "EventDateTime": "2024-03-10T07:30:00.000Z",
            "Test": true,
            "Source": {"ID": "7ce6f387", "Name": "EHR"}
        },
        "Patient": {
            "Demographics": {"DOB": "1990-01-02", "DeathDateTime": null},
            "Notes": ["2024-03-10T02:30:00"]
        },
        "Visit": {
            "VisitDateTime": "2024-03-10T07:30:00.000Z",
            "StartDate": "2024-03-10T02:30:00",
            "EffectiveDate": "2024-03-10T02:30:00Z",
            "AvailableStartTime": "2024-03-10T02:30:00",
            "Duration": 15,
            "DateTimeOfService": "2024-07-01T13:00:00.000Z"
        }
    });
    assert_eq!(payload, want);
    assert_eq!(normalize_payload(&mut payload, NY), 0);
    assert_eq!(payload, want);
}

#[test]
fn look_alikes_under_other_keys_untouched() {
    let original = json!({
        "Notes": "2024-03-10T02:30:00",
        "DOB": "1990-01-02T00:00:00",
        "StartDate": "2024-03-10T02:30:00Z",
        "Comments": ["2024-03-10T02:30:00", {"Value": "2024-03-10T02:30:00"}],
        "FileContents": "2024-03-10T02:30:00+01:00",
        "Results": [[{"Value": "2024-03-10 02:30"}]]
    });
    let mut payload = original.clone();
    assert_eq!(normalize_payload(&mut payload, NY), 0);
    assert_eq!(payload, original);
}

#[test]
fn timestamp_values_that_are_not_date_times_untouched() {
    let original = json!({
        "EventDateTime": "2024-03-10",
        "VisitDateTime": "20120807",
        "StartDateTime": "2024-03",
        "EndDateTime": "",
        "DeathDateTime": null,
        "DateTime": 1_710_055_800,
        "DateTimeOfService": "garbage",
        "OtherDateTime": true
    });
    let mut payload = original.clone();
    assert_eq!(normalize_payload(&mut payload, NY), 0);
    assert_eq!(payload, original);
}

#[test]
fn nested_arrays_of_objects() {
    let mut payload = json!({
        "Orders": [
            {
                "TransactionDateTime": "2024-01-15T10:00:00",
                "Results": [
                    {"CompletionDateTime": "2024-01-15T11:00:00+00:00", "Value": "2024-01-15T11:00:00"},
                    {"CompletionDateTime": "2024-01-15", "Notes": ["x"]}
                ]
            },
            [ {"CollectionDateTime": "2024-01-15 12:00"} ]
        ]
    });
    assert_eq!(normalize_payload(&mut payload, NY), 3);
    assert_eq!(
        payload,
        json!({
            "Orders": [
                {
                    "TransactionDateTime": "2024-01-15T15:00:00.000Z",
                    "Results": [
                        {"CompletionDateTime": "2024-01-15T11:00:00.000Z", "Value": "2024-01-15T11:00:00"},
                        {"CompletionDateTime": "2024-01-15", "Notes": ["x"]}
                    ]
                },
                [ {"CollectionDateTime": "2024-01-15T17:00:00.000Z"} ]
            ]
        })
    );
}

#[test]
fn arrays_under_timestamp_key_element_wise() {
    let mut payload = json!({
        "ObservedDateTime": [
            "2024-01-15T10:00:00Z",
            "2024-01-15",
            null,
            "2024-01-15T10:00:00.000Z",
            ["2024-01-15T10:00:00+01:00"],
            {"Notes": "2024-01-15T10:00:00Z", "EndDateTime": "2024-01-15T10:00Z"}
        ]
    });
    assert_eq!(normalize_payload(&mut payload, UTC), 3);
    assert_eq!(
        payload,
        json!({
            "ObservedDateTime": [
                "2024-01-15T10:00:00.000Z",
                "2024-01-15",
                null,
                "2024-01-15T10:00:00.000Z",
                ["2024-01-15T09:00:00.000Z"],
                {"Notes": "2024-01-15T10:00:00Z", "EndDateTime": "2024-01-15T10:00:00.000Z"}
            ]
        })
    );
}

#[test]
fn already_normalized_not_counted() {
    let mut payload = json!({"EventDateTime": "2024-03-10T07:30:00.000Z"});
    assert_eq!(normalize_payload(&mut payload, NY), 0);
    assert_eq!(
        payload,
        json!({"EventDateTime": "2024-03-10T07:30:00.000Z"})
    );
}

#[test]
fn top_level_scalars_and_deep_nesting() {
    let mut scalar = json!("2024-03-10T02:30:00");
    assert_eq!(normalize_payload(&mut scalar, NY), 0);
    assert_eq!(scalar, json!("2024-03-10T02:30:00"));

    let mut deep = json!({"EventDateTime": "2024-01-01T00:00:00Z"});
    for _ in 0..10_000 {
        deep = Value::Array(vec![deep]);
    }
    assert_eq!(normalize_payload(&mut deep, UTC), 1);
    // Dismantle iteratively so the test does not depend on Drop's recursion.
    let mut cur = deep;
    while let Value::Array(mut items) = cur {
        cur = items.pop().unwrap_or(Value::Null);
    }
    assert_eq!(cur, json!({"EventDateTime": "2024-01-01T00:00:00.000Z"}));
}

// ---- property tests -----------------------------------------------

const ZONES: [Tz; 8] = [
    NY,
    BERLIN,
    LONDON,
    KOLKATA,
    LORD_HOWE,
    UTC,
    chrono_tz::Pacific::Apia,
    chrono_tz::America::St_Johns,
];

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(&ZONES[..])
}

/// Instants from 0001-01-02 to 9998-12-30 so any offset keeps the local
/// and UTC years inside 0000..=9999.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let lo = Utc.with_ymd_and_hms(1, 1, 2, 0, 0, 0).unwrap().timestamp();
    let hi = Utc
        .with_ymd_and_hms(9998, 12, 30, 0, 0, 0)
        .unwrap()
        .timestamp();
    (lo..hi, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap())
}

/// A date-time string in any accepted form, valid or not quite.
fn timestamp_like() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            instant(),
            -1439i32..1440,
            0usize..10,
            0usize..5,
            any::<bool>()
        )
            .prop_map(|(t, off_min, frac, style, space)| render(
                t,
                off_min * 60,
                frac,
                style,
                space
            )),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,10})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?",
        "[0-9]{8}",
        ".*",
    ]
}

/// Renders `t` at `offset_seconds` with `frac` fractional digits (0 means
/// none; seconds are always included then) in offset `style`:
/// 0 `±hh:mm`, 1 `±hhmm`, 2 `±hh` (when minutes are 0), 3 `Z` (when 0).
fn render(t: DateTime<Utc>, offset_seconds: i32, frac: usize, style: usize, space: bool) -> String {
    let offset = FixedOffset::east_opt(offset_seconds).unwrap();
    let local = t.with_timezone(&offset);
    let sep = if space { " " } else { "T" };
    let mut s = local.format(&format!("%Y-%m-%d{sep}%H:%M:%S")).to_string();
    if frac > 0 {
        let nanos = format!("{:09}", local.nanosecond());
        s.push('.');
        s.push_str(&nanos[..frac]);
    }
    let abs = offset_seconds.unsigned_abs() / 60;
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let (h, m) = (abs / 60, abs % 60);
    match style {
        3 if offset_seconds == 0 => s.push('Z'),
        2 if m == 0 => s.push_str(&format!("{sign}{h:02}")),
        1 => s.push_str(&format!("{sign}{h:02}{m:02}")),
        _ => s.push_str(&format!("{sign}{h:02}:{m:02}")),
    }
    s
}

const TS_KEYS: [&str; 5] = [
    "EventDateTime",
    "VisitDateTime",
    "DateTime",
    "DateTimeOfService",
    "StartDateTime",
];
const OTHER_KEYS: [&str; 10] = [
    "DOB",
    "StartDate",
    "EffectiveDate",
    "AvailableStartTime",
    "Notes",
    "Comments",
    "Value",
    "FileContents",
    "DateTimeOfServiceX",
    "Datetime",
];

fn payload() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        timestamp_like().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(&TS_KEYS[..]).prop_map(str::to_string),
            prop::sample::select(&OTHER_KEYS[..]).prop_map(str::to_string),
            "[A-Za-z]{0,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_offset_round_trip(
        t in instant(),
        off_min in -1439i32..1440,
        frac in 0usize..10,
        style in 0usize..4,
        space in any::<bool>(),
        zone in zone(),
    ) {
        let text = render(t, off_min * 60, frac, style, space);
        // Expected: the instant with its fraction cut to the rendered digits.
        let kept = if frac == 0 { 0 } else {
            let unit = 10u32.pow(9 - frac as u32);
            t.nanosecond() / unit * unit
        };
        let expected = t.with_nanosecond(kept).unwrap();
        prop_assert_eq!(normalize_timestamp(&text, zone), Some(format_utc(expected)));
        prop_assert_eq!(
            parse_instant(&text).map(format_utc),
            Some(format_utc(expected))
        );
    }

    #[test]
    fn prop_payload_idempotent(mut value in payload(), zone in zone()) {
        normalize_payload(&mut value, zone);
        let once = value.clone();
        prop_assert_eq!(normalize_payload(&mut value, zone), 0);
        prop_assert_eq!(value, once);
    }

    #[test]
    fn prop_non_timestamp_keys_never_changed(
        key in prop_oneof![
            prop::sample::select(&OTHER_KEYS[..]).prop_map(str::to_string),
            "[A-Za-z]{0,12}".prop_filter("not a timestamp key", |k| !is_timestamp_field(k)),
        ],
        text in timestamp_like(),
        zone in zone(),
    ) {
        let original = json!({ key.clone(): text.clone(), "Nested": [{ key: [text] }] });
        let mut value = original.clone();
        prop_assert_eq!(normalize_payload(&mut value, zone), 0);
        prop_assert_eq!(value, original);
    }

    #[test]
    fn prop_date_only_untouched(
        date in "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        key in prop::sample::select(&TS_KEYS[..]),
        zone in zone(),
    ) {
        prop_assert_eq!(normalize_timestamp(&date, zone), None);
        let original = json!({ key: date });
        let mut value = original.clone();
        prop_assert_eq!(normalize_payload(&mut value, zone), 0);
        prop_assert_eq!(value, original);
    }

    #[test]
    fn prop_output_is_normal_form(text in timestamp_like(), zone in zone()) {
        if let Some(out) = normalize_timestamp(&text, zone) {
            prop_assert_eq!(out.len(), 24);
            prop_assert_eq!(normalize_timestamp(&out, zone), Some(out.clone()));
            prop_assert_eq!(parse_instant(&out).map(format_utc), Some(out.clone()));
        }
    }

    #[test]
    fn prop_naive_matches_zone_when_unambiguous(t in instant(), zone in zone()) {
        // A naive wall time that maps to exactly one instant in the zone
        // normalizes to that instant.
        let local = t.with_timezone(&zone).naive_local();
        if let MappedLocalTime::Single(dt) = zone.from_local_datetime(&local) {
            let text = local.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
            prop_assert_eq!(
                normalize_timestamp(&text, zone),
                Some(format_utc(dt.with_timezone(&Utc)))
            );
        }
    }
}
