//! Crash safety with the real binary: a request answered 200 survives SIGKILL, and
//! SIGTERM lets the attempt in flight finish before exiting. Also checks that the
//! credential commands work while an engine holds the database.

use crate::common;
use serde_json::{Value, json};

use common::bin::{BIN, access_token, cli_json, serve_dir};
use std::process::Command;

const CONFIG: &str = common::bin::LAB_TO_EHR;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_requests_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("config");
    let admin = cli_json(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "test"],
    );
    let admin = admin["token"].as_str().expect("token").to_string();
    let destination = common::bin::destination_id(dir.path(), "EHR")
        .as_str()
        .expect("destination id")
        .to_string();

    let (mut engine, base) = serve_dir(dir.path());
    // Keys can be made while the engine holds the database.
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let http = reqwest::Client::new();
    let access = access_token(&base, &key).await;
    let token = access;

    // Several senders at once, so acknowledgements share group-commit flushes.
    let mut sends = Vec::new();
    for i in 0..16 {
        let http = http.clone();
        let (base, token, destination) = (base.clone(), token.clone(), destination.clone());
        sends.push(tokio::spawn(async move {
            let response = http
                .post(format!("{base}/endpoint"))
                .bearer_auth(&token)
                .json(&json!({
                    "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                             "Destinations": [{"ID": destination}]},
                    "Patient": {"Identifiers": [{"ID": format!("{i:010}"), "IDType": "MR"}]}
                }))
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.expect("body");
            body["Meta"]["Logs"][0]["ID"]
                .as_str()
                .expect("log id")
                .to_string()
        }));
    }
    let mut log_ids = Vec::new();
    for send in sends {
        log_ids.push(send.await.expect("join"));
    }
    // Right after the last 200: no graceful shutdown, no final flush.
    engine.sigkill();

    let (mut engine, base) = serve_dir(dir.path());
    for id in &log_ids {
        let detail: Value = http
            .get(format!("{base}/admin/v1/logs/{id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get log")
            .json()
            .await
            .expect("detail");
        assert_eq!(detail["log"]["id"], json!(id), "log {id} lost: {detail}");
        assert_eq!(detail["log"]["status"], "PENDING");
        assert_eq!(detail["request"]["Meta"]["EventType"], "Arrival");
    }
    // The access token handed out before the crash is still good.
    let again = http
        .post(format!("{base}/endpoint"))
        .bearer_auth(&token)
        .json(
            &json!({"Meta": {"DataModel": "PatientAdmin", "EventType": "Discharge",
                               "Destinations": [{"ID": destination}]}}),
        )
        .send()
        .await
        .expect("send after restart");
    assert_eq!(again.status(), 200);
    engine.sigkill();
}

#[test]
fn invalid_config_refuses_to_start_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[sources]]\nname = \"Lab\"\nenvironment = \"qa\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.toml: line 3"), "{stderr}");
    assert!(stderr.contains("unknown environment \"qa\""), "{stderr}");
}

/// A destination that takes `delay` to answer 200, counting requests begun and done.
async fn slow_stub(
    delay: std::time::Duration,
) -> (String, std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>) {
    use std::sync::atomic::Ordering;
    let counts = std::sync::Arc::new([
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
    ]);
    let c = counts.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let c = c.clone();
            async move {
                c[0].fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                c[1].fetch_add(1, Ordering::SeqCst);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_attempt_in_flight_then_exits() {
    use std::sync::atomic::Ordering;
    let (url, counts) = slow_stub(std::time::Duration::from_millis(800)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        CONFIG.replace("http://127.0.0.1:9/unused", &url),
    )
    .expect("config");
    let admin = cli_json(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "t"],
    );
    let admin = admin["token"].as_str().expect("token").to_string();
    let destination = common::bin::destination_id(dir.path(), "EHR")
        .as_str()
        .expect("id")
        .to_string();
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);

    let (mut engine, base) = serve_dir(dir.path());
    let http = reqwest::Client::new();
    let access = access_token(&base, &key).await;
    let sent: Value = http
        .post(format!("{base}/endpoint"))
        .bearer_auth(&access)
        .json(
            &json!({"Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                               "Destinations": [{"ID": destination}]}}),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("body");
    let log_id = sent["Meta"]["Logs"][0]["ID"]
        .as_str()
        .expect("log")
        .to_string();

    // Wait (bounded) until the attempt is in flight, then ask the engine to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counts[0].load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery attempt began"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let status = engine.terminate(std::time::Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}");
    // The attempt in flight was allowed to finish, and its outcome was stored.
    assert_eq!(counts[1].load(Ordering::SeqCst), 1);
    let (_engine, base) = serve_dir(dir.path());
    let detail: Value = http
        .get(format!("{base}/admin/v1/logs/{log_id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("detail");
    assert_eq!(detail["log"]["status"], "SUCCEEDED", "{detail}");
    assert_eq!(detail["log"]["attempts"], 1, "{detail}");
    // Nothing was left to deliver again after the restart.
    assert_eq!(counts[0].load(Ordering::SeqCst), 1);
}

/// A SIGTERM the moment the engine says it listens stops it cleanly: the handler is in
/// place before the line is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_the_listening_line_stops_the_engine_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("config");
    for _ in 0..5 {
        let (mut engine, _base) = serve_dir(dir.path());
        let status = engine.terminate(std::time::Duration::from_secs(20)).await;
        assert!(status.success(), "exit status {status:?}");
    }
}
