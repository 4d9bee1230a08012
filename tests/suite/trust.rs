//! What can leak or be lost: Production answers only to roles that may see patients,
//! one nesting limit at the door with everything acknowledged readable and deliverable,
//! and impossible timestamps refused with the field named.

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use switchboard::model::Role;
use switchboard::model::depth::{MAX_JSON_DEPTH, depth_within};
use uuid::Uuid;

fn config(stub: &str) -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &source_toml("Stage Lab", "staging", None);
    c += &source_toml("Prod Lab", "production", None);
    c += &destination_toml("EHR", "development", stub);
    c += &destination_toml("Stage EHR", "staging", stub);
    c += "verified = true\n";
    c += &destination_toml("Prod EHR", "production", stub);
    c += "verified = true\n";
    c += &format!(
        "[[destinations]]\nname = \"Poller\"\nenvironment = \"development\"\nmode = \"poll\"\nverification_token = \"{}\"\n\n",
        verification_token("Poller")
    );
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c += &subscription_toml("Lab", "Poller", &["*"]);
    c += &subscription_toml("Stage Lab", "Stage EHR", &["*"]);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["*"]);
    c
}

/// A destination's answer to a patient search: a patient's identifiers and name.
fn patient_answer() -> Value {
    json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query"},
        "Patient": {
            "Identifiers": [{"ID": "PROD-MRN-77", "IDType": "MR"}],
            "Demographics": {"FirstName": "Ada", "LastName": "Lovelace", "DOB": "1815-12-10"}
        }
    })
}

async fn source_token(te: &TestEngine, admin_token: &str, source: &str) -> (u16, Value) {
    let id = te.source_id(source);
    let (status, body) = te
        .post_json(
            &format!("/admin/v1/sources/{id}/token"),
            Some(admin_token),
            &json!({}),
        )
        .await;
    (status.as_u16(), body)
}

// ---- 1. PHI: a Production source token only for roles that may see patients --------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_mint_a_production_source_token_and_every_production_answer_is_audited()
{
    let stub = StubDestination::start(StubReply::Json(200, patient_answer())).await;
    let te = TestEngine::start(&config(&stub.url)).await;
    let operator = te.admin_token(Role::Operator);

    let (status, body) = source_token(&te, &operator, "Prod Lab").await;
    assert_eq!(status, 403, "{body}");
    let text = error_texts(&body).join(" ");
    assert!(text.contains("phi or admin"), "{text}");
    // Staging and Development stay open to operators.
    for source in ["Stage Lab", "Lab"] {
        let (status, body) = source_token(&te, &operator, source).await;
        assert_eq!(status, 200, "{source}: {body}");
    }

    // A PHI role may: its Production answer is a reveal, audited under its name.
    let phi = te.admin_token(Role::Phi);
    let (status, grant) = source_token(&te, &phi, "Prod Lab").await;
    assert_eq!(status, 200, "{grant}");
    let token = grant["accessToken"].as_str().expect("accessToken");
    let mut query = payload(
        "PatientSearch",
        "Query",
        &[te.destination_id("Prod EHR")],
        "PROD-MRN-77",
    );
    query["Meta"]["Test"] = json!(false);
    let (status, answer) = te.post_json("/query", Some(token), &query).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Patient"]["Demographics"]["LastName"], "Lovelace");
    let log_id = uuid_of(&answer["Meta"]["Logs"][0]["ID"]);
    let trail = te.store().audit_trail(50).expect("audit");
    let reveal = trail
        .iter()
        .find(|e| e.action == "reveal-answer")
        .unwrap_or_else(|| panic!("no reveal-answer in {trail:?}"));
    assert_eq!(reveal.log_id, Some(log_id));
    assert!(reveal.actor.contains("test-phi"), "{reveal:?}");

    // A source's own token is not the console's: its answers are not console reveals.
    let own = te.token("Prod Lab").await;
    let (status, _) = te.post_json("/query", Some(&own), &query).await;
    assert_eq!(status, 200);
    let reveals = te
        .store()
        .audit_trail(50)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "reveal-answer")
        .count();
    assert_eq!(reveals, 1);
}

// ---- 2. One nesting limit at the door; the deepest accepted payload round-trips ----------

/// `levels` objects nested in one another under "Deep".
fn nest(levels: usize) -> Value {
    let mut value = json!({"leaf": "the bottom"});
    for _ in 1..levels {
        value = json!({ "x": value });
    }
    value
}

/// A notification whose whole body nests exactly `depth` containers deep.
fn deep_notification(te: &TestEngine, depth: usize) -> Value {
    let mut body = payload(
        "PatientAdmin",
        "Arrival",
        &[te.destination_id("EHR"), te.destination_id("Poller")],
        "MRN-DEEP",
    );
    // The top-level object is level 1, "Deep" level 2.
    body["Deep"] = nest(depth - 1);
    let bytes = serde_json::to_vec(&body).expect("json");
    assert_eq!(depth_within(&bytes, 1000), Some(depth));
    body
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deepest_accepted_payload_is_stored_delivered_polled_shown_and_resent() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&stub.url)).await;
    let token = te.token("Lab").await;
    let admin = te.admin_token(Role::Admin);

    // Past the limit: 400 naming it, nothing stored (the 126-deep payload of the report too).
    for depth in [MAX_JSON_DEPTH + 1, 126] {
        let (status, body) = te
            .post_json("/endpoint", Some(&token), &deep_notification(&te, depth))
            .await;
        assert_eq!(status, 400, "depth {depth}: {body}");
        let text = error_texts(&body).join(" ");
        assert!(text.contains(&MAX_JSON_DEPTH.to_string()), "{text}");
    }
    // Far past it, as raw text (a value this deep would overflow the test's own stack).
    let abyss = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, body) = te
        .post_raw("/endpoint", Some(&token), abyss.as_bytes())
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(te.all_logs().is_empty());

    let sent = deep_notification(&te, MAX_JSON_DEPTH);
    let (status, body) = te.post_json("/endpoint", Some(&token), &sent).await;
    assert_eq!(status, 200, "{body}");
    let pushed_log = uuid_of(&body["Meta"]["Logs"][0]["ID"]);

    // Push delivery.
    let delivered = eventually("the push delivery", || {
        stub.requests().into_iter().next().map(|r| r.body)
    })
    .await;
    assert_eq!(delivered["Deep"], sent["Deep"]);

    // Poll delivery.
    let (status, polled) = {
        let response = te
            .client
            .post(te.url("/poll"))
            .header("verification-token", verification_token("Poller"))
            .json(&json!({"destination": te.destination_id("Poller"), "max": 10}))
            .send()
            .await
            .expect("poll");
        (
            response.status(),
            response.json::<Value>().await.expect("json"),
        )
    };
    assert_eq!(status, 200, "{polled}");
    assert_eq!(polled["items"][0]["payload"]["Deep"], sent["Deep"]);

    // The admin API's detail.
    let (status, detail) = te
        .get(&format!("/admin/v1/logs/{pushed_log}"), Some(&admin))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["request"]["Deep"], sent["Deep"]);

    // Resend makes a new, equally readable and deliverable request.
    let (status, resent) = te
        .post_json(
            &format!("/admin/v1/logs/{pushed_log}/resend"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{resent}");
    let second = eventually("the resent delivery", || {
        stub.requests().get(1).map(|r| r.body.clone())
    })
    .await;
    assert_eq!(second["Deep"], sent["Deep"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_stored_past_the_parsers_limit_by_an_earlier_version_is_still_readable() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&stub.url)).await;
    // What an earlier version acknowledged: 127 levels in the payload, one more in the
    // stored record's wrapper.
    let request = switchboard::store::StoredRequest {
        id: Uuid::now_v7(),
        received_at: chrono::Utc::now(),
        environment: switchboard::model::Environment::Development,
        source_id: te.source_id("Lab"),
        exchange: switchboard::model::Exchange::Notification,
        payload: json!({ "Meta": {}, "Deep": nest(126) }),
    };
    te.store()
        .insert_accepted(&request, &[], None)
        .expect("insert");
    let read = te
        .store()
        .request(request.id)
        .expect("readable")
        .expect("present");
    assert_eq!(read.payload["Deep"], request.payload["Deep"]);
}

// ---- 9. Impossible timestamps are refused, naming the field -------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_timestamps_are_refused_with_the_field_named() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&stub.url)).await;
    let token = te.token("Lab").await;
    for (value, why) in [
        ("2024-13-45T25:61:00", "month 13"),
        ("2024-05-01T10:00:00+99:00", "offset 99:00"),
        ("99999-01-01T00:00:00", "year 99999"),
    ] {
        let mut body = payload(
            "PatientAdmin",
            "Arrival",
            &[te.destination_id("EHR")],
            "MRN-1",
        );
        body["Visit"] = json!({"VisitNumber": "1", "VisitDateTime": value});
        let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
        assert_eq!(status, 400, "{value}: {answer}");
        let text = error_texts(&answer).join(" ");
        assert!(
            text.contains("Visit.VisitDateTime") && text.contains(why),
            "{text}"
        );
        // The same in Meta.EventDateTime.
        let mut body = payload(
            "PatientAdmin",
            "Arrival",
            &[te.destination_id("EHR")],
            "MRN-1",
        );
        body["Meta"]["EventDateTime"] = json!(value);
        let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
        assert_eq!(status, 400, "{value}: {answer}");
        assert!(
            error_texts(&answer)
                .join(" ")
                .contains("Meta.EventDateTime")
        );
    }
    assert!(te.all_logs().is_empty(), "nothing was stored");
    // Possible values and text that is not a timestamp still pass.
    let mut body = payload(
        "PatientAdmin",
        "Arrival",
        &[te.destination_id("EHR")],
        "MRN-1",
    );
    body["Visit"] = json!({"VisitNumber": "1", "VisitDateTime": "2024-02-29T10:00:00-05:00", "Notes": "2024-13-45T25:61:00"});
    let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
    assert_eq!(status, 200, "{answer}");
}

// ---- 7. A viewer sees no Production composer error text or variable value ----------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_neither_production_composer_errors_nor_production_variables() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let config = config(&stub.url)
        + "[environments.production.variables]\nmrn = \"PROD-MRN-SECRET\"\n\n"
        + "[environments.development.variables]\nmrn = \"DEV-MRN-1\"\n";
    let te = TestEngine::start(&config).await;
    let (admin, viewer) = (te.admin_token(Role::Admin), te.admin_token(Role::Viewer));

    let entry = |environment: &str, error: &str| {
        json!({
            "environment": environment,
            "sourceId": te.source_id("Prod Lab"),
            "sourceName": "Prod Lab",
            "destinationId": te.destination_id("Prod EHR"),
            "destinationName": "Prod EHR",
            "dataModel": "PatientSearch",
            "eventType": "Query",
            "body": "{}",
            "status": 502,
            "elapsedMs": 3,
            "error": error,
        })
    };
    for (environment, error) in [
        (
            "Production",
            "Destination answered: no patient PHI-IN-ERROR",
        ),
        ("Development", "dev error text"),
    ] {
        let (status, body) = te
            .post_json(
                "/admin/v1/composer/history",
                Some(&admin),
                &entry(environment, error),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, page) = te.get("/admin/v1/composer/history", Some(&viewer)).await;
    assert_eq!(status, 200, "{page}");
    let text = page.to_string();
    assert!(!text.contains("PHI-IN-ERROR"), "{text}");
    assert!(text.contains("dev error text"), "{text}");
    let (_, page) = te.get("/admin/v1/composer/history", Some(&admin)).await;
    assert!(page.to_string().contains("PHI-IN-ERROR"));

    // An operator's own Production entry keeps no error text at all.
    let operator = te.admin_token(Role::Operator);
    let (status, recorded) = te
        .post_json(
            "/admin/v1/composer/history",
            Some(&operator),
            &entry("Production", "operator saw PHI-FROM-OPERATOR"),
        )
        .await;
    assert_eq!(status, 200, "{recorded}");
    let (_, page) = te.get("/admin/v1/composer/history", Some(&admin)).await;
    assert!(!page.to_string().contains("PHI-FROM-OPERATOR"));

    let (status, envs) = te.get("/admin/v1/environments", Some(&viewer)).await;
    assert_eq!(status, 200, "{envs}");
    let text = envs.to_string();
    assert!(!text.contains("PROD-MRN-SECRET"), "{text}");
    assert!(text.contains("DEV-MRN-1"), "{text}");
    let (_, envs) = te.get("/admin/v1/environments", Some(&admin)).await;
    assert!(envs.to_string().contains("PROD-MRN-SECRET"));
}

// ---- 8. Each error says what actually happened --------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_failure_and_a_wrong_method_say_what_happened() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&stub.url)).await;
    let admin = te.admin_token(Role::Admin);

    // A damaged log record: reading it fails, and the answer says so (not "not stored").
    let id = Uuid::now_v7();
    let mut key = vec![b'l'];
    key.extend_from_slice(id.as_bytes());
    te.store()
        .db()
        .open_tree("exchange")
        .expect("tree")
        .insert(key, &b"{not json"[..])
        .expect("insert");
    let (status, body) = te.get(&format!("/admin/v1/logs/{id}"), Some(&admin)).await;
    assert_eq!(status, 500, "{body}");
    let text = error_texts(&body).join(" ");
    assert!(text.contains("could not read its store"), "{text}");
    assert!(!text.contains("accepted"), "{text}");

    // A route that takes GET names GET, not POST.
    let response = te
        .client
        .put(te.url("/admin/v1/logs"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET,HEAD")
    );
    let body: Value = response.json().await.expect("json body");
    let text = error_texts(&body).join(" ");
    assert!(
        text.contains("PUT is not allowed on /admin/v1/logs; use GET"),
        "{text}"
    );
    // A POST route still names POST.
    let (status, body) = te.get("/endpoint", None).await;
    assert_eq!(status, 405);
    assert!(error_texts(&body).join(" ").contains("use POST"), "{body}");
}

/// A composer-history record is bounded like the request it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composer_history_record_past_its_bound_gets_413() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&format!(
        "[engine]\nmax_body_bytes = 1024\n\n{}",
        config(&stub.url)
    ))
    .await;
    let admin = te.admin_token(Role::Admin);
    let huge = format!(r#"{{"body": "{}"}}"#, "x".repeat(200_000));
    let (status, body) = te
        .post_raw("/admin/v1/composer/history", Some(&admin), huge.as_bytes())
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(!error_texts(&body).is_empty());
}
