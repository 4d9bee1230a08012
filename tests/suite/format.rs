//! The store's format version (issue 19, upgrades), with the real binary: a store
//! written by a newer switchboard is refused at start with a message that says what to
//! do, and left exactly as it was; a store from before versions is stamped with the
//! current one; `check` reports it. (A migration running once is a unit test in
//! `store::format`, with a table of its own.)

use crate::common;

use common::bin::{BIN, LAB_TO_EHR, cli_json, serve_dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use switchboard::store::{Store, format};

fn config(dir: &Path) {
    std::fs::write(dir.join("config.toml"), LAB_TO_EHR).expect("config");
}

/// A store with one request in it, written by this binary, stopped.
async fn made_store(dir: &Path) {
    config(dir);
    let key = cli_json(dir, &["keys", "create", "--source", "Lab"]);
    let (mut served, base) = serve_dir(dir);
    let token = common::bin::access_token(&base, &key).await;
    let status = common::client()
        .post(format!("{base}/endpoint"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                     "Destinations": [{"ID": common::bin::destination_id(dir, "EHR")}]}
        }))
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(status, 200);
    let exit = served.terminate(std::time::Duration::from_secs(30)).await;
    assert!(exit.success(), "{exit:?}");
}

/// The store's sled, once the last holder has let go of it (a dropped store's flusher
/// closes its handle just after).
fn sled_of(data: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match sled::open(data.join("db")) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() > deadline => panic!("sled: {e:?}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

fn set_version(data: &Path, version: Option<u32>) {
    let db = sled_of(data);
    let meta = db.open_tree("meta").expect("meta");
    match version {
        Some(v) => meta.insert(b"format-version", &v.to_be_bytes()),
        None => meta.remove(b"format-version"),
    }
    .expect("write");
    db.flush().expect("flush");
}

fn version(data: &Path) -> Option<u32> {
    let db = sled_of(data);
    format::stored(&db.open_tree("meta").expect("meta")).expect("read")
}

/// Every file under `dir` with its bytes, but sled's snapshot (`db/snap.*`): sled
/// rewrites that index of its log whenever it opens a database, even only to read it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with("snap.")) {
            continue;
        }
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.insert(path.clone(), std::fs::read(&path).expect("read"));
        }
    }
    all
}

/// The files that differ from `before` (names only: sled's files are large).
fn assert_unchanged(data: &Path, before: &BTreeMap<PathBuf, Vec<u8>>, who: &str) {
    let after = files(data);
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "{who} wrote to the refused store: {changed:?}"
    );
}

/// `serve` that must exit with an error: its stderr (killed if it serves instead).
fn refused_serve(dir: &Path) -> String {
    let mut child = common::bin::serve_command(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the engine started on a store of a newer format");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
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

#[tokio::test(flavor = "multi_thread")]
async fn a_store_of_a_newer_format_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    made_store(dir.path()).await;
    let data = dir.path().join("data");
    assert_eq!(version(&data), Some(format::CURRENT), "stamped when made");
    let newer = format::CURRENT + 1;
    set_version(&data, Some(newer));
    let before = files(&data);

    let stderr = refused_serve(dir.path());
    for wanted in [
        &format!("format version {newer}") as &str,
        &format!("knows formats up to {}", format::CURRENT),
        env!("CARGO_PKG_VERSION"),
        "Nothing was changed",
        "newer switchboard",
        "switchboard restore DIR",
    ] {
        assert!(stderr.contains(wanted), "{wanted:?} not in: {stderr}");
    }
    assert_unchanged(&data, &before, "serve");

    // The other commands that open it refuse too, and check says why.
    let backup = run(
        dir.path(),
        &["backup", &dir.path().join("b").to_string_lossy()],
    );
    assert!(!backup.status.success());
    assert!(String::from_utf8_lossy(&backup.stderr).contains(&format!("format version {newer}")));
    let check = run(dir.path(), &["check", "--json"]);
    assert!(!check.status.success(), "a newer store is not healthy here");
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(report["formatVersion"], newer);
    assert_eq!(report["formatKnown"], format::CURRENT);
    assert!(report["problems"].to_string().contains("newer switchboard"));
    assert_unchanged(&data, &before, "check or backup");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_from_before_versions_is_stamped_at_open_and_check_reports_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    made_store(dir.path()).await;
    let data = dir.path().join("data");
    set_version(&data, None);

    let report = cli_json(dir.path(), &["check"]);
    assert!(report["formatVersion"].is_null(), "{report}");
    assert_eq!(version(&data), None, "check writes nothing");
    let out = run(dir.path(), &["check"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("format not recorded"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    drop(Store::open(&data).expect("open"));
    assert_eq!(version(&data), Some(format::CURRENT));
    let report = cli_json(dir.path(), &["check"]);
    assert_eq!(report["formatVersion"], format::CURRENT);
    assert_eq!(report["healthy"], true, "{report}");
}
