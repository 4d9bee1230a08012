//! The audit trail of what the command line and the schedule do (issue 19, point 3):
//! `switchboard audit export` gives the same lines offline and through a running
//! engine, and each retention sweep (on demand, scheduled, or on a stopped store) is
//! recorded per environment: how many logs went, and which.

use crate::common;

use common::bin::{BIN, LAB_TO_EHR, access_token, cli_json, serve_dir};
use common::{TestEngine, destination_toml, payload, source_toml, subscription_toml};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use switchboard::model::Role;

/// A wrong secret sent on purpose: it must never reach the trail.
const WRONG_SECRET: &str = "wrong-secret-7f3a9c";

fn of_action<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

/// The engine's audit entries of `action`, newest first.
fn entries_of(te: &TestEngine, action: &str) -> Vec<switchboard::store::AuditEntry> {
    let trail = te.store().audit_trail(1000).expect("audit trail");
    trail.into_iter().filter(|e| e.action == action).collect()
}

fn export(dir: &Path, extra: &[&str]) -> Vec<String> {
    let out = Command::new(BIN)
        .args(["audit", "export"])
        .args(extra)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .output()
        .expect("run switchboard audit export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_gives_the_same_lines_offline_and_through_a_running_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), LAB_TO_EHR).expect("config");
    // Made with no engine running: written on the store.
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let (mut served, base) = serve_dir(dir.path());
    // Made while the engine runs: reported through it.
    let token = cli_json(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "ops"],
    );
    let client = common::client();
    let refused = client
        .post(format!("{base}/auth/authenticate"))
        .json(&json!({"apiKey": key["apiKey"], "secret": WRONG_SECRET}))
        .send()
        .await
        .expect("authenticate");
    assert_eq!(refused.status().as_u16(), 401);
    access_token(&base, &key).await;
    let admin = token["token"].as_str().expect("token");
    let page: Value = client
        .get(format!("{base}/admin/v1/audit"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");

    let online = export(dir.path(), &[]);
    let cut = chrono::Utc::now() + chrono::Duration::seconds(1);
    let cut = switchboard::model::time::format_utc(cut);
    let online_until = export(
        dir.path(),
        &["--until", &cut, "--since", "2000-01-01T00:00:00Z"],
    );
    served.terminate(std::time::Duration::from_secs(30)).await;
    let offline = export(dir.path(), &[]);
    let offline_until = export(
        dir.path(),
        &["--until", &cut, "--since", "2000-01-01T00:00:00Z"],
    );

    assert_eq!(online, offline);
    assert_eq!(online_until, offline);
    assert_eq!(offline_until, offline);
    let entries: Vec<Value> = online
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["key.create", "token.create", "login-failed"],
        "{entries:#?}"
    );
    assert_eq!(entries[0]["origin"], "cli");
    assert_eq!(entries[1]["origin"], "cli");
    assert_eq!(entries[2]["origin"], "127.0.0.1");
    assert_eq!(
        entries[2]["actor"],
        format!("key:{}", key["apiKey"].as_str().expect("key"))
    );
    // The API's page is the same records, newest first.
    let mut listed = page["entries"].as_array().expect("entries").clone();
    listed.reverse();
    assert_eq!(listed, entries);
    // Only what falls inside the window.
    assert!(export(dir.path(), &["--since", &cut]).is_empty());

    let all = online.join("\n");
    for secret in [WRONG_SECRET, key["secret"].as_str().expect("secret"), admin] {
        assert!(!all.contains(secret), "a secret in the export");
    }
}

/// Waits until `n` logs are delivered and settled (only settled logs expire).
async fn delivered(te: &TestEngine, n: usize) {
    common::eventually_within("deliveries", std::time::Duration::from_secs(60), || {
        let logs = te.all_logs();
        let settled = logs
            .iter()
            .filter(|l| l.status.as_str() == "SUCCEEDED")
            .count();
        (settled == n)
            .then_some(())
            .ok_or(format!("{settled} of {n} settled"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_retention_sweep_is_audited_per_environment() {
    let ehr = common::StubDestination::start(common::StubReply::Json(200, json!({}))).await;
    let config = format!(
        "[environments.development]\nretention_days = 7\n\n\
         [environments.staging]\nretention_days = 30\n\n{}{}{}",
        source_toml("Lab", "development", None),
        destination_toml("EHR", "development", &ehr.url) + "verified = true\n\n",
        subscription_toml("Lab", "EHR", &["*"]),
    );
    let te = TestEngine::start(&config).await;
    let admin = te.admin_token(Role::Admin);
    let token = te.token("Lab").await;
    let to = te.destination_id("EHR");
    for mrn in ["MRN-1", "MRN-2"] {
        let body = payload("PatientAdmin", "Arrival", &[to], mrn);
        let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
        assert_eq!(status.as_u16(), 200, "{answer}");
    }
    delivered(&te, 2).await;

    // The schedule's sweep with nothing past retention writes nothing.
    te.engine
        .sweep_retention(switchboard::engine::retention::SCHEDULE_ACTOR, false)
        .await
        .expect("sweep");
    assert!(entries_of(&te, "retention.sweep").is_empty());

    te.engine
        .retention_clock()
        .advance(chrono::Duration::days(8));
    let (status, report) = te
        .post_json("/admin/v1/retention/run", Some(&admin), &json!({}))
        .await;
    assert_eq!(status.as_u16(), 200, "{report}");
    assert_eq!(report["environments"]["Development"]["logs"], 2, "{report}");
    let swept = entries_of(&te, "retention.sweep");
    assert_eq!(
        swept.len(),
        2,
        "one per environment with a retention: {swept:#?}"
    );
    let of = |env: &str| {
        swept
            .iter()
            .find(|e| e.detail.as_deref().unwrap_or_default().starts_with(env))
            .unwrap_or_else(|| panic!("no entry for {env}: {swept:#?}"))
    };
    let dev = of("Development: 2 logs");
    assert!(dev.actor.contains("test-admin"), "{dev:?}");
    assert_eq!(dev.origin.as_deref(), Some("127.0.0.1"));
    let detail = dev.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("created before") && detail.contains("retention_days 7"),
        "{detail}"
    );
    // Asked for by an operator: the environment where nothing went is recorded too.
    of("Staging: 0 logs");

    // The schedule records a sweep that deleted something.
    let body = payload("PatientAdmin", "Arrival", &[to], "MRN-3");
    let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
    assert_eq!(status.as_u16(), 200, "{answer}");
    delivered(&te, 1).await; // the first two are gone
    te.engine
        .retention_clock()
        .advance(chrono::Duration::days(8));
    te.engine
        .sweep_retention(switchboard::engine::retention::SCHEDULE_ACTOR, false)
        .await
        .expect("sweep");
    let swept = entries_of(&te, "retention.sweep");
    assert_eq!(swept.len(), 3, "{swept:#?}");
    assert_eq!(swept[0].actor, "retention schedule");
    assert!(
        swept[0]
            .detail
            .as_deref()
            .unwrap_or_default()
            .starts_with("Development: 1 logs")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_run_on_a_stopped_store_is_audited_as_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!("[environments.development]\nretention_days = 30\n{LAB_TO_EHR}");
    std::fs::write(dir.path().join("config.toml"), config).expect("config");
    let report = cli_json(dir.path(), &["retention", "run"]);
    assert_eq!(report["environments"]["Development"]["logs"], 0, "{report}");
    let lines = export(dir.path(), &[]);
    let entries: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let swept = of_action(&entries, "retention.sweep");
    assert_eq!(swept.len(), 1, "{entries:#?}");
    assert_eq!(swept[0]["actor"], "command line");
    assert_eq!(swept[0]["origin"], "cli");
    assert!(
        swept[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Development: 0 logs")
    );
}
