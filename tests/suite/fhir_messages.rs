//! FHIR messages through the engine (issue 16): a message Bundle accepted durably,
//! logged as `FHIR.Message.<Model>` with a kebab-case event, delivered through the push
//! queue to the stub server's `$process-message` with the verification token; shape,
//! timestamp and subscription refusals; and PHI: Production FHIR logs seen by a viewer
//! carry no body and no patient value.

use crate::common;
use crate::common::fhir_stub;

use axum::http::StatusCode;
use common::{TestEngine, eventually_within};
use fhir_stub::{FhirStub, assert_outcome, call, config};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard::model::{LogStatus, LogType, Role};

fn bundle(effective: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "message",
        "timestamp": "2026-07-01T10:00:00Z",
        "entry": [
            {"resource": {"resourceType": "MessageHeader",
                          "eventCoding": {"system": "urn:redox:event-type", "code": "Observation-New"},
                          "source": {"endpoint": "somebody-else"}}},
            {"resource": {"resourceType": "Observation", "status": "final",
                          "code": {"text": "Glucose"}, "effectiveDateTime": effective,
                          "issued": "2026-07-01T10:05:00.123+02:00"}}
        ]
    })
}

fn post_message(engine: &TestEngine, token: &str, body: &Value) -> reqwest::RequestBuilder {
    engine
        .client
        .post(engine.url("/fhir/R4/acme/Development/Observation/$observation-create"))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
}

#[tokio::test]
async fn a_message_is_accepted_logged_and_delivered_to_process_message() {
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let token = engine.token("Lab").await;
    let sent = bundle("2026-07-01");
    let (status, _, answer) = call(&engine, post_message(&engine, &token, &sent)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["resourceType"], "OperationOutcome");
    assert_eq!(answer["issue"][0]["severity"], "information");
    let log_id = answer["id"].as_str().expect("the log ID").to_string();

    eventually_within(
        "delivery to $process-message",
        Duration::from_secs(10),
        || {
            let seen = stub.seen();
            let delivered = seen
                .iter()
                .find(|s| s.uri.ends_with("/fhir/$process-message"))
                .ok_or("not delivered yet")?;
            let header = |n: &str| delivered.headers.get(n).and_then(|v| v.to_str().ok());
            assert_eq!(header("verification-token"), Some("vt-acme"));
            assert_eq!(header("content-type"), Some("application/fhir+json"));
            let body: Value = serde_json::from_slice(&delivered.body).expect("json");
            assert_eq!(body, sent, "the Bundle as the source sent it");
            Ok(())
        },
    )
    .await;
    eventually_within("the log succeeded", Duration::from_secs(10), || {
        let log = engine
            .all_logs()
            .into_iter()
            .find(|l| l.id.to_string() == log_id)
            .ok_or("no log")?;
        assert_eq!(log.data_model, "FHIR.Message.Observation");
        assert_eq!(log.event_type, "observation-created");
        assert_eq!(log.log_type, LogType::Send);
        (log.status == LogStatus::Succeeded)
            .then_some(())
            .ok_or(format!("{:?}", log.status))
    })
    .await;
}

#[tokio::test]
async fn bad_messages_are_refused_before_anything_is_stored() {
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let lab = engine.token("Lab").await;
    let naive = call(
        &engine,
        post_message(&engine, &lab, &bundle("2026-07-01T10:00:00")),
    )
    .await;
    assert_outcome(
        &naive,
        400,
        "entry[1].resource.effectiveDateTime has a time but no offset",
    );
    let mut no_header = bundle("2026-07-01");
    no_header["entry"][0]["resource"]["resourceType"] = json!("Patient");
    assert_outcome(
        &call(&engine, post_message(&engine, &lab, &no_header)).await,
        422,
        "MessageHeader",
    );
    let mut not_message = bundle("2026-07-01");
    not_message["type"] = json!("collection");
    assert_outcome(
        &call(&engine, post_message(&engine, &lab, &not_message)).await,
        422,
        "message",
    );
    let not_json = post_message(&engine, &lab, &json!(null)).body("{");
    assert_outcome(&call(&engine, not_json).await, 400, "not JSON");
    let xml = engine
        .client
        .post(engine.url("/fhir/R4/acme/Development/Observation/$observation-create"))
        .bearer_auth(&lab)
        .header("content-type", "application/fhir+xml")
        .body(bundle("2026-07-01").to_string());
    assert_outcome(&call(&engine, xml).await, 415, "application/fhir+json");
    // Clinic may only search practitioners.
    let clinic = engine.token("Clinic").await;
    let refused = call(
        &engine,
        post_message(&engine, &clinic, &bundle("2026-07-01")),
    )
    .await;
    assert_outcome(&refused, 403, "FHIR.Message.Observation");
    assert!(engine.all_logs().is_empty(), "nothing refused is logged");
    assert!(engine.all_queued().is_empty());
}

#[tokio::test]
async fn production_fhir_traffic_shows_no_patient_to_a_viewer() {
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let token = engine.token("Prod App").await;
    let base = "/fhir/R4/acme-prod/Production";
    let by_id = engine
        .client
        .get(engine.url(&format!("{base}/Patient?identifier=0000000001")))
        .bearer_auth(&token);
    assert_eq!(call(&engine, by_id).await.0, StatusCode::OK);
    let by_name = engine
        .client
        .post(engine.url(&format!("{base}/Patient/_search")))
        .bearer_auth(&token)
        .form(&[
            ("family", "Baker"),
            ("given", "Ann"),
            ("birthdate", "1980-01-02"),
        ]);
    assert_eq!(call(&engine, by_name).await.0, StatusCode::OK);

    let viewer = engine.admin_token(Role::Viewer);
    let phi = engine.admin_token(Role::Phi);
    let (status, listed) = engine
        .get_query("/admin/v1/logs", &viewer, &[("dataModel", "FHIR.Patient")])
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let logs = listed["logs"].as_array().expect("logs").clone();
    assert_eq!(logs.len(), 2, "{listed}");
    let text = listed.to_string();
    assert!(
        !text.contains("0000000001") && !text.contains("Baker"),
        "{text}"
    );
    for log in &logs {
        let id = log["id"].as_str().expect("id");
        let (_, masked) = engine
            .get(&format!("/admin/v1/logs/{id}"), Some(&viewer))
            .await;
        let shown = masked.to_string();
        assert!(
            !shown.contains("Baker") && !shown.contains("0000000001"),
            "{shown}"
        );
        let (_, open) = engine
            .get(&format!("/admin/v1/logs/{id}"), Some(&phi))
            .await;
        assert!(
            open.to_string().contains("Baker"),
            "the PHI role sees the answer: {open}"
        );
    }
    // A patient search of Production is refused to a viewer, as for any data model.
    let (status, _) = engine
        .get_query(
            "/admin/v1/logs",
            &viewer,
            &[("mrn", "0000000001"), ("env", "production")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, found) = engine
        .get_query("/admin/v1/logs", &phi, &[("mrn", "0000000001")])
        .await;
    assert_eq!(found["logs"].as_array().map(Vec::len), Some(1), "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_stream_carries_fhir_logs_masked_for_a_viewer() {
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let viewer = engine.admin_token(Role::Viewer);
    let mut stream = engine
        .client
        .get(engine.url("/admin/v1/events"))
        .query(&[("filter", "dm:FHIR.Patient")])
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("subscribe");
    assert_eq!(stream.status(), StatusCode::OK);
    let token = engine.token("Prod App").await;
    let search = engine
        .client
        .get(engine.url("/fhir/R4/acme-prod/Production/Patient?identifier=0000000001"))
        .bearer_auth(&token);
    assert_eq!(call(&engine, search).await.0, StatusCode::OK);
    // Frames until the search's SUCCEEDED change has come.
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("SUCCEEDED") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("the search's log change within 10 s")
            .expect("stream")
            .expect("open stream");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("\"dataModel\":\"FHIR.Patient\""), "{text}");
    assert!(text.contains("\"eventType\":\"search\""), "{text}");
    assert!(
        !text.contains("0000000001"),
        "no patient value for a viewer: {text}"
    );
}

#[tokio::test]
async fn a_full_queue_refuses_a_message_with_429_as_an_operation_outcome() {
    let stub = FhirStub::start().await;
    // A server nobody answers at (the discard port is closed on loopback), one item deep.
    let down = r#"
[[destinations]]
name = "Down FHIR"
environment = "development"
fhir_slug = "down"
fhir_url = "http://127.0.0.1:9"
verification_token = "vt-down"
verified = true
max_queue_items = 1

[[subscriptions]]
source = "Lab"
destination = "Down FHIR"
data_models = ["FHIR.*"]
"#;
    let engine = TestEngine::start(&config(&stub.base, down)).await;
    let token = engine.token("Lab").await;
    let post = || {
        engine
            .client
            .post(engine.url("/fhir/R4/down/Development/Observation/$observation-create"))
            .bearer_auth(&token)
            .header("content-type", "application/fhir+json")
            .body(bundle("2026-07-01").to_string())
    };
    let (status, _, answer) = call(&engine, post()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let response = post().send().await.expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        response.headers().contains_key("retry-after"),
        "429 without Retry-After"
    );
    let refused = call(&engine, post()).await;
    assert_outcome(&refused, 429, "max_queue_items");
    assert_eq!(engine.all_logs().len(), 1, "a refused message left a log");
}
