//! Configuration reload (issue 17): a running engine re-reads its file; new
//! connections apply at once, a bad file or an unsafe removal is refused whole, and
//! nothing queued is lost or reordered.

use crate::common;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;
use std::time::Duration;
use switchboard::model::ApiError;

/// Generous: the suite must hold on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(20);

/// A push destination that needs no verification challenge, with short retries.
fn destination(name: &str, url: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nenvironment = \"staging\"\nurl = \"{url}\"\n\
         verification_token = \"{}\"\nverified = true\nretry_schedule_seconds = [0.05, 0.1]\n\n",
        verification_token(name)
    )
}

fn base(ehr: &str) -> String {
    source_toml("Lab", "staging", None)
        + &destination("EHR", ehr)
        + &subscription_toml("Lab", "EHR", &["PatientAdmin"])
}

fn ok_stub() -> StubReply {
    StubReply::Json(200, serde_json::json!({"ok": true}))
}

async fn send(te: &TestEngine, token: &str, destination: &str, mrn: &str) {
    let body = payload(
        "PatientAdmin",
        "NewPatient",
        &[te.destination_id(destination)],
        mrn,
    );
    let (status, answer) = te.post_json("/endpoint", Some(token), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn mrn_of(body: &Value) -> String {
    body["Patient"]["Identifiers"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn texts(e: &ApiError) -> String {
    e.entries
        .iter()
        .map(|e| e.text.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_source_destination_and_subscription_take_effect() {
    let ehr = StubDestination::start(ok_stub()).await;
    let fresh = StubDestination::start(ok_stub()).await;
    let te = TestEngine::start(&base(&ehr.url)).await;
    let lab = te.token("Lab").await;
    let grown = base(&ehr.url)
        + &source_toml("Clinic", "staging", None)
        + &destination("New", &fresh.url)
        + &subscription_toml("Clinic", "New", &["PatientAdmin"])
        + &subscription_toml("Lab", "New", &["PatientAdmin"]);
    std::fs::write(&te.config_path, grown).expect("write config");

    let report = te.engine.reload("tester").await.expect("reload");
    for added in [
        "source \"Clinic\"",
        "destination \"New\"",
        "subscription \"Clinic\" -> \"New\"",
        "subscription \"Lab\" -> \"New\"",
    ] {
        assert!(report.added.iter().any(|a| a == added), "{report:?}");
    }
    assert!(report.removed.is_empty() && report.needs_restart.is_empty());

    // The new source's key works, and the new destination receives from old and new.
    let clinic = te.token("Clinic").await;
    send(&te, &clinic, "New", "C-1").await;
    send(&te, &lab, "New", "L-1").await;
    send(&te, &lab, "EHR", "L-2").await;
    eventually_within("the new destination receives both", DEADLINE, || {
        let got: Vec<String> = fresh.requests().iter().map(|r| mrn_of(&r.body)).collect();
        (got.contains(&"C-1".to_string()) && got.contains(&"L-1".to_string()))
            .then_some(())
            .ok_or(format!("{got:?}"))
    })
    .await;
    eventually_within("the old destination still receives", DEADLINE, || {
        let got: Vec<String> = ehr.requests().iter().map(|r| mrn_of(&r.body)).collect();
        (got == ["L-2"]).then_some(()).ok_or(format!("{got:?}"))
    })
    .await;

    // Audited: who, and what changed by name.
    let trail = te.store().audit_trail(50).expect("audit");
    let entry = trail
        .iter()
        .find(|e| e.action == "config.reload")
        .expect("a config.reload audit entry");
    assert_eq!(entry.actor, "tester");
    let detail = entry.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("destination \"New\""), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_is_refused_whole_with_its_line() {
    let ehr = StubDestination::start(ok_stub()).await;
    let te = TestEngine::start(&base(&ehr.url)).await;
    // A valid new source, then a subscription naming a source that does not exist.
    let text = base(&ehr.url)
        + &source_toml("Clinic", "staging", None)
        + &subscription_toml("Nobody", "EHR", &["PatientAdmin"]);
    let line = text
        .lines()
        .position(|l| l.contains("Nobody"))
        .expect("the bad line")
        + 1;
    std::fs::write(&te.config_path, &text).expect("write config");

    let refused = te.engine.reload("tester").await.expect_err("refused");
    assert_eq!(refused.status, 422, "{refused:?}");
    let said = texts(&refused);
    assert!(
        said.contains(&format!("line {line}:")),
        "line {line}: {said}"
    );
    assert!(said.contains("running configuration stays"), "{said}");
    // Nothing of the file was taken, not even its valid part.
    assert!(te.engine.registry().source_named("Clinic").is_none());
    assert!(te.engine.registry().source_named("Lab").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_destination_with_queued_items_is_refused() {
    let ehr = StubDestination::start(ok_stub()).await;
    let te = TestEngine::start(&base(&ehr.url)).await;
    let ehr_id = te.destination_id("EHR");
    te.engine
        .set_paused(ehr_id, true, "test")
        .await
        .expect("pause");
    let lab = te.token("Lab").await;
    send(&te, &lab, "EHR", "Q-1").await;
    assert_eq!(te.store().queued(ehr_id).expect("queued").len(), 1);

    std::fs::write(&te.config_path, source_toml("Lab", "staging", None)).expect("write");
    let refused = te.engine.reload("tester").await.expect_err("refused");
    assert_eq!(refused.status, 409, "{refused:?}");
    let said = texts(&refused);
    assert!(
        said.contains("\"EHR\"") && said.contains("queued"),
        "{said}"
    );
    assert!(te.engine.registry().destination(ehr_id).is_some());
    assert_eq!(te.store().queued(ehr_id).expect("queued").len(), 1);

    // Once delivered, the same removal goes through.
    te.engine
        .set_paused(ehr_id, false, "test")
        .await
        .expect("resume");
    eventually_within("the queue drains", DEADLINE, || {
        let left = te.store().queued(ehr_id).map_err(|e| e.to_string())?;
        left.is_empty().then_some(()).ok_or(format!("{left:?}"))
    })
    .await;
    let report = te.engine.reload("tester").await.expect("reload");
    assert!(report.removed.iter().any(|r| r == "destination \"EHR\""));
    assert!(te.engine.registry().destination(ehr_id).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_during_a_stream_loses_and_reorders_nothing() {
    const N: usize = 150;
    let ehr = StubDestination::start(ok_stub()).await;
    let other = StubDestination::start(ok_stub()).await;
    let te = std::sync::Arc::new(TestEngine::start(&base(&ehr.url)).await);
    let lab = te.token("Lab").await;
    let sender = {
        let te = te.clone();
        tokio::spawn(async move {
            for i in 0..N {
                send(&te, &lab, "EHR", &format!("{i:06}")).await;
            }
        })
    };
    // Alternate between two files, one also changing EHR itself (its attempt bound),
    // so its delivery machinery is replaced while it delivers.
    let grown = base(&ehr.url).replace(
        "verified = true\n",
        "verified = true\nmax_concurrent_deliveries = 2\n",
    ) + &destination("Other", &other.url)
        + &subscription_toml("Lab", "Other", &["Results"]);
    let mut reloads = 0;
    while !sender.is_finished() {
        let text = if reloads % 2 == 0 {
            &grown
        } else {
            &base(&ehr.url)
        };
        std::fs::write(&te.config_path, text).expect("write config");
        te.engine.reload("tester").await.expect("reload");
        reloads += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sender.await.expect("sender");
    assert!(reloads >= 2, "only {reloads} reloads ran during the stream");

    let want: Vec<String> = (0..N).map(|i| format!("{i:06}")).collect();
    eventually_within("every item delivered", DEADLINE, || {
        let mut got: Vec<String> = ehr.requests().iter().map(|r| mrn_of(&r.body)).collect();
        // A redelivery of the item in flight may repeat it; never anything else.
        got.dedup();
        if got.len() < N {
            return Err(format!("{} of {N}", got.len()));
        }
        assert_eq!(got, want, "lost or reordered after {reloads} reloads");
        Ok(())
    })
    .await;
}

/// `POST /auth/authenticate` with a key `keys create --json` printed: its status.
async fn authenticate_status(base: &str, key: &Value) -> u16 {
    client()
        .post(format!("{base}/auth/authenticate"))
        .json(&serde_json::json!({"apiKey": key["apiKey"], "secret": key["secret"]}))
        .send()
        .await
        .expect("authenticate")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reload_command_and_sighup_reach_a_running_engine() {
    use common::bin::{BIN, LAB_TO_EHR, cli_json, serve_dir};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, LAB_TO_EHR).expect("write config");
    let (mut served, base) = serve_dir(dir.path());

    // `switchboard reload`: the running engine takes the new source, and says so.
    let with_clinic =
        format!("{LAB_TO_EHR}\n[[sources]]\nname = \"Clinic\"\nenvironment = \"development\"\n");
    std::fs::write(&config, &with_clinic).expect("write config");
    let report = cli_json(dir.path(), &["reload"]);
    assert_eq!(
        report["added"],
        serde_json::json!(["source \"Clinic\""]),
        "{report}"
    );
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Clinic"]);
    assert_eq!(authenticate_status(&base, &key).await, 200);

    // An invalid file: refused with its line, and the engine keeps what it had.
    std::fs::write(&config, format!("{with_clinic}\n[[sources]]\nname = 5\n")).expect("write");
    let out = std::process::Command::new(BIN)
        .args(["reload", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run switchboard reload");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("line ") && stderr.contains("running configuration stays"),
        "{stderr}"
    );
    assert_eq!(authenticate_status(&base, &key).await, 200);

    // SIGHUP: the same reload, from the signal.
    let with_ward =
        format!("{with_clinic}\n[[sources]]\nname = \"Ward\"\nenvironment = \"development\"\n");
    std::fs::write(&config, &with_ward).expect("write config");
    let ward = cli_json(dir.path(), &["keys", "create", "--source", "Ward"]);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &served.pid()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let until = std::time::Instant::now() + DEADLINE;
    while authenticate_status(&base, &ward).await != 200 {
        assert!(
            std::time::Instant::now() < until,
            "SIGHUP did not reload within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served.terminate(DEADLINE).await.success());
}

/// The console's `:reload` goes through `client::Engine::reload`: an embedded engine
/// (`Local`) reloads as the console's actor; a viewer is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_client_reloads_for_admins_only() {
    use switchboard::client::{Engine as _, Local};
    use switchboard::model::Role;
    let ehr = StubDestination::start(ok_stub()).await;
    let te = TestEngine::start(&base(&ehr.url)).await;
    std::fs::write(
        &te.config_path,
        base(&ehr.url) + &source_toml("Clinic", "staging", None),
    )
    .expect("write config");
    let viewer = Local::new(te.engine.clone(), Role::Viewer, "viewer", &te.base);
    assert!(viewer.reload().await.is_err());
    assert!(te.engine.registry().source_named("Clinic").is_none());
    let admin = Local::new(te.engine.clone(), Role::Admin, "console (local)", &te.base);
    let report = admin.reload().await.expect("reload");
    assert_eq!(report.added, ["source \"Clinic\""]);
    assert!(te.engine.registry().source_named("Clinic").is_some());
}

/// Settings read at start are listed as needing a restart, and keep their running
/// values; the admin route is for the admin role, with errors in the platform's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_wait_for_a_restart_and_the_route_is_admin_only() {
    use switchboard::model::Role;
    let ehr = StubDestination::start(ok_stub()).await;
    let te = TestEngine::start(&base(&ehr.url)).await;
    let before = te.engine.settings().max_body_bytes;
    std::fs::write(
        &te.config_path,
        format!(
            "[engine]\nmax_body_bytes = 12345\nmax_connections = 77\n\n{}",
            base(&ehr.url)
        ),
    )
    .expect("write config");

    let operator = te.admin_token(Role::Operator);
    let (status, body) = te
        .post_json("/admin/v1/config/reload", Some(&operator), &Value::Null)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "admin token");

    let admin = te.admin_token(Role::Admin);
    let (status, report) = te
        .post_json("/admin/v1/config/reload", Some(&admin), &Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["needsRestart"],
        serde_json::json!(["[engine] max_body_bytes", "[engine] max_connections"]),
        "{report}"
    );
    assert_eq!(te.engine.settings().max_body_bytes, before);
}

/// The usual reason to reload: a destination's URL was wrong. Items already retrying
/// against the old URL go to the new one, in order, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_url_applies_to_items_already_retrying() {
    let ehr = StubDestination::start(ok_stub()).await;
    let wrong = closed_url();
    let te = TestEngine::start(&base(&wrong)).await;
    let lab = te.token("Lab").await;
    for mrn in ["R-1", "R-2", "R-3"] {
        send(&te, &lab, "EHR", mrn).await;
    }
    let ehr_id = te.destination_id("EHR");
    eventually_within("a failed attempt on the wrong URL", DEADLINE, || {
        let logs = te.all_logs();
        logs.iter()
            .any(|l| l.attempts > 0)
            .then_some(())
            .ok_or(format!("{} logs, none attempted", logs.len()))
    })
    .await;

    std::fs::write(&te.config_path, base(&ehr.url)).expect("write config");
    let report = te.engine.reload("tester").await.expect("reload");
    assert_eq!(report.changed, ["destination \"EHR\""], "{report:?}");
    eventually_within("the queue delivered to the new URL", DEADLINE, || {
        let got: Vec<String> = ehr.requests().iter().map(|r| mrn_of(&r.body)).collect();
        (got == ["R-1", "R-2", "R-3"])
            .then_some(())
            .ok_or(format!("{got:?}"))
    })
    .await;
    // The stub answers before the dispatcher records the delivery, so the queue
    // empties a moment after the last request arrives.
    eventually_within("the queue emptied", DEADLINE, || {
        let queued = te.store().queued(ehr_id).expect("queued");
        queued
            .is_empty()
            .then_some(())
            .ok_or(format!("{} still queued", queued.len()))
    })
    .await;
}
