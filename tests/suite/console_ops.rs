//! What the console's operator actions rely on from the engine: a failed delivery's
//! detail says when it is tried next, through the in-process client and the admin API
//! alike, and retrying now replaces that time with the next attempt's.

use crate::common;

use common::{TestEngine, closed_url, destination_toml, payload, source_toml, subscription_toml};
use std::time::Duration;
use switchboard::client::{Action, Engine, Local};
use switchboard::model::Role;
use switchboard::model::view::VisibleDetail;
use uuid::Uuid;

fn config() -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &destination_toml("EHR", "development", &closed_url());
    // One long wait, so the test sees the back-off in progress.
    c += "retry_schedule_seconds = [600]\ntimeout_seconds = 5\n";
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c
}

async fn send(te: &TestEngine) -> Uuid {
    let token = te.token("Lab").await;
    let body = payload("PatientAdmin", "Arrival", &[te.destination_id("EHR")], "1");
    let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
    assert_eq!(status, 200, "{answer}");
    answer["Meta"]["Logs"][0]["ID"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("log id")
}

/// The detail once it has at least `attempts` attempts and a next attempt scheduled.
async fn scheduled(client: &dyn Engine, log: Uuid, attempts: u32) -> VisibleDetail {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let detail = client.log(log).await.expect("detail").expect("the log");
        if detail.detail.log.attempts >= attempts && detail.detail.next_attempt_at.is_some() {
            return detail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retry scheduled after {attempts} attempt(s): {:?}",
            detail.detail.log
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_says_when_it_is_tried_next() {
    let te = TestEngine::start(&config()).await;
    let local = Local::new(te.engine.clone(), Role::Operator, "test", &te.base);
    let log = send(&te).await;

    let first = scheduled(&local, log, 1).await;
    let due = first.detail.next_attempt_at.expect("due");
    let wait = (due - chrono::Utc::now()).num_seconds();
    // 600 s with ±10 % jitter, measured a moment later.
    assert!((500..=660).contains(&wait), "next attempt in {wait} s");

    // The admin API carries the same field.
    let token = te.admin_token(Role::Operator);
    let (status, body) = te.get(&format!("/admin/v1/logs/{log}"), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let wire = body["nextAttemptAt"].as_str().expect("nextAttemptAt");
    let apart = (common::parse_utc(wire) - due).num_milliseconds().abs();
    assert!(apart < 1_000, "{body}");

    // Retrying now tries at once; the next wait is scheduled from that attempt.
    local
        .act(Action::RetryNow(te.destination_id("EHR")))
        .await
        .expect("retry");
    let second = scheduled(&local, log, 2).await;
    assert_eq!(second.detail.log.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_scheduled_for_a_paused_destination() {
    let te = TestEngine::start(&config()).await;
    let local = Local::new(te.engine.clone(), Role::Operator, "test", &te.base);
    let log = send(&te).await;
    scheduled(&local, log, 1).await;
    local
        .act(Action::Pause(te.destination_id("EHR")))
        .await
        .expect("pause");
    let detail = local.log(log).await.expect("detail").expect("the log");
    assert_eq!(
        detail.detail.next_attempt_at, None,
        "paused: nothing is due"
    );
}
