//! An installation moved with `switchboard export` keeps working as it was on the
//! nodes of the PostgreSQL store: its sources' keys and its admin tokens still
//! authenticate, a revoked key stays revoked, its audit trail and composer history
//! are there, and a destination it verified stays verified.

use crate::common::bin::BIN;
use crate::common::postgres::database;
use crate::common::{TestEngine, closed_url, destination_toml, source_toml, subscription_toml};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use switchboard::model::{Environment, Role};
use switchboard::store::composer_history::Sent;
use uuid::Uuid;

fn config() -> String {
    source_toml("Lab", "development", None)
        + &destination_toml("EHR", "development", &closed_url())
        + "retry_schedule_seconds = [600]\n\n"
        + &subscription_toml("Lab", "EHR", &["*"])
}

fn sent() -> Sent {
    Sent {
        environment: Environment::Development,
        source_id: Uuid::from_u128(1),
        source_name: "Switchboard Console".into(),
        destination_id: Uuid::from_u128(2),
        destination_name: "EHR".into(),
        data_model: "PatientAdmin".into(),
        event_type: "Arrival".into(),
        body: Some("{\"moved\": true}".into()),
        status: Some(200),
        elapsed_ms: 12,
        log_ids: vec![],
        error: None,
        summary: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_tokens_revocations_audit_and_composer_history_move_with_export() {
    let sled = TestEngine::start(&config()).await;
    let (api_key, secret) = sled.api_key("Lab");
    let (revoked_key, revoked_secret) = sled.api_key("Lab");
    let admin = sled.admin_token(Role::Admin);
    let (status, body) = sled
        .request(
            reqwest::Method::POST,
            &format!("/admin/v1/keys/{revoked_key}/revoke"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sled
        .request(
            reqwest::Method::POST,
            "/admin/v1/destinations/EHR/pause",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let composed = sled
        .engine
        .record_sent(sent(), Role::Admin)
        .expect("composer history");
    let token = sled.token("Lab").await;
    let file: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
    let uri = sled.upload(&token, "report.pdf", &file).await;
    let sled_base = sled.base.clone();
    let (_dir, config_path, data_dir) = sled.stop().await;

    let db = database().await;
    // The store is released just after the engine's last handle goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = std::process::Command::new(BIN)
            .args(["export", "--to", &db.url, "--json", "--data-dir"])
            .arg(&data_dir)
            .arg("--config")
            .arg(&config_path)
            .env_remove("SWITCHBOARD_STORE")
            .output()
            .expect("run export");
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // The key, the admin token (the revoked key's file went with its revocation).
    assert!(report["credentials"].as_u64() >= Some(2), "{report}");
    assert!(report["revocations"].as_u64() >= Some(1), "{report}");
    assert!(report["audit"].as_u64() >= Some(2), "{report}");
    assert_eq!(report["composer"], 1, "{report}");
    assert_eq!(report["uploads"], 1, "{report}");

    let node = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let login = |key: &str, secret: &str| json!({"apiKey": key, "secret": secret});
    let (status, answer) = node
        .post_json("/auth/authenticate", None, &login(&api_key, &secret))
        .await;
    assert_eq!(status, StatusCode::OK, "the moved key logs in: {answer}");
    let (status, _) = node
        .post_json(
            "/auth/authenticate",
            None,
            &login(&revoked_key, &revoked_secret),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked key stays revoked"
    );
    let token = answer["accessToken"].as_str().expect("token");
    let fetched = node
        .client
        .get(uri.replace(&sled_base, &node.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    assert_eq!(
        fetched.status(),
        StatusCode::OK,
        "the moved upload downloads"
    );
    assert_eq!(fetched.bytes().await.expect("bytes").as_ref(), &file[..]);

    let (status, page) = node.get("/admin/v1/audit?limit=100", Some(&admin)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the moved admin token works: {page}"
    );
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"pause"), "{actions:?}");
    let history = node
        .engine
        .sent_history(None, 10, Role::Admin)
        .expect("history");
    assert_eq!(
        history.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![composed.id]
    );

    // Run again: the same records, nothing doubled.
    let again = std::process::Command::new(BIN)
        .args(["export", "--to", &db.url, "--json", "--data-dir"])
        .arg(&data_dir)
        .arg("--config")
        .arg(&config_path)
        .env_remove("SWITCHBOARD_STORE")
        .output()
        .expect("run export");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let history = node
        .engine
        .sent_history(None, 10, Role::Admin)
        .expect("history");
    assert_eq!(history.entries.len(), 1);
    let (_, page) = node.get("/admin/v1/audit?action=pause", Some(&admin)).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
}
