//! Rate limits (issue 19, point 1) over real loopback HTTP: failed logins counted per
//! key and per client address on the token calls, refused with 429, `Retry-After` and
//! `X-RateLimit-Limit` once over (a correct secret too) until the window ends; failed
//! logins logged without their secrets; and a source's `requests_per_second`.

use crate::common;

use axum::http::{HeaderMap, StatusCode};
use common::jwt::{claims, sign};
use common::{TestEngine, assert_error, client, payload};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use switchboard::engine::throttle::Clock;
use switchboard::store::credentials::clients::NewClient;

const CONFIG: &str = r#"
[[sources]]
name = "Lab"
environment = "development"

[[sources]]
name = "Ops"
environment = "development"

[[destinations]]
name = "EHR"
environment = "development"
url = "http://127.0.0.1:9/unused"
verification_token = "t0ken"

[[subscriptions]]
source = "Lab"
destination = "EHR"
data_models = ["*"]

[[subscriptions]]
source = "Ops"
destination = "EHR"
data_models = ["*"]
"#;

/// The test config with `[engine]` settings added.
fn config_with(engine: &str) -> String {
    format!("[engine]\n{engine}\n{CONFIG}")
}

/// `POST path` with a JSON body; status, headers and the JSON answer.
async fn post(te: &TestEngine, path: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    let answer = client()
        .post(te.url(path))
        .json(body)
        .send()
        .await
        .expect("request to engine");
    let (status, headers) = (answer.status(), answer.headers().clone());
    let bytes = answer.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(bytes.to_vec()));
    (status, headers, body)
}

async fn login(te: &TestEngine, key: &str, secret: &str) -> (StatusCode, HeaderMap, Value) {
    post(
        te,
        "/auth/authenticate",
        &json!({"apiKey": key, "secret": secret}),
    )
    .await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// A 429 in the platform's shape with `Retry-After` (whole seconds, at most
/// `max_wait`) and `X-RateLimit-Limit: limit`; the `Retry-After` seconds.
fn assert_limited(
    (status, headers, body): &(StatusCode, HeaderMap, Value),
    limit: &str,
    max_wait: u64,
) -> u64 {
    assert_error(*status, body, StatusCode::TOO_MANY_REQUESTS, "Retry-After");
    let wait: u64 = header(headers, "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=max_wait).contains(&wait), "Retry-After {wait}");
    assert_eq!(header(headers, "x-ratelimit-limit"), limit);
    assert_eq!(header(headers, "x-ratelimit-remaining"), "0");
    wait
}

#[tokio::test]
async fn a_keys_21st_failure_is_refused_and_its_right_secret_too_other_keys_unaffected() {
    let te = TestEngine::start(CONFIG).await;
    let (key, secret) = te.api_key("Lab");
    for n in 1..=20 {
        let (status, _, body) = login(&te, &key, &format!("wrong-{n}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {n}: {body}");
    }
    let over = login(&te, &key, "wrong-21").await;
    assert_limited(&over, "20", 60);
    // Guessing cannot go on: the right secret is refused as well, and the other token
    // call for the same key (the same key in another spelling too).
    assert_limited(&login(&te, &key, &secret).await, "20", 60);
    assert_limited(&login(&te, &key.to_uppercase(), &secret).await, "20", 60);
    let refresh = post(
        &te,
        "/auth/refreshToken",
        &json!({"apiKey": key, "refreshToken": "x"}),
    )
    .await;
    assert_limited(&refresh, "20", 60);
    // Another key of the same source, from the same address, logs in.
    let (other, other_secret) = te.api_key("Lab");
    let (status, _, body) = login(&te, &other, &other_secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_address_limit_holds_across_many_keys() {
    let te = TestEngine::start(&config_with("auth_failures_per_address = 5")).await;
    for n in 1..=5 {
        let made_up = uuid::Uuid::new_v4().to_string();
        let (status, _, body) = login(&te, &made_up, "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {n}: {body}");
    }
    // A sixth key, never tried, is refused: the address is over its limit.
    let fresh = uuid::Uuid::new_v4().to_string();
    assert_limited(&login(&te, &fresh, "guess").await, "5", 60);
    let (key, secret) = te.api_key("Lab");
    let limited = login(&te, &key, &secret).await;
    assert_limited(&limited, "5", 60);
    assert!(
        common::error_texts(&limited.2)[0].contains("address"),
        "{:?}",
        limited.2
    );
}

#[tokio::test]
async fn once_the_window_has_passed_a_key_logs_in_again() {
    // The engine's rate limits read a clock this test moves, so the window passes
    // without waiting it out.
    let clock = Clock::movable();
    let config = config_with("auth_failures_per_key = 1\nauth_failure_window_seconds = 600");
    let te = TestEngine::start_with(&config, |c| c.throttle_clock = clock.clone()).await;
    let (key, secret) = te.api_key("Lab");
    let (status, _, _) = login(&te, &key, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wait = assert_limited(&login(&te, &key, &secret).await, "1", 600);
    // One second short of Retry-After (rounded up): still refused.
    clock.advance(Duration::from_secs(wait - 1));
    assert_limited(&login(&te, &key, &secret).await, "1", 1);
    // Waiting out Retry-After always reaches the window's end.
    clock.advance(Duration::from_secs(1));
    let (status, _, body) = login(&te, &key, &secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A token request with `assertion`; status, headers, JSON.
async fn token_request(
    te: &TestEngine,
    path: &str,
    assertion: &str,
) -> (StatusCode, HeaderMap, Value) {
    let answer = client()
        .post(te.url(path))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .expect("token request");
    let (status, headers) = (answer.status(), answer.headers().clone());
    (status, headers, answer.json().await.expect("JSON answer"))
}

/// An HS384 client of Lab: its ID and secret.
fn hs384_client(te: &TestEngine) -> (String, String) {
    let lab = te.source_id("Lab");
    let (record, secret) = te
        .engine
        .credentials()
        .create_client(
            lab,
            "Lab",
            switchboard::model::Environment::Development,
            NewClient::Hs384,
        )
        .expect("create client");
    (record.api_key, secret.expect("an HS384 secret"))
}

#[tokio::test]
async fn the_jwt_flow_counts_failures_per_client_id() {
    let te = TestEngine::start(&config_with("auth_failures_per_key = 2")).await;
    let (client_id, secret) = hs384_client(&te);
    let aud = te.url("/v2/auth/token");
    let forged = |n: u8| {
        sign(
            Algorithm::HS384,
            None,
            &EncodingKey::from_secret(&[n; 48]),
            &claims(&client_id, &aud),
        )
    };
    for n in 1..=2 {
        let (status, _, body) = token_request(&te, "/v2/auth/token", &forged(n)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "invalid_client");
    }
    let good = sign(
        Algorithm::HS384,
        None,
        &EncodingKey::from_secret(secret.as_bytes()),
        &claims(&client_id, &aud),
    );
    let limited = token_request(&te, "/v2/auth/token", &good).await;
    assert_limited(&limited, "2", 60);
    assert_eq!(header(&limited.1, "cache-control"), "no-store");
    // The older spelling of the token URL is the same door.
    let good = sign(
        Algorithm::HS384,
        None,
        &EncodingKey::from_secret(secret.as_bytes()),
        &claims(&client_id, &te.url("/oauth/token")),
    );
    assert_limited(&token_request(&te, "/oauth/token", &good).await, "2", 60);
    // Another client is not held back.
    let (other, other_secret) = hs384_client(&te);
    let assertion = sign(
        Algorithm::HS384,
        None,
        &EncodingKey::from_secret(other_secret.as_bytes()),
        &claims(&other, &aud),
    );
    let (status, _, body) = token_request(&te, "/v2/auth/token", &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_source_over_its_requests_per_second_gets_429_on_every_call() {
    // One request every 10 s, a burst of one: the second request within 10 s is over.
    let config = CONFIG.replacen(
        "name = \"Lab\"\nenvironment = \"development\"",
        "name = \"Lab\"\nenvironment = \"development\"\nrequests_per_second = 0.1",
        1,
    );
    let te = TestEngine::start(&config).await;
    let (lab, ops) = (te.token("Lab").await, te.token("Ops").await);
    let ehr = te.destination_id("EHR");
    let send = |token: String| {
        let te = &te;
        async move {
            let answer = client()
                .post(te.url("/endpoint"))
                .bearer_auth(token)
                .json(&payload("PatientAdmin", "Arrival", &[ehr], "MRN1"))
                .send()
                .await
                .expect("send");
            let (status, headers) = (answer.status(), answer.headers().clone());
            (status, headers, answer.json::<Value>().await.expect("JSON"))
        }
    };
    let (status, _, body) = send(lab.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_limited(&send(lab.clone()).await, "0.1", 10);
    // Every call the source makes draws on the same allowance: upload and FHIR too.
    let upload = client()
        .post(te.url("/upload"))
        .bearer_auth(&lab)
        .body("x")
        .send()
        .await
        .expect("upload");
    let (status, headers) = (upload.status(), upload.headers().clone());
    let body: Value = upload.json().await.expect("JSON");
    assert_limited(&(status, headers, body), "0.1", 10);
    let fhir = client()
        .get(te.url("/fhir/R4/sandbox-ehr/Development/Patient/p1"))
        .bearer_auth(&lab)
        .send()
        .await
        .expect("FHIR read");
    assert_eq!(fhir.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(fhir.headers().get("retry-after").is_some());
    let outcome: Value = fhir.json().await.expect("JSON");
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "throttled");
    // A source without a rate is not limited.
    for _ in 0..3 {
        let (status, _, body) = send(ops.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Everything logged at warn and above in this test binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn failed_logins_are_logged_with_key_and_address_but_no_secret() {
    let logs = captured_logs();
    let te = TestEngine::start(CONFIG).await;
    let (key, _) = te.api_key("Lab");
    let secret = format!("guessed-secret-{}", uuid::Uuid::new_v4().simple());
    let refresh_token = format!("guessed-refresh-{}", uuid::Uuid::new_v4().simple());
    let (status, _, _) = login(&te, &key, &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let form = format!("apiKey={key}&refreshToken={refresh_token}");
    let answer = client()
        .post(te.url("/auth/refreshToken"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("refresh");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let (client_id, _) = hs384_client(&te);
    let forged = sign(
        Algorithm::HS384,
        None,
        &EncodingKey::from_secret(b"not the client's secret"),
        &claims(&client_id, &te.url("/v2/auth/token")),
    );
    let (status, _, _) = token_request(&te, "/v2/auth/token", &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let text = String::from_utf8_lossy(&logs.lock().expect("log buffer")).to_string();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("failed login"))
        .collect();
    for (who, route) in [
        (&key, "/auth/authenticate"),
        (&key, "/auth/refreshToken"),
        (&client_id, "/v2/auth/token"),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(who.as_str())
                && l.contains(route)
                && l.contains("127.0.0.1")
                && l.contains("reason")
                && l.contains("WARN")),
            "no warn line for {who} on {route}:\n{text}"
        );
    }
    let signature = forged.rsplit('.').next().expect("signature");
    for secret in [secret.as_str(), refresh_token.as_str(), &forged, signature] {
        assert!(!text.contains(secret), "a secret was logged:\n{text}");
    }
}
