//! The Platform API (issue 17): `/platform/v0|v1/organizations/{org}/…` over real
//! loopback HTTP, logged in with admin tokens and with user keys (the JWT flow, an RS384
//! key made by openssl and registered by the real `tokens create --jwks`).

use crate::common;

use axum::http::StatusCode;
use common::jwt::{claims, jwks_file, rsa_key, sign};
use common::{
    StubDestination, StubReply, TestEngine, client, destination_toml, eventually_within, payload,
    source_toml, subscription_toml,
};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use std::time::Duration;
use switchboard::engine::oauth::register::ClientKeys;
use switchboard::engine::oauth::users;
use switchboard::model::Role;
use uuid::Uuid;

/// The built-in organization's ID (see `api::platform_api::organization_matches`).
const ORG: &str = "5b7c0a11-c0de-4e57-8a00-0000000000a0";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Production: "Prod Lab" → "Prod EHR" (PatientAdmin, Results); Development:
/// "Dev Lab" → "Dev EHR" (FHIR.Patient). Both destinations acknowledge everything.
async fn engine(stub: &StubDestination) -> TestEngine {
    let mut c = String::new();
    c += &source_toml("Prod Lab", "production", None);
    c += &source_toml("Dev Lab", "development", None);
    c += &destination_toml("Prod EHR", "production", &stub.url);
    c += &destination_toml("Dev EHR", "development", &stub.url);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["PatientAdmin", "Results"]);
    c += &subscription_toml("Dev Lab", "Dev EHR", &["FHIR.Patient", "PatientAdmin"]);
    TestEngine::start(&c).await
}

async fn ok_stub() -> StubDestination {
    StubDestination::start(StubReply::Json(200, json!({}))).await
}

/// Sends `model`/`event` from `source` to `destination`; the new log's ID.
async fn send(
    e: &TestEngine,
    source: &str,
    destination: &str,
    model: &str,
    event: &str,
    mrn: &str,
) -> Uuid {
    let token = e.token(source).await;
    let dest = e.destination_id(destination);
    let (status, body) = e
        .post_json(
            "/endpoint",
            Some(&token),
            &payload(model, event, &[dest], mrn),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Meta"]["Logs"][0]["ID"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .expect("a log ID")
}

/// Waits until every Development log has left PENDING (Production's destination is
/// not verified, so its logs stay PENDING: that is all these tests need of them).
async fn settled(e: &TestEngine) {
    eventually_within("every delivery to finish", Duration::from_secs(30), || {
        let pending = e
            .all_logs()
            .iter()
            .filter(|l| {
                l.status.as_str() == "PENDING"
                    && l.environment == switchboard::model::Environment::Development
            })
            .count();
        if pending == 0 {
            Ok(())
        } else {
            Err(format!("{pending} pending"))
        }
    })
    .await;
}

fn path(version: &str, rest: &str) -> String {
    format!("/platform/{version}/organizations/{ORG}/{rest}")
}

/// The payload of a 200 in the envelope.
fn payload_of(status: StatusCode, body: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["version"], "1.0.0", "{body}");
    body["payload"].clone()
}

/// An error in this API's shape, with a message mentioning `mentions`.
fn assert_error(status: StatusCode, body: &Value, expected: u16, mentions: &str) {
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_eq!(body["meta"]["version"], "1.0.0", "{body}");
    let text = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        text.to_lowercase().contains(&mentions.to_lowercase()),
        "{text:?} should mention {mentions:?}: {body}"
    );
}

fn log_ids(payload: &Value) -> Vec<String> {
    payload["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_string())
        .collect()
}

/// An access token for a user key through `/v2/auth/token`.
async fn user_token(e: &TestEngine, assertion: &str) -> (StatusCode, Value) {
    let answer = client()
        .post(e.url("/v2/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .expect("token request");
    let status = answer.status();
    (status, answer.json().await.expect("JSON"))
}

/// An HS384 user key of `role`, registered in-process; a fresh access token for it.
async fn hs384_user(e: &TestEngine, role: Role, name: &str) -> String {
    let registered = users::register_user(
        e.engine.credentials(),
        role,
        name,
        chrono::Duration::days(1),
        ClientKeys::Hs384,
    )
    .expect("register");
    let secret = registered.keys.secret.expect("secret");
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let assertion = sign(
        Algorithm::HS384,
        None,
        &key,
        &claims(&registered.keys.client_id, &e.url("/v2/auth/token")),
    );
    let (status, body) = user_token(e, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn each_route_answers_in_the_envelope_under_v0_and_v1() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let admin = e.admin_token(Role::Admin);
    let log = send(
        &e,
        "Prod Lab",
        "Prod EHR",
        "PatientAdmin",
        "NewPatient",
        "MRN-1",
    )
    .await;
    let dev = send(
        &e,
        "Dev Lab",
        "Dev EHR",
        "PatientAdmin",
        "NewPatient",
        "MRN-2",
    )
    .await;
    settled(&e).await;
    for v in ["v0", "v1"] {
        let (status, body) = e.get(&path(v, "environments"), Some(&admin)).await;
        let envs = payload_of(status, &body)["environments"].clone();
        let flags: Vec<&str> = envs
            .as_array()
            .expect("environments")
            .iter()
            .map(|e| e["environmentFlag"].as_str().expect("flag"))
            .collect();
        assert_eq!(flags, ["Development", "Staging", "Production"], "{body}");
        for env in envs.as_array().expect("environments") {
            assert!(Uuid::parse_str(env["id"].as_str().expect("id")).is_ok());
            assert_eq!(env["organization"]["id"], ORG);
            assert_eq!(env["name"], env["environmentFlag"]);
        }

        let (status, body) = e.get(&path(v, "subscriptions"), Some(&admin)).await;
        let subs = payload_of(status, &body)["subscriptions"].clone();
        let subs: Vec<&Value> = subs
            .as_array()
            .expect("subscriptions")
            .iter()
            .filter(|s| {
                s["source"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with(" Lab"))
            })
            .collect();
        assert_eq!(subs.len(), 4, "one per data model: {body}");
        let fhir = subs
            .iter()
            .find(|s| s["dataModel"] == "FHIR.Patient")
            .expect("the FHIR subscription");
        assert_eq!(fhir["source"]["name"], "Dev Lab");
        assert_eq!(fhir["destination"]["name"], "Dev EHR");
        assert_eq!(
            fhir["destination"]["id"],
            json!(e.destination_id("Dev EHR"))
        );
        assert_eq!(fhir["source"]["id"], json!(e.source_id("Dev Lab")));

        let (status, body) = e.get(&path(v, "logs"), Some(&admin)).await;
        let page = payload_of(status, &body);
        assert_eq!(log_ids(&page), [dev.to_string(), log.to_string()]);
        assert_eq!(page["cursor"], Value::Null);
        assert_eq!(page["logs"][0]["dataModel"], "PatientAdmin");

        let (status, body) = e.get(&path(v, &format!("logs/{dev}")), Some(&admin)).await;
        let detail = payload_of(status, &body);
        assert_eq!(detail["log"]["id"], dev.to_string());
        assert_eq!(detail["attempts"].as_array().expect("attempts").len(), 1);
        assert_eq!(detail["attempts"][0]["httpStatus"], 200, "{detail}");

        // Another organization, an unknown log.
        let other = format!(
            "/platform/{v}/organizations/{}/environments",
            Uuid::new_v4()
        );
        let (status, body) = e.get(&other, Some(&admin)).await;
        assert_error(status, &body, 404, "no organization");
        let (status, body) = e
            .get(&path(v, &format!("logs/{}", Uuid::new_v4())), Some(&admin))
            .await;
        assert_error(status, &body, 404, "no log");
        // An unknown route and a wrong method answer in this API's shape too.
        let (status, body) = e.get(&path(v, "widgets"), Some(&admin)).await;
        assert_error(status, &body, 404, "no Platform API route");
        let (status, body) = e
            .post_json(&path(v, "environments"), Some(&admin), &json!({}))
            .await;
        assert_error(status, &body, 405, "use GET");
    }
}

#[tokio::test]
async fn logs_page_with_the_cursor_and_refuse_more_than_50() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let admin = e.admin_token(Role::Viewer);
    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(
            send(
                &e,
                "Dev Lab",
                "Dev EHR",
                "PatientAdmin",
                "NewPatient",
                &format!("M{i}"),
            )
            .await,
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("_count", "3".to_string())];
        if let Some(c) = &cursor {
            query.push(("_cursor", c.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = e.get_query(&path("v1", "logs"), &admin, &query).await;
        let page = payload_of(status, &body);
        pages += 1;
        seen.extend(log_ids(&page));
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 5, "the cursor never ends: {body}");
    }
    assert_eq!(pages, 3);
    // Newest first, each log once.
    let expected: Vec<String> = sent.iter().rev().map(Uuid::to_string).collect();
    assert_eq!(seen, expected);

    let (status, body) = e
        .get_query(&path("v0", "logs"), &admin, &[("_count", "51")])
        .await;
    assert_error(status, &body, 400, "_count 51");
    let (status, body) = e
        .get_query(&path("v0", "logs"), &admin, &[("colour", "red")])
        .await;
    assert_error(status, &body, 400, "searchTerms");
}

#[tokio::test]
async fn each_log_filter_narrows_the_search() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let admin = e.admin_token(Role::Admin);
    let a = send(
        &e,
        "Prod Lab",
        "Prod EHR",
        "PatientAdmin",
        "NewPatient",
        "MRN-A",
    )
    .await;
    let b = send(&e, "Prod Lab", "Prod EHR", "Results", "New", "MRN-B").await;
    settled(&e).await;
    // Apart from both sides by more than the millisecond timestamps resolve.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let middle = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c = send(
        &e,
        "Dev Lab",
        "Dev EHR",
        "PatientAdmin",
        "PatientUpdate",
        "MRN-C",
    )
    .await;
    settled(&e).await;
    let middle = middle.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let prod_lab = e.source_id("Prod Lab").to_string();
    let dev_ehr = e.destination_id("Dev EHR").to_string();
    let cases: Vec<(&str, &str, Vec<Uuid>)> = vec![
        ("dataModel", "Results", vec![b]),
        ("eventType", "PatientUpdate", vec![c]),
        ("status", "SUCCEEDED", vec![c]),
        ("status", "PENDING", vec![b, a]),
        ("status", "FAILED", vec![]),
        ("type", "SEND", vec![c, b, a]),
        ("type", "REQUEST", vec![]),
        ("sourceId", &prod_lab, vec![b, a]),
        ("destinationId", &dev_ehr, vec![c]),
        ("createdAfter", &middle, vec![c]),
        ("createdBefore", &middle, vec![b, a]),
        ("updatedAfter", &middle, vec![c]),
        ("updatedBefore", &middle, vec![b, a]),
        ("searchTerms", "mrn-b", vec![b]),
        ("searchTerms", "dev ehr", vec![c]),
    ];
    for (name, value, expected) in cases {
        let (status, body) = e
            .get_query(&path("v1", "logs"), &admin, &[(name, value)])
            .await;
        let page = payload_of(status, &body);
        let expected: Vec<String> = expected.iter().map(Uuid::to_string).collect();
        assert_eq!(log_ids(&page), expected, "{name}={value}: {body}");
    }
}

#[tokio::test]
async fn a_viewer_user_key_logs_in_with_rs384_and_sees_no_phi_in_production() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let log = send(
        &e,
        "Prod Lab",
        "Prod EHR",
        "PatientAdmin",
        "NewPatient",
        "MRN-7",
    )
    .await;
    settled(&e).await;
    let keys = tempfile::tempdir().expect("tempdir");
    let key = rsa_key(keys.path(), "ana-1");
    let jwks = jwks_file(keys.path(), &[&key]);
    let registered = common::bin::cli_json(
        e.dir.path(),
        &[
            "tokens",
            "create",
            "--role",
            "viewer",
            "--name",
            "ana",
            "--jwks",
            jwks.to_str().expect("path"),
        ],
    );
    let client_id = registered["clientId"].as_str().expect("clientId");
    assert_eq!(registered["role"], "viewer", "{registered}");
    let assertion = sign(
        Algorithm::RS384,
        Some("ana-1"),
        &key.signing,
        &claims(client_id, &e.url("/v2/auth/token")),
    );
    let (status, body) = user_token(&e, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().expect("token");

    let (status, body) = e.get(&path("v1", "environments"), Some(token)).await;
    payload_of(status, &body);
    // The same token on the admin API, as a viewer.
    let (status, body) = e.get("/admin/v1/status", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "viewer");

    let (status, body) = e.get(&path("v1", "logs"), Some(token)).await;
    let page = payload_of(status, &body);
    assert_eq!(log_ids(&page), [log.to_string()]);
    assert!(page["logs"][0].get("patientId").is_none(), "{page}");
    let (status, body) = e.get(&path("v1", "logs"), Some(token)).await;
    assert!(!body.to_string().contains("MRN-7"), "{status} {body}");
    let (status, body) = e
        .get(&path("v1", &format!("logs/{log}")), Some(token))
        .await;
    let detail = payload_of(status, &body);
    assert_eq!(detail["masked"], true, "{detail}");
    assert!(detail.get("request").is_none(), "{detail}");
    assert!(!detail.to_string().contains("MRN-7"), "{detail}");

    // A user key's token is not a source's.
    let (status, body) = e
        .post_json(
            "/endpoint",
            Some(token),
            &payload(
                "PatientAdmin",
                "NewPatient",
                &[e.destination_id("Prod EHR")],
                "X",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        common::error_texts(&body)[0].contains("user key's token"),
        "{body}"
    );

    // Listed and revoked as admin tokens are (what `tokens list` and `tokens revoke
    // ana` call while an engine runs).
    let admin = e.admin_token(Role::Admin);
    let (_, listed) = e.get("/admin/v1/tokens", Some(&admin)).await;
    assert!(listed.to_string().contains("\"ana\""), "{listed}");
    let sessions = listed["sessions"].as_array().expect("sessions");
    assert!(
        sessions
            .iter()
            .any(|s| s["kind"] == "user" && s["actor"] == client_id),
        "the user key's live token is listed as a user session: {listed}"
    );
    let (status, body) = e
        .post_json("/admin/v1/tokens/ana/revoke", Some(&admin), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let assertion = sign(
        Algorithm::RS384,
        Some("ana-1"),
        &key.signing,
        &claims(client_id, &e.url("/v2/auth/token")),
    );
    let (status, body) = user_token(&e, &assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = e.get(&path("v1", "environments"), Some(token)).await;
    assert_error(status, &body, 401, "");
}

#[tokio::test]
async fn a_phi_user_key_sees_production_payloads_and_the_reveal_is_audited() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let log = send(
        &e,
        "Prod Lab",
        "Prod EHR",
        "PatientAdmin",
        "NewPatient",
        "MRN-8",
    )
    .await;
    settled(&e).await;
    let token = hs384_user(&e, Role::Phi, "pat").await;
    let (status, body) = e
        .get(&path("v0", &format!("logs/{log}")), Some(&token))
        .await;
    let detail = payload_of(status, &body);
    assert_eq!(detail["masked"], false);
    assert!(detail.to_string().contains("MRN-8"), "{detail}");
    let audit = e.store().audit_trail(1000).expect("audit");
    assert!(
        audit.iter().any(|a| a.action == "reveal-payload"
            && a.log_id == Some(log)
            && a.actor.contains("pat")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn source_tokens_are_refused_and_admin_tokens_accepted() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let source = e.token("Prod Lab").await;
    for v in ["v0", "v1"] {
        let (status, body) = e.get(&path(v, "environments"), Some(&source)).await;
        assert_error(status, &body, 401, "admin token");
        let (status, body) = e.get(&path(v, "logs"), None).await;
        assert_error(status, &body, 401, "authorization");
        let (status, body) = e
            .get(&path(v, "environments"), Some(&e.admin_token(Role::Viewer)))
            .await;
        payload_of(status, &body);
    }
    let (status, _) = e.get("/admin/v1/status", Some(&source)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn retry_is_for_operators() {
    let stub = ok_stub().await;
    let e = engine(&stub).await;
    let log = send(
        &e,
        "Dev Lab",
        "Dev EHR",
        "PatientAdmin",
        "NewPatient",
        "MRN-9",
    )
    .await;
    settled(&e).await;
    let viewer = hs384_user(&e, Role::Viewer, "vic").await;
    let operator = hs384_user(&e, Role::Operator, "olga").await;
    let retry = path("v1", &format!("logs/{log}/retry"));
    let (status, body) = e.post_json(&retry, Some(&viewer), &json!({})).await;
    assert_error(status, &body, 403, "operator");
    let (status, body) = e.post_json(&retry, Some(&operator), &json!({})).await;
    let again = payload_of(status, &body)["log"].clone();
    assert_eq!(again["resendOf"], log.to_string(), "{again}");
    assert_ne!(again["id"], log.to_string());
    settled(&e).await;
    assert_eq!(stub.requests().len(), 2, "the retry was delivered");
}
