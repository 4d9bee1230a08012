//! A damaged store never starts silently, with the real binary: a store whose data file
//! is truncated refuses to start (or, where sled recovers it whole, holds everything it
//! acknowledged), with a clear message and no panic; `--accept-loss` starts anyway;
//! `check` tells a healthy store from a damaged one; a damaged `db/conf` is called what
//! it is; `backup` taken online under load and offline, then `restore`, bring back every
//! message acknowledged before the backup began, none half-stored.
//!
//! The destination is never verified, so every acknowledged notification stays queued
//! (PENDING) and can be counted after a restart.

#![cfg(unix)]

use crate::common;

use common::bin::{BIN, Served, access_token, cli_json};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CONFIG: &str = common::bin::LAB_TO_EHR;

/// Senders at once, so acknowledgements share group-commit flushes.
const SENDERS: usize = 16;

/// A temp dir with `config.toml` and the data dir `data`, an admin token and a key.
struct Site {
    dir: tempfile::TempDir,
    admin: String,
    key: Value,
    destination: String,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), CONFIG).expect("config");
        let admin = cli_json(
            dir.path(),
            &["tokens", "create", "--role", "admin", "--name", "t"],
        )["token"]
            .as_str()
            .expect("token")
            .to_string();
        let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
        let destination = common::bin::destination_id(dir.path(), "EHR")
            .as_str()
            .expect("id")
            .to_string();
        Site {
            dir,
            admin,
            key,
            destination,
        }
    }

    /// What a sender needs: the key and the destination ID.
    fn sender(&self) -> (Value, String) {
        (self.key.clone(), self.destination.clone())
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `switchboard ARGS --data-dir DATA --config …`.
    fn run(&self, data: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(self.path("config.toml"))
            .env("SWITCHBOARD_LOG", "warn")
            .output()
            .expect("run switchboard")
    }

    /// `switchboard check --json` on `data`: (exit success, report).
    fn check(&self, data: &Path) -> (bool, Value) {
        let out = self.run(data, &["check", "--json"]);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "check printed no JSON: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.success(), report)
    }

    /// Starts `serve` on `data`: it either serves or exits.
    fn start(&self, data: &Path, extra: &[&str]) -> Start {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(self.path("config.toml"))
            .env("SWITCHBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut served = Served(child);
        let line = rx
            .recv_timeout(Duration::from_secs(90))
            .expect("serve neither listened nor exited within 90 s");
        if let Some(base) = line.trim().strip_prefix("switchboard listening on ") {
            return Start::Serving(served, base.to_string());
        }
        let status = served.0.wait().expect("wait");
        Start::Refused {
            success: status.success(),
            stderr: errors.join().unwrap_or_default(),
        }
    }

    fn serve(&self, data: &Path) -> (Served, String) {
        match self.start(data, &[]) {
            Start::Serving(served, base) => (served, base),
            Start::Refused { stderr, .. } => panic!("serve refused: {stderr}"),
        }
    }

    /// Log IDs of every PENDING log of the destination, read through the admin API.
    async fn pending(&self, base: &str) -> HashSet<String> {
        let http = reqwest::Client::new();
        let mut ids = HashSet::new();
        let mut before: Option<String> = None;
        loop {
            let mut url = format!("{base}/admin/v1/logs?destination=EHR&limit=500");
            if let Some(b) = &before {
                url += &format!("&before={b}");
            }
            let page: Value = http
                .get(url)
                .bearer_auth(&self.admin)
                .send()
                .await
                .expect("logs")
                .json()
                .await
                .expect("page");
            for log in page["logs"].as_array().expect("logs") {
                if log["status"] == "PENDING" {
                    ids.insert(log["id"].as_str().expect("id").to_string());
                }
            }
            match page["next"].as_str() {
                Some(next) => before = Some(next.to_string()),
                None => return ids,
            }
        }
    }
}

enum Start {
    Serving(Served, String),
    Refused { success: bool, stderr: String },
}

/// SIGTERM, and a clean exit.
async fn stop(mut served: Served) {
    let status = served.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status:?}");
}

/// Sends notifications from [`SENDERS`] tasks until `total` were sent or `stop` is set;
/// each acknowledged log ID goes into `acked` as it comes.
async fn send(
    (key, destination): (Value, String),
    base: &str,
    total: Option<usize>,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    let token = access_token(base, &key).await;
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for t in 0..SENDERS {
        let (http, token, base) = (http.clone(), token.clone(), base.to_string());
        let (acked, stop, destination) = (acked.clone(), stop.clone(), destination.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while total.is_none_or(|n| i < n) && !stop.load(Ordering::SeqCst) {
                let answer = http
                    .post(format!("{base}/endpoint"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                                 "Destinations": [{"ID": destination}]},
                        "Patient": {"Identifiers": [{"ID": format!("{i:010}"), "IDType": "MR"}]}
                    }))
                    .send()
                    .await;
                if let Ok(answer) = answer
                    && answer.status() == 200
                {
                    let body: Value = answer.json().await.expect("body");
                    let id = body["Meta"]["Logs"][0]["ID"].as_str().expect("log id");
                    acked.lock().expect("acked").push(id.to_string());
                }
                i += SENDERS;
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender");
    }
}

/// A stopped store holding `n` acknowledged, queued notifications; their log IDs.
async fn filled(site: &Site, n: usize) -> HashSet<String> {
    let (served, base) = site.serve(&site.data());
    let acked = Arc::new(Mutex::new(Vec::new()));
    send(site.sender(), &base, Some(n), acked.clone(), Arc::default()).await;
    stop(served).await;
    let acked: HashSet<String> = acked.lock().expect("acked").iter().cloned().collect();
    assert_eq!(acked.len(), n, "every notification is acknowledged");
    acked
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn no_panic(stderr: &str) {
    for sign in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(sign), "a panic on stderr: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_store_refuses_to_start_and_check_says_why() {
    const N: usize = 1500;
    let site = Site::new();
    let acked = filled(&site, N).await;

    for percent in [0.0, 1.0, 50.0, 99.5] {
        let data = site.path(&format!("data-{percent}"));
        copy_dir(&site.data(), &data);
        let file = data.join("db").join("db");
        let size = std::fs::metadata(&file).expect("size").len();
        let cut = (size as f64 * percent / 100.0) as u64;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .expect("open")
            .set_len(cut)
            .expect("truncate");

        match site.start(&data, &[]) {
            Start::Refused { success, stderr } => {
                assert!(!success, "{percent}%: refused with a zero exit");
                no_panic(&stderr);
                // Which of the three it is depends on where the cut falls: the whole
                // file unreadable, acknowledged messages missing, or owed deliveries whose
                // logs the cut took (the clean stop's checkpoint still points at them).
                assert!(
                    stderr.contains("fewer acknowledged messages than were acknowledged")
                        || stderr.contains("looks damaged")
                        || stderr.contains("deliveries it still owes"),
                    "{percent}%: {stderr}"
                );
                // Either way it says what to do.
                assert!(stderr.contains("switchboard restore DIR"), "{stderr}");
                if stderr.contains("fewer acknowledged") && percent == 0.0 {
                    assert!(stderr.contains(&format!("holds {N} fewer")), "{stderr}");
                }
                let (ok, report) = site.check(&data);
                assert!(!ok, "{percent}%: check passed a damaged store: {report}");
                assert!(!report["problems"].as_array().expect("problems").is_empty());
                eprintln!("{percent}%: refused: {}", stderr.trim());
                if stderr.contains("aside and start with --accept-loss") {
                    // sled cannot open it at all: start over beside it.
                    std::fs::rename(data.join("db"), data.join("db.damaged")).expect("aside");
                }
                let served = match site.start(&data, &["--accept-loss"]) {
                    Start::Serving(served, _) => served,
                    Start::Refused { stderr, .. } => {
                        panic!("{percent}%: --accept-loss did not start: {stderr}")
                    }
                };
                stop(served).await;
                // The loss is accepted once, and audited: the next plain start runs.
                let served = match site.start(&data, &[]) {
                    Start::Serving(served, _) => served,
                    Start::Refused { stderr, .. } => {
                        panic!("{percent}%: refused again after --accept-loss: {stderr}")
                    }
                };
                stop(served).await;
                let (_, report) = site.check(&data);
                assert!(
                    report["counts"]["auditEntries"].as_u64() >= Some(1),
                    "{report}"
                );
            }
            Start::Serving(served, base) => {
                // sled recovered a complete store: nothing acknowledged may be missing.
                let pending = site.pending(&base).await;
                let missing = acked.difference(&pending).count();
                assert_eq!(missing, 0, "{percent}%: started without {missing} messages");
                eprintln!("{percent}%: started, nothing missing");
                stop(served).await;
            }
        }
    }

    let (ok, report) = site.check(&site.data());
    assert!(ok, "a healthy store checks healthy: {report}");
    assert_eq!(report["healthy"], true);
    assert_eq!(report["counts"]["requests"], N);
    assert_eq!(report["counts"]["queueItems"], N);
    assert_eq!(report["mark"]["acknowledged"], N);
    assert_eq!(report["mark"]["held"], N);

    // A store lost whole (its directory gone) is missed, by count.
    let data = site.path("data-gone");
    copy_dir(&site.data(), &data);
    std::fs::remove_dir_all(data.join("db")).expect("remove store");
    let Start::Refused { success, stderr } = site.start(&data, &[]) else {
        panic!("started without its store");
    };
    assert!(!success);
    assert!(
        stderr.contains(&format!(
            "the store holds {N} fewer acknowledged messages than were acknowledged"
        )),
        "{stderr}"
    );

    // A store from before the mark (no file) is adopted; a damaged conf is named.
    let data = site.path("data-nomark");
    copy_dir(&site.data(), &data);
    std::fs::remove_file(data.join("acknowledged")).expect("remove mark");
    let Start::Serving(served, _) = site.start(&data, &[]) else {
        panic!("a store without a mark file did not start");
    };
    stop(served).await;
    assert!(site.check(&data).0, "adopted store checks healthy");

    let data = site.path("data-conf");
    copy_dir(&site.data(), &data);
    std::fs::write(data.join("db").join("conf"), [0xfeu8; 62]).expect("garble conf");
    let Start::Refused { success, stderr } = site.start(&data, &[]) else {
        panic!("started on a damaged conf");
    };
    assert!(!success);
    no_panic(&stderr);
    assert!(
        stderr.contains("the configuration file of the store"),
        "{stderr}"
    );
    assert!(!stderr.contains("0.29"), "{stderr}");
    assert!(!site.check(&data).0, "check passed a damaged conf");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_under_load_restores_everything_acknowledged_before_it() {
    let site = Site::new();
    let (served, base) = site.serve(&site.data());
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop_sending = Arc::new(AtomicBool::new(false));
    let sender = {
        let (acked, stop_sending) = (acked.clone(), stop_sending.clone());
        let (who, base) = (site.sender(), base.clone());
        tokio::spawn(async move { send(who, &base, None, acked, stop_sending).await })
    };
    // Some history first, then the backup while the senders keep going.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().expect("acked").len() < 400 {
        assert!(
            std::time::Instant::now() < deadline,
            "too slow to acknowledge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: HashSet<String> = acked.lock().expect("acked").iter().cloned().collect();
    let backup_dir = site.path("backup");
    let out = {
        let (data, dir) = (site.data(), backup_dir.clone());
        let config = site.path("config.toml");
        tokio::task::spawn_blocking(move || {
            Command::new(BIN)
                .arg("backup")
                .arg(&dir)
                .args(["--json", "--data-dir"])
                .arg(&data)
                .arg("--config")
                .arg(&config)
                .output()
                .expect("backup")
        })
        .await
        .expect("join")
    };
    let during = acked.lock().expect("acked").len();
    assert!(
        out.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("backup JSON");
    assert_eq!(report["manifest"]["online"], true, "{report}");
    let in_backup = report["manifest"]["acknowledged"].as_u64().expect("count") as usize;
    assert!(in_backup >= before.len(), "{report}");
    // The senders go on after the backup: wait (bounded) for one more acknowledgement.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().expect("acked").len() <= during {
        assert!(
            std::time::Instant::now() < deadline,
            "no acknowledgement after the backup"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_sending.store(true, Ordering::SeqCst);
    sender.await.expect("sender");
    let after = acked.lock().expect("acked").len();
    assert!(
        after > during && during > before.len(),
        "the senders kept going during the backup ({} before, {during} once done, {after} at the end)",
        before.len()
    );

    // Neither check nor restore may run beside the engine; a backup never overwrites.
    let out = site.run(
        &site.data(),
        &["restore", backup_dir.to_str().expect("utf-8")],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("an engine is running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = site.run(&site.data(), &["check"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("switchboard backup DIR"));
    let out = site.run(
        &site.data(),
        &["backup", backup_dir.to_str().expect("utf-8")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));

    // Over the admin API: admin role only, an absolute path, errors in the platform's shape.
    let viewer = cli_json(
        site.dir.path(),
        &["tokens", "create", "--role", "viewer", "--name", "v"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let http = reqwest::Client::new();
    for (token, dir, status) in [
        (&viewer, site.path("by-viewer"), 403),
        (&site.admin, PathBuf::from("relative"), 400),
    ] {
        let answer = http
            .post(format!("{base}/admin/v1/backup"))
            .bearer_auth(token)
            .json(&json!({ "dir": dir }))
            .send()
            .await
            .expect("backup request");
        assert_eq!(answer.status(), status);
        let body: Value = answer.json().await.expect("body");
        assert!(body["Meta"]["Errors"][0]["Text"].is_string(), "{body}");
    }
    assert!(!site.path("by-viewer").exists());
    stop(served).await;
    // The engine audited the backup it took.
    let (_, report) = site.check(&site.data());
    assert!(
        report["counts"]["auditEntries"].as_u64() >= Some(1),
        "{report}"
    );

    // Restore into a fresh data dir: verified, complete, nothing half-stored.
    let fresh = site.path("fresh");
    let out = site.run(&fresh, &["restore", backup_dir.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, report) = site.check(&fresh);
    assert!(ok, "the restored store does not check healthy: {report}");
    let (served, base) = site.serve(&fresh);
    let pending = site.pending(&base).await;
    let missing: Vec<_> = before.difference(&pending).collect();
    assert!(
        missing.is_empty(),
        "{} messages acknowledged before the backup are missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    eprintln!(
        "online backup: {} acknowledged before it, {} in it, {} restored, {after} in all",
        before.len(),
        in_backup,
        pending.len()
    );
    stop(served).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_backup_restores_over_the_old_store_and_keeps_it_aside() {
    let site = Site::new();
    let first = filled(&site, 200).await;
    let backup_dir = site.path("backup");
    let out = site.run(
        &site.data(),
        &["backup", backup_dir.to_str().expect("utf-8"), "--json"],
    );
    assert!(
        out.status.success(),
        "offline backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["manifest"]["online"], false);
    assert_eq!(report["manifest"]["acknowledged"], 200);

    // More traffic after the backup, then the backup goes back over this store.
    let later = filled(&site, 100).await;

    // A backup that does not verify, or a directory that is not one, changes nothing.
    let bad = site.path("backup-bad");
    copy_dir(&backup_dir, &bad);
    std::fs::write(bad.join("db").join("conf"), [0xfeu8; 62]).expect("garble");
    let out = site.run(&site.data(), &["restore", bad.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify; nothing was changed"));
    std::fs::remove_file(bad.join("backup.json")).expect("remove manifest");
    let out = site.run(&site.data(), &["restore", bad.to_str().expect("utf-8")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a complete backup"));
    assert!(
        !std::fs::read_dir(site.data()).expect("data").any(|e| e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .contains("before-restore")),
        "a refused restore moved something aside"
    );
    let out = site.run(
        &site.data(),
        &["restore", backup_dir.to_str().expect("utf-8"), "--json"],
    );
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let aside = report["movedAside"].as_array().expect("moved aside");
    let old_db = aside
        .iter()
        .filter_map(Value::as_str)
        .find(|p| p.contains("db.before-restore-"))
        .expect("the old store moved aside");
    assert!(Path::new(old_db).join("db").exists(), "{old_db} kept");

    // The restored store starts (its mark is the backup's) and holds exactly the backup.
    let (served, base) = site.serve(&site.data());
    let pending = site.pending(&base).await;
    assert_eq!(pending, first);
    assert!(pending.is_disjoint(&later));
    stop(served).await;
}
