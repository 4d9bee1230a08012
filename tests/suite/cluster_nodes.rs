//! Two engine nodes in one process on one PostgreSQL store: traffic sent through both
//! is delivered once per message, in order, by whichever node holds the queue; each
//! node's event bus and history show the other's traffic; IDs are the same on both.

use crate::common::postgres::database;
use crate::common::{
    StubDestination, StubReply, TestEngine, destination_toml, payload, source_toml,
    subscription_toml,
};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use switchboard::model::LogStatus;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(30);

fn config(url: &str) -> String {
    source_toml("Lab", "development", None)
        + &destination_toml("EHR", "development", url)
        + "retry_schedule_seconds = [0.05, 0.1]\ntimeout_seconds = 5\n\n"
        + &subscription_toml("Lab", "EHR", &["*"])
}

fn mrn_of(body: &Value) -> String {
    body["Patient"]["Identifiers"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_what_either_accepted_once_in_order_and_see_each_other() {
    let db = database().await;
    let stub = StubDestination::start(StubReply::Json(200, json!({"ok": true}))).await;
    let config = config(&format!("{}/ehr", stub.url));
    let a = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let ehr = a.destination_id("EHR");
    assert_eq!(ehr, b.destination_id("EHR"), "generated IDs are shared");
    assert_eq!(a.source_id("Lab"), b.source_id("Lab"));

    let mut heard_on_b = b.engine.subscribe();
    // One login, on A: its token works on both nodes (a load balancer in front).
    let token = a.token("Lab").await;
    let tokens = [token.clone(), token];
    let nodes = [&a, &b];
    let mut sent = Vec::new();
    for i in 0..20 {
        let (node, token) = (nodes[i % 2], &tokens[i % 2]);
        let mrn = format!("MRN-{i:02}");
        let (status, answer) = node
            .post_json(
                "/endpoint",
                Some(token),
                &payload("PatientAdmin", "Arrival", &[ehr], &mrn),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let log = crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]);
        sent.push((mrn, log));
    }

    // Every message arrives; the queue is one (one source, one destination), so in
    // the order accepted, whichever node delivered.
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let got: HashSet<String> = stub.requests().iter().map(|r| mrn_of(&r.body)).collect();
        if got.len() == sent.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} delivered",
            got.len(),
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order: Vec<String> = stub.requests().iter().map(|r| mrn_of(&r.body)).collect();
    let mut first_seen = Vec::new();
    for mrn in &order {
        if !first_seen.contains(mrn) {
            first_seen.push(mrn.clone());
        }
    }
    let wanted: Vec<String> = sent.iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(first_seen, wanted, "delivered out of order");

    // History is one: either node reads every log, SUCCEEDED.
    for (_, log) in &sent {
        for node in nodes {
            let (status, detail) = node
                .get(
                    &format!("/admin/v1/logs/{log}"),
                    Some(&node.admin_token(switchboard::model::Role::Admin)),
                )
                .await;
            assert_eq!(status, 200, "{detail}");
            assert_eq!(detail["log"]["status"], "SUCCEEDED", "{detail}");
        }
    }

    // B's event bus carried A's traffic too.
    let from_a: HashSet<Uuid> = sent.iter().step_by(2).map(|(_, l)| *l).collect();
    let mut heard = HashSet::new();
    let until = tokio::time::Instant::now() + DEADLINE;
    while !from_a.is_subset(&heard) {
        match tokio::time::timeout_at(until, heard_on_b.recv()).await {
            Ok(Ok(event)) if event.log.status == LogStatus::Succeeded => {
                heard.insert(event.log.id);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event bus: {e}"),
            Err(_) => panic!("B heard {} of A's {} logs", heard.len(), from_a.len()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_made_on_one_node_logs_in_on_another_and_a_revocation_holds_on_both() {
    let db = database().await;
    let stub = StubDestination::start(StubReply::Json(200, json!({"ok": true}))).await;
    let config = config(&format!("{}/ehr", stub.url));
    let a = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let (api_key, secret) = a.api_key("Lab");
    let (status, grant) = b
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": api_key, "secret": secret}),
        )
        .await;
    assert_eq!(status, 200, "B knows A's key: {grant}");
    let token = grant["accessToken"].as_str().expect("token").to_string();
    let refresh = grant["refreshToken"].as_str().expect("refresh").to_string();
    let ehr = a.destination_id("EHR");
    let message = payload("PatientAdmin", "Arrival", &[ehr], "MRN-1");
    assert_eq!(
        a.post_json("/endpoint", Some(&token), &message).await.0,
        200
    );

    // A refresh token is used once, whichever node sees it.
    let body = json!({"apiKey": api_key, "refreshToken": refresh});
    let (first, _) = a.post_json("/auth/refreshToken", None, &body).await;
    assert_eq!(first, 200);
    let (again, _) = b.post_json("/auth/refreshToken", None, &body).await;
    assert_eq!(
        again, 401,
        "a refresh token replayed on another node is refused"
    );

    // Revoked through B's admin API: A refuses the key and its tokens at once.
    let admin = b.admin_token(switchboard::model::Role::Admin);
    let (status, report) = b
        .request(
            reqwest::Method::POST,
            &format!("/admin/v1/keys/{api_key}/revoke"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = a.post_json("/endpoint", Some(&token), &message).await;
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A still takes a token revoked on B ({status})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = a
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": api_key, "secret": secret}),
        )
        .await;
    assert_eq!(status, 401, "the revoked key no longer logs in on A");
}

async fn poll_call(node: &TestEngine, path: &str, body: &Value) -> (u16, Value) {
    let response = node
        .client
        .post(node.url(path))
        .header(
            "verification-token",
            crate::common::verification_token("Poller"),
        )
        .json(body)
        .send()
        .await
        .expect("poll request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_polled_on_one_node_is_acknowledged_on_another_and_queries_are_shared() {
    let db = database().await;
    let stub = StubDestination::start(StubReply::Json(
        200,
        json!({"Meta": {"DataModel": "PatientSearch", "EventType": "Query"}, "Patients": []}),
    ))
    .await;
    let config = config(&format!("{}/ehr", stub.url))
        + "[[destinations]]\nname = \"Poller\"\nenvironment = \"development\"\nmode = \"poll\"\n"
        + "verification_token = \"tok-Poller\"\n\n"
        + &subscription_toml("Lab", "Poller", &["*"]);
    let a = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let poller = a.destination_id("Poller");
    let token = a.token("Lab").await;
    let mut sent = Vec::new();
    for i in 0..6 {
        let message = payload("PatientAdmin", "Arrival", &[poller], &format!("MRN-{i}"));
        let (status, answer) = a.post_json("/endpoint", Some(&token), &message).await;
        assert_eq!(status, 200, "{answer}");
        sent.push(crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]));
    }
    let batch = json!({"destination": poller, "max": 4, "leaseSeconds": 60});
    let (status, first) = poll_call(&b, "/poll", &batch).await;
    assert_eq!(status, 200, "{first}");
    let first: Vec<Uuid> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| crate::common::uuid_of(&i["logId"]))
        .collect();
    assert_eq!(first, sent[..4], "B hands out A's oldest first");
    let (_, second) = poll_call(&a, "/poll", &batch).await;
    let second: Vec<Uuid> = second["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| crate::common::uuid_of(&i["logId"]))
        .collect();
    assert_eq!(second, sent[4..], "A does not hand out what B leased");
    let ack = json!({"destination": poller, "logIds": first});
    let (status, acked) = poll_call(&a, "/poll/ack", &ack).await;
    assert_eq!(status, 200, "{acked}");
    let admin = b.admin_token(switchboard::model::Role::Admin);
    for id in &first {
        let (_, detail) = b.get(&format!("/admin/v1/logs/{id}"), Some(&admin)).await;
        assert_eq!(detail["log"]["status"], "SUCCEEDED", "{detail}");
    }
    let (_, again) = poll_call(&b, "/poll/ack", &ack).await;
    assert_eq!(again["acknowledged"], 0, "acknowledged once: {again}");

    // A query through B is answered, and A reads its log with the answer.
    let ehr = a.destination_id("EHR");
    let query = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Destinations": [{"ID": ehr}]},
        "Patient": {"Identifiers": [{"ID": "MRN-9", "IDType": "MR"}]}
    });
    let (status, answer) = b.post_json("/query", Some(&token), &query).await;
    assert_eq!(status, 200, "{answer}");
    let log = crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]);
    let admin_a = a.admin_token(switchboard::model::Role::Admin);
    let (_, detail) = a
        .get(&format!("/admin/v1/logs/{log}"), Some(&admin_a))
        .await;
    assert_eq!(detail["log"]["status"], "SUCCEEDED", "{detail}");
    assert!(detail["response"]["Patients"].is_array(), "{detail}");
}

async fn act(node: &TestEngine, path: &str) -> (u16, Value) {
    let admin = node.admin_token(switchboard::model::Role::Admin);
    let (status, body) = node
        .request(reqwest::Method::POST, path, Some(&admin), None)
        .await;
    (status.as_u16(), body)
}

async fn status_on(node: &TestEngine, log: Uuid) -> Value {
    let admin = node.admin_token(switchboard::model::Role::Admin);
    let (_, detail) = node
        .get(&format!("/admin/v1/logs/{log}"), Some(&admin))
        .await;
    detail["log"].clone()
}

/// Two nodes on `db` with one destination that keeps answering 503: its messages
/// stay queued (for an operator), and its queue stays leased by the node retrying it.
pub async fn two_nodes_and_a_failing_destination(
    db: &crate::common::postgres::Database,
) -> (StubDestination, TestEngine, TestEngine) {
    let stub = StubDestination::start(StubReply::Json(503, json!({"busy": true}))).await;
    let config = source_toml("Lab", "development", None)
        + &destination_toml("EHR", "development", &format!("{}/ehr", stub.url))
        + "retry_schedule_seconds = [30]\ntimeout_seconds = 5\n\n"
        + &subscription_toml("Lab", "EHR", &["*"]);
    let a = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    (stub, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_on_one_node_hold_on_the_other() {
    let db = database().await;
    let (_stub, a, b) = two_nodes_and_a_failing_destination(&db).await;
    let ehr = a.destination_id("EHR");
    let token = a.token("Lab").await;
    let mut logs = Vec::new();
    for i in 0..3 {
        let message = payload("PatientAdmin", "Arrival", &[ehr], &format!("MRN-{i}"));
        let (status, answer) = a.post_json("/endpoint", Some(&token), &message).await;
        assert_eq!(status, 200, "{answer}");
        logs.push(crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]));
    }

    // The failing queue waits out its back-off on the node holding its lease: both
    // nodes' Connections say which.
    let holder = [&a, &b].map(|n| n.base.trim_start_matches("http://").to_string());
    for node in [&a, &b] {
        let admin = node.admin_token(switchboard::model::Role::Admin);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, view) = node.get("/admin/v1/connections", Some(&admin)).await;
            let by = view["destinations"]
                .as_array()
                .and_then(|ds| ds.iter().find(|d| d["name"] == "EHR"))
                .map(|d| d["deliveredBy"].as_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            if holder.iter().any(|h| by.ends_with(h.as_str())) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "deliveredBy {by:?}: {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Quarantined through B, seen on A; listed on A; released through A.
    let (status, body) = act(&b, &format!("/admin/v1/logs/{}/quarantine", logs[1])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_on(&a, logs[1]).await["quarantined"], true);
    let admin = a.admin_token(switchboard::model::Role::Admin);
    let (_, listed) = a
        .get(
            &format!("/admin/v1/destinations/{ehr}/quarantine"),
            Some(&admin),
        )
        .await;
    assert_eq!(listed["logs"][0]["id"], json!(logs[1]), "{listed}");
    let (status, again) = act(&a, &format!("/admin/v1/logs/{}/quarantine", logs[1])).await;
    assert_eq!(status, 409, "quarantined twice: {again}");
    let (status, body) = act(&a, &format!("/admin/v1/logs/{}/release", logs[1])).await;
    assert_eq!(status, 200, "{body}");
    let released = status_on(&b, logs[1]).await;
    assert!(
        !released["quarantined"].as_bool().unwrap_or(false),
        "{released}"
    );

    // Marked FAILED through A, refused a second time through B; resent through B.
    let (status, body) = act(&a, &format!("/admin/v1/logs/{}/fail", logs[2])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_on(&b, logs[2]).await["status"], "FAILED");
    let (status, _) = act(&b, &format!("/admin/v1/logs/{}/fail", logs[2])).await;
    assert_eq!(status, 409);
    let (status, resent) = act(&b, &format!("/admin/v1/logs/{}/resend", logs[2])).await;
    assert_eq!(status, 200, "{resent}");
    let new_log = crate::common::uuid_of(&resent["id"]);
    assert_eq!(status_on(&a, new_log).await["status"], "PENDING");

    // Paused through A: B takes it up within its scan.
    let (status, body) = act(&a, &format!("/admin/v1/destinations/{ehr}/pause")).await;
    assert_eq!(status, 200, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.engine.delivery().is_paused(ehr) {
        assert!(
            std::time::Instant::now() < deadline,
            "B never saw the pause"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = act(&b, &format!("/admin/v1/destinations/{ehr}/resume")).await;
    assert_eq!(status, 200);
    while a.engine.delivery().is_paused(ehr) {
        assert!(
            std::time::Instant::now() < deadline,
            "A never saw the resume"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_whole_days_but_keeps_a_day_still_owed_delivery() {
    let db = database().await;
    let stub = StubDestination::start(StubReply::Json(200, json!({"ok": true}))).await;
    let config = config(&format!("{}/ehr", stub.url))
        + "[[destinations]]\nname = \"Poller\"\nenvironment = \"development\"\nmode = \"poll\"\n"
        + "verification_token = \"tok-Poller\"\n\n"
        + &subscription_toml("Lab", "Poller", &["*"])
        + "[environments.development]\nretention_days = 1\n";
    let a = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let token = a.token("Lab").await;
    let ehr = a.destination_id("EHR");
    let message = payload("PatientAdmin", "Arrival", &[ehr], "MRN-1");
    let (status, answer) = a.post_json("/endpoint", Some(&token), &message).await;
    assert_eq!(status, 200, "{answer}");
    let delivered = crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]);
    let deadline = std::time::Instant::now() + DEADLINE;
    while status_on(&a, delivered).await["status"] != "SUCCEEDED" {
        assert!(std::time::Instant::now() < deadline, "never delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A poll destination's message, never fetched: owed, so its day stays.
    let poller = a.destination_id("Poller");
    let message = payload("PatientAdmin", "Arrival", &[poller], "MRN-2");
    let (_, answer) = a.post_json("/endpoint", Some(&token), &message).await;
    let owed = crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]);
    a.engine
        .retention_clock()
        .advance(chrono::Duration::days(3));
    let (status, report) = act(&a, "/admin/v1/retention/run").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(status_on(&a, owed).await["status"], "PENDING", "{report}");
    assert_eq!(
        status_on(&a, delivered).await["status"],
        "SUCCEEDED",
        "same day, kept"
    );

    // Once fetched and acknowledged, the next sweep drops the day whole.
    let (_, batch) = poll_call(
        &a,
        "/poll",
        &json!({"destination": poller, "max": 10, "leaseSeconds": 60}),
    )
    .await;
    assert_eq!(batch["items"].as_array().map(Vec::len), Some(1), "{batch}");
    let (_, _) = poll_call(
        &a,
        "/poll/ack",
        &json!({"destination": poller, "logIds": [owed]}),
    )
    .await;
    let (status, report) = act(&a, "/admin/v1/retention/run").await;
    assert_eq!(status, 200, "{report}");
    let admin = a.admin_token(switchboard::model::Role::Admin);
    for log in [owed, delivered] {
        let (status, _) = a.get(&format!("/admin/v1/logs/{log}"), Some(&admin)).await;
        assert_eq!(status, 404, "log {log} outlived its day: {report}");
    }
    let dropped = report["environments"]["Development"]["logs"].as_u64();
    assert!(dropped >= Some(2), "{report}");
    assert!(
        report["environments"]["Development"]["bytes"].as_u64() > Some(0),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_verified_through_one_node_is_verified_on_the_other() {
    let db = database().await;
    // Echoes what it is sent: the challenge comes back.
    let app = axum::Router::new().fallback(|body: axum::body::Bytes| async move { body });
    let (url, _server) = crate::common::serve_stub(app).await;
    let config = source_toml("Lab", "staging", None)
        + &destination_toml("Stage EHR", "staging", &url)
        + &subscription_toml("Lab", "Stage EHR", &["*"]);
    let a = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config, Some(&db.url), |_| {}).await;
    let id = a.destination_id("Stage EHR");
    let on = |node: &TestEngine| {
        let d = node
            .engine
            .registry()
            .destination(id)
            .cloned()
            .expect("configured");
        node.engine.delivery_allowed(&d).is_ok()
    };
    assert!(
        !on(&a) && !on(&b),
        "unverified Staging destinations are held"
    );
    let (status, body) = act(&a, &format!("/admin/v1/destinations/{id}/verify")).await;
    assert_eq!(status, 200, "{body}");
    assert!(on(&a));
    assert!(on(&b), "B reads the record A wrote");
}
