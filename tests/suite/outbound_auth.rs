//! Outgoing authentication to destinations (`[destinations.auth]`), over real loopback
//! HTTP: one stub peer serves both the destination (`/redox`, which accepts only the
//! bearer values it knows) and its OAuth token endpoint (`/token`, which counts calls).

use crate::common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::bin::{cli_json, serve_command, spawn_serve};
use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::model::{Attempt, LogStatus, Role};
use uuid::Uuid;

/// How long any wait for the engine may take (generous: a loaded two-core machine).
const DEADLINE: Duration = Duration::from_secs(20);
const CLIENT_SECRET: &str = "cs-very-secret-4711";
const STATIC_TOKEN: &str = "static-bearer-0815";

#[derive(Default)]
struct PeerState {
    /// Bearer values the destination accepts.
    accepted: HashSet<String>,
    /// The `Authorization` of every request to `/redox`, in order.
    seen: Vec<Option<String>>,
    /// Calls to `/token`, with their `Authorization` and body.
    token_calls: Vec<(Option<String>, String)>,
    /// Anything but 200: the token endpoint fails with it (and echoes the form).
    token_status: Option<u16>,
    expires_in: Option<u64>,
    /// Held before each token answer, so concurrent fetches would overlap.
    token_delay: Duration,
}

#[derive(Clone, Default)]
struct Peer(Arc<Mutex<PeerState>>);

impl Peer {
    fn with<T>(&self, f: impl FnOnce(&mut PeerState) -> T) -> T {
        f(&mut self.0.lock().expect("peer lock"))
    }

    fn token_calls(&self) -> usize {
        self.with(|s| s.token_calls.len())
    }

    fn seen(&self) -> Vec<Option<String>> {
        self.with(|s| s.seen.clone())
    }
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn destination(State(peer): State<Peer>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = authorization(&headers);
    let ok = peer.with(|s| {
        s.seen.push(auth.clone());
        auth.as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| s.accepted.contains(t))
    });
    if !ok {
        return (StatusCode::UNAUTHORIZED, "bad or expired token").into_response();
    }
    // A query is answered with its own envelope; a notification with an empty object.
    let answer = serde_json::from_slice::<Value>(&body).unwrap_or(json!({}));
    (StatusCode::OK, axum::Json(answer)).into_response()
}

async fn token(State(peer): State<Peer>, headers: HeaderMap, body: String) -> Response {
    // The answer is decided as the call is counted: a test that sees the call and then
    // changes `token_status` must not change what this call gets.
    let (delay, status) = peer.with(|s| {
        s.token_calls.push((authorization(&headers), body.clone()));
        (s.token_delay, s.token_status)
    });
    tokio::time::sleep(delay).await;
    if let Some(code) = status {
        let status = StatusCode::from_u16(code).expect("status");
        let text = format!(
            "{{\"error\":\"server_error\",\"error_description\":\"down; you sent {body}\"}}"
        );
        return (status, text).into_response();
    }
    peer.with(|s| {
        let token = format!("access-{}", s.token_calls.len());
        s.accepted.insert(token.clone());
        let mut answer = json!({"access_token": token, "token_type": "Bearer"});
        if let Some(e) = s.expires_in {
            answer["expires_in"] = json!(e);
        }
        (StatusCode::OK, axum::Json(answer)).into_response()
    })
}

/// The stub peer: its state and base URL (`http://addr`).
async fn start_peer(peer: Peer) -> String {
    let app = Router::new()
        .route("/redox", post(destination))
        .route("/token", post(token))
        .with_state(peer);
    let (url, _server) = serve_stub(app).await;
    url.trim_end_matches("/redox").to_string()
}

/// Development source "Lab" to destination "EHR" (per-patient queues, fast retries)
/// at `base`, with `auth` as its `[destinations.auth]`.
fn config(base: &str, auth: &str) -> String {
    config_retrying(base, auth, "[0.05, 0.2]")
}

/// [`config`] with this `retry_schedule_seconds`.
fn config_retrying(base: &str, auth: &str, retry: &str) -> String {
    format!(
        "{}[[destinations]]\nname = \"EHR\"\nenvironment = \"development\"\n\
         url = \"{base}/redox\"\nverification_token = \"tok-EHR\"\nqueue_key = \"patient\"\n\
         retry_schedule_seconds = {retry}\ntimeout_seconds = 10\n\n\
         [destinations.auth]\n{auth}\n{}",
        source_toml("Lab", "development", None),
        subscription_toml("Lab", "EHR", &["*"]),
    )
}

fn oauth(base: &str, extra: &str) -> String {
    format!(
        "token_url = \"{base}/token\"\nclient_id = \"switchboard\"\n\
         client_secret = \"{CLIENT_SECRET}\"\n{extra}"
    )
}

async fn notify(te: &TestEngine, token: &str, mrn: &str) -> Uuid {
    let dest = te.destination_id("EHR");
    let body = payload("PatientAdmin", "NewPatient", &[dest], mrn);
    let (status, answer) = te.post_json("/endpoint", Some(token), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    uuid_of(&answer["Meta"]["Logs"][0]["ID"])
}

async fn delivered(te: &TestEngine, logs: &[Uuid]) {
    eventually_within("deliveries to succeed", DEADLINE, || {
        for id in logs {
            let log = te.store().log(*id).map_err(|e| e.to_string())?;
            match log {
                Some(l) if l.status == LogStatus::Succeeded => {}
                other => {
                    let tried = attempts(te, *id);
                    return Err(format!("{other:?} {tried:?}"));
                }
            }
        }
        Ok(())
    })
    .await;
}

fn attempts(te: &TestEngine, id: Uuid) -> Vec<Attempt> {
    te.store().attempts(id).expect("read attempts")
}

#[tokio::test]
async fn a_static_bearer_reaches_the_destination_on_deliveries_and_queries() {
    let peer = Peer::default();
    peer.with(|s| s.accepted.insert(STATIC_TOKEN.to_string()));
    let base = start_peer(peer.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ehr.token"), format!("{STATIC_TOKEN}\n")).expect("write");
    let file = dir.path().join("ehr.token");
    let te = TestEngine::start(&config(
        &base,
        &format!("bearer_file = \"{}\"", file.display()),
    ))
    .await;
    let token = te.token("Lab").await;

    let log = notify(&te, &token, "MRN-1").await;
    delivered(&te, &[log]).await;
    let dest = te.destination_id("EHR");
    let query = payload("PatientSearch", "Query", &[dest], "MRN-1");
    let (status, answer) = te.post_json("/query", Some(&token), &query).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let want = Some(format!("Bearer {STATIC_TOKEN}"));
    assert_eq!(
        peer.seen(),
        vec![want.clone(), want],
        "what the destination saw"
    );
    assert_eq!(peer.token_calls(), 0);

    // The kind is shown, the secret never.
    let admin = te.admin_token(Role::Admin);
    let (status, listed) = te.get("/admin/v1/connections", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ehr = listed["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "EHR")
        .cloned()
        .expect("EHR listed");
    assert_eq!(ehr["outboundAuth"], "bearer", "{ehr}");
    assert!(!listed.to_string().contains(STATIC_TOKEN), "{listed}");
}

#[tokio::test]
async fn a_client_credentials_token_is_fetched_once_for_concurrent_deliveries() {
    let peer = Peer::default();
    peer.with(|s| {
        s.expires_in = Some(3600);
        // Long enough that the deliveries of several patients' queues overlap it.
        s.token_delay = Duration::from_millis(300);
    });
    let base = start_peer(peer.clone()).await;
    let te = TestEngine::start(&config(&base, &oauth(&base, "scope = \"write\""))).await;
    let token = te.token("Lab").await;

    let mut logs = Vec::new();
    for i in 0..6 {
        logs.push(notify(&te, &token, &format!("MRN-{i}")).await);
    }
    delivered(&te, &logs).await;
    assert_eq!(peer.token_calls(), 1, "one token for every delivery");
    let seen = peer.seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(
        seen.iter().all(|a| a.as_deref() == Some("Bearer access-1")),
        "{seen:?}"
    );
    // RFC 6749 §4.4 with the client in HTTP Basic (§2.3.1).
    let (auth, body) = peer.with(|s| s.token_calls[0].clone());
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(body.contains("scope=write"), "{body}");
    assert!(
        !body.contains(CLIENT_SECRET),
        "the secret goes in Basic: {body}"
    );
    let basic = auth.expect("Basic credentials");
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim_start_matches("Basic "))
        .expect("base64");
    assert_eq!(
        String::from_utf8_lossy(&decoded),
        format!("switchboard:{CLIENT_SECRET}")
    );

    let admin = te.admin_token(Role::Admin);
    let (_, listed) = te.get("/admin/v1/connections", Some(&admin)).await;
    let kinds: Vec<&Value> = listed["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .map(|d| &d["outboundAuth"])
        .collect();
    assert!(
        kinds.contains(&&json!("oauth-client-credentials")),
        "{listed}"
    );
    assert!(
        kinds.contains(&&Value::Null),
        "the sandbox has none: {listed}"
    );
}

#[tokio::test]
async fn an_expired_token_is_fetched_again() {
    let peer = Peer::default();
    peer.with(|s| s.expires_in = Some(1));
    let base = start_peer(peer.clone()).await;
    let te = TestEngine::start(&config(&base, &oauth(&base, ""))).await;
    let token = te.token("Lab").await;

    let first = notify(&te, &token, "MRN-1").await;
    delivered(&te, &[first]).await;
    assert_eq!(peer.token_calls(), 1);
    // Past the one-second lifetime (generously).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = notify(&te, &token, "MRN-2").await;
    delivered(&te, &[second]).await;
    assert_eq!(peer.token_calls(), 2, "a fresh token after expiry");
    assert_eq!(
        peer.seen().last().cloned().flatten().as_deref(),
        Some("Bearer access-2")
    );
}

#[tokio::test]
async fn a_401_drops_the_token_and_retries_once_with_a_fresh_one() {
    let peer = Peer::default();
    peer.with(|s| s.expires_in = Some(3600));
    let base = start_peer(peer.clone()).await;
    let te = TestEngine::start(&config(&base, &oauth(&base, "client_auth = \"body\""))).await;
    let token = te.token("Lab").await;
    let first = notify(&te, &token, "MRN-1").await;
    delivered(&te, &[first]).await;

    // The destination revokes the token the engine holds.
    peer.with(|s| s.accepted.remove("access-1"));
    let second = notify(&te, &token, "MRN-2").await;
    delivered(&te, &[second]).await;
    assert_eq!(peer.token_calls(), 2, "exactly one refetch");
    let seen: Vec<String> = peer.seen().into_iter().flatten().collect();
    assert_eq!(
        seen,
        ["Bearer access-1", "Bearer access-1", "Bearer access-2"],
        "one retry, with the fresh token"
    );
    let tried = attempts(&te, second);
    assert_eq!(
        tried.len(),
        1,
        "the retry is within the one attempt: {tried:?}"
    );
    // client_auth = "body": the client in the form, no Basic.
    let (auth, body) = peer.with(|s| s.token_calls[1].clone());
    assert_eq!(auth, None);
    assert!(body.contains("client_id=switchboard"), "{body}");

    // A query goes the same way: the engine's token is refused once, fetched again.
    peer.with(|s| s.accepted.remove("access-2"));
    let dest = te.destination_id("EHR");
    let query = payload("PatientSearch", "Query", &[dest], "MRN-1");
    let (status, answer) = te.post_json("/query", Some(&token), &query).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(peer.token_calls(), 3);
}

#[tokio::test]
async fn a_failing_token_endpoint_is_a_retried_failure_that_names_the_fetch() {
    let peer = Peer::default();
    peer.with(|s| s.token_status = Some(503));
    let base = start_peer(peer.clone()).await;
    let te = TestEngine::start(&config(&base, &oauth(&base, "client_auth = \"body\""))).await;
    let token = te.token("Lab").await;
    let log = notify(&te, &token, "MRN-1").await;

    eventually_within("two failed attempts", DEADLINE, || {
        let n = attempts(&te, log).len();
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("{n} attempts"))
        }
    })
    .await;
    let tried = attempts(&te, log);
    for a in &tried {
        let error = a.error.clone().unwrap_or_default();
        assert!(
            error.contains(&format!("token fetch from {base}/token failed: HTTP 503")),
            "{error}"
        );
        assert!(
            error.contains("down; you sent"),
            "the start of the body: {error}"
        );
        assert!(!error.contains(CLIENT_SECRET), "the secret shown: {error}");
        assert_eq!(a.http_status, None, "nothing was sent to the destination");
    }
    assert!(
        peer.seen().is_empty(),
        "sent without a token: {:?}",
        peer.seen()
    );

    // A query is answered 502, saying why.
    let dest = te.destination_id("EHR");
    let query = payload("PatientSearch", "Query", &[dest], "MRN-1");
    let (status, answer) = te.post_json("/query", Some(&token), &query).await;
    let texts = assert_error(status, &answer, StatusCode::BAD_GATEWAY, "token fetch");
    assert!(
        texts.iter().all(|t| !t.contains(CLIENT_SECRET)),
        "{texts:?}"
    );

    // Once the endpoint is back, the queued message goes out.
    peer.with(|s| s.token_status = None);
    delivered(&te, &[log]).await;
}

#[tokio::test]
async fn deliveries_waiting_on_a_failing_fetch_share_its_failure() {
    let peer = Peer::default();
    peer.with(|s| {
        s.token_status = Some(500);
        // Long enough that the deliveries of several patients' queues wait on it.
        s.token_delay = Duration::from_millis(300);
    });
    let base = start_peer(peer.clone()).await;
    // No retry within the test's wait: only first attempts are counted.
    let te = TestEngine::start(&config_retrying(&base, &oauth(&base, ""), "[30]")).await;
    let token = te.token("Lab").await;
    let mut logs = Vec::new();
    for i in 0..6 {
        logs.push(notify(&te, &token, &format!("MRN-{i}")).await);
    }
    eventually_within("a failed attempt on each", DEADLINE, || {
        let tried = logs
            .iter()
            .filter(|l| !attempts(&te, **l).is_empty())
            .count();
        if tried == logs.len() {
            Ok(())
        } else {
            Err(format!("{tried} tried"))
        }
    })
    .await;
    let calls = peer.token_calls();
    assert!(
        calls < logs.len(),
        "{calls} token requests for {} deliveries: those waiting on a failing fetch must share it",
        logs.len()
    );
    for l in &logs {
        let error = attempts(&te, *l)[0].error.clone().unwrap_or_default();
        assert!(error.contains("token fetch from"), "{error}");
    }
}

/// The real binary, logging at debug: neither the client secret nor a token appears
/// on its output, and `connections --json` shows the kind.
#[tokio::test]
async fn secrets_stay_out_of_the_engine_log_and_connections() {
    let peer = Peer::default();
    peer.with(|s| s.expires_in = Some(3600));
    let base = start_peer(peer.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ehr.secret"), CLIENT_SECRET).expect("write");
    let auth = format!(
        "token_url = \"{base}/token\"\nclient_id = \"switchboard\"\n\
         client_secret_file = \"ehr.secret\""
    );
    std::fs::write(dir.path().join("config.toml"), config(&base, &auth)).expect("write");

    let listed = cli_json(dir.path(), &["connections"]);
    let ehr = listed["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "EHR")
        .cloned()
        .expect("EHR");
    assert_eq!(ehr["outboundAuth"], "oauth-client-credentials", "{ehr}");
    assert!(!listed.to_string().contains(CLIENT_SECRET));

    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
    let mut command = serve_command(dir.path());
    command.env("SWITCHBOARD_LOG", "debug").stderr(stderr);
    let (mut served, engine) = spawn_serve(command);
    let token = common::bin::access_token(&engine, &key).await;
    let dest = uuid_of(&ehr["id"]);
    // The token endpoint fails first, so the failure is logged; then it answers.
    peer.with(|s| s.token_status = Some(500));
    let body = payload("PatientAdmin", "NewPatient", &[dest], "MRN-1");
    let sent = client()
        .post(format!("{engine}/endpoint"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status(), StatusCode::OK);
    eventually_within("a failed token fetch", DEADLINE, || {
        (peer.token_calls() >= 1).then_some(()).ok_or_default()
    })
    .await;
    peer.with(|s| s.token_status = None);
    eventually_within("the delivery", DEADLINE, || {
        (!peer.seen().is_empty()).then_some(()).ok_or_default()
    })
    .await;
    served.terminate(DEADLINE).await;
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).expect("read log");
    assert!(log.contains("token fetch"), "the failure is logged: {log}");
    assert!(
        !log.contains(CLIENT_SECRET),
        "the secret in the log:\n{log}"
    );
    assert!(!log.contains("access-1"), "the token in the log:\n{log}");
}

trait OkOrDefault {
    fn ok_or_default(self) -> Result<(), String>;
}

impl OkOrDefault for Option<()> {
    fn ok_or_default(self) -> Result<(), String> {
        self.ok_or_else(|| "not yet".to_string())
    }
}
