use super::*;
use crate::engine::query::amend_answer;
use crate::model::{Environment, Exchange, LegacyIds, LogStatus, LogType};
use proptest::prelude::*;

const NY: Tz = chrono_tz::America::New_York;

fn pending(legacy: bool) -> LogRecord {
    let now = chrono::Utc::now();
    LogRecord {
        id: Uuid::now_v7(),
        request_id: Uuid::now_v7(),
        attempt_id: Uuid::now_v7(),
        log_type: LogType::Request,
        status: LogStatus::Pending,
        exchange: Exchange::Query,
        environment: Environment::Development,
        source_id: Uuid::now_v7(),
        source_name: "Clinic \"East\"".into(),
        destination_id: Uuid::now_v7(),
        destination_name: "EHR é".into(),
        data_model: "PatientSearch".into(),
        event_type: "Query".into(),
        test: false,
        created_at: now,
        updated_at: now,
        attempts: 0,
        latency_ms: None,
        patient_id: None,
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: legacy.then_some(LegacyIds {
            message: 41,
            transmission: 42,
        }),
    }
}

/// The answer as the engine wrote it before the splice: parsed, amended, written.
fn written(bytes: &[u8], zone: Tz, pending: &LogRecord) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    value.as_object()?;
    amend_answer(&mut value, zone, pending);
    serde_json::to_vec(&value).ok()
}

/// Ready bytes equal written bytes whenever the splice is taken; `true` if it was.
fn same_as_written(text: &str, zone: Tz, legacy: bool) -> bool {
    let pending = pending(legacy);
    let spliced = splice(text.as_bytes(), zone, &pending);
    if let Some(spliced) = &spliced {
        let expected = written(text.as_bytes(), zone, &pending).expect("a spliced answer parses");
        assert_eq!(
            String::from_utf8_lossy(&spliced.bytes),
            String::from_utf8_lossy(&expected),
            "answer {text}"
        );
        let value: Value = serde_json::from_slice(&expected).unwrap_or_default();
        assert_eq!(spliced.fields, value.as_object().map_or(0, |o| o.len()));
        assert_eq!(
            spliced.log_id,
            Answer::Value(value).log_id(),
            "the audited log of {text}"
        );
    }
    spliced.is_some()
}

#[test]
fn common_answers_are_spliced_to_the_same_bytes() {
    for text in [
        // The bench stub's answer (keys not sorted: the order is kept).
        r#"{"Meta":{"DataModel":"PatientSearch","EventType":"Query"},"Patient":{"Identifiers":[{"ID":"0000000001","IDType":"MR"}],"Demographics":{"FirstName":"Abigail","LastName":"Baker","DOB":"1974-05-30","Sex":"Female"}}}"#,
        // Meta not first, with parties already given, and Logs already there.
        r#"{"Patients":[],"Meta":{"Logs":[{"ID":"x"}],"Source":{"ID":"s"},"Destinations":[{"ID":"d"}],"Test":true}}"#,
        // Parties null or empty: filled, in place.
        r#"{"Meta":{"Source":null,"Destinations":[],"DataModel":"X"},"N":[1,-2,0]}"#,
        // The destination's own legacy numbers: replaced in place by ours.
        r#"{"Meta":{"Message":{"ID":7},"Transmission":{"ID":8},"DataModel":"X"}}"#,
        // No Meta, Meta not an object, an empty object.
        r#"{"Patient":{"ID":"1"}}"#,
        r#"{"Meta":"text","A":1}"#,
        r#"{"Meta":null}"#,
        r#"{}"#,
        // Timestamps already in the engine's form stay; escapes the writer also writes.
        r#"{"Meta":{"EventDateTime":"2024-05-01T10:00:00.000Z"},"Note":"a\"b\\c\nd\te"}"#,
    ] {
        assert!(same_as_written(text, NY, true), "not spliced: {text}");
        assert!(
            same_as_written(text, NY, false) || text.contains("Message"),
            "{text}"
        );
    }
}

#[test]
fn odd_answers_fall_back_to_the_parse() {
    for text in [
        "{ \"Meta\": {} }",                                               // pretty
        r#"{"Meta":{},"Visit":{"VisitDateTime":"2024-05-01T10:00:00"}}"#, // a timestamp to rewrite
        r#"{"Meta":{},"A":1.5}"#,                                         // float
        r#"{"Meta":{},"A":"\u00e9"}"#,                                    // \u escape
        r#"{"Meta":{},"Meta":{}}"#,                                       // duplicate Meta
        "not json",
        "[1,2]",
        "",
    ] {
        assert!(!same_as_written(text, NY, true), "spliced: {text}");
    }
    // Legacy numbers off: a destination's own are removed, which the parse does.
    let text = r#"{"Meta":{"Message":{"ID":7},"DataModel":"X","Transmission":{"ID":8},"Z":1}}"#;
    assert!(!same_as_written(text, NY, false));
    assert!(same_as_written(text, NY, true));
}

#[test]
fn a_huge_answer_is_spliced_whole() {
    let rows: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"ID":"{i:010}","Name":"Patient {i}","DOB":"1970-01-01"}}"#))
        .collect();
    let text = format!(
        r#"{{"Meta":{{"DataModel":"PatientSearch"}},"Patients":[{}]}}"#,
        rows.join(",")
    );
    assert!(text.len() > 1_000_000);
    assert!(same_as_written(&text, NY, true));
}

fn answer_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        "[a-z \"\\\\\n]{0,6}".prop_map(Value::String),
        Just(Value::String("2024-05-01T10:00:00".into())),
        Just(Value::String("2024-05-01T10:00:00.000Z".into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("Logs".to_string()),
                        Just("Source".to_string()),
                        Just("Destinations".to_string()),
                        Just("Message".to_string()),
                        Just("EventDateTime".to_string()),
                        "[A-Z][a-z]{0,3}",
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn spliced_answers_equal_written_ones(
        meta in prop::option::of(answer_value()),
        rest in prop::collection::vec(("[A-Z][a-z]{0,3}", answer_value()), 0..4),
        meta_first in any::<bool>(),
        legacy in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let mut map = serde_json::Map::new();
        let meta_field = meta.map(|m| ("Meta".to_string(), m));
        if meta_first && let Some((k, v)) = meta_field.clone() {
            map.insert(k, v);
        }
        for (k, v) in rest {
            map.insert(k, v);
        }
        if !meta_first && let Some((k, v)) = meta_field {
            map.insert(k, v);
        }
        let value = Value::Object(map);
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        same_as_written(&text, NY, legacy);
        same_as_written(&text, chrono_tz::UTC, legacy);
    }
}
