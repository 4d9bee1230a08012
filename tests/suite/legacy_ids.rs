//! `Meta.Message.ID` and `Meta.Transmission.ID`, the platform's deprecated numeric IDs
//! that older clients still read (issue 15, point 2): integers in the 200 of
//! `/endpoint`, on every delivery (the same on a retry and a resend) and in query
//! answers; larger after a restart and after a SIGKILL; a sender's own replaced; left
//! out for a source with `legacy_ids = false`. Real engine, loopback HTTP.

use crate::common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use common::bin::{access_token, cli_json, serve_dir};
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::model::Role;
use uuid::Uuid;

/// How long any wait for the engine may take (generous: a loaded two-core machine).
const DEADLINE: Duration = Duration::from_secs(20);
/// The largest integer a JavaScript client reads exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// "Lab" → "A" and "B" (every model); "Quiet" (`legacy_ids = false`) → "A". A retries
/// fast.
fn config(a: &str, b: &str) -> String {
    let mut c = source_toml("Lab", "development", None);
    c += "[[sources]]\nname = \"Quiet\"\nenvironment = \"development\"\nlegacy_ids = false\n\n";
    c += destination_toml("A", "development", a).trim_end();
    c += "\nretry_schedule_seconds = [0.05, 0.1]\n\n";
    c += &destination_toml("B", "development", b);
    c += &subscription_toml("Lab", "A", &["*"]);
    c += &subscription_toml("Lab", "B", &["*"]);
    c += &subscription_toml("Quiet", "A", &["*"]);
    c
}

/// `(Meta.Message.ID, Meta.Transmission.ID)` of a body: both JSON integers, JS-safe.
fn ids(body: &Value) -> (u64, u64) {
    let number = |field: &str| {
        let n = body["Meta"][field]["ID"]
            .as_u64()
            .unwrap_or_else(|| panic!("Meta.{field}.ID is not an integer: {body}"));
        assert!(n <= MAX_SAFE_INTEGER, "Meta.{field}.ID {n} is not JS-safe");
        assert!(
            n > 0,
            "Meta.{field}.ID is 0, which a client may read as absent"
        );
        n
    };
    (number("Message"), number("Transmission"))
}

fn has_no_ids(body: &Value, what: &str) {
    let meta = body["Meta"].as_object().expect("Meta");
    assert!(!meta.contains_key("Message"), "{what} has Message: {body}");
    assert!(
        !meta.contains_key("Transmission"),
        "{what} has Transmission: {body}"
    );
}

fn first_log(body: &Value) -> Uuid {
    uuid_of(&body["Meta"]["Logs"][0]["ID"])
}

async fn sent(te: &TestEngine, token: &str, body: &Value) -> Value {
    let (status, answer) = te.post_json("/endpoint", Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// What `/admin/v1/logs/{id}` shows of a log's numbers.
async fn stored_ids(te: &TestEngine, log: Uuid) -> Value {
    let admin = te.admin_token(Role::Admin);
    let (status, detail) = te.get(&format!("/admin/v1/logs/{log}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    detail["log"]["legacyIds"].clone()
}

async fn received(stub: &StubDestination, n: usize) -> Vec<Recorded> {
    eventually_within("deliveries", DEADLINE, || match stub.requests().len() {
        got if got >= n => Ok(()),
        got => Err(format!("{got} of {n} received")),
    })
    .await;
    stub.requests()
}

async fn two_stubs() -> (StubDestination, StubDestination) {
    (
        StubDestination::start(StubReply::Json(200, json!({}))).await,
        StubDestination::start(StubReply::Json(200, json!({}))).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_200_and_each_delivery_carry_the_numbers_one_transmission_per_destination() {
    let (a, b) = two_stubs().await;
    let te = TestEngine::start(&config(&a.url, &b.url)).await;
    let token = te.token("Lab").await;
    let (to_a, to_b) = (te.destination_id("A"), te.destination_id("B"));

    let first = sent(
        &te,
        &token,
        &payload("PatientAdmin", "Arrival", &[to_a, to_b], "M1"),
    )
    .await;
    let (message, transmission) = ids(&first);
    let second = sent(
        &te,
        &token,
        &payload("PatientAdmin", "Arrival", &[to_a], "M2"),
    )
    .await;
    let (message2, transmission2) = ids(&second);
    assert!(message2 > message, "Message.ID {message2} after {message}");
    assert!(
        transmission2 > transmission,
        "{transmission2} after {transmission}"
    );

    let at_a = received(&a, 2).await;
    let at_b = received(&b, 1).await;
    let first_logs: Vec<Value> = first["Meta"]["Logs"]
        .as_array()
        .expect("Logs")
        .iter()
        .map(|l| l["ID"].clone())
        .collect();
    assert_eq!(first_logs.len(), 2, "{first}");
    // The first message as each destination got it: the same Message.ID, each its own
    // Transmission.ID; the 200's Transmission.ID is its first log's.
    let mut delivered = Vec::new();
    for r in at_a.iter().chain(&at_b) {
        let log = &r.body["Meta"]["Logs"][0]["ID"];
        if first_logs.contains(log) {
            let (m, t) = ids(&r.body);
            assert_eq!(m, message, "{}", r.body);
            delivered.push((uuid_of(log), t));
        }
    }
    assert_eq!(delivered.len(), 2, "{at_a:?} {at_b:?}");
    assert_ne!(
        delivered[0].1, delivered[1].1,
        "one Transmission.ID per destination"
    );
    let by_first = delivered.iter().find(|(log, _)| *log == first_log(&first));
    assert_eq!(by_first.map(|d| d.1), Some(transmission));

    let again = at_a
        .iter()
        .find(|r| r.body["Meta"]["Logs"][0]["ID"] == second["Meta"]["Logs"][0]["ID"])
        .expect("the second message at A");
    assert_eq!(ids(&again.body), (message2, transmission2));

    // Kept with the log: the admin API's detail shows them.
    for (log, t) in delivered {
        assert_eq!(
            stored_ids(&te, log).await,
            json!({"message": message, "transmission": t})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_senders_own_ids_are_replaced_not_refused() {
    let (a, b) = two_stubs().await;
    let te = TestEngine::start(&config(&a.url, &b.url)).await;
    let token = te.token("Lab").await;
    let to_a = te.destination_id("A");

    let mut request = payload("PatientAdmin", "Arrival", &[to_a], "M1");
    request["Meta"]["Message"] = json!({"ID": 5});
    request["Meta"]["Transmission"] = json!({"ID": 5});
    let answer = sent(&te, &token, &request).await;
    let (message, transmission) = ids(&answer);
    assert_ne!(message, 5, "{answer}");
    assert_ne!(transmission, 5, "{answer}");
    let at_a = received(&a, 1).await;
    assert_eq!(ids(&at_a[0].body), (message, transmission));

    // Not even a malformed one is an error.
    request["Meta"]["Message"] = json!("five");
    request["Meta"]["Transmission"] = Value::Null;
    let answer = sent(&te, &token, &request).await;
    assert!(ids(&answer).0 > message, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_ids_false_leaves_both_out_of_the_200_the_delivery_and_the_answer() {
    let answer = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Message": {"ID": 5565}, "Transmission": {"ID": 12414}},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
    });
    let a = StubDestination::start(StubReply::Json(200, answer)).await;
    let b = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&a.url, &b.url)).await;
    let token = te.token("Quiet").await;
    let to_a = te.destination_id("A");

    let mut request = payload("PatientAdmin", "Arrival", &[to_a], "M1");
    request["Meta"]["Message"] = json!({"ID": 5});
    let accepted = sent(&te, &token, &request).await;
    has_no_ids(&accepted, "the 200");
    let at_a = received(&a, 1).await;
    has_no_ids(&at_a[0].body, "the delivery");
    assert_eq!(stored_ids(&te, first_log(&accepted)).await, Value::Null);

    // A query's answer: the destination's own numbers are not passed on either.
    let query = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Destinations": [{"ID": to_a}]},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
    });
    let (status, answered) = te.post_json("/query", Some(&token), &query).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    has_no_ids(&answered, "the query's answer");
    has_no_ids(&received(&a, 2).await[1].body, "the forwarded query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_and_its_answer_carry_the_engines_numbers() {
    // The destination answers with numbers of its own, as the platform's examples do.
    let answer = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Message": {"ID": 5565}, "Transmission": {"ID": 12414}},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
    });
    let a = StubDestination::start(StubReply::Json(200, answer)).await;
    let b = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&a.url, &b.url)).await;
    let token = te.token("Lab").await;
    let query = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Destinations": [{"ID": te.destination_id("A")}]},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
    });
    let (status, answered) = te.post_json("/query", Some(&token), &query).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let (message, transmission) = ids(&answered);
    assert_ne!((message, transmission), (5565, 12414), "{answered}");
    assert_eq!(ids(&received(&a, 1).await[0].body), (message, transmission));
    assert_eq!(
        stored_ids(&te, first_log(&answered)).await,
        json!({"message": message, "transmission": transmission})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_item_carries_its_own_numbers() {
    let mut config = source_toml("Lab", "development", None);
    for name in ["P1", "P2"] {
        config += &format!(
            "[[destinations]]\nname = \"{name}\"\nenvironment = \"development\"\nmode = \"poll\"\nverification_token = \"{}\"\n\n",
            verification_token(name)
        );
        config += &subscription_toml("Lab", name, &["*"]);
    }
    let te = TestEngine::start(&config).await;
    let token = te.token("Lab").await;
    let (p1, p2) = (te.destination_id("P1"), te.destination_id("P2"));
    let accepted = sent(
        &te,
        &token,
        &payload("PatientAdmin", "Arrival", &[p1, p2], "M1"),
    )
    .await;
    // The second destination's: its Transmission.ID is not the one the 200 shows.
    let polled: Value = te
        .client
        .post(te.url("/poll"))
        .header("verification-token", verification_token("P2"))
        .json(&json!({"destination": p2, "max": 10, "leaseSeconds": 60}))
        .send()
        .await
        .expect("poll")
        .json()
        .await
        .expect("JSON");
    let item = &polled["items"][0]["payload"];
    let log = uuid_of(&item["Meta"]["Logs"][0]["ID"]);
    assert_ne!(log, first_log(&accepted), "{item}");
    let (message, transmission) = ids(item);
    assert_eq!(message, ids(&accepted).0);
    assert_ne!(transmission, ids(&accepted).1);
    assert_eq!(
        stored_ids(&te, log).await,
        json!({"message": message, "transmission": transmission})
    );
}

/// A destination that fails its first request (HTTP 500) and takes every later one,
/// recording every body.
#[derive(Clone, Default)]
struct Flaky {
    bodies: Arc<Mutex<Vec<Value>>>,
}

async fn flaky(State(f): State<Flaky>, body: Bytes) -> (StatusCode, axum::Json<Value>) {
    let mut bodies = f.bodies.lock().expect("lock");
    bodies.push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let status = match bodies.len() {
        1 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    };
    (status, axum::Json(json!({})))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_and_a_resend_carry_the_same_numbers() {
    let state = Flaky::default();
    let (url, _server) = serve_stub(Router::new().fallback(flaky).with_state(state.clone())).await;
    let b = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&url, &b.url)).await;
    let token = te.token("Lab").await;
    let accepted = sent(
        &te,
        &token,
        &payload("PatientAdmin", "Arrival", &[te.destination_id("A")], "M1"),
    )
    .await;
    let numbers = ids(&accepted);
    let bodies = |n: usize| {
        let state = state.clone();
        move || match state.bodies.lock().expect("lock").len() {
            got if got >= n => Ok(()),
            got => Err(format!("{got} of {n} received")),
        }
    };
    eventually_within("a failed attempt and its retry", DEADLINE, bodies(2)).await;

    let admin = te.admin_token(Role::Operator);
    let log = first_log(&accepted);
    let (status, resent) = te
        .request(
            axum::http::Method::POST,
            &format!("/admin/v1/logs/{log}/resend"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    eventually_within("the resend", DEADLINE, bodies(3)).await;
    let seen = state.bodies.lock().expect("lock").clone();
    assert_ne!(
        seen[0]["Meta"]["Logs"], seen[1]["Meta"]["Logs"],
        "a new attempt"
    );
    assert_ne!(seen[2]["Meta"]["Logs"][0]["ID"], json!(log), "a new log");
    for body in &seen {
        assert_eq!(ids(body), numbers, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_after_a_restart_are_larger() {
    let (a, b) = two_stubs().await;
    let te = TestEngine::start(&config(&a.url, &b.url)).await;
    let token = te.token("Lab").await;
    let body = payload("PatientAdmin", "Arrival", &[te.destination_id("A")], "M1");
    let before = ids(&sent(&te, &token, &body).await);
    let te = te.restart().await;
    let after = ids(&sent(&te, &token, &body).await);
    assert!(
        after.0 > before.0 && after.1 > before.1,
        "{before:?} then {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_after_a_sigkill_are_larger() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), common::bin::LAB_TO_EHR).expect("config");
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let ehr = common::bin::destination_id(dir.path(), "EHR");
    let body = json!({
        "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival", "Destinations": [{"ID": ehr}]},
        "Patient": {"Identifiers": [{"ID": "M1", "IDType": "MR"}]}
    });
    let send = |base: String, token: String| {
        let body = body.clone();
        async move {
            let response = client()
                .post(format!("{base}/endpoint"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), StatusCode::OK);
            ids(&response.json::<Value>().await.expect("JSON"))
        }
    };
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let (mut served, base) = serve_dir(dir.path());
        let token = access_token(&base, &key).await;
        numbers.push(send(base.clone(), token.clone()).await);
        numbers.push(send(base, token).await);
        tokio::task::block_in_place(|| served.sigkill());
    }
    for pair in numbers.windows(2) {
        assert!(
            pair[1].0 > pair[0].0 && pair[1].1 > pair[0].1,
            "{numbers:?}"
        );
    }
}

#[test]
fn a_legacy_ids_that_is_not_a_switch_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let text = "[[sources]]\nname = \"Lab\"\nenvironment = \"development\"\nlegacy_ids = \"no\"\n";
    std::fs::write(&path, text).expect("config");
    let e = switchboard::engine::Config::load(&path, true, &dir.path().join("data"))
        .expect_err("a string is not a switch");
    let text = e.to_string();
    assert!(text.contains("line 4"), "{text}");
    assert!(text.contains("legacy_ids = false"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_goes_on_above_every_number_handed_out() {
    let (a, b) = two_stubs().await;
    let mut te = TestEngine::start(&config(&a.url, &b.url)).await;
    let token = te.token("Lab").await;
    let body = payload("PatientAdmin", "Arrival", &[te.destination_id("A")], "M1");
    // Restarts move the store's counter well above where a new store's starts.
    for _ in 0..2 {
        sent(&te, &token, &body).await;
        te = te.restart().await;
    }
    let last = ids(&sent(&te, &token, &body).await);
    // Delivered: no queue entry in the backup holds its numbers up.
    received(&a, 3).await;
    eventually_within("empty queues", DEADLINE, || match te.all_queued().len() {
        0 => Ok(()),
        n => Err(format!("{n} queued")),
    })
    .await;
    let site = tempfile::tempdir().expect("tempdir");
    let (backup, restored) = (site.path().join("backup"), site.path().join("restored"));
    te.store()
        .backup(&te.data_dir, &backup, true)
        .expect("backup");
    switchboard::store::backup::restore(&restored, &backup, &Default::default()).expect("restore");
    let store = switchboard::store::Store::open(&restored).expect("open the restored store");
    let next = store.durable_number().expect("a number");
    assert!(next > last.1, "{next} after {last:?}");
}
