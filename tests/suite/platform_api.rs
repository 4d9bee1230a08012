//! The platform API (`/auth/*`, `/endpoint`, `/query`) over real HTTP against an engine
//! on a loopback port, with stub destinations where a query needs an answer.

use crate::common;

use axum::http::{Method, StatusCode};
use chrono::{Duration as ChronoDuration, Utc};
use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use switchboard::engine::Config;
use switchboard::model::{LogStatus, LogType, Role};
use switchboard::store::credentials::sha256;
use switchboard::store::{LogQuery, Session};
use uuid::Uuid;

// ---- setups ----------------------------------------------------------------

/// Development: "Lab" → "EHR" (every model) and "Lab" → "Billing" (PatientAdmin only).
/// Staging: "Stage Lab" → "Stage EHR". `url` is where the development EHR listens.
fn config(url: &str, engine: &str) -> String {
    let mut c = String::from(engine);
    c.push('\n');
    c += &source_toml("Lab", "development", Some("America/New_York"));
    c += &source_toml("Stage Lab", "staging", None);
    c += &destination_toml("EHR", "development", url);
    c += &destination_toml("Billing", "development", &closed_url());
    c += &destination_toml("Stage EHR", "staging", &closed_url());
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c += &subscription_toml("Lab", "Billing", &["PatientAdmin"]);
    c += &subscription_toml("Stage Lab", "Stage EHR", &["*"]);
    c
}

async fn engine() -> TestEngine {
    TestEngine::start(&config(&closed_url(), "")).await
}

fn patient_search_query(destination: Uuid) -> Value {
    json!({
        "Meta": {
            "DataModel": "PatientSearch",
            "EventType": "Query",
            "Test": true,
            "Destinations": [{"ID": destination}]
        },
        "Patient": {
            "Demographics": {"FirstName": "Timothy", "LastName": "Bixby", "DOB": "2008-01-06", "Sex": "Male"}
        }
    })
}

/// What the stub EHR answers to a PatientSearch query (already in the engine's
/// timestamp form, so the engine has nothing to rewrite).
fn patient_search_answer() -> Value {
    json!({
        "Meta": {
            "DataModel": "PatientSearch",
            "EventType": "Query",
            "EventDateTime": "2024-05-01T12:00:00.000Z",
            "Test": true,
            "Source": {"ID": "3f0cf2a0-0c3b-4b4e-9a7c-1d6e4b1b2a10", "Name": "Stub EHR"},
            "Destinations": [{"ID": "af394f14-b34a-464f-8d24-895f370af4c9", "Name": "Lab"}]
        },
        "Patient": {
            "Identifiers": [{"ID": "0000000001", "IDType": "MR"}],
            "Demographics": {"FirstName": "Timothy", "LastName": "Bixby", "DOB": "2008-01-06", "Sex": "Male"}
        }
    })
}

/// Sends a request that must be refused: asserts status, error shape and text, and that
/// neither history nor any queue changed.
async fn refused(
    te: &TestEngine,
    path: &str,
    token: Option<&str>,
    body: &[u8],
    want: StatusCode,
    needle: &str,
) -> Vec<String> {
    let logs = te.all_logs();
    let queued = te.all_queued();
    let (status, answer) = te.post_raw(path, token, body).await;
    let texts = assert_error(status, &answer, want, needle);
    assert_eq!(
        te.all_logs(),
        logs,
        "history changed after a refused request: {answer}"
    );
    assert_eq!(
        te.all_queued(),
        queued,
        "a queue changed after a refused request"
    );
    texts
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

async fn log_detail(te: &TestEngine, id: Uuid) -> Value {
    let admin = te.admin_token(Role::Admin);
    let (status, detail) = te.get(&format!("/admin/v1/logs/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    detail
}

// ---- authentication --------------------------------------------------------

/// A notification sent with `access` is accepted (the token works); its answer.
async fn sends_with(te: &TestEngine, access: &str) -> Value {
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(access),
            &payload("PatientAdmin", "Arrival", &[ehr], "M1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn authenticate_returns_a_24h_token_and_a_refresh_token() {
    let te = engine().await;
    let before = Utc::now();
    let grant = te.authenticate("Lab").await;
    let access = grant["accessToken"].as_str().expect("accessToken");
    let refresh = grant["refreshToken"].as_str().expect("refreshToken");
    let expires = grant["expires"].as_str().expect("expires");
    assert!(access.len() >= 32, "{grant}");
    assert!(refresh.len() >= 32, "{grant}");
    assert_ne!(access, refresh);
    assert!(
        is_utc_millis(expires),
        "expires {expires:?} is not YYYY-MM-DDThh:mm:ss.sssZ"
    );
    let expires = parse_utc(expires);
    let day = ChronoDuration::hours(24);
    assert!(
        expires >= before + day - ChronoDuration::seconds(2)
            && expires <= Utc::now() + day + ChronoDuration::seconds(2),
        "expires {expires} is not ~24 h ahead"
    );

    let body = sends_with(&te, access).await;
    assert_eq!(body["Meta"]["Source"]["Name"], "Lab");
}

/// Refresh tokens rotate: the answer holds a new one, and the one used is refused
/// afterwards (a client that lost the answer authenticates again).
async fn refresh_token_gives_a_new_working_access_token() {
    let te = engine().await;
    let (api_key, secret) = te.api_key("Lab");
    let (_, grant) = te
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": api_key, "secret": secret}),
        )
        .await;
    let refresh = grant["refreshToken"].as_str().expect("refreshToken");
    let (status, renewed) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": api_key, "refreshToken": refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let access = renewed["accessToken"].as_str().expect("accessToken");
    assert_ne!(access, grant["accessToken"].as_str().unwrap_or_default());
    let rotated = renewed["refreshToken"]
        .as_str()
        .expect("a new refreshToken");
    assert_ne!(rotated, refresh, "the refresh token must rotate");
    assert!(is_utc_millis(renewed["expires"].as_str().expect("expires")));

    // The new refresh token works once in its turn.
    let (status, again) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": api_key, "refreshToken": rotated}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let access = again["accessToken"].as_str().expect("accessToken");

    let body = sends_with(&te, access).await;
    assert_eq!(body["Meta"]["Source"]["Name"], "Lab");
}

async fn bad_credentials_are_401() {
    let te = engine().await;
    let (api_key, secret) = te.api_key("Lab");
    let (other_key, _) = te.api_key("Lab");
    let grant = {
        let (_, g) = te
            .post_json(
                "/auth/authenticate",
                None,
                &json!({"apiKey": api_key, "secret": secret}),
            )
            .await;
        g
    };
    let refresh = grant["refreshToken"].as_str().expect("refresh").to_string();
    let access = grant["accessToken"].as_str().expect("access").to_string();

    let cases: Vec<(&str, Value)> = vec![
        (
            "wrong secret",
            json!({"apiKey": api_key, "secret": "0".repeat(64)}),
        ),
        (
            "unknown key",
            json!({"apiKey": Uuid::new_v4(), "secret": secret}),
        ),
        (
            "malformed key",
            json!({"apiKey": "not-a-key", "secret": secret}),
        ),
        (
            "path in key",
            json!({"apiKey": "../../credentials/keys/x", "secret": secret}),
        ),
    ];
    for (what, body) in cases {
        let (status, answer) = te.post_json("/auth/authenticate", None, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        error_texts(&answer);
    }

    // A refresh token presented with another apiKey.
    let (status, answer) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": other_key, "refreshToken": refresh}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNAUTHORIZED,
        "belongs to another apiKey",
    );
    // An access token presented as a refresh token.
    let (status, answer) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": api_key, "refreshToken": access}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    error_texts(&answer);

    // A refresh token used as a bearer token.
    let ehr = te.destination_id("EHR");
    refused(
        &te,
        "/endpoint",
        Some(&refresh),
        &bytes(&payload("PatientAdmin", "Arrival", &[ehr], "M1")),
        StatusCode::UNAUTHORIZED,
        "access token is not valid",
    )
    .await;
}

async fn a_key_of_a_source_no_longer_configured_is_401() {
    let te = engine().await;
    let (record, secret) = te
        .engine
        .credentials()
        .create_key(
            Uuid::new_v4(),
            "Gone",
            switchboard::model::Environment::Development,
        )
        .expect("key");
    let (status, answer) = te
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": record.api_key, "secret": secret}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNAUTHORIZED,
        "no longer configured",
    );
}

async fn an_expired_refresh_token_and_a_revoked_key_cannot_refresh() {
    let te = engine().await;
    let (api_key, _) = te.api_key("Lab");
    let stale = format!("stale-{}", Uuid::new_v4().simple());
    te.engine
        .sessions()
        .put_session(
            &sha256(stale.as_bytes()),
            &Session {
                source_id: te.source_id("Lab"),
                api_key: api_key.clone(),
                refresh: true,
                expires: Utc::now() - ChronoDuration::seconds(1),
                family: None,
                rotated: false,
            },
        )
        .expect("session");
    let (status, answer) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": api_key, "refreshToken": stale}),
        )
        .await;
    assert_error(status, &answer, StatusCode::UNAUTHORIZED, "expired");

    // A key removed after the refresh token was handed out.
    let (api_key, secret) = te.api_key("Lab");
    let (_, grant) = te
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": api_key, "secret": secret}),
        )
        .await;
    assert!(
        te.engine
            .credentials()
            .revoke_key(&api_key)
            .expect("remove the key"),
        "the key was there"
    );
    let (status, answer) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": api_key, "refreshToken": grant["refreshToken"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    error_texts(&answer);
}

/// Several of the platform's clients post forms (`apiKey=…&secret=…`): Ruby's HTTParty
/// with a Hash body, Node's `request` with `form:`. They authenticate and refresh exactly
/// as with JSON, and so does a form sent without its content type.
async fn form_encoded_authenticate_and_refresh_work_like_json() {
    let te = engine().await;
    let (api_key, secret) = te.api_key("Lab");
    let http = common::client();
    let form = |path: &str, fields: &[(&str, &str)]| http.post(te.url(path)).form(fields).send();
    let grant: Value = {
        let response = form(
            "/auth/authenticate",
            &[("apiKey", &api_key), ("secret", &secret)],
        )
        .await
        .expect("authenticate");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    };
    let refresh = grant["refreshToken"].as_str().expect("refreshToken");
    let renewed: Value = {
        let response = form(
            "/auth/refreshToken",
            &[("apiKey", &api_key), ("refreshToken", refresh)],
        )
        .await
        .expect("refresh");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    };
    let access = renewed["accessToken"].as_str().expect("accessToken");
    sends_with(&te, access).await;

    // A form without its content type (a bare client) is read as a form too.
    let body = format!("apiKey={api_key}&secret={secret}");
    let (status, grant) = te
        .post_raw("/auth/authenticate", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert!(grant["accessToken"].is_string(), "{grant}");

    // A form missing a field says which, in the platform's shape.
    let response = form("/auth/authenticate", &[("apiKey", &api_key)])
        .await
        .expect("authenticate");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.expect("json");
    assert_error(
        StatusCode::BAD_REQUEST,
        &answer,
        StatusCode::BAD_REQUEST,
        "secret",
    );
}

async fn malformed_auth_bodies_are_400() {
    let te = engine().await;
    for body in [&b"{nope"[..], b"{\"apiKey\": \"x\"}", b"[]"] {
        let (status, answer) = te.post_raw("/auth/authenticate", None, body).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "apiKey");
    }
    let (status, answer) = te
        .post_raw("/auth/refreshToken", None, b"{\"apiKey\": \"x\"}")
        .await;
    assert_error(status, &answer, StatusCode::BAD_REQUEST, "refreshToken");
}

// ---- sending ---------------------------------------------------------------

async fn send_fills_meta_and_stores_a_pending_log_and_queue_entry() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let lab = te.source_id("Lab");
    let mut request = payload("PatientAdmin", "Arrival", &[ehr], "MRN-42");
    request["Meta"]["Message"] = json!({"ID": 5565});
    request["Meta"]["Transmission"] = json!({"ID": 12414});
    request["Meta"]["FacilityCode"] = json!("RDX");

    let before = Utc::now();
    let (status, body) = te.post_json("/endpoint", Some(&token), &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let meta = body["Meta"].as_object().expect("Meta");
    assert_eq!(meta["DataModel"], "PatientAdmin");
    assert_eq!(meta["EventType"], "Arrival");
    assert_eq!(meta["FacilityCode"], "RDX");
    assert_eq!(meta["Test"], true);
    assert_eq!(meta["Source"]["ID"], json!(lab));
    assert_eq!(meta["Source"]["Name"], "Lab");
    assert_eq!(meta["Destinations"], json!([{"ID": ehr, "Name": "EHR"}]));
    // The sender's deprecated numbers are replaced by the engine's (tests/suite/legacy_ids.rs).
    assert!(
        meta["Message"]["ID"].as_u64().is_some_and(|id| id != 5565),
        "Message.ID not the engine's number: {body}"
    );
    assert!(
        meta["Transmission"]["ID"]
            .as_u64()
            .is_some_and(|id| id != 12414),
        "Transmission.ID not the engine's number: {body}"
    );
    assert!(!meta.contains_key("Errors"), "{body}");
    let event_time = meta["EventDateTime"].as_str().expect("EventDateTime");
    assert!(is_utc_millis(event_time), "{event_time}");
    let event_time = parse_utc(event_time);
    assert!(
        event_time >= before - ChronoDuration::seconds(1)
            && event_time <= Utc::now() + ChronoDuration::seconds(1)
    );
    let logs = meta["Logs"].as_array().expect("Logs");
    assert_eq!(logs.len(), 1, "{body}");
    let log_id = uuid_of(&logs[0]["ID"]);
    uuid_of(&logs[0]["AttemptID"]);

    // In history, as the store has it...
    let log = te.log(log_id);
    assert_eq!(log.status, LogStatus::Pending);
    assert_eq!(log.log_type, LogType::Send);
    assert_eq!(log.source_id, lab);
    assert_eq!(log.destination_id, ehr);
    assert_eq!(log.data_model, "PatientAdmin");
    assert_eq!(log.event_type, "Arrival");
    assert_eq!(log.patient_id.as_deref(), Some("MRN-42"));
    assert_eq!(log.attempt_id, uuid_of(&logs[0]["AttemptID"]));
    // ...through the admin API...
    let detail = log_detail(&te, log_id).await;
    assert_eq!(detail["log"]["status"], "PENDING");
    assert_eq!(detail["log"]["type"], "SEND");
    assert_eq!(detail["log"]["sourceName"], "Lab");
    assert_eq!(detail["log"]["destinationName"], "EHR");
    assert!(is_utc_millis(
        detail["log"]["createdAt"].as_str().expect("createdAt")
    ));
    assert_eq!(detail["request"]["Meta"], body["Meta"]);
    assert_eq!(detail["request"]["Patient"], request["Patient"]);
    // ...and queued for its destination.
    assert_eq!(te.queued(ehr), vec![log_id]);
    assert!(te.queued(te.destination_id("Billing")).is_empty());
}

async fn send_fans_out_to_every_destination() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let (ehr, billing) = (te.destination_id("EHR"), te.destination_id("Billing"));
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(&token),
            &payload("PatientAdmin", "Discharge", &[ehr, billing], "M7"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["Meta"]["Destinations"],
        json!([{"ID": ehr, "Name": "EHR"}, {"ID": billing, "Name": "Billing"}])
    );
    let logs = body["Meta"]["Logs"].as_array().expect("Logs");
    assert_eq!(logs.len(), 2, "{body}");
    let ids: Vec<Uuid> = logs.iter().map(|l| uuid_of(&l["ID"])).collect();
    assert_ne!(ids[0], ids[1]);
    let attempts: Vec<Uuid> = logs.iter().map(|l| uuid_of(&l["AttemptID"])).collect();
    assert_ne!(attempts[0], attempts[1]);
    let stored = [te.log(ids[0]), te.log(ids[1])];
    assert_eq!(stored[0].destination_id, ehr);
    assert_eq!(stored[1].destination_id, billing);
    assert_eq!(stored[0].request_id, stored[1].request_id);
    assert!(stored.iter().all(|l| l.status == LogStatus::Pending));
    assert_eq!(te.queued(ehr), vec![ids[0]]);
    assert_eq!(te.queued(billing), vec![ids[1]]);
    assert_eq!(te.all_logs().len(), 2);
}

async fn a_destination_named_twice_in_another_spelling_is_refused() {
    // "Meta.Destinations names X more than once" is checked on the ID strings, but
    // destinations are looked up by parsed UUID: the same destination spelled in upper
    // case (or without hyphens) gets the request twice.
    let te = engine().await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    for twin in [
        ehr.to_string().to_uppercase(),
        ehr.simple().to_string(),
        ehr.urn().to_string(),
    ] {
        let mut request = payload("PatientAdmin", "Arrival", &[ehr], "M1");
        request["Meta"]["Destinations"] = json!([{"ID": ehr}, {"ID": twin}]);
        refused(
            &te,
            "/endpoint",
            Some(&token),
            &bytes(&request),
            StatusCode::BAD_REQUEST,
            "more than once",
        )
        .await;
    }
}

async fn meta_source_id_is_checked_against_the_token() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let lab = te.source_id("Lab");

    // Another source's ID: refused.
    let mut request = payload("PatientAdmin", "Arrival", &[ehr], "M1");
    request["Meta"]["Source"] = json!({"ID": te.source_id("Stage Lab")});
    refused(
        &te,
        "/endpoint",
        Some(&token),
        &bytes(&request),
        StatusCode::FORBIDDEN,
        "is not the source this token belongs to",
    )
    .await;

    // Its own ID is fine, in any spelling of the same UUID.
    for own in [lab.to_string(), lab.to_string().to_uppercase()] {
        let mut request = payload("PatientAdmin", "Arrival", &[ehr], "M1");
        request["Meta"]["Source"] = json!({"ID": own, "Name": "whatever"});
        let (status, body) = te.post_json("/endpoint", Some(&token), &request).await;
        assert_eq!(status, StatusCode::OK, "Source.ID {own}: {body}");
        assert_eq!(body["Meta"]["Source"], json!({"ID": lab, "Name": "Lab"}));
    }
}

/// The platform config plus a second Development source, "Clinic", sending to "EHR".
async fn two_sources() -> TestEngine {
    let mut c = config(&closed_url(), "");
    c += &source_toml("Clinic", "development", None);
    c += &subscription_toml("Clinic", "EHR", &["*"]);
    TestEngine::start(&c).await
}

/// Sends Lab, Clinic, Lab, Clinic to "EHR"; returns the log IDs in sending order.
async fn interleaved(te: &TestEngine) -> Vec<Uuid> {
    let lab = te.token("Lab").await;
    let clinic = te.token("Clinic").await;
    let ehr = te.destination_id("EHR");
    let mut sent = Vec::new();
    for (i, token) in [&lab, &clinic, &lab, &clinic].into_iter().enumerate() {
        let (status, body) = te
            .post_json(
                "/endpoint",
                Some(token),
                &payload("PatientAdmin", "Arrival", &[ehr], &format!("M{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sent.push(uuid_of(&body["Meta"]["Logs"][0]["ID"]));
    }
    sent
}

async fn queues_are_first_in_first_out_per_source_and_destination() {
    let te = two_sources().await;
    let sent = interleaved(&te).await;
    let queued = te.queued(te.destination_id("EHR"));
    assert_eq!(queued.len(), 4);
    let lab = te.source_id("Lab");
    let of_source = |source: Uuid| -> Vec<Uuid> {
        queued
            .iter()
            .copied()
            .filter(|id| te.log(*id).source_id == source)
            .collect()
    };
    assert_eq!(of_source(lab), vec![sent[0], sent[2]]);
    assert_eq!(of_source(te.source_id("Clinic")), vec![sent[1], sent[3]]);
}

// ---- timestamps ------------------------------------------------------------

async fn payload_timestamps_are_converted_to_utc_in_the_source_zone() {
    let te = engine().await; // "Lab" is in America/New_York
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let notes = json!([
        "2024-03-10T02:30:00",
        "Called back 2024-07-01T12:00:00-05:00, no answer"
    ]);
    let request = json!({
        "Meta": {
            "DataModel": "PatientAdmin",
            "EventType": "Arrival",
            // Fall back: 01:30 happens twice; the earlier (EDT) is taken.
            "EventDateTime": "2024-11-03T01:30:00",
            "Destinations": [{"ID": ehr}]
        },
        "Patient": {
            "Identifiers": [{"ID": "M1", "IDType": "MR"}],
            "Demographics": {"FirstName": "Ann", "DOB": "1990-01-02"},
            "Notes": notes
        },
        "Visit": {
            // Spring forward: 02:30 does not exist; read with the offset before it.
            "VisitDateTime": "2024-03-10T02:30:00",
            "DischargeDateTime": "2024-07-01T12:00:00-05:00",
            "AccountingDateTime": "2024-07-01",
            "Location": {"Department": "2024-03-10T02:30:00"}
        }
    });
    let (status, body) = te.post_json("/endpoint", Some(&token), &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Meta"]["EventDateTime"], "2024-11-03T05:30:00.000Z");

    let log_id = uuid_of(&body["Meta"]["Logs"][0]["ID"]);
    let stored = log_detail(&te, log_id).await["request"].clone();
    assert_eq!(stored["Meta"]["EventDateTime"], "2024-11-03T05:30:00.000Z");
    assert_eq!(stored["Visit"]["VisitDateTime"], "2024-03-10T07:30:00.000Z");
    assert_eq!(
        stored["Visit"]["DischargeDateTime"],
        "2024-07-01T17:00:00.000Z"
    );
    // Not timestamps, or dates only: untouched.
    assert_eq!(stored["Visit"]["AccountingDateTime"], "2024-07-01");
    assert_eq!(stored["Patient"]["Demographics"]["DOB"], "1990-01-02");
    assert_eq!(stored["Patient"]["Notes"], notes);
    assert_eq!(
        stored["Visit"]["Location"]["Department"],
        "2024-03-10T02:30:00"
    );
}

// ---- queries ---------------------------------------------------------------

async fn query_setup(reply: StubReply, engine_toml: &str) -> (StubDestination, TestEngine) {
    let stub = StubDestination::start(reply).await;
    let te = TestEngine::start(&config(&stub.url, engine_toml)).await;
    (stub, te)
}

async fn query_round_trip() {
    let answer = patient_search_answer();
    let (stub, te) = query_setup(StubReply::Json(200, answer.clone()), "").await;
    let token = te.token("Lab").await;
    let (ehr, lab) = (te.destination_id("EHR"), te.source_id("Lab"));

    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let logs = body["Meta"]["Logs"].as_array().expect("Meta.Logs").clone();
    assert_eq!(logs.len(), 1, "{body}");
    let log_id = uuid_of(&logs[0]["ID"]);
    let attempt_id = uuid_of(&logs[0]["AttemptID"]);
    let mut expected = answer.clone();
    expected["Meta"]["Logs"] = json!(logs);
    // And the engine's numeric Message/Transmission IDs (tests/suite/legacy_ids.rs).
    for field in ["Message", "Transmission"] {
        assert!(body["Meta"][field]["ID"].is_u64(), "{body}");
        expected["Meta"][field] = body["Meta"][field].clone();
    }
    assert_eq!(
        body, expected,
        "the answer is the stub's body plus Meta.Logs and the legacy IDs"
    );

    // What the destination saw.
    let seen = stub.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(
        seen[0].header("verification-token"),
        Some(verification_token("EHR").as_str())
    );
    let sent = &seen[0].body;
    assert_eq!(sent["Meta"]["Source"], json!({"ID": lab, "Name": "Lab"}));
    assert_eq!(sent["Meta"]["DataModel"], "PatientSearch");
    assert_eq!(sent["Meta"]["EventType"], "Query");
    assert_eq!(
        sent["Meta"]["Destinations"],
        json!([{"ID": ehr, "Name": "EHR"}])
    );
    assert_eq!(sent["Meta"]["Logs"], json!(logs));
    assert_eq!(sent["Patient"]["Demographics"]["LastName"], "Bixby");

    // History.
    let log = te.log(log_id);
    assert_eq!(log.log_type, LogType::Request);
    assert_eq!(log.status, LogStatus::Succeeded);
    assert_eq!(log.attempts, 1);
    assert_eq!(log.attempt_id, attempt_id);
    assert!(log.latency_ms.is_some());
    let detail = log_detail(&te, log_id).await;
    assert_eq!(detail["log"]["type"], "REQUEST");
    assert_eq!(detail["log"]["status"], "SUCCEEDED");
    let attempts = detail["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{detail}");
    assert_eq!(attempts[0]["httpStatus"], 200);
    assert_eq!(attempts[0]["outcome"], "SUCCEEDED");
    assert_eq!(uuid_of(&attempts[0]["id"]), attempt_id);
    assert_eq!(detail["response"], answer);
    assert_eq!(detail["request"]["Meta"]["Source"]["Name"], "Lab");
    // A query is not queued for delivery.
    assert!(te.queued(ehr).is_empty());
}

/// A third-party answer without `Meta.Source` or `Meta.Destinations` reaches the source
/// with them filled from the query, as the platform's recorded answers carry them; an
/// answer that has its own keeps them (see `query_round_trip`).
async fn a_query_answer_without_its_parties_gets_the_querys() {
    let mut answer = patient_search_answer();
    let meta = answer["Meta"].as_object_mut().expect("Meta");
    meta.remove("Source");
    meta.insert("Destinations".into(), json!([]));
    let (_stub, te) = query_setup(StubReply::Json(200, answer), "").await;
    let token = te.token("Lab").await;
    let (ehr, lab) = (te.destination_id("EHR"), te.source_id("Lab"));
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Meta"]["Source"], json!({"ID": lab, "Name": "Lab"}));
    assert_eq!(
        body["Meta"]["Destinations"],
        json!([{"ID": ehr, "Name": "EHR"}])
    );
    assert_eq!(body["Patient"]["Demographics"]["LastName"], "Bixby");
}

async fn a_sync_event_sent_to_endpoint_is_answered_as_a_query() {
    let answer = patient_search_answer();
    let (stub, te) = query_setup(StubReply::Json(200, answer.clone()), "").await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json("/endpoint", Some(&token), &patient_search_query(ehr))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Patient"], answer["Patient"]);
    let log_id = uuid_of(&body["Meta"]["Logs"][0]["ID"]);
    let log = te.log(log_id);
    assert_eq!(log.log_type, LogType::Request);
    assert_eq!(log.status, LogStatus::Succeeded);
    assert_eq!(stub.requests().len(), 1);
    assert!(te.queued(ehr).is_empty());
}

/// The single REQUEST log of a failed query, checked FAILED with one attempt.
fn failed_query_log(te: &TestEngine) -> switchboard::model::LogRecord {
    let logs = te.all_logs();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let log = logs[0].clone();
    assert_eq!(log.log_type, LogType::Request);
    assert_eq!(log.status, LogStatus::Failed);
    assert_eq!(log.attempts, 1);
    log
}

async fn query_answered_with_http_500_is_502_and_failed() {
    let (stub, te) = query_setup(StubReply::Text(500, "database on fire".into()), "").await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    let texts = assert_error(status, &body, StatusCode::BAD_GATEWAY, "HTTP 500");
    assert!(texts.iter().any(|t| t.contains("EHR")), "{texts:?}");
    assert_eq!(stub.requests().len(), 1);
    let log = failed_query_log(&te);
    let detail = log_detail(&te, log.id).await;
    assert_eq!(detail["attempts"][0]["httpStatus"], 500);
    assert_eq!(detail["attempts"][0]["outcome"], "FAILED");
    assert_eq!(detail["attempts"][0]["responseBody"], "database on fire");
}

/// A destination that refuses a query (4xx) is heard with its own status, not as a 502
/// (which some clients read as "try later", or as success): its own `Meta.Errors` when
/// it sent them, otherwise one error naming it, its status and the start of its body.
async fn a_destination_refusing_a_query_is_passed_on_with_its_status() {
    let own_errors = json!({"Meta": {"Errors": [
        {"ID": 7, "Text": "Patient identifier is required", "Type": "request", "Module": "Query"},
        {"ID": 8, "Text": "Unknown facility"}
    ]}});
    let (stub, te) = query_setup(StubReply::Json(400, own_errors), "").await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    let texts = assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "Patient identifier is required",
    );
    assert_eq!(
        texts,
        vec!["Patient identifier is required", "Unknown facility"],
        "{body}"
    );
    assert_eq!(stub.requests().len(), 1);
    let log = failed_query_log(&te);
    let detail = log_detail(&te, log.id).await;
    assert_eq!(detail["attempts"][0]["httpStatus"], 400);

    let (_stub, te) = query_setup(StubReply::Text(404, "no such patient".into()), "").await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    let texts = assert_error(status, &body, StatusCode::NOT_FOUND, "HTTP 404");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("EHR") && t.contains("no such patient")),
        "{texts:?}"
    );
}

async fn query_answered_with_something_not_json_is_502_and_failed() {
    let (_stub, te) = query_setup(StubReply::Text(200, "<html>hi</html>".into()), "").await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    assert_error(status, &body, StatusCode::BAD_GATEWAY, "not a JSON object");
    failed_query_log(&te);
}

async fn query_slower_than_the_timeout_is_504_and_failed() {
    let (_stub, te) = query_setup(
        StubReply::Delay(Duration::from_secs(5), 200, patient_search_answer()),
        "[engine]\nquery_timeout_seconds = 1\n",
    )
    .await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let clock = Instant::now();
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    let elapsed = clock.elapsed();
    assert_error(status, &body, StatusCode::GATEWAY_TIMEOUT, "did not answer");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "took {elapsed:?}"
    );
    let log = failed_query_log(&te);
    let detail = log_detail(&te, log.id).await;
    assert!(detail["attempts"][0]["httpStatus"].is_null(), "{detail}");
    assert!(detail["attempts"][0]["error"].is_string(), "{detail}");
}

async fn a_query_in_flight_is_in_history_as_pending_until_its_answer() {
    let (stub, te) = query_setup(
        StubReply::Delay(Duration::from_millis(1500), 200, patient_search_answer()),
        "",
    )
    .await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let query = patient_search_query(ehr);
    let ask = te.post_json("/query", Some(&token), &query);
    let look = async {
        let clock = Instant::now();
        while stub.requests().is_empty() {
            assert!(clock.elapsed() < Duration::from_secs(5), "never forwarded");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The destination is working on it: nothing has woken the journal since.
        let logs = te.all_logs();
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(logs[0].status, LogStatus::Pending);
        assert_eq!(logs[0].log_type, LogType::Request);
        logs[0].id
    };
    let ((status, body), in_flight) = tokio::join!(ask, look);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(uuid_of(&body["Meta"]["Logs"][0]["ID"]), in_flight);
    // Read right after the answer: the outcome is there.
    let detail = log_detail(&te, in_flight).await;
    assert_eq!(detail["log"]["status"], "SUCCEEDED", "{detail}");
    assert_eq!(detail["attempts"][0]["httpStatus"], 200, "{detail}");
}

async fn query_to_a_destination_that_is_down_is_502_and_failed() {
    let te = TestEngine::start(&config(&closed_url(), "")).await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    assert_error(status, &body, StatusCode::BAD_GATEWAY, "could not reach");
    let log = failed_query_log(&te);
    let detail = log_detail(&te, log.id).await;
    let error = detail["attempts"][0]["error"].as_str().expect("error");
    assert!(
        error.to_lowercase().contains("connect") || error.to_lowercase().contains("refused"),
        "{error}"
    );
}

async fn a_query_answer_over_max_body_bytes_is_not_read_and_is_502() {
    // Before the bound the engine read this answer until the query timeout (504).
    let url = format!("{}/redox", endless_answer().await);
    let te = TestEngine::start(&config(
        &url,
        "[engine]\nmax_body_bytes = 65536\nquery_timeout_seconds = 30\n",
    ))
    .await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let clock = Instant::now();
    let (status, body) = te
        .post_json("/query", Some(&token), &patient_search_query(ehr))
        .await;
    let texts = assert_error(
        status,
        &body,
        StatusCode::BAD_GATEWAY,
        "larger than 65536 bytes",
    );
    assert!(
        texts.iter().any(|t| t.contains("max_body_bytes")),
        "{texts:?}"
    );
    // Generous: the bound is hit in milliseconds; the timeout is 30 s.
    assert!(
        clock.elapsed() < Duration::from_secs(20),
        "took {:?}",
        clock.elapsed()
    );
    let log = failed_query_log(&te);
    let detail = log_detail(&te, log.id).await;
    assert_eq!(detail["attempts"][0]["httpStatus"], 200, "{detail}");
    let error = detail["attempts"][0]["error"].as_str().expect("error");
    assert!(error.contains("larger than 65536 bytes"), "{error}");
}

async fn a_chunked_body_over_the_limit_is_413() {
    // No Content-Length: the limit is found while reading, by the error's type.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let te = TestEngine::start(&config(&closed_url(), "[engine]\nmax_body_bytes = 1024\n")).await;
    let token = te.token("Lab").await;
    let addr = te.base.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /endpoint HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
    for _ in 0..4 {
        if socket.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("limit of 1024 bytes"), "{answer}");
}

async fn queries_that_cannot_be_forwarded_are_400() {
    let (stub, te) = query_setup(StubReply::Json(200, patient_search_answer()), "").await;
    let token = te.token("Lab").await;
    let (ehr, billing) = (te.destination_id("EHR"), te.destination_id("Billing"));

    // Two destinations.
    let mut two = patient_search_query(ehr);
    two["Meta"]["Destinations"] = json!([{"ID": ehr}, {"ID": billing}]);
    refused(
        &te,
        "/query",
        Some(&token),
        &bytes(&two),
        StatusCode::BAD_REQUEST,
        "exactly one destination",
    )
    .await;
    // The same on /endpoint, where a sync event is a query too.
    refused(
        &te,
        "/endpoint",
        Some(&token),
        &bytes(&two),
        StatusCode::BAD_REQUEST,
        "exactly one destination",
    )
    .await;

    // A notification belongs on /endpoint.
    let texts = refused(
        &te,
        "/query",
        Some(&token),
        &bytes(&payload("PatientAdmin", "Arrival", &[ehr], "M1")),
        StatusCode::BAD_REQUEST,
        "/endpoint",
    )
    .await;
    assert!(texts[0].contains("PatientAdmin Arrival"), "{texts:?}");

    // A response event is never sent, on either route.
    let mut response = patient_search_query(ehr);
    response["Meta"]["EventType"] = json!("Response");
    for path in ["/query", "/endpoint"] {
        let texts = refused(
            &te,
            path,
            Some(&token),
            &bytes(&response),
            StatusCode::BAD_REQUEST,
            "reply to a query",
        )
        .await;
        assert!(texts[0].contains("PatientSearch Query"), "{texts:?}");
    }
    assert!(
        stub.requests().is_empty(),
        "a refused query reached the stub"
    );
}

async fn a_poll_destination_takes_notifications_but_not_queries() {
    let mut c = config(&closed_url(), "");
    c += "[[destinations]]\nname = \"Poller\"\nenvironment = \"development\"\nmode = \"poll\"\nverification_token = \"tok-Poller\"\n\n";
    c += &subscription_toml("Lab", "Poller", &["*"]);
    let te = TestEngine::start(&c).await;
    let token = te.token("Lab").await;
    let poller = te.destination_id("Poller");
    refused(
        &te,
        "/query",
        Some(&token),
        &bytes(&patient_search_query(poller)),
        StatusCode::BAD_REQUEST,
        "polling",
    )
    .await;
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(&token),
            &payload("PatientAdmin", "Arrival", &[poller], "M1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(te.queued(poller).len(), 1);
}

// ---- every refusal of /endpoint --------------------------------------------

async fn malformed_bodies_are_400() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let t = Some(token.as_str());
    refused(&te, "/endpoint", t, b"", StatusCode::BAD_REQUEST, "empty").await;
    refused(
        &te,
        "/endpoint",
        t,
        b"{\"Meta\": {",
        StatusCode::BAD_REQUEST,
        "not valid JSON",
    )
    .await;
    for not_object in [&b"[1, 2]"[..], b"\"Meta\"", b"42", b"null"] {
        refused(
            &te,
            "/endpoint",
            t,
            not_object,
            StatusCode::BAD_REQUEST,
            "must be a JSON object",
        )
        .await;
    }
    refused(
        &te,
        "/endpoint",
        t,
        b"{\"Patient\": {}}",
        StatusCode::BAD_REQUEST,
        "Meta is missing",
    )
    .await;
    refused(
        &te,
        "/endpoint",
        t,
        b"{\"Meta\": []}",
        StatusCode::BAD_REQUEST,
        "Meta must be an object",
    )
    .await;
    // The same checks guard /query.
    refused(
        &te,
        "/query",
        t,
        b"{\"Meta\": {",
        StatusCode::BAD_REQUEST,
        "not valid JSON",
    )
    .await;
}

async fn missing_and_mistyped_meta_fields_are_reported_together() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let t = Some(token.as_str());

    let texts = refused(
        &te,
        "/endpoint",
        t,
        b"{\"Meta\": {\"Test\": true}}",
        StatusCode::BAD_REQUEST,
        "Meta.DataModel is missing",
    )
    .await;
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.EventType is missing"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.Destinations is missing"))
    );

    let texts = refused(
        &te,
        "/endpoint",
        t,
        &bytes(&json!({"Meta": {
            "DataModel": 5, "EventType": true, "Destinations": "EHR", "Test": "yes"
        }})),
        StatusCode::BAD_REQUEST,
        "Meta.DataModel must be a string",
    )
    .await;
    assert_eq!(texts.len(), 4, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.EventType must be a string"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.Destinations must be an array"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.Test must be true or false"))
    );

    let texts = refused(
        &te,
        "/endpoint",
        t,
        &bytes(&json!({"Meta": {
            "DataModel": "PatientAdmin", "EventType": "Arrival",
            "Destinations": [{"ID": te.destination_id("EHR")}],
            "FacilityCode": 7, "EventDateTime": 1_710_055_800, "Extensions": [],
            "Source": "Lab"
        }})),
        StatusCode::BAD_REQUEST,
        "Meta.FacilityCode must be a string",
    )
    .await;
    assert_eq!(texts.len(), 4, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.EventDateTime must be a string"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.Extensions must be an object"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Meta.Source must be an object"))
    );

    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&json!({"Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival", "Destinations": []}})),
        StatusCode::BAD_REQUEST,
        "Meta.Destinations is empty",
    )
    .await;
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&json!({"Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival", "Destinations": [{"Name": "EHR"}]}})),
        StatusCode::BAD_REQUEST,
        "Meta.Destinations[0].ID is missing",
    )
    .await;
}

async fn error_bodies_echo_the_senders_meta() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let request = json!({"Meta": {"DataModel": "PatientAdmn", "EventType": "Arrival",
        "FacilityCode": "RDX", "Destinations": [{"ID": te.destination_id("EHR")}]}});
    let (status, body) = te.post_json("/endpoint", Some(&token), &request).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "PatientAdmn");
    assert_eq!(body["Meta"]["DataModel"], "PatientAdmn");
    assert_eq!(body["Meta"]["FacilityCode"], "RDX");
    assert_eq!(body["Meta"]["Errors"][0]["ID"], 1);
}

async fn unknown_data_models_and_event_types_are_400_with_a_hint() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let t = Some(token.as_str());
    let ehr = te.destination_id("EHR");
    for (model, event, hint) in [
        ("PatientAdmn", "Arrival", "Did you mean \"PatientAdmin\""),
        (
            "ClinicalSummary",
            "PatientQuery",
            "Did you mean \"Clinical Summary\"",
        ),
        ("PatientAdmin", "Arival", "Did you mean \"Arrival\""),
    ] {
        refused(
            &te,
            "/endpoint",
            t,
            &bytes(&payload(model, event, &[ehr], "M1")),
            StatusCode::BAD_REQUEST,
            hint,
        )
        .await;
    }
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload("Spaceship", "Launch", &[ehr], "M1")),
        StatusCode::BAD_REQUEST,
        "not a known data model",
    )
    .await;
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload("PatientAdmin", "Teleport", &[ehr], "M1")),
        StatusCode::BAD_REQUEST,
        "not an event of the PatientAdmin data model",
    )
    .await;
}

async fn routing_refusals_are_404_and_403() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let t = Some(token.as_str());
    let ehr = te.destination_id("EHR");

    // Unknown destination: a UUID nobody has, or not a UUID at all.
    let stranger = Uuid::new_v4();
    let texts = refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload("PatientAdmin", "Arrival", &[stranger], "M1")),
        StatusCode::NOT_FOUND,
        "not a destination of this engine",
    )
    .await;
    assert!(texts[0].contains(&stranger.to_string()), "{texts:?}");
    let mut request = payload("PatientAdmin", "Arrival", &[ehr], "M1");
    request["Meta"]["Destinations"] = json!([{"ID": "EHR"}]);
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&request),
        StatusCode::NOT_FOUND,
        "not a destination",
    )
    .await;
    // One good and one unknown destination: nothing at all is stored.
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload("PatientAdmin", "Arrival", &[ehr, stranger], "M1")),
        StatusCode::NOT_FOUND,
        "not a destination",
    )
    .await;

    // Wrong environment.
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload(
            "PatientAdmin",
            "Arrival",
            &[te.destination_id("Stage EHR")],
            "M1",
        )),
        StatusCode::FORBIDDEN,
        "same environment",
    )
    .await;

    // No subscription for the data model ("Billing" takes PatientAdmin only), even when
    // another named destination has one.
    let billing = te.destination_id("Billing");
    let texts = refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload("Results", "New", &[billing], "M1")),
        StatusCode::FORBIDDEN,
        "no subscription",
    )
    .await;
    assert!(texts[0].contains("Results") && texts[0].contains("Billing"));
    refused(
        &te,
        "/endpoint",
        t,
        &bytes(&payload("Results", "New", &[ehr, billing], "M1")),
        StatusCode::FORBIDDEN,
        "no subscription",
    )
    .await;
    // The same destination with a subscribed data model goes through.
    let (status, body) = te
        .post_json(
            "/endpoint",
            t,
            &payload("PatientAdmin", "Arrival", &[billing], "M1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_body_over_the_limit_is_413() {
    let te = TestEngine::start(&config(&closed_url(), "[engine]\nmax_body_bytes = 1024\n")).await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let mut request = payload("PatientAdmin", "Arrival", &[ehr], "M1");
    request["Patient"]["Notes"] = json!(["x".repeat(2048)]);
    let body = bytes(&request);
    assert!(body.len() > 2048);
    for path in ["/endpoint", "/query"] {
        refused(
            &te,
            path,
            Some(&token),
            &body,
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit of 1024 bytes",
        )
        .await;
    }
    // Under the limit is fine.
    let small = bytes(&payload("PatientAdmin", "Arrival", &[ehr], "M1"));
    assert!(small.len() < 1024);
    let (status, answer) = te.post_raw("/endpoint", Some(&token), &small).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn bad_or_missing_tokens_are_401() {
    let te = engine().await;
    let ehr = te.destination_id("EHR");
    let body = bytes(&payload("PatientAdmin", "Arrival", &[ehr], "M1"));
    for path in ["/endpoint", "/query"] {
        refused(
            &te,
            path,
            None,
            &body,
            StatusCode::UNAUTHORIZED,
            "Authorization header is missing",
        )
        .await;
        refused(
            &te,
            path,
            Some("garbage"),
            &body,
            StatusCode::UNAUTHORIZED,
            "not valid",
        )
        .await;
    }
    // An admin token is not a source token.
    let admin = te.admin_token(Role::Admin);
    refused(
        &te,
        "/endpoint",
        Some(&admin),
        &body,
        StatusCode::UNAUTHORIZED,
        "not valid",
    )
    .await;
    // Not a bearer scheme at all.
    let response = te
        .client
        .post(te.url("/endpoint"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    let status = response.status();
    let answer: Value = response.json().await.expect("json");
    assert_error(status, &answer, StatusCode::UNAUTHORIZED, "Bearer");
}

async fn the_bearer_scheme_is_case_insensitive() {
    // RFC 7235 §2.1 / RFC 6750: the auth-scheme name is case-insensitive.
    let te = engine().await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = te
            .client
            .post(te.url("/endpoint"))
            .header("authorization", format!("{scheme} {token}"))
            .json(&payload("PatientAdmin", "Arrival", &[ehr], "M1"))
            .send()
            .await
            .expect("send");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "scheme {scheme:?}: {body}");
    }
}

async fn concurrent_sends_are_all_stored() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("EHR");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let request = te
            .client
            .post(te.url("/endpoint"))
            .bearer_auth(&token)
            .json(&payload(
                "PatientAdmin",
                "Arrival",
                &[ehr],
                &format!("M{i}"),
            ));
        tasks.spawn(async move {
            let response = request.send().await.expect("send");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            assert_eq!(status, StatusCode::OK, "{body}");
            uuid_of(&body["Meta"]["Logs"][0]["ID"])
        });
    }
    let mut ids = Vec::new();
    while let Some(id) = tasks.join_next().await {
        ids.push(id.expect("task"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 32);
    let mut stored: Vec<Uuid> = te.all_logs().iter().map(|l| l.id).collect();
    stored.sort();
    assert_eq!(stored, ids);
    let mut queued = te.queued(ehr);
    queued.sort();
    assert_eq!(queued, ids);
}

async fn an_expired_token_is_401_saying_expired() {
    let te = engine().await;
    let (api_key, _) = te.api_key("Lab");
    let token = format!("expired-{}", Uuid::new_v4().simple());
    te.engine
        .sessions()
        .put_session(
            &sha256(token.as_bytes()),
            &Session {
                source_id: te.source_id("Lab"),
                api_key,
                refresh: false,
                expires: Utc::now() - ChronoDuration::minutes(1),
                family: None,
                rotated: false,
            },
        )
        .expect("session");
    let ehr = te.destination_id("EHR");
    refused(
        &te,
        "/endpoint",
        Some(&token),
        &bytes(&payload("PatientAdmin", "Arrival", &[ehr], "M1")),
        StatusCode::UNAUTHORIZED,
        "expired",
    )
    .await;
}

async fn unknown_routes_are_404_and_wrong_methods_405_in_platform_shape() {
    let te = engine().await;
    let token = te.token("Lab").await;
    let (status, body) = te.post_raw("/nope", Some(&token), b"{}").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no route /nope");
    let (status, body) = te.get("/v1/endpoint", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no route");

    let (status, body) = te.get("/endpoint", Some(&token)).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "use POST");
    let (status, body) = te.get("/query", Some(&token)).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "use POST");
    let (status, body) = te.get("/auth/authenticate", None).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "not allowed");
    assert!(te.all_logs().is_empty());
}

// ---- the environment wall --------------------------------------------------

#[test]
fn the_config_loader_refuses_a_subscription_across_environments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let text = format!(
        "{}{}{}",
        source_toml("Stage Lab", "staging", None),
        destination_toml("Dev EHR", "development", &closed_url()),
        subscription_toml("Stage Lab", "Dev EHR", &["*"])
    );
    std::fs::write(&path, &text).expect("write");
    let err = Config::load(&path, true, &dir.path().join("data"))
        .expect_err("a cross-environment subscription must be refused")
        .to_string();
    assert!(err.contains("only flows within one environment"), "{err}");
    assert!(
        err.contains("Stage Lab") && err.contains("Dev EHR"),
        "{err}"
    );
    assert!(err.contains("config.toml"), "{err}");
    // It names the line of the subscription's source.
    let line = text
        .lines()
        .position(|l| l.starts_with("source = "))
        .expect("line")
        + 1;
    assert!(err.contains(&format!("line {line}")), "{err}");
}

async fn a_staging_source_cannot_reach_a_development_destination() {
    let stub = StubDestination::start(StubReply::Json(200, patient_search_answer())).await;
    let mut c = config(&stub.url, "");
    c += &destination_toml("Dev Only", "development", &stub.url);
    c += &subscription_toml("Lab", "Dev Only", &["*"]);
    let te = TestEngine::start(&c).await;
    let token = te.token("Stage Lab").await;
    let (dev, stage) = (
        te.destination_id("Dev Only"),
        te.destination_id("Stage EHR"),
    );

    let texts = refused(
        &te,
        "/endpoint",
        Some(&token),
        &bytes(&payload("PatientAdmin", "Arrival", &[dev], "M1")),
        StatusCode::FORBIDDEN,
        "same environment",
    )
    .await;
    assert!(
        texts[0].contains("Staging") && texts[0].contains("Development"),
        "{texts:?}"
    );
    // Not even partly: a request naming its own Staging destination too is refused whole.
    refused(
        &te,
        "/endpoint",
        Some(&token),
        &bytes(&payload("PatientAdmin", "Arrival", &[stage, dev], "M1")),
        StatusCode::FORBIDDEN,
        "same environment",
    )
    .await;
    // Nor by query.
    refused(
        &te,
        "/query",
        Some(&token),
        &bytes(&patient_search_query(dev)),
        StatusCode::FORBIDDEN,
        "same environment",
    )
    .await;

    let page = te
        .engine
        .search_logs(&LogQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(page.logs.is_empty(), "{:#?}", page.logs);
    assert!(te.all_queued().is_empty());
    assert!(
        stub.requests().is_empty(),
        "the development stub was reached"
    );
}

crate::on_both_stores! {
    #[tokio::test] authenticate_returns_a_24h_token_and_a_refresh_token;
    #[tokio::test] refresh_token_gives_a_new_working_access_token;
    #[tokio::test] bad_credentials_are_401;
    #[tokio::test] a_key_of_a_source_no_longer_configured_is_401;
    #[tokio::test] an_expired_refresh_token_and_a_revoked_key_cannot_refresh;
    #[tokio::test] form_encoded_authenticate_and_refresh_work_like_json;
    #[tokio::test] malformed_auth_bodies_are_400;
    #[tokio::test] send_fills_meta_and_stores_a_pending_log_and_queue_entry;
    #[tokio::test] send_fans_out_to_every_destination;
    #[tokio::test] a_destination_named_twice_in_another_spelling_is_refused;
    #[tokio::test] meta_source_id_is_checked_against_the_token;
    #[tokio::test] queues_are_first_in_first_out_per_source_and_destination;
    #[tokio::test] payload_timestamps_are_converted_to_utc_in_the_source_zone;
    #[tokio::test] query_round_trip;
    #[tokio::test] a_query_answer_without_its_parties_gets_the_querys;
    #[tokio::test] a_sync_event_sent_to_endpoint_is_answered_as_a_query;
    #[tokio::test] query_answered_with_http_500_is_502_and_failed;
    #[tokio::test] a_destination_refusing_a_query_is_passed_on_with_its_status;
    #[tokio::test] query_answered_with_something_not_json_is_502_and_failed;
    #[tokio::test] query_slower_than_the_timeout_is_504_and_failed;
    #[tokio::test] a_query_in_flight_is_in_history_as_pending_until_its_answer;
    #[tokio::test] query_to_a_destination_that_is_down_is_502_and_failed;
    #[tokio::test] a_query_answer_over_max_body_bytes_is_not_read_and_is_502;
    #[tokio::test] a_chunked_body_over_the_limit_is_413;
    #[tokio::test] queries_that_cannot_be_forwarded_are_400;
    #[tokio::test] a_poll_destination_takes_notifications_but_not_queries;
    #[tokio::test] malformed_bodies_are_400;
    #[tokio::test] missing_and_mistyped_meta_fields_are_reported_together;
    #[tokio::test] error_bodies_echo_the_senders_meta;
    #[tokio::test] unknown_data_models_and_event_types_are_400_with_a_hint;
    #[tokio::test] routing_refusals_are_404_and_403;
    #[tokio::test] a_body_over_the_limit_is_413;
    #[tokio::test] bad_or_missing_tokens_are_401;
    #[tokio::test] the_bearer_scheme_is_case_insensitive;
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)] concurrent_sends_are_all_stored;
    #[tokio::test] an_expired_token_is_401_saying_expired;
    #[tokio::test] unknown_routes_are_404_and_wrong_methods_405_in_platform_shape;
    #[tokio::test] a_staging_source_cannot_reach_a_development_destination;
}
