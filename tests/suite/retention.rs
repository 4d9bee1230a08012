//! Retention (issue 19, point 5): per-environment `retention_days`; expired logs, their
//! bodies and uploads deleted (API 404), newer ones and what is still owed delivery
//! kept; the store's disk space reused; the sweep on demand through the admin API and
//! `switchboard retention run`. Expiry is reached by moving the sweep's clock
//! (`Engine::retention_clock`), not by waiting or writing old records by hand.

use crate::common;

use chrono::{DateTime, Utc};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use switchboard::model::{LogStatus, Role};
use switchboard::store::LogQuery;
use uuid::Uuid;

const BOUNDARY: &str = "----retention-test-boundary";

/// Staging keeps 7 days; Production (no setting) keeps everything. "Lab" sends to
/// "Archive" (answers 200) and "Down" (refuses connections: its items stay queued).
fn config(archive: &str) -> String {
    format!(
        "[environments.staging]\nretention_days = 7\n\n{}{}{}{}{}{}",
        source_toml("Lab", "staging", None),
        source_toml("Prod Lab", "production", None),
        destination_toml("Archive", "staging", archive) + "verified = true\n\n",
        destination_toml("Down", "staging", &closed_url()) + "verified = true\n\n",
        subscription_toml("Lab", "Archive", &["*"]),
        subscription_toml("Lab", "Down", &["*"]),
    )
}

async fn send(te: &TestEngine, token: &str, to: Uuid, mrn: &str, filler: usize) -> Uuid {
    let mut body = payload("PatientAdmin", "Arrival", &[to], mrn);
    body["Note"] = json!("x".repeat(filler));
    let (status, answer) = te.post_json("/endpoint", Some(token), &body).await;
    assert_eq!(status, StatusCode::OK, "send: {answer}");
    uuid_of(&answer["Meta"]["Logs"][0]["ID"])
}

async fn upload(te: &TestEngine, token: &str, bytes: &[u8]) -> String {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let response = te
        .client
        .post(te.url("/upload"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    let answer: Value = response.json().await.expect("upload answer");
    answer["URI"].as_str().expect("URI").to_string()
}

async fn fetch_status(te: &TestEngine, uri: &str, token: &str) -> StatusCode {
    let path = &uri[uri.find("/upload/").expect("an /upload/ URI")..];
    te.client
        .get(te.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("download")
        .status()
}

/// No log PENDING at `destination` any more.
async fn delivered(te: &TestEngine, destination: Uuid) {
    eventually_within("deliveries", Duration::from_secs(60), || {
        let page = te
            .store()
            .search(&LogQuery {
                destination: Some(destination),
                status: Some(LogStatus::Pending),
                limit: 1,
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        match page.logs.first() {
            None => Ok(()),
            Some(l) => Err(format!("{} still pending", l.id)),
        }
    })
    .await;
}

/// The moment between two batches of logs, where the sweep's cutoff is put: the
/// millisecond after every ID made so far. Log IDs are UUIDv7 (by the millisecond,
/// and monotonic within this process, which the engine shares), so once the generator
/// has reached that millisecond every later log is at or after it. That is one
/// millisecond's wait, polled, not a fixed pause.
async fn gap() -> DateTime<Utc> {
    let millis = |id: Uuid| {
        let (secs, nanos) = id.get_timestamp().expect("a v7 ID").to_unix();
        secs as i64 * 1000 + i64::from(nanos / 1_000_000)
    };
    let cutoff = millis(Uuid::now_v7()) + 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while millis(Uuid::now_v7()) < cutoff {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock did not move"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    DateTime::from_timestamp_millis(cutoff).expect("a time")
}

async fn sweep_now(te: &TestEngine, admin: &str) -> Value {
    let (status, report) = te
        .post_json("/admin/v1/retention/run", Some(admin), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "sweep: {report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_logs_bodies_and_uploads_go_while_new_and_owed_ones_stay() {
    expiry(String::new()).await;
}

async fn expiry(engine_table: String) {
    let archive = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&(engine_table + &config(&archive.url))).await;
    let (archive_id, down_id) = (te.destination_id("Archive"), te.destination_id("Down"));
    let (lab, admin) = (te.token("Lab").await, te.admin_token(Role::Admin));

    let old: Vec<Uuid> = send_many(&te, &lab, archive_id, 5).await;
    let owed = send(&te, &lab, down_id, "MRN-OWED", 10).await;
    let old_upload = upload(&te, &lab, b"old bytes, past retention").await;
    delivered(&te, archive_id).await;
    let cutoff = gap().await;
    let new = send(&te, &lab, archive_id, "MRN-NEW", 10).await;
    let new_upload = upload(&te, &lab, b"new bytes, kept").await;
    delivered(&te, archive_id).await;
    let files_before = count_files(&te.data_dir.join("uploads"));

    // Seven days after the cutoff: everything before it has expired.
    te.engine
        .retention_clock()
        .set(cutoff + chrono::Duration::days(7));
    let report = sweep_now(&te, &admin).await;
    println!("sweep: {report}");
    let staging = &report["environments"]["Staging"];
    assert_eq!(staging["logs"], 6, "5 deliveries and an upload: {report}");
    assert_eq!(staging["uploads"], 1, "{report}");
    assert_eq!(staging["keptOwed"], 1, "the queued one: {report}");
    assert_eq!(report["files"], 1, "{report}");

    for id in &old {
        let (status, body) = te.get(&format!("/admin/v1/logs/{id}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "expired log {id}: {body}");
        assert!(te.store().attempts(*id).expect("attempts").is_empty());
    }
    let (status, body) = te.get(&format!("/admin/v1/logs/{new}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "new log: {body}");
    let (status, body) = te
        .get(&format!("/admin/v1/logs/{owed}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "queued log kept: {body}");
    let owed_log = te.store().log(owed).expect("read").expect("owed log");
    assert!(
        te.store()
            .request(owed_log.request_id)
            .expect("read")
            .is_some(),
        "the queued log's body stays deliverable"
    );
    assert!(te.all_queued().contains(&owed), "still in its queue");
    assert_eq!(
        fetch_status(&te, &old_upload, &lab).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(fetch_status(&te, &new_upload, &lab).await, StatusCode::OK);
    assert_eq!(count_files(&te.data_dir.join("uploads")), files_before - 1);

    // A second sweep finds nothing more, and only an admin may run one.
    let again = sweep_now(&te, &admin).await;
    assert_eq!(again["environments"]["Staging"]["logs"], 0, "{again}");
    let operator = te.admin_token(Role::Operator);
    let (status, body) = te
        .post_json("/admin/v1/retention/run", Some(&operator), &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        !error_texts(&body).is_empty(),
        "platform-shaped error: {body}"
    );
}

/// Sends `n` messages to `to`, a few at a time; their log IDs.
async fn send_many(te: &TestEngine, token: &str, to: Uuid, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(send(te, token, to, &format!("MRN-{i}"), 10).await);
    }
    ids
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_size(&path)
            } else {
                std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// Sends `n` messages of about 2 KB, eight at a time.
async fn ingest(te: &TestEngine, token: &str, to: Uuid, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let sends = chunk
            .iter()
            .map(|&i| async move { send(te, token, to, &format!("MRN-{i}"), 2_000).await });
        futures_util::future::join_all(sends).await;
    }
    delivered(te, to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_space_of_expired_logs_is_reused() {
    const N: usize = 1_500;
    let archive = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&archive.url)).await;
    let (archive_id, lab) = (te.destination_id("Archive"), te.token("Lab").await);
    let admin = te.admin_token(Role::Admin);
    let size = |te: &TestEngine| dir_size(&te.data_dir);

    let empty = size(&te);
    let mut sizes = Vec::new();
    for round in 0..3 {
        ingest(&te, &lab, archive_id, N).await;
        let full = size(&te);
        let cutoff = gap().await;
        te.engine
            .retention_clock()
            .set(cutoff + chrono::Duration::days(7));
        let report = sweep_now(&te, &admin).await;
        assert_eq!(
            report["environments"]["Staging"]["logs"], N as u64,
            "{report}"
        );
        let swept = size(&te);
        println!("round {round}: after {N} logs {full} B, after expiry {swept} B");
        sizes.push(full);
    }
    // Without reuse each round would add what the first took (3 rounds: 3x its size).
    let grown: Vec<u64> = sizes.iter().map(|s| s.saturating_sub(empty)).collect();
    println!("store size: empty {empty} B, after each round of {N} logs: {sizes:?} B");
    assert!(
        grown[2] < grown[0] * 2,
        "three rounds of {N} logs, each expired before the next, should stay within twice \
         the first round's size (space reused): grew {grown:?} B"
    );
}

/// `switchboard retention run`: through the running engine (the real binary), then on
/// the stopped store; and a `retention_days` out of range is refused with its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_run_from_the_command_line() {
    use common::bin::{BIN, LAB_TO_EHR, cli_json, serve_dir};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!("[environments.development]\nretention_days = 30\n{LAB_TO_EHR}");
    std::fs::write(dir.path().join("config.toml"), &config).expect("config");

    let (mut served, _base) = serve_dir(dir.path());
    // The run file that points commands at the engine is written just after its line.
    let run_file = switchboard::engine::runfile::path(&dir.path().join("data"));
    eventually_within("the run file", Duration::from_secs(10), || {
        run_file
            .exists()
            .then_some(())
            .ok_or_else(|| "not yet".into())
    })
    .await;
    let online = cli_json(dir.path(), &["retention", "run"]);
    println!("online: {online}");
    assert_eq!(online["environments"]["Development"]["logs"], 0, "{online}");
    assert!(
        online["environments"].get("Production").is_none(),
        "{online}"
    );
    served.terminate(Duration::from_secs(20)).await;

    let offline = cli_json(dir.path(), &["retention", "run"]);
    assert_eq!(
        offline["environments"]["Development"]["logs"], 0,
        "{offline}"
    );

    std::fs::write(
        dir.path().join("config.toml"),
        config.replace("retention_days = 30", "retention_days = 0"),
    )
    .expect("config");
    let out = std::process::Command::new(BIN)
        .args(["retention", "run", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 2") && stderr.contains("retention_days = 0 is out of range"),
        "{stderr}"
    );
}
