//! Revocation that revokes (issue 13, point 3): `keys revoke` and `tokens revoke` end
//! every token of a key or an admin token at once, with or without a running engine;
//! refresh tokens rotate; admin tokens expire; event streams end with their token;
//! `tokens list` shows live sessions and no secrets. The CLI is the real binary.

use crate::common;

use common::bin::{BIN, serve_dir};
use common::{TestEngine, closed_url, destination_toml, source_toml, subscription_toml};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use switchboard::model::Role;

fn config() -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &destination_toml("EHR", "development", &closed_url());
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c
}

/// A temp dir laid out as `common::bin::cli_json` expects: `DIR/config.toml`, `DIR/data`.
fn layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config()).expect("config");
    dir
}

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("run switchboard")
}

fn cli_ok(dir: &Path, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let out = cli(dir, &with_json);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

async fn authenticate(base: &str, key: &Value) -> Value {
    let response = common::client()
        .post(format!("{base}/auth/authenticate"))
        .json(&json!({"apiKey": key["apiKey"], "secret": key["secret"]}))
        .send()
        .await
        .expect("authenticate");
    assert_eq!(response.status(), 200);
    response.json().await.expect("grant")
}

async fn refresh(base: &str, api_key: &Value, refresh_token: &Value) -> (u16, Value) {
    let response = common::client()
        .post(format!("{base}/auth/refreshToken"))
        .json(&json!({"apiKey": api_key, "refreshToken": refresh_token}))
        .send()
        .await
        .expect("refresh");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Whether `/endpoint` takes the access token: anything but 401 (the empty body is
/// refused later, with a 400).
async fn accepted(base: &str, token: &str) -> bool {
    let status = common::client()
        .post(format!("{base}/endpoint"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("endpoint")
        .status();
    status != 401
}

/// Polls until `token` is refused; the time it took. Panics after `within`.
async fn refused_within(base: &str, token: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while accepted(base, token).await {
        assert!(
            start.elapsed() < within,
            "the token still works {within:?} after its revocation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

async fn admin_get(base: &str, token: &str, path: &str) -> (u16, Value) {
    let response = common::client()
        .get(format!("{base}/admin/v1{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("admin get");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_keys_revoke_while_serving_ends_access_and_refresh_tokens() {
    let dir = layout();
    let (_engine, base) = serve_dir(dir.path());
    let key = cli_ok(dir.path(), &["keys", "create", "--source", "Lab"]);
    let other = cli_ok(dir.path(), &["keys", "create", "--source", "Lab"]);
    let grant = authenticate(&base, &key).await;
    let other_grant = authenticate(&base, &other).await;
    let access = grant["accessToken"].as_str().expect("access");
    assert!(accepted(&base, access).await);

    let api_key = key["apiKey"].as_str().expect("apiKey");
    let report = cli_ok(dir.path(), &["keys", "revoke", api_key]);
    assert_eq!(report["revoked"][0]["id"], api_key, "{report}");
    let took = refused_within(&base, access, Duration::from_secs(5)).await;
    println!("revoked key's access token refused after {took:?}");
    let (status, answer) = refresh(&base, &key["apiKey"], &grant["refreshToken"]).await;
    assert_eq!(status, 401, "{answer}");
    // No new logins either.
    let response = common::client()
        .post(format!("{base}/auth/authenticate"))
        .json(&json!({"apiKey": key["apiKey"], "secret": key["secret"]}))
        .send()
        .await
        .expect("authenticate");
    assert_eq!(response.status(), 401);
    // Another key of the same source is untouched.
    assert!(accepted(&base, other_grant["accessToken"].as_str().expect("access")).await);

    let keys = cli_ok(dir.path(), &["keys", "list"]);
    let listed = |k: &str| {
        keys.as_array()
            .expect("keys")
            .iter()
            .find(|v| v["apiKey"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} not listed: {keys}"))
    };
    assert_eq!(listed(api_key)["revoked"], true);
    assert_eq!(listed(api_key)["source"], "Lab");
    assert_eq!(
        listed(other["apiKey"].as_str().expect("key"))["revoked"],
        false
    );
}

/// A record written by a process that did not reach the engine (no run file: the CLI
/// writes the file alone) is honoured within a second by the engine's watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_written_beside_a_running_engine_is_honoured_within_a_second() {
    let te = TestEngine::start(&config()).await;
    let (api_key, secret) = te.api_key("Lab");
    let (_, grant) = te
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": api_key, "secret": secret}),
        )
        .await;
    let access = grant["accessToken"].as_str().expect("access").to_string();
    assert!(accepted(&te.base, &access).await);
    assert!(switchboard::engine::runfile::running(&te.data_dir).is_none());
    let data_dir = te.data_dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["keys", "revoke", &api_key, "--json", "--data-dir"])
            .arg(&data_dir)
            .env("SWITCHBOARD_LOG", "warn")
            .output()
            .expect("keys revoke")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    // The store is the engine's: the command line says it could not clean it.
    assert!(report["notes"][0].as_str().is_some(), "{report}");
    let took = refused_within(&te.base, &access, Duration::from_secs(3)).await;
    println!("record written beside the engine honoured after {took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_while_no_engine_runs_stays_revoked_when_one_starts() {
    let dir = layout();
    let key = cli_ok(dir.path(), &["keys", "create", "--source", "Lab"]);
    let grant = {
        let (mut engine, base) = serve_dir(dir.path());
        let grant = authenticate(&base, &key).await;
        assert!(accepted(&base, grant["accessToken"].as_str().expect("access")).await);
        engine.sigkill();
        grant
    };
    let api_key = key["apiKey"].as_str().expect("apiKey");
    let report = cli_ok(dir.path(), &["keys", "revoke", api_key]);
    assert!(
        report["notes"].is_null(),
        "offline, the store is updated: {report}"
    );
    let (_engine, base) = serve_dir(dir.path());
    assert!(!accepted(&base, grant["accessToken"].as_str().expect("access")).await);
    let (status, answer) = refresh(&base, &key["apiKey"], &grant["refreshToken"]).await;
    assert_eq!(status, 401, "{answer}");
    // Revoking it again is not an error (and says so); an unknown word is, and says
    // what to type.
    let again = cli_ok(dir.path(), &["keys", "revoke", api_key]);
    assert!(
        again["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("already revoked")),
        "{again}"
    );
    let records = std::fs::read_to_string(dir.path().join("data/credentials/revoked.jsonl"))
        .expect("records");
    assert_eq!(records.lines().count(), 1, "{records}");
    let out = cli(dir.path(), &["keys", "revoke", "not-a-key"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keys list"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_revoke_by_source_ends_every_key_of_it() {
    let dir = layout();
    let (_engine, base) = serve_dir(dir.path());
    let a = cli_ok(dir.path(), &["keys", "create", "--source", "Lab"]);
    let b = cli_ok(dir.path(), &["keys", "create", "--source", "Lab"]);
    let ta = authenticate(&base, &a).await["accessToken"].clone();
    let tb = authenticate(&base, &b).await["accessToken"].clone();
    let report = cli_ok(dir.path(), &["keys", "revoke", "--source", "lab"]);
    assert_eq!(
        report["revoked"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    for t in [ta, tb] {
        refused_within(&base, t.as_str().expect("token"), Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_revoke_ends_the_admin_api_an_open_event_stream_and_composer_tokens() {
    let dir = layout();
    let (_engine, base) = serve_dir(dir.path());
    let ops = cli_ok(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "ops"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let keep = cli_ok(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "keep"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let http = common::client();
    // A composer token minted with "ops".
    let composer: Value = http
        .post(format!("{base}/admin/v1/sources/Lab/token"))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("composer token")
        .json()
        .await
        .expect("json");
    let composer = composer["accessToken"].as_str().expect("accessToken");
    assert!(accepted(&base, composer).await);
    // An open event stream with "ops".
    let mut stream = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("{base}/admin/v1/events"))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("events");
    assert_eq!(stream.status(), 200);
    assert_eq!(admin_get(&base, &ops, "/status").await.0, 200);

    let report = cli_ok(dir.path(), &["tokens", "revoke", "ops"]);
    assert_eq!(report["revoked"][0]["name"], "ops", "{report}");
    let revoked_at = Instant::now();
    let (status, answer) = admin_get(&base, &ops, "/status").await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        common::error_texts(&answer)
            .join(" ")
            .contains("tokens create"),
        "{answer}"
    );
    refused_within(&base, composer, Duration::from_secs(5)).await;

    // The stream says why and ends (well within a few seconds; it rechecks each second).
    let mut seen = String::new();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) | Ok(Err(_)) => break revoked_at.elapsed(),
            Err(_) => panic!("the event stream is still open 10 s after its token was revoked"),
        }
    };
    println!("event stream ended {ended:?} after the revocation");
    assert!(seen.contains("event: revoked"), "{seen}");

    // The other token is untouched, and names are matched exactly.
    assert_eq!(admin_get(&base, &keep, "/status").await.0, 200);
    let out = cli(dir.path(), &["tokens", "revoke", "ops"]);
    assert!(!out.status.success(), "nothing named ops is left");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokens list"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_reused_one_ends_its_family() {
    let te = TestEngine::start(&config()).await;
    let (api_key, secret) = te.api_key("Lab");
    let login = json!({"apiKey": api_key, "secret": secret});
    let (_, first) = te.post_json("/auth/authenticate", None, &login).await;
    let (_, unrelated) = te.post_json("/auth/authenticate", None, &login).await;
    let (status, second) = refresh(&te.base, &json!(api_key), &first["refreshToken"]).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    assert!(accepted(&te.base, second["accessToken"].as_str().expect("access")).await);

    // The used one again: refused, and the whole family with it.
    let (status, answer) = refresh(&te.base, &json!(api_key), &first["refreshToken"]).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        common::error_texts(&answer)
            .join(" ")
            .contains("already used"),
        "{answer}"
    );
    for token in [&first["accessToken"], &second["accessToken"]] {
        assert!(!accepted(&te.base, token.as_str().expect("access")).await);
    }
    let (status, answer) = refresh(&te.base, &json!(api_key), &second["refreshToken"]).await;
    assert_eq!(status, 401, "the newest refresh token dies too: {answer}");
    // Another authentication of the same key is another family.
    assert!(accepted(&te.base, unrelated["accessToken"].as_str().expect("access")).await);
    let (status, _) = refresh(&te.base, &json!(api_key), &unrelated["refreshToken"]).await;
    assert_eq!(status, 200);
    let trail = te.store().audit_trail(10).expect("audit");
    assert!(trail.iter().any(|e| e.action == "refresh-token-reuse"));

    // One refresh token presented by several clients at once: one use wins, the others
    // are reuses, so nothing of that family may outlive the race.
    let (_, raced) = te.post_json("/auth/authenticate", None, &login).await;
    let attempts = (0..8).map(|_| {
        let base = te.base.clone();
        let (key, token) = (json!(api_key), raced["refreshToken"].clone());
        tokio::spawn(async move { refresh(&base, &key, &token).await })
    });
    let mut granted = Vec::new();
    for attempt in attempts {
        let (status, answer) = attempt.await.expect("join");
        if status == 200 {
            granted.push(answer);
        } else {
            assert_eq!(status, 401, "{answer}");
        }
    }
    assert!(granted.len() <= 1, "one use at most: {granted:?}");
    for grant in granted.iter().chain([&raced]) {
        assert!(!accepted(&te.base, grant["accessToken"].as_str().expect("a")).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tokens_expire_with_a_401_that_says_how_to_get_a_new_one() {
    let dir = layout();
    let (_engine, base) = serve_dir(dir.path());
    let short = cli_ok(
        dir.path(),
        &[
            "tokens",
            "create",
            "--role",
            "viewer",
            "--name",
            "short",
            "--expires-in",
            "2s",
        ],
    );
    let token = short["token"].as_str().expect("token");
    assert_eq!(admin_get(&base, token, "/status").await.0, 200);
    let start = Instant::now();
    let answer = loop {
        let (status, answer) = admin_get(&base, token, "/status").await;
        if status == 401 {
            break answer;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = common::error_texts(&answer).join(" ");
    assert!(text.contains("expired"), "{answer}");
    assert!(text.contains("tokens create"), "{answer}");

    // The default is 90 days; a record written before expiry existed gets created + 90 d.
    let default = cli_ok(
        dir.path(),
        &["tokens", "create", "--role", "viewer", "--name", "default"],
    );
    let expires = chrono::DateTime::parse_from_rfc3339(default["expires"].as_str().expect("e"))
        .expect("instant");
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((89..=90).contains(&days), "{default}");
    let creds = switchboard::store::credentials::Credentials::new(&dir.path().join("data"));
    let (mut old, old_token) = creds.create_token(Role::Viewer, "old").expect("token");
    old.expires_at = None;
    old.created_at = chrono::Utc::now() - chrono::Duration::days(91);
    let path = dir
        .path()
        .join("data/credentials/tokens")
        .join(format!("{}.json", old.id));
    std::fs::write(&path, serde_json::to_vec(&old).expect("json")).expect("write");
    let (status, answer) = admin_get(&base, &old_token, "/status").await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        common::error_texts(&answer).join(" ").contains("expired"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_list_shows_live_sessions_and_no_secrets_online_and_offline() {
    let dir = layout();
    let key = cli_ok(dir.path(), &["keys", "create", "--source", "Lab"]);
    let admin = cli_ok(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "lister"],
    );
    let viewer = cli_ok(
        dir.path(),
        &["tokens", "create", "--role", "viewer", "--name", "looker"],
    );
    let (mut engine, base) = serve_dir(dir.path());
    let grant = authenticate(&base, &key).await;
    let secrets = [
        grant["accessToken"].as_str().expect("a").to_string(),
        grant["refreshToken"].as_str().expect("r").to_string(),
        key["secret"].as_str().expect("s").to_string(),
        admin["token"].as_str().expect("t").to_string(),
    ];
    let check = |listing: &Value| {
        let text = listing.to_string();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is listed: {text}"
            );
            // Nor the secret half of an admin token.
            if let Some(tail) = secret.rsplit('_').next() {
                assert!(!text.contains(tail), "{text}");
            }
        }
        let sessions = listing["sessions"].as_array().expect("sessions");
        let ours = sessions
            .iter()
            .find(|s| s["apiKey"] == key["apiKey"])
            .unwrap_or_else(|| panic!("the key's session is not listed: {listing}"));
        assert_eq!(ours["accessTokens"], 1, "{listing}");
        assert_eq!(ours["refreshTokens"], 1, "{listing}");
        assert_eq!(ours["sourceName"], "Lab", "{listing}");
        assert!(ours["expires"].as_str().is_some());
        let names: Vec<&str> = listing["adminTokens"]
            .as_array()
            .expect("admin tokens")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(
            names.contains(&"lister") && names.contains(&"looker"),
            "{listing}"
        );
    };
    let online = cli_ok(dir.path(), &["tokens", "list"]);
    check(&online);
    // Only an admin may list over the API.
    let (status, _) = admin_get(&base, viewer["token"].as_str().expect("t"), "/tokens").await;
    assert_eq!(status, 403);
    let (status, listing) = admin_get(&base, admin["token"].as_str().expect("t"), "/tokens").await;
    assert_eq!(status, 200);
    check(&listing);
    engine.sigkill();
    let offline = cli_ok(dir.path(), &["tokens", "list"]);
    check(&offline);
    let text = cli(dir.path(), &["tokens", "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("lister"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_revokes_its_key_at_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No configuration: the built-in Development setup with the sandbox.
    std::fs::write(dir.path().join("config.toml"), "").expect("config");
    let (_engine, base) = serve_dir(dir.path());
    let out = cli(
        dir.path(),
        &[
            "simulate",
            "--rate",
            "5/s",
            "--duration",
            "1s",
            "--engine",
            &base,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = cli_ok(dir.path(), &["keys", "list"]);
    let keys = keys.as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["revoked"], true, "{keys:?}");
    let listing = cli_ok(dir.path(), &["tokens", "list"]);
    assert_eq!(
        listing["sessions"].as_array().map(Vec::len),
        Some(0),
        "simulate's tokens died with it: {listing}"
    );
}

#[test]
fn the_configuration_sets_the_default_lifetime_of_admin_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[engine]\nadmin_token_days = 7\n\n{}", config()),
    )
    .expect("config");
    let created = cli_ok(
        dir.path(),
        &["tokens", "create", "--role", "viewer", "--name", "week"],
    );
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires"].as_str().expect("e"))
        .expect("instant")
        .with_timezone(&chrono::Utc);
    let hours = (expires - chrono::Utc::now()).num_hours();
    assert!((7 * 24 - 1..=7 * 24).contains(&hours), "{created}");
    // --expires-in wins over the setting.
    let created = cli_ok(
        dir.path(),
        &[
            "tokens",
            "create",
            "--role",
            "viewer",
            "--name",
            "day",
            "--expires-in",
            "1d",
        ],
    );
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires"].as_str().expect("e"))
        .expect("instant")
        .with_timezone(&chrono::Utc);
    assert!(
        (expires - chrono::Utc::now()).num_hours() <= 24,
        "{created}"
    );

    std::fs::write(
        dir.path().join("config.toml"),
        "[engine]\nadmin_token_days = 0\n",
    )
    .expect("config");
    let out = cli(
        dir.path(),
        &["tokens", "create", "--role", "viewer", "--name", "never"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin_token_days"));
}
