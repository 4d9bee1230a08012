//! A query's answer reaches the sender byte for byte as the engine always wrote it: the
//! destination's answer parsed, its timestamps normalized, `Meta.Logs`, the parties and
//! the legacy numbers put in, and written compactly. The engine now splices those
//! fields into the answer's bytes when it can (`engine::answer`); these answers, the
//! usual and the odd, must come out the same either way.

use crate::common;

use common::*;
use serde_json::{Value, json};
use switchboard::model::time::normalize_payload;

fn config(url: &str) -> String {
    let mut c = source_toml("Lab", "development", Some("America/New_York"));
    c += &destination_toml("EHR", "development", url);
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c
}

/// What the engine wrote for `raw` before the splice: parse, normalize, amend, write.
/// The log's own values (its IDs and numbers) are taken from the answer received.
fn written(raw: &str, received: &Value, lab: uuid::Uuid, ehr: uuid::Uuid) -> String {
    let mut value: Value = serde_json::from_str(raw).expect("the stub's answer parses");
    // Every timestamp below carries its offset, so the zone does not matter.
    normalize_payload(&mut value, chrono_tz::UTC);
    if let Some(meta) = value.get_mut("Meta").and_then(Value::as_object_mut) {
        let absent = |v: Option<&Value>| match v {
            None | Some(Value::Null) => true,
            Some(Value::Array(items)) => items.is_empty(),
            Some(_) => false,
        };
        meta.insert("Logs".into(), received["Meta"]["Logs"].clone());
        if absent(meta.get("Source")) {
            meta.insert("Source".into(), json!({"ID": lab, "Name": "Lab"}));
        }
        if absent(meta.get("Destinations")) {
            meta.insert("Destinations".into(), json!([{"ID": ehr, "Name": "EHR"}]));
        }
        for field in ["Message", "Transmission"] {
            meta.insert(field.into(), received["Meta"][field].clone());
        }
    }
    serde_json::to_string(&value).expect("write")
}

async fn ask(raw: &str) -> (String, String) {
    let stub = StubDestination::start(StubReply::Text(200, raw.to_string())).await;
    let te = TestEngine::start(&config(&stub.url)).await;
    let token = te.token("Lab").await;
    let (lab, ehr) = (te.source_id("Lab"), te.destination_id("EHR"));
    let query = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query", "Destinations": [{"ID": ehr}]},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
    });
    let response = te
        .client
        .post(format!("{}/query", te.base))
        .bearer_auth(&token)
        .json(&query)
        .send()
        .await
        .expect("query");
    assert_eq!(response.status(), 200, "answer {raw}");
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "answer {raw}"
    );
    let text = response.text().await.expect("body");
    let received: Value = serde_json::from_str(&text).expect("the engine's answer parses");
    if received["Meta"].is_object() {
        let log = received["Meta"]["Logs"][0]["ID"]
            .as_str()
            .expect("Meta.Logs");
        let stored = te
            .store()
            .log(log.parse().expect("log id"))
            .expect("store")
            .expect("the answer names its stored log");
        assert_eq!(stored.destination_id, ehr);
    }
    (text, written(raw, &received, lab, ehr))
}

#[tokio::test]
async fn answers_are_written_as_before_whatever_their_shape() {
    let rows: Vec<String> = (0..5_000)
        .map(|i| format!(r#"{{"ID":"{i:010}","Name":"Patient é {i}","DOB":"1970-01-01"}}"#))
        .collect();
    let huge = format!(
        r#"{{"Meta":{{"DataModel":"PatientSearch","EventType":"Query"}},"Patients":[{}]}}"#,
        rows.join(",")
    );
    let answers = [
        // The usual: compact, Meta first, keys in the destination's order.
        r#"{"Meta":{"DataModel":"PatientSearch","EventType":"Query"},"Patient":{"Identifiers":[{"ID":"0000000001","IDType":"MR"}],"Demographics":{"LastName":"Baker","FirstName":"Abigail"}}}"#,
        // Meta not first; parties given, null or empty; Logs and numbers of its own.
        r#"{"Patients":[],"Meta":{"Logs":[{"ID":"theirs"}],"Source":{"ID":"s"},"Destinations":[],"Message":{"ID":1}}}"#,
        r#"{"Meta":{"Source":null,"DataModel":"PatientSearch"},"N":[0,-7,12345678901234]}"#,
        // No Meta, or a Meta that is not an object.
        r#"{"Patient":{"ID":"1"}}"#,
        r#"{"Meta":"text","Patient":{}}"#,
        // Whitespace, escapes the writer does not use, fractions, duplicates: parsed.
        "{ \"Meta\" : { \"DataModel\" : \"PatientSearch\" } ,\n \"Patient\" : { } }\n",
        r#"{"Meta":{},"Note":"caf\u00e9 \/ \"quoted\"\n"}"#,
        r#"{"Meta":{},"Weight":70.50,"Height":1e2,"Zero":-0}"#,
        r#"{"Meta":{"A":1,"A":2},"Meta":{"B":3}}"#,
        // Timestamps: one to rewrite, one already in the engine's form.
        r#"{"Meta":{"EventDateTime":"2024-05-01T12:00:00+02:00"},"Visit":{"VisitDateTime":"2024-05-01T10:00:00.000Z"}}"#,
        r#"{"Meta":{},"Visit":{"VisitDateTime":"2024-05-01T10:00:00.000Z","StartDateTime":["2024-05-01T10:00Z"]}}"#,
        &huge,
    ];
    for raw in answers {
        let (got, expected) = ask(raw).await;
        assert!(
            got == expected,
            "answer {}\n got {}\nwant {}",
            &raw[..raw.len().min(300)],
            &got[..got.len().min(600)],
            &expected[..expected.len().min(600)]
        );
    }
}
