//! The built-in Development sandbox over real HTTP: reached with no configuration,
//! patient search, a writeback then query round trip, failure modes on demand, and
//! `switchboard simulate`.

mod common;

use common::TestEngine;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use switchboard::engine::config::CONSOLE_SOURCE_NAME;
use switchboard::model::LogStatus;
use switchboard::sandbox::{self, FAILURE_EXTENSION};
use uuid::Uuid;

fn to_sandbox(model: &str, event: &str, body: Value) -> Value {
    let mut v = body;
    v["Meta"] = json!({
        "DataModel": model,
        "EventType": event,
        "Destinations": [{"ID": sandbox::DESTINATION_ID}],
    });
    v
}

fn with_failure(mut request: Value, mode: &str) -> Value {
    request["Meta"]["Extensions"] = json!({
        FAILURE_EXTENSION: {"url": "https://switchboard.local/extensions/sandbox-failure", "string": mode}
    });
    request
}

fn search_by_mrn(mrn: &str) -> Value {
    to_sandbox(
        "PatientSearch",
        "Query",
        json!({"Patient": {"Identifiers": [{"ID": mrn, "IDType": "MR"}]}}),
    )
}

/// Waits (bounded) until the log reaches a settled status or has `attempts` attempts.
async fn wait_for_log(
    te: &TestEngine,
    id: Uuid,
    done: impl Fn(&switchboard::model::LogRecord) -> bool,
) -> switchboard::model::LogRecord {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = te.engine.store().log(id).expect("store").expect("log");
        if done(&log) {
            return log;
        }
        assert!(Instant::now() < deadline, "log {id} stuck: {log:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn failure_mode_500_answers_queries_with_a_destination_error() {
    let te = TestEngine::start("").await;
    let token = te.token(CONSOLE_SOURCE_NAME).await;
    let (status, body) = te
        .post_json(
            "/query",
            Some(&token),
            &with_failure(search_by_mrn("0000000001"), "500"),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    let text = body["Meta"]["Errors"][0]["Text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("HTTP 500"), "{text}");
}

#[tokio::test]
async fn failure_mode_errors_answers_200_with_meta_errors() {
    let te = TestEngine::start("").await;
    let token = te.token(CONSOLE_SOURCE_NAME).await;
    let (status, body) = te
        .post_json(
            "/query",
            Some(&token),
            &with_failure(search_by_mrn("0000000001"), "errors"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["Meta"]["Errors"][0]["Module"],
        sandbox::DESTINATION_NAME
    );
    assert!(body["Meta"]["Logs"][0]["ID"].is_string(), "{body}");
}

#[tokio::test]
async fn failure_mode_timeout_makes_the_engine_answer_504() {
    let te = TestEngine::start("[engine]\nquery_timeout_seconds = 1\n").await;
    let token = te.token(CONSOLE_SOURCE_NAME).await;
    let started = Instant::now();
    let (status, body) = te
        .post_json(
            "/query",
            Some(&token),
            &with_failure(search_by_mrn("0000000001"), "timeout"),
        )
        .await;
    assert_eq!(status, 504, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn failure_mode_500_holds_a_notification_for_retry() {
    let te = TestEngine::start("").await;
    let token = te.token(CONSOLE_SOURCE_NAME).await;
    let arrival = to_sandbox(
        "PatientAdmin",
        "Arrival",
        json!({"Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}}),
    );
    let (status, body) = te
        .post_json("/endpoint", Some(&token), &with_failure(arrival, "500"))
        .await;
    assert_eq!(status, 200, "{body}");
    let id: Uuid = body["Meta"]["Logs"][0]["ID"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("log id");
    let log = wait_for_log(&te, id, |l| l.attempts >= 2).await;
    assert_eq!(log.status, LogStatus::Pending);
    let attempts = te.engine.store().attempts(id).expect("attempts");
    assert_eq!(attempts[0].http_status, Some(500));
}
