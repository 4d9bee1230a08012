//! Server-sent events at `/admin/v1/events`: the live stream of log changes, filtered
//! on the server with the feed's filter language, masked by role.

use crate::common;

use common::{TestEngine, closed_url, destination_toml, payload, source_toml, subscription_toml};
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use switchboard::client::sse::{Frames, response_frames};
use switchboard::model::Role;

fn config() -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &source_toml("Prod Lab", "production", None);
    // Nobody listens: logs stay PENDING, attempts fail; enough events either way.
    c += &destination_toml("EHR", "development", &closed_url());
    c += "retry_schedule_seconds = [600]\n";
    c += &destination_toml("Prod EHR", "production", &closed_url());
    c += "retry_schedule_seconds = [600]\n";
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["*"]);
    c
}

/// Reads `event: log` frames, with the console's own reader, until `want` have
/// arrived or `wait` passes.
async fn read_logs(frames: &mut Frames, want: usize, wait: Duration) -> Vec<Value> {
    let mut logs = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while logs.len() < want {
        let frame = match tokio::time::timeout_at(deadline, frames.next()).await {
            Ok(Some(Ok(frame))) => frame,
            _ => break,
        };
        if frame.event == "log" {
            logs.push(serde_json::from_str(&frame.data).expect("log JSON"));
        }
    }
    logs
}

/// Reads `event: log` frames until one matches `last`; all of them, that one included.
/// Events arrive in the order the engine published them, so whatever was published
/// before `last` has been seen when it comes.
async fn read_until(frames: &mut Frames, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut logs = Vec::new();
    loop {
        let more = read_logs(frames, 1, Duration::from_secs(15)).await;
        let Some(log) = more.into_iter().next() else {
            panic!("the awaited event did not come; before it: {logs:?}");
        };
        let done = last(&log);
        logs.push(log);
        if done {
            return logs;
        }
    }
}

async fn subscribe(te: &TestEngine, token: &str, filter: &str) -> Frames {
    let response = te
        .client
        .get(te.url("/admin/v1/events"))
        .query(&[("filter", filter)])
        .bearer_auth(token)
        .send()
        .await
        .expect("subscribe");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("type"),
        "text/event-stream"
    );
    response_frames(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_carries_only_matching_logs() {
    let te = TestEngine::start(&config()).await;
    let admin = te.admin_token(Role::Admin);
    let mut stream = subscribe(&te, &admin, "dm:PatientAdmin event:Arrival").await;
    // The same events unfiltered: to know when the first log's attempt has been told.
    let mut everything = subscribe(&te, &admin, "").await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    for (model, event) in [
        ("Results", "New"),
        ("PatientAdmin", "Arrival"),
        ("PatientAdmin", "Discharge"),
    ] {
        let (status, body) = te
            .post_json(
                "/endpoint",
                Some(&token),
                &payload(model, event, &[ehr], "M1"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Nobody listens at EHR: the head of its queue (Results) fails its attempt.
    read_until(&mut everything, |l| {
        l["dataModel"] == "Results" && l["attempts"].as_u64() >= Some(1)
    })
    .await;
    // A last Arrival, published after every change above: once the filtered stream has
    // it, it has had its chance to carry any of them.
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(&token),
            &payload("PatientAdmin", "Arrival", &[ehr], "M-LAST"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let logs = read_until(&mut stream, |l| l["patientId"] == "M-LAST").await;
    assert!(logs.len() >= 2, "the first Arrival did not come: {logs:?}");
    for log in &logs {
        assert_eq!(log["dataModel"], "PatientAdmin", "{log}");
        assert_eq!(log["eventType"], "Arrival", "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_patients_stay_hidden_from_a_viewer() {
    let te = TestEngine::start(&config()).await;
    let viewer = te.admin_token(Role::Viewer);
    let mut everything = subscribe(&te, &viewer, "").await;
    let mut by_patient = subscribe(&te, &viewer, "mrn:MRN-SECRET").await;
    let phi = te.admin_token(Role::Phi);
    let mut by_patient_with_phi = subscribe(&te, &phi, "mrn:MRN-SECRET").await;
    let token = te.token("Prod Lab").await;
    let prod = te.destination_id("Prod EHR");
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(&token),
            &payload("PatientAdmin", "Arrival", &[prod], "MRN-SECRET"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let logs = read_logs(&mut everything, 1, Duration::from_secs(5)).await;
    assert!(!logs.is_empty());
    for log in &logs {
        assert_eq!(log["environment"], "Production");
        assert!(
            log.get("patientId").is_none(),
            "patient field leaked: {log}"
        );
    }
    // A patient filter cannot be used to find out who is in Production traffic: the
    // same patient in Development, sent after, is the first thing the filter finds.
    let dev = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(&dev),
            &payload("PatientAdmin", "Arrival", &[ehr], "MRN-SECRET"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let found = read_until(&mut by_patient, |l| l["environment"] == "Development").await;
    assert_eq!(
        found.len(),
        1,
        "Production traffic found by patient: {found:?}"
    );
    // With the permission, the same filter finds it, patient field included.
    let found = read_logs(&mut by_patient_with_phi, 1, Duration::from_secs(5)).await;
    assert_eq!(
        found.first().map(|l| l["patientId"].clone()),
        Some("MRN-SECRET".into())
    );
}

#[tokio::test]
async fn a_bad_filter_is_refused_with_its_position() {
    let te = TestEngine::start(&config()).await;
    let admin = te.admin_token(Role::Viewer);
    let (status, body) = te
        .get_query("/admin/v1/events", &admin, &[("filter", "status:done")])
        .await;
    assert_eq!(status, 400, "{body}");
    let text = body["Meta"]["Errors"][0]["Text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("status") && text.contains("0..11"), "{text}");
    let (status, _) = te.get("/admin/v1/events", None).await;
    assert_eq!(status, 401);
}
