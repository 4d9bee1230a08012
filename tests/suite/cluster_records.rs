//! What operators and support staff leave behind, shared by the nodes of one
//! PostgreSQL store: the audit trail (of every node and of the command line) and the
//! composer's history of sent requests.

use crate::common::postgres::database;
use crate::common::{TestEngine, closed_url, destination_toml, source_toml, subscription_toml};
use std::process::Command;
use switchboard::model::{Environment, Role};
use switchboard::store::composer_history::Sent;
use uuid::Uuid;

fn config() -> String {
    source_toml("Lab", "development", None)
        + &destination_toml("EHR", "development", &closed_url())
        + "retry_schedule_seconds = [600]\n\n"
        + &subscription_toml("Lab", "EHR", &["*"])
}

fn cli(te: &TestEngine, args: &[&str]) -> std::process::Output {
    Command::new(crate::common::bin::BIN)
        .args(args)
        .arg("--data-dir")
        .arg(te.dir.path().join("cli-data"))
        .arg("--config")
        .arg(&te.config_path)
        .envs(te.store_env())
        .output()
        .expect("run switchboard")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_audit_trail_for_every_node_and_the_command_line() {
    let db = database().await;
    let a = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;

    // An operator pauses EHR through A; a login fails on B.
    let operator = a.admin_token(Role::Operator);
    let (status, body) = a
        .request(
            reqwest::Method::POST,
            "/admin/v1/destinations/EHR/pause",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (api_key, _) = b.api_key("Lab");
    let (status, _) = b
        .post_json(
            "/auth/authenticate",
            None,
            &serde_json::json!({"apiKey": api_key, "secret": "wrong"}),
        )
        .await;
    assert_eq!(status, 401);
    // A key made on the command line, on the same store.
    let made = cli(&a, &["keys", "create", "--source", "Lab", "--json"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // Each node's admin API lists all three.
    for node in [&a, &b] {
        let admin = node.admin_token(Role::Admin);
        let (status, page) = node.get("/admin/v1/audit?limit=100", Some(&admin)).await;
        assert_eq!(status, 200, "{page}");
        let actions: Vec<&str> = page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        for wanted in ["pause", "login-failed", "key.create"] {
            assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
        }
    }
    // Filtered by action, through the index.
    let admin = b.admin_token(Role::Admin);
    let (_, paused) = b.get("/admin/v1/audit?action=pause", Some(&admin)).await;
    assert_eq!(
        paused["entries"].as_array().map(Vec::len),
        Some(1),
        "{paused}"
    );

    // `audit export` reads the same trail from the store, oldest first.
    let export = cli(&b, &["audit", "export"]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let position = |action: &str| lines.iter().position(|l| l["action"] == action);
    assert!(position("pause") < position("key.create"), "{lines:?}");
    assert!(position("login-failed").is_some(), "{lines:?}");
}

fn sent(n: usize) -> Sent {
    Sent {
        environment: Environment::Development,
        source_id: Uuid::from_u128(1),
        source_name: "Switchboard Console".into(),
        destination_id: Uuid::from_u128(2),
        destination_name: "EHR".into(),
        data_model: "PatientAdmin".into(),
        event_type: "Arrival".into(),
        body: Some(format!("{{\"n\": {n}}}")),
        status: Some(200),
        elapsed_ms: 12,
        log_ids: vec![Uuid::from_u128(3)],
        error: None,
        summary: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composer_history_is_one_for_every_node_and_stays_bounded() {
    let db = database().await;
    let a = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let first = a.engine.record_sent(sent(1), Role::Admin).expect("record");
    let second = b.engine.record_sent(sent(2), Role::Admin).expect("record");
    for node in [&a, &b] {
        let page = node
            .engine
            .sent_history(None, 50, Role::Admin)
            .expect("history");
        let ids: Vec<Uuid> = page.entries.iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            vec![second.id, first.id],
            "newest first on either node"
        );
        assert_eq!(page.entries[1].sent.body.as_deref(), Some("{\"n\": 1}"));
    }
    // The bound holds on the shared list as on the embedded one.
    let store = db.node().await;
    for n in 0..5u128 {
        let id = Uuid::now_v7();
        store
            .composer_append(id, format!("{n}").as_bytes(), 3)
            .await
            .expect("append");
    }
    assert_eq!(store.composer_count().await.expect("count"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_through_one_node_downloads_through_the_other() {
    let db = database().await;
    let a = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let b = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let token = a.token("Lab").await;
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let uri = a.upload(&token, "scan.bin", &bytes).await;
    let on_b = uri.replace(&a.base, &b.base);
    assert_ne!(on_b, uri, "the URI names node A: {uri}");

    let fetched = b
        .client
        .get(&on_b)
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.expect("bytes").as_ref(), &bytes[..]);
    // The upload's log is in the shared history too.
    let uploads = b.all_logs();
    assert!(
        uploads.iter().any(|l| l.data_model == "Upload"),
        "{uploads:?}"
    );
}

/// `check`, `backup` and `retention run` on a shared store work on the database:
/// the check counts what is queued without its log, the backup is pg_dump's archive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_backup_and_retention_run_work_on_the_shared_store() {
    let db = database().await;
    let a = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let token = a.token("Lab").await;
    let ehr = a.destination_id("EHR");
    let (status, answer) = a
        .post_json(
            "/endpoint",
            Some(&token),
            &crate::common::payload("PatientAdmin", "Arrival", &[ehr], "MRN-1"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let log = crate::common::uuid_of(&answer["Meta"]["Logs"][0]["ID"]);

    // The queue gauges are the shared queue's, on any node.
    let b = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let metrics = b
        .client
        .get(b.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("switchboard_queue_depth{destination=\"EHR\"} 1"),
        "{metrics}"
    );

    let check = cli(&a, &["check", "--json"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("JSON");
    assert_eq!(report["healthy"], true, "{report}");
    assert_eq!(report["queued"], 1, "{report}");

    let dir = a.dir.path().join("backup");
    let backup = cli(&a, &["backup", dir.to_str().expect("path"), "--json"]);
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let archive = std::fs::read(dir.join("switchboard.pgdump")).expect("the dump");
    assert!(archive.starts_with(b"PGDMP"), "pg_dump's custom format");
    let again = cli(&a, &["backup", dir.to_str().expect("path")]);
    assert!(!again.status.success(), "never over an earlier dump");

    let sweep = cli(&a, &["retention", "run", "--json"]);
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );

    // A queued delivery whose log is gone is what a check exists to find.
    db.client()
        .await
        .execute("DELETE FROM logs WHERE id = $1", &[&log])
        .await
        .expect("delete the log");
    let check = cli(&a, &["check"]);
    assert!(
        !check.status.success(),
        "an orphaned queue entry is a problem"
    );
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("1 queued without their log"),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// `keys revoke` and `tokens revoke` on a machine where no node runs: written in the
/// database, so every node refuses the key's tokens and the admin token at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_from_the_command_line_holds_on_every_node() {
    let db = database().await;
    let a = TestEngine::start_on(&config(), Some(&db.url), |_| {}).await;
    let made = cli(&a, &["keys", "create", "--source", "Lab", "--json"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key: serde_json::Value = serde_json::from_slice(&made.stdout).expect("JSON");
    let (api_key, secret) = (
        key["apiKey"].as_str().expect("apiKey"),
        key["secret"].as_str().expect("secret"),
    );
    let login = serde_json::json!({"apiKey": api_key, "secret": secret});
    let (status, grant) = a.post_json("/auth/authenticate", None, &login).await;
    assert_eq!(status, 200, "{grant}");
    let access = grant["accessToken"].as_str().expect("token").to_string();
    let made = cli(
        &a,
        &[
            "tokens", "create", "--role", "admin", "--name", "ops", "--json",
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let admin: serde_json::Value = serde_json::from_slice(&made.stdout).expect("JSON");
    let admin = admin["token"].as_str().expect("token").to_string();
    let (status, _) = a.get("/admin/v1/connections", Some(&admin)).await;
    assert_eq!(status, 200);

    let listed = cli(&a, &["tokens", "list", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    for revoke in [
        &["keys", "revoke", api_key][..],
        &["tokens", "revoke", "ops"][..],
    ] {
        let out = cli(&a, revoke);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = cli(&a, &["keys", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert!(
        keys.as_array()
            .expect("keys")
            .iter()
            .any(|k| k.to_string().contains(api_key) && k.to_string().contains("revoked")),
        "{keys}"
    );

    // The node rereads revocations within a second.
    let ehr = a.destination_id("EHR");
    let body = crate::common::payload("PatientAdmin", "Arrival", &[ehr], "MRN-1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (sent, _) = a.post_json("/endpoint", Some(&access), &body).await;
        let (listed, _) = a.get("/admin/v1/connections", Some(&admin)).await;
        if sent == 401 && listed == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted: source token {sent}, admin token {listed}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, _) = a.post_json("/auth/authenticate", None, &login).await;
    assert_eq!(status, 401, "no new login with a revoked key");
    let reader = a.admin_token(Role::Admin);
    let (_, trail) = a
        .get("/admin/v1/audit?actor=command%20line", Some(&reader))
        .await;
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.iter().any(|a| a.contains("revoke")), "{actions:?}");
}
