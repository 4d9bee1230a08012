//! The admin API's live figures: environments, connections with queue and delivery
//! health, and the engine's status.

use crate::common;

use common::{
    StubDestination, StubReply, TestEngine, destination_toml, payload, source_toml,
    subscription_toml,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use switchboard::model::Role;

async fn setup() -> (TestEngine, StubDestination, StubDestination) {
    let ok = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let failing = StubDestination::start(StubReply::Text(500, "down".into())).await;
    let mut c = source_toml("Lab", "development", None);
    c += &source_toml("Prod Lab", "production", None);
    c += &destination_toml("Up", "development", &ok.url);
    c += &destination_toml("Down", "development", &failing.url);
    // One attempt, then a long wait: the items stay queued for the test to see.
    c += "retry_schedule_seconds = [600]\n";
    c += &destination_toml("Prod EHR", "production", &ok.url);
    c += &subscription_toml("Lab", "Up", &["*"]);
    c += &subscription_toml("Lab", "Down", &["*"]);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["*"]);
    (TestEngine::start(&c).await, ok, failing)
}

fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .expect("list")
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_environments_and_status_carry_live_figures() {
    let (te, ok, failing) = setup().await;
    let token = te.token("Lab").await;
    let up = te.destination_id("Up");
    let down = te.destination_id("Down");
    for i in 0..3 {
        let (status, body) = te
            .post_json(
                "/endpoint",
                Some(&token),
                &payload("PatientAdmin", "Arrival", &[up, down], &format!("M{i}")),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Wait (bounded) for the deliveries and the first failed attempt.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ok.requests().len() < 3 || failing.requests().is_empty() {
        assert!(Instant::now() < deadline, "deliveries did not happen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Rates count whole seconds, and an attempt is recorded after its answer: wait
    // (bounded) until the figures have taken all of it in.
    let admin = te.admin_token(Role::Operator);
    let deadline = Instant::now() + Duration::from_secs(10);
    let view = loop {
        let (status, view) = te
            .get("/admin/v1/connections?env=development", Some(&admin))
            .await;
        assert_eq!(status, 200, "{view}");
        let settled = find(&view["sources"], "Lab")["health"]["requestsPerMinute"] == 3.0
            && find(&view["destinations"], "Up")["health"]["successRate5m"] == 1.0
            && find(&view["destinations"], "Down")["health"]["lastAttempt"]["httpStatus"] == 500;
        if settled {
            break view;
        }
        assert!(
            Instant::now() < deadline,
            "the figures did not settle: {view}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let up_view = find(&view["destinations"], "Up");
    assert_eq!(up_view["queueDepth"], 0, "{up_view}");
    assert_eq!(
        up_view["health"]["lastAttempt"]["succeeded"], true,
        "{up_view}"
    );
    assert_eq!(up_view["health"]["successRate5m"], 1.0, "{up_view}");
    let down_view = find(&view["destinations"], "Down");
    assert_eq!(down_view["queueDepth"], 3, "{down_view}");
    assert!(down_view["oldestQueuedAt"].is_string(), "{down_view}");
    assert_eq!(
        down_view["health"]["lastAttempt"]["httpStatus"], 500,
        "{down_view}"
    );
    assert_eq!(down_view["health"]["successRate5m"], 0.0, "{down_view}");
    assert_eq!(down_view["paused"], false);
    assert_eq!(down_view["deliveryAllowed"], true);
    let lab = find(&view["sources"], "Lab");
    assert!(lab["health"]["lastRequest"].is_string(), "{lab}");
    assert_eq!(lab["health"]["requestsPerMinute"], 3.0, "{lab}");
    // Scoped to Development: no Production records.
    assert!(
        view["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .all(|s| s["environment"] == "Development")
    );
    for name in ["Up", "Down"] {
        let secret = common::verification_token(name);
        assert!(!view.to_string().contains(&secret), "tokens listed: {view}");
    }

    let (status, envs) = te.get("/admin/v1/environments", Some(&admin)).await;
    assert_eq!(status, 200, "{envs}");
    let dev = find(&envs, "Development");
    assert_eq!(dev["requestsPerMinute"], 3.0, "{dev}");
    assert!(dev["failures5m"].as_u64().expect("failures") >= 1, "{dev}");
    assert_eq!(find(&envs, "Production")["sources"], 1);

    let (status, me) = te.get("/admin/v1/status", Some(&admin)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "operator");
    assert_eq!(me["phiVisible"], false);
    assert!(me["uptimeSeconds"].is_u64());
    assert!(
        me["journalBacklog"].as_u64().expect("backlog") <= 4_096,
        "{me}"
    );
    assert_eq!(me["journalCapacity"], 4_096);

    let (status, body) = te.get("/admin/v1/connections?env=mars", Some(&admin)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = te.get("/admin/v1/environments", None).await;
    assert_eq!(status, 401);
}

/// Issue 18, point 5: a destination that has answered many requests and then fails
/// with 500 must not read as 100 % successful. The engine counts the failure, and
/// the console's text for the figure (`success_percent`) keeps it visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_among_many_successes_lowers_the_success_rate() {
    use axum::http::StatusCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use switchboard::client::wire::DestinationHealth;

    // 200 to everything but a Cancel, which gets 500.
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            if request["Meta"]["EventType"] == "Cancel" {
                (StatusCode::INTERNAL_SERVER_ERROR, "down")
            } else {
                (StatusCode::OK, "{}")
            }
        }
    });
    let (url, _server) = common::serve_stub(app).await;
    let mut c = source_toml("Lab", "development", None);
    c += &destination_toml("EHR", "development", &url);
    // One attempt, then a long wait: the failure stays the last attempt.
    c += "retry_schedule_seconds = [600]\n";
    c += &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&c).await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    const OK: usize = 200;
    for i in 0..OK {
        let body = payload("PatientAdmin", "Arrival", &[ehr], &format!("M{i}"));
        let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.load(Ordering::SeqCst) < OK {
        assert!(Instant::now() < deadline, "the deliveries did not happen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = payload("PatientAdmin", "Cancel", &[ehr], "M-fail");
    let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
    assert_eq!(status, 200, "{answer}");

    let admin = te.admin_token(Role::Operator);
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        let (status, view) = te
            .get("/admin/v1/connections?env=development", Some(&admin))
            .await;
        assert_eq!(status, 200, "{view}");
        let health: DestinationHealth =
            serde_json::from_value(find(&view["destinations"], "EHR")["health"].clone())
                .expect("health");
        // An attempt is counted after its answer: wait (bounded) until the failure is in.
        if health.failures_5m == 1 && health.attempts_5m == OK as u64 + 1 {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "the figures did not settle: {view}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        health.last_attempt.as_ref().and_then(|a| a.http_status),
        Some(500)
    );
    let rate = health.success_rate_5m.expect("a rate");
    assert!(rate < 1.0, "{health:?}");
    assert_eq!(health.success_percent().as_deref(), Some("99.5%"));
}
