//! The OAuth JWT flow (issue 15, point 1): client credentials with a signed JWT
//! assertion at `/v2/auth/token` and `/oauth/token`, through real loopback HTTP, with
//! keys made in the test by the `openssl` command line (RS384, ES384) and by the engine
//! (HS384). Assertions are signed with `jsonwebtoken`, as a client would.

use crate::common;

use axum::http::StatusCode;
use common::bin::{self, LAB_TO_EHR};
use common::jwt::{KeyPair, b64, claims, jwks_file, openssl, rsa_key, sign};
use common::{TestEngine, client, payload, serve_stub};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchboard::engine::oauth::register::{self, ClientKeys, Registered};
use switchboard::store::credentials::clients::NewClient;
use uuid::Uuid;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A P-384 key made with openssl.
fn ec_key(dir: &Path, kid: &str) -> KeyPair {
    let pem = dir.join(format!("{kid}.pem"));
    let pem = pem.to_str().expect("path");
    openssl(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        pem,
    ]);
    let pkcs8 = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER"]);
    let public = openssl(&["ec", "-in", pem, "-pubout", "-outform", "DER"]);
    // The SubjectPublicKeyInfo ends with the uncompressed point 04 || x || y.
    let point = &public[public.len() - 97..];
    assert_eq!(point[0], 4);
    KeyPair {
        signing: EncodingKey::from_ec_der(&pkcs8),
        jwk: json!({"kty": "EC", "crv": "P-384", "kid": kid,
                    "x": b64(&point[1..49]), "y": b64(&point[49..])}),
        public_pem: openssl(&["ec", "-in", pem, "-pubout"]),
    }
}

/// `POST {base}{path}` with the form; the status and the JSON answer.
async fn token_at(base: &str, path: &str, assertion: &str) -> (StatusCode, Value) {
    let answer = client()
        .post(format!("{base}{path}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .expect("token request");
    let status = answer.status();
    assert_eq!(
        answer.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    (status, answer.json().await.expect("JSON answer"))
}

fn access_token(status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::OK, "token answer: {body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "platform");
    assert!(body.get("refresh_token").is_none());
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// An RFC 6749 error: exactly `error` and `error_description`, the description naming
/// what was wrong.
fn assert_refused(status: StatusCode, body: &Value, error: &str, mentions: &str) {
    let expected = if error == "invalid_client" { 401 } else { 400 };
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let fields = body.as_object().expect("object");
    assert_eq!(fields.len(), 2, "only error and error_description: {body}");
    let text = body["error_description"].as_str().expect("description");
    assert!(
        text.to_lowercase().contains(&mentions.to_lowercase()),
        "{text:?} should mention {mentions:?}"
    );
}

/// A notification from Lab to EHR with `token`: its status.
async fn send(base: &str, token: &str, ehr: Uuid) -> StatusCode {
    client()
        .post(format!("{base}/endpoint"))
        .bearer_auth(token)
        .json(&payload("PatientAdmin", "NewPatient", &[ehr], "MRN-1"))
        .send()
        .await
        .expect("send")
        .status()
}

/// An engine with Lab → EHR and a client of Lab registered with `keys`.
async fn engine_with_client(keys: ClientKeys) -> (TestEngine, String) {
    let (engine, registered) = configured_with_client(LAB_TO_EHR, keys).await;
    (engine, registered.keys.client_id)
}

/// An engine on `config` and a client of its source Lab registered with `keys`.
async fn configured_with_client(config: &str, keys: ClientKeys) -> (TestEngine, Registered) {
    let engine = TestEngine::start(config).await;
    let lab = engine
        .engine
        .registry()
        .source_named("Lab")
        .expect("Lab")
        .clone();
    let registered = register::register(engine.engine.credentials(), &lab, keys).expect("client");
    (engine, registered)
}

#[tokio::test]
async fn an_rs384_client_registered_by_the_cli_gets_a_token_that_sends_and_revocation_ends_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), LAB_TO_EHR).expect("config");
    let rsa = rsa_key(dir.path(), "rsa-1");
    let jwks = jwks_file(dir.path(), &[&rsa]);
    let created = bin::cli_json(
        dir.path(),
        &[
            "keys",
            "create",
            "--source",
            "Lab",
            "--jwks",
            jwks.to_str().expect("path"),
        ],
    );
    assert_eq!(created["kind"], "jwks");
    assert!(created.get("secret").is_none());
    let client_id = created["clientId"].as_str().expect("clientId").to_string();
    let listed = bin::cli_json(dir.path(), &["keys", "list"]);
    let row = listed
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["apiKey"] == client_id.as_str())
        .expect("the client is listed")
        .clone();
    assert_eq!(row["kind"], "jwks");

    let (_served, base) = bin::serve_dir(dir.path());
    let ehr = common::uuid_of(&bin::destination_id(dir.path(), "EHR"));
    let assertion = sign(
        Algorithm::RS384,
        Some("rsa-1"),
        &rsa.signing,
        &claims(&client_id, &format!("{base}/v2/auth/token")),
    );
    let (status, body) = token_at(&base, "/v2/auth/token", &assertion).await;
    let token = access_token(status, &body);
    assert_eq!(send(&base, &token, ehr).await, StatusCode::OK);

    // Revoked while the engine runs: the token is refused at once, and so is a new login.
    let revoked = bin::cli_json(dir.path(), &["keys", "revoke", &client_id]);
    assert_eq!(revoked["revoked"][0]["kind"], "clientId", "{revoked}");
    assert_eq!(send(&base, &token, ehr).await, StatusCode::UNAUTHORIZED);
    let again = sign(
        Algorithm::RS384,
        Some("rsa-1"),
        &rsa.signing,
        &claims(&client_id, &format!("{base}/v2/auth/token")),
    );
    let (status, body) = token_at(&base, "/v2/auth/token", &again).await;
    assert_refused(status, &body, "invalid_client", "revoked");
}

#[tokio::test]
async fn an_es384_client_gets_a_token_at_the_older_oauth_token_spelling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ec = ec_key(dir.path(), "ec-1");
    let (engine, client_id) =
        engine_with_client(ClientKeys::JwksFile(jwks_file(dir.path(), &[&ec]))).await;
    // aud as an array holding the token URL, the other spelling.
    let mut claims = claims(&client_id, "unused");
    claims["aud"] = json!(["https://elsewhere.example", engine.url("/oauth/token")]);
    let assertion = sign(Algorithm::ES384, Some("ec-1"), &ec.signing, &claims);
    let (status, body) = token_at(&engine.base, "/oauth/token", &assertion).await;
    let token = access_token(status, &body);
    let ehr = engine.destination_id("EHR");
    assert_eq!(send(&engine.base, &token, ehr).await, StatusCode::OK);
}

#[tokio::test]
async fn an_hs384_client_signs_with_the_secret_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), LAB_TO_EHR).expect("config");
    let created = bin::cli_json(
        dir.path(),
        &["keys", "create", "--source", "Lab", "--hs384"],
    );
    assert_eq!(created["kind"], "hs384");
    let client_id = created["clientId"].as_str().expect("clientId").to_string();
    let secret = created["secret"].as_str().expect("secret, shown once");
    let (_served, base) = bin::serve_dir(dir.path());
    let key = EncodingKey::from_secret(secret.as_bytes());
    let assertion = sign(
        Algorithm::HS384,
        None,
        &key,
        &claims(&client_id, &format!("{base}/v2/auth/token")),
    );
    let (status, body) = token_at(&base, "/v2/auth/token", &assertion).await;
    let token = access_token(status, &body);
    let ehr = common::uuid_of(&bin::destination_id(dir.path(), "EHR"));
    assert_eq!(send(&base, &token, ehr).await, StatusCode::OK);
    // Another secret does not verify.
    let forged = sign(
        Algorithm::HS384,
        None,
        &EncodingKey::from_secret(b"guess"),
        &claims(&client_id, &format!("{base}/v2/auth/token")),
    );
    let (status, body) = token_at(&base, "/v2/auth/token", &forged).await;
    assert_refused(status, &body, "invalid_client", "signature");
}

#[tokio::test]
async fn bad_assertions_are_refused_in_the_rfc_6749_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_key(dir.path(), "rsa-1");
    let (engine, id) =
        engine_with_client(ClientKeys::JwksFile(jwks_file(dir.path(), &[&rsa]))).await;
    let aud = engine.url("/v2/auth/token");
    let post = |assertion: String| {
        let base = engine.base.clone();
        async move { token_at(&base, "/v2/auth/token", &assertion).await }
    };
    let rs = |claims: &Value, kid: Option<&str>| sign(Algorithm::RS384, kid, &rsa.signing, claims);

    // A replayed jti: the first use works, the copy is refused.
    let once = rs(&claims(&id, &aud), Some("rsa-1"));
    let (status, body) = post(once.clone()).await;
    access_token(status, &body);
    let (status, body) = post(once).await;
    assert_refused(status, &body, "invalid_client", "jti");

    let (status, body) = post(rs(
        &claims(&id, "http://other.example/v2/auth/token"),
        Some("rsa-1"),
    ))
    .await;
    assert_refused(status, &body, "invalid_client", "aud");

    let (status, body) = post(rs(&claims(&id, &aud), Some("rsa-2"))).await;
    assert_refused(status, &body, "invalid_client", "kid");
    let (status, body) = post(rs(&claims(&id, &aud), None)).await;
    assert_refused(status, &body, "invalid_client", "kid");

    let mut expired = claims(&id, &aud);
    let long_ago = chrono::Utc::now().timestamp() - 600;
    expired["iat"] = json!(long_ago);
    expired["exp"] = json!(long_ago + 240);
    let (status, body) = post(rs(&expired, Some("rsa-1"))).await;
    assert_refused(status, &body, "invalid_client", "expired");

    let mut too_long = claims(&id, &aud);
    too_long["exp"] = json!(too_long["iat"].as_i64().expect("iat") + 3600);
    let (status, body) = post(rs(&too_long, Some("rsa-1"))).await;
    assert_refused(status, &body, "invalid_client", "at most 300 s");

    // alg none: no signature at all.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(&id, &aud).to_string().as_bytes())
    );
    let (status, body) = post(unsigned).await;
    assert_refused(status, &body, "invalid_client", "none");

    // Alg confusion: HS384 "signed" with the registered public key.
    let confused = sign(
        Algorithm::HS384,
        Some("rsa-1"),
        &EncodingKey::from_secret(&rsa.public_pem),
        &claims(&id, &aud),
    );
    let (status, body) = post(confused).await;
    assert_refused(status, &body, "invalid_client", "HS384 is not registered");

    let mut wrong_sub = claims(&id, &aud);
    wrong_sub["sub"] = json!("someone-else");
    let (status, body) = post(rs(&wrong_sub, Some("rsa-1"))).await;
    assert_refused(status, &body, "invalid_client", "sub");

    let stranger = Uuid::new_v4().to_string();
    let (status, body) = post(rs(&claims(&stranger, &aud), Some("rsa-1"))).await;
    assert_refused(status, &body, "invalid_client", "not a registered client");
}

#[tokio::test]
async fn the_aud_is_the_token_url_under_the_configured_public_url() {
    let config =
        format!("[engine]\npublic_url = \"https://switchboard.example.org/\"\n{LAB_TO_EHR}");
    let (engine, client) = configured_with_client(&config, ClientKeys::Hs384).await;
    let key = EncodingKey::from_secret(client.keys.secret.as_deref().expect("secret").as_bytes());
    let id = &client.keys.client_id;
    let public = claims(id, "https://switchboard.example.org/v2/auth/token");
    let (status, body) = token_at(
        &engine.base,
        "/v2/auth/token",
        &sign(Algorithm::HS384, None, &key, &public),
    )
    .await;
    access_token(status, &body);
    // The listen address is not the public URL once one is configured.
    let local = claims(id, &engine.url("/v2/auth/token"));
    let (status, body) = token_at(
        &engine.base,
        "/v2/auth/token",
        &sign(Algorithm::HS384, None, &key, &local),
    )
    .await;
    assert_refused(
        status,
        &body,
        "invalid_client",
        "https://switchboard.example.org/v2/auth/token",
    );
    // A public URL that is not one is refused with its line.
    let bad = format!("[engine]\npublic_url = \"switchboard.example.org\"\n{LAB_TO_EHR}");
    let refused =
        switchboard::engine::Config::parse(&bad, Path::new("config.toml"), engine.dir.path())
            .expect_err("a public_url without a scheme");
    assert!(refused.to_string().contains("public_url"), "{refused}");
    // A legacy API key is not a client.
    let (api_key, _) = engine.api_key("Lab");
    let legacy = sign(
        Algorithm::HS384,
        None,
        &key,
        &claims(&api_key, "https://switchboard.example.org/v2/auth/token"),
    );
    let (status, body) = token_at(&engine.base, "/v2/auth/token", &legacy).await;
    assert_refused(status, &body, "invalid_client", "legacy API key");
}

#[tokio::test]
async fn the_form_itself_is_checked_before_the_assertion() {
    let engine = TestEngine::start(LAB_TO_EHR).await;
    let post = |form: Vec<(&'static str, &'static str)>| {
        let url = engine.url("/v2/auth/token");
        async move {
            let answer = client().post(url).form(&form).send().await.expect("post");
            (answer.status(), answer.json::<Value>().await.expect("JSON"))
        }
    };
    let (status, body) = post(vec![("grant_type", "password")]).await;
    assert_refused(
        status,
        &body,
        "unsupported_grant_type",
        "client_credentials",
    );
    let (status, body) = post(vec![("client_assertion", "x")]).await;
    assert_refused(status, &body, "invalid_request", "grant_type");
    let (status, body) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:other"),
        ("client_assertion", "a.b.c"),
    ])
    .await;
    assert_refused(status, &body, "invalid_request", "client_assertion_type");
    let (status, body) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
    ])
    .await;
    assert_refused(status, &body, "invalid_request", "client_assertion");
    let (status, body) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", "not-a-jwt"),
    ])
    .await;
    assert_refused(status, &body, "invalid_client", "JWT");
}

#[tokio::test]
async fn an_assertion_without_jti_or_aud_is_accepted_within_its_exp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_key(dir.path(), "rsa-1");
    let (engine, id) =
        engine_with_client(ClientKeys::JwksFile(jwks_file(dir.path(), &[&rsa]))).await;
    // What a public Rust client of the platform signs: iss, sub, iat, exp and kid.
    let now = chrono::Utc::now().timestamp();
    let minimal = json!({"iss": id, "sub": id, "iat": now, "exp": now + 300});
    let assertion = sign(Algorithm::RS384, Some("rsa-1"), &rsa.signing, &minimal);
    for _ in 0..2 {
        // No jti, so no replay protection is possible: accepted while it lasts.
        let (status, body) = token_at(&engine.base, "/v2/auth/token", &assertion).await;
        access_token(status, &body);
    }
    // client_id, when sent, must be the iss.
    let answer = client()
        .post(engine.url("/v2/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
            ("client_id", "someone-else"),
        ])
        .send()
        .await
        .expect("post");
    let status = answer.status();
    let body: Value = answer.json().await.expect("JSON");
    assert_refused(status, &body, "invalid_client", "client_id");
}

/// A loopback stub serving a JWKS document; counts its fetches.
async fn jwks_stub(doc: Value) -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let app = axum::Router::new().route(
        "/redox/jwks.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move { axum::Json(doc) }
        }),
    );
    let (base, _server) = serve_stub(app).await;
    (format!("{base}/jwks.json"), fetches)
}

#[tokio::test]
async fn a_jwks_url_is_fetched_from_loopback_cached_and_refetched_boundedly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ec = ec_key(dir.path(), "ec-1");
    let (url, fetches) = jwks_stub(json!({"keys": [ec.jwk.clone()]})).await;
    let (engine, id) = engine_with_client(ClientKeys::JwksUrl(url)).await;
    let aud = engine.url("/v2/auth/token");
    for _ in 0..3 {
        let assertion = sign(
            Algorithm::ES384,
            Some("ec-1"),
            &ec.signing,
            &claims(&id, &aud),
        );
        let (status, body) = token_at(&engine.base, "/v2/auth/token", &assertion).await;
        access_token(status, &body);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "cached after the first fetch"
    );
    // Unknown kids: the document was fetched moments ago, so it is not fetched again.
    for n in 0..3 {
        let kid = format!("rotated-{n}");
        let assertion = sign(
            Algorithm::ES384,
            Some(&kid),
            &ec.signing,
            &claims(&id, &aud),
        );
        let (status, body) = token_at(&engine.base, "/v2/auth/token", &assertion).await;
        assert_refused(status, &body, "invalid_client", "kid");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "at most one fetch a minute"
    );
}

#[tokio::test]
async fn a_link_local_jwks_url_is_refused_without_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), LAB_TO_EHR).expect("config");
    let out = Command::new(bin::BIN)
        .args(["keys", "create", "--source", "Lab", "--jwks-url"])
        .arg("http://169.254.169.254/latest/meta-data/jwks")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("169.254.169.254") && said.contains("metadata"),
        "{said}"
    );

    // A record that names one all the same (written by hand, or a name that resolves
    // there): refused at the token request, before any connection.
    let engine = TestEngine::start(LAB_TO_EHR).await;
    let lab = engine.source_id("Lab");
    let env = switchboard::model::Environment::Development;
    for url in [
        "http://169.254.169.254/jwks",
        "http://[fe80::1]/jwks",
        "http://0.0.0.0:9/jwks",
    ] {
        let (record, _) = engine
            .engine
            .credentials()
            .create_client(lab, "Lab", env, NewClient::JwksUrl(url.into()))
            .expect("record");
        let id = record.api_key;
        // Any signature: the key lookup refuses before the signature matters.
        let head = b64(json!({"alg": "RS384", "kid": "k"}).to_string().as_bytes());
        let body = claims(&id, &engine.url("/v2/auth/token")).to_string();
        let assertion = format!("{head}.{}.{}", b64(body.as_bytes()), b64(b"sig"));
        let started = std::time::Instant::now();
        let (status, body) = token_at(&engine.base, "/v2/auth/token", &assertion).await;
        assert_refused(status, &body, "invalid_client", "never fetched from");
        // Well inside the 5 s connect timeout: no connection was tried.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(4),
            "{url}"
        );
    }
}
