//! The FHIR R4 API (issue 16, the engine's part): `/fhir/R4/{slug}/{env}/…` over real
//! loopback HTTP against an in-process engine and a stub FHIR server: metadata, read,
//! search (GET and POST `_search`), links rewritten and a `next` link followed, every
//! error as an OperationOutcome with its status, environment and subscription
//! refusals, both kinds of token, `Redox-Source-Id`, logs, and the config's checks.
//! Messages and PHI are in `fhir_messages.rs`.

use crate::common;
use crate::common::fhir_stub;

use axum::http::StatusCode;
use common::TestEngine;
use fhir_stub::{FhirStub, assert_outcome, call, config};
use serde_json::Value;
use switchboard::engine::Config;
use switchboard::model::Role;

fn get(engine: &TestEngine, path: &str, token: &str) -> reqwest::RequestBuilder {
    engine.client.get(engine.url(path)).bearer_auth(token)
}

#[tokio::test]
async fn metadata_read_and_searches_go_through_with_links_rewritten() {
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let token = engine.token("Lab").await;
    let base = "/fhir/R4/acme/Development";

    let (status, kind, cs) = call(&engine, get(&engine, &format!("{base}/metadata"), &token)).await;
    assert_eq!(status, StatusCode::OK, "{cs}");
    assert!(kind.starts_with("application/fhir+json"));
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    let types: Vec<&str> = cs["rest"][0]["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert!(
        types.contains(&"Patient") && types.contains(&"Observation"),
        "{types:?}"
    );

    let (status, _, patient) =
        call(&engine, get(&engine, &format!("{base}/Patient/p1"), &token)).await;
    assert_eq!(status, StatusCode::OK, "{patient}");
    assert_eq!(patient["id"], "p1");
    let logged = get(&engine, &format!("{base}/Patient/p1"), &token)
        .send()
        .await
        .expect("read");
    let log_id = logged.headers()["switchboard-log-id"]
        .to_str()
        .expect("header")
        .to_string();

    // GET search, one per page: links under the engine's base, the next one followed.
    let engine_base = format!("{}{base}", engine.base);
    let url = format!("{base}/Patient?identifier=0000000001&_count=1");
    let (status, _, page) = call(&engine, get(&engine, &url, &token)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["type"], "searchset");
    assert_eq!(
        page["entry"][0]["fullUrl"],
        format!("{engine_base}/Patient/p1")
    );
    let next = page["link"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .expect("next link")
        .to_string();
    assert!(next.starts_with(&engine_base), "{next}");
    let (status, _, second) = call(&engine, engine.client.get(&next).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second["entry"][0]["fullUrl"],
        format!("{engine_base}/Patient/p2")
    );

    // POST _search: the form forwarded as a form, never in the URL.
    let form = engine
        .client
        .post(engine.url(&format!("{base}/Patient/_search")))
        .bearer_auth(&token)
        .form(&[
            ("family", "Baker"),
            ("given", "Ann"),
            ("birthdate", "1980-01-02"),
        ]);
    let (status, _, found) = call(&engine, form).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["total"], 2);
    let seen = stub.seen();
    let posted = seen
        .iter()
        .find(|s| s.uri.ends_with("/Patient/_search"))
        .expect("the search was forwarded as POST _search");
    assert!(String::from_utf8_lossy(&posted.body).contains("family=Baker"));
    assert!(!posted.uri.contains("Baker"));
    assert!(
        seen.iter().all(|s| s
            .headers
            .get("verification-token")
            .is_some_and(|v| v == "vt-acme")),
        "every forwarded request carries the verification token"
    );

    // Logged as FHIR.Patient read/search REQUESTs, found by the admin API and the filter.
    let logs = engine.all_logs();
    let fhir: Vec<_> = logs
        .iter()
        .filter(|l| l.data_model == "FHIR.Patient")
        .collect();
    assert_eq!(fhir.len(), 5, "{logs:#?}");
    assert!(
        fhir.iter()
            .any(|l| l.event_type == "read" && l.id.to_string() == log_id)
    );
    assert!(
        fhir.iter()
            .all(|l| l.log_type == switchboard::model::LogType::Request
                && l.status == switchboard::model::LogStatus::Succeeded)
    );
    let filter = switchboard::model::filter::Filter::parse("dm:FHIR.Patient").expect("filter");
    assert_eq!(logs.iter().filter(|l| filter.matches(l)).count(), 5);
    let admin = engine.admin_token(Role::Viewer);
    let (status, listed) = engine
        .get_query(
            "/admin/v1/logs",
            &admin,
            &[("dataModel", "FHIR.Patient"), ("eventType", "search")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["logs"].as_array().map(Vec::len), Some(3), "{listed}");
    let id = listed["logs"][0]["id"].as_str().expect("id");
    let (_, detail) = engine
        .get(&format!("/admin/v1/logs/{id}"), Some(&admin))
        .await;
    assert_eq!(detail["response"]["resourceType"], "Bundle", "{detail}");
}

#[tokio::test]
async fn every_error_is_an_operation_outcome_with_its_status() {
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let token = engine.token("Lab").await;
    let base = "/fhir/R4/acme/Development";
    let at = |path: &str| format!("{base}/{path}");

    let no_token = engine.client.get(engine.url(&at("Patient/p1")));
    let refused = call(&engine, no_token).await;
    assert_outcome(&refused, 401, "authorization");
    assert_eq!(refused.2["issue"][0]["code"], "login");
    assert!(
        refused.2["issue"][0]["diagnostics"].is_string(),
        "{}",
        refused.2
    );
    assert_outcome(
        &call(&engine, get(&engine, &at("Patient/p1"), "nope")).await,
        401,
        "token",
    );
    let unknown_slug = get(&engine, "/fhir/R4/nobody/Development/Patient/p1", &token);
    assert_outcome(&call(&engine, unknown_slug).await, 404, "slug");
    assert_outcome(
        &call(&engine, get(&engine, &at("Spaceship/1"), &token)).await,
        404,
        "not a resource",
    );
    assert_outcome(
        &call(&engine, get(&engine, "/fhir/nothing", &token)).await,
        404,
        "no fhir route",
    );
    let delete = engine
        .client
        .delete(engine.url(&at("Patient/p1")))
        .bearer_auth(&token);
    assert_outcome(&call(&engine, delete).await, 405, "not allowed");
    let unknown = at("Patient?identifier=1&nickname=Annie");
    assert_outcome(
        &call(&engine, get(&engine, &unknown, &token)).await,
        400,
        "nickname",
    );
    let modifier = at("Patient?family:exact=Baker&identifier=1");
    let refused = call(&engine, get(&engine, &modifier, &token)).await;
    assert_outcome(&refused, 400, "modifier");
    assert!(
        !refused.2.to_string().contains("Baker"),
        "values are not echoed"
    );
    let xml = at("Patient/p1?_format=xml");
    assert_outcome(
        &call(&engine, get(&engine, &xml, &token)).await,
        406,
        "_format",
    );
    let json_format = at("Patient/p1?_format=application/fhir%2Bjson");
    assert_eq!(
        call(&engine, get(&engine, &json_format, &token)).await.0,
        StatusCode::OK
    );
    let not_form = engine
        .client
        .post(engine.url(&at("Patient/_search")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{}");
    assert_outcome(&call(&engine, not_form).await, 415, "form");

    // The server's own answers: its 404 OperationOutcome passed on; 5xx, no answer in
    // time and no connection are the engine's 502 and 504.
    let missing = call(&engine, get(&engine, &at("Patient/missing"), &token)).await;
    assert_outcome(&missing, 404, "no such patient");
    assert_outcome(
        &call(&engine, get(&engine, &at("Patient/boom"), &token)).await,
        502,
        "HTTP 500",
    );
    assert_outcome(
        &call(&engine, get(&engine, &at("Patient/slow"), &token)).await,
        504,
        "did not answer",
    );

    // Too large a body: 413 as an OperationOutcome.
    let huge = vec![b'a'; 11 * 1024 * 1024];
    let big = engine
        .client
        .post(engine.url(&at("Observation/$observation-create")))
        .bearer_auth(&token)
        .header("content-type", "application/fhir+json")
        .body(huge);
    assert_outcome(&call(&engine, big).await, 413, "larger");
}

#[tokio::test]
async fn environments_subscriptions_and_the_source_header_are_enforced() {
    let stub = FhirStub::start().await;
    let closed = common::closed_url();
    let extra = format!(
        "\n[[destinations]]\nname = \"Down FHIR\"\nenvironment = \"development\"\nfhir_slug = \"down\"\nfhir_url = \"{closed}\"\nverification_token = \"t\"\nverified = true\n\n[[subscriptions]]\nsource = \"Lab\"\ndestination = \"Down FHIR\"\ndata_models = [\"FHIR.Patient\"]\n"
    );
    let engine = TestEngine::start(&config(&stub.base, &extra)).await;
    let lab = engine.token("Lab").await;
    let clinic = engine.token("Clinic").await;
    let lab_id = engine.source_id("Lab");

    // The path's environment must be the token's source's.
    let other_env = get(&engine, "/fhir/R4/acme/Production/Patient/p1", &lab);
    assert_outcome(&call(&engine, other_env).await, 403, "environment");
    let prod_slug = get(&engine, "/fhir/R4/acme-prod/Development/Patient/p1", &lab);
    assert_outcome(&call(&engine, prod_slug).await, 403, "environment");
    let bad_env = get(&engine, "/fhir/R4/acme/Dev/Patient/p1", &lab);
    assert_outcome(&call(&engine, bad_env).await, 404, "not an environment");
    // Clinic may search practitioners, not patients.
    let no_sub = get(&engine, "/fhir/R4/acme/Development/Patient/p1", &clinic);
    assert_outcome(&call(&engine, no_sub).await, 403, "FHIR.Patient");
    let allowed = get(
        &engine,
        "/fhir/R4/acme/Development/Practitioner?name=Smith",
        &clinic,
    );
    assert_ne!(call(&engine, allowed).await.0, StatusCode::FORBIDDEN);
    // Redox-Source-Id names the token's source, or the request is refused.
    let named = get(&engine, "/fhir/R4/acme/Development/Patient/p1", &lab)
        .header("Redox-Source-Id", lab_id.to_string());
    assert_eq!(call(&engine, named).await.0, StatusCode::OK);
    let other = get(&engine, "/fhir/R4/acme/Development/Patient/p1", &lab)
        .header("Redox-Source-Id", engine.source_id("Clinic").to_string());
    assert_outcome(&call(&engine, other).await, 403, "Redox-Source-Id");
    // A server that does not answer the connection: 502.
    let down = get(&engine, "/fhir/R4/down/Development/Patient/p1", &lab);
    assert_outcome(&call(&engine, down).await, 502, "could not reach");
    // The built-in sandbox is reachable by its slug (its FHIR side answers or not).
    let console = engine.token("Sandbox Dev Tools").await;
    let sandbox = get(
        &engine,
        "/fhir/R4/sandbox-ehr/Development/metadata",
        &console,
    );
    assert_eq!(call(&engine, sandbox).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_jwt_flow_token_is_accepted_like_a_legacy_one() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use switchboard::engine::oauth::register::{self, ClientKeys};
    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let lab = engine
        .engine
        .registry()
        .source_named("Lab")
        .expect("Lab")
        .clone();
    let registered =
        register::register(engine.engine.credentials(), &lab, ClientKeys::Hs384).expect("client");
    let secret = registered.keys.secret.clone().expect("secret");
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({"iss": registered.keys.client_id, "sub": registered.keys.client_id,
        "aud": engine.url("/v2/auth/token"), "iat": now, "exp": now + 240,
        "jti": uuid::Uuid::new_v4().to_string()});
    let assertion = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign");
    let answer: Value = engine
        .client
        .post(engine.url("/v2/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = answer["access_token"].as_str().expect("access_token");
    let read = get(&engine, "/fhir/R4/acme/Development/Patient/p1", token);
    let (status, _, body) = call(&engine, read).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fhir_settings_are_checked_with_lines_and_shown_as_fhir_slug() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parse = |text: &str| {
        Config::parse(text, std::path::Path::new("config.toml"), dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let dest = |name: &str, extra: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\nenvironment = \"development\"\nurl = \"http://127.0.0.1:9/\"\nverification_token = \"t\"\n{extra}\n"
        )
    };
    let bad = parse(&dest(
        "A",
        "fhir_slug = \"Acme EHR\"\nfhir_url = \"http://x/fhir\"",
    ));
    assert!(
        bad.contains("line 6") && bad.contains("fhir_slug \"Acme EHR\" is not valid"),
        "{bad}"
    );
    let missing = parse(&dest("A", "fhir_slug = \"acme\""));
    assert!(missing.contains("no fhir_url"), "{missing}");
    let twice = parse(&format!(
        "{}{}",
        dest("A", "fhir_slug = \"acme\"\nfhir_url = \"http://x/fhir\""),
        dest("B", "fhir_slug = \"acme\"\nfhir_url = \"http://y/fhir\"")
    ));
    assert!(
        twice.contains("line 13") && twice.contains("already the slug of \"A\""),
        "{twice}"
    );
    let builtin = parse(&dest(
        "A",
        "fhir_slug = \"sandbox-ehr\"\nfhir_url = \"http://x/fhir\"",
    ));
    assert!(builtin.contains("already the slug"), "{builtin}");

    let stub = FhirStub::start().await;
    let engine = TestEngine::start(&config(&stub.base, "")).await;
    let admin = engine.admin_token(Role::Viewer);
    let (status, view) = engine.get("/admin/v1/connections", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let slug_of = |name: &str| {
        view["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["fhirSlug"].clone())
    };
    assert_eq!(slug_of("Acme FHIR"), Some(Value::from("acme")));
    assert_eq!(slug_of("Sandbox EHR"), Some(Value::from("sandbox-ehr")));

    // `connections --json` of the real binary shows it too.
    std::fs::write(dir.path().join("config.toml"), config(&stub.base, "")).expect("config");
    let listed = common::bin::cli_json(dir.path(), &["connections"]);
    let acme = listed["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "Acme FHIR")
        .cloned()
        .expect("Acme FHIR");
    assert_eq!(acme["fhirSlug"], "acme", "{acme}");
    assert_eq!(acme["fhirUrl"], stub.base.as_str(), "{acme}");
}
