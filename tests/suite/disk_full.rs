//! A full disk, for real: the engine's data directory on a small tmpfs, filled by its own
//! traffic beside a ballast file. While free space is below the reserve, new work gets
//! 507 at once (no hang, nothing acknowledged that could not be stored); once the ballast
//! is deleted, the same engine takes requests again without a restart, and everything it
//! acknowledged is still queued.
//!
//! Mounting a tmpfs needs root (CI runs as root); without it this test fails and says so.

use crate::common;

use common::bin::{access_token, cli_json, serve_dir};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TMPFS_MB: u64 = 40;
const RESERVE_MB: u64 = 8;
const BALLAST_MB: usize = 12;

/// A tmpfs mounted for this test, unmounted when dropped (lazily: the engine may still
/// hold files for a moment).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_MB}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount(8)");
        assert!(
            out.status.success(),
            "this test mounts a {TMPFS_MB} MiB tmpfs to fill a disk for real, which needs \
             root (CI runs as root): mount said {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn config(url: &str) -> String {
    format!(
        r#"
[engine]
min_free_disk_mb = {RESERVE_MB}

[[sources]]
name = "Lab"
environment = "development"

[[destinations]]
name = "EHR"
environment = "development"
url = "{url}"
verification_token = "t0ken"
retry_schedule_seconds = [600]

[[subscriptions]]
source = "Lab"
destination = "EHR"
data_models = ["*"]
"#
    )
}

/// A notification of about 20 KiB.
fn notification(destination: &Value, n: usize) -> Value {
    json!({
        "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                 "Destinations": [{"ID": destination}]},
        "Patient": {"Identifiers": [{"ID": format!("MRN-{n}"), "IDType": "MR"}]},
        "Notes": [noise(n, 20_000)],
    })
}

/// `len` characters the store cannot compress (it compresses what it keeps), so each
/// message takes its share of the small disk.
fn noise(seed: usize, len: usize) -> String {
    let mut state = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 90) as u8)
        })
        .collect()
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value, Duration) {
    let started = Instant::now();
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .expect("the engine answers (it must not hang on a full disk)");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_at_once_and_recovers_by_itself_when_space_is_freed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The destination is a closed port with a long retry: everything accepted stays queued.
    let closed = common::closed_url();
    std::fs::write(dir.path().join("config.toml"), config(&closed)).expect("config");
    let _tmpfs = Tmpfs::mount(&dir.path().join("data"));
    let ballast = dir.path().join("data").join("ballast");
    std::fs::write(&ballast, vec![0u8; BALLAST_MB * 1024 * 1024]).expect("ballast");

    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let destination = common::bin::destination_id(dir.path(), "EHR");
    let (_engine, base) = serve_dir(dir.path());
    let token = access_token(&base, &key).await;
    let client = common::client();
    let auth_body = json!({"apiKey": key["apiKey"], "secret": key["secret"]});

    // Fill the disk with the engine's own traffic until it refuses.
    let mut acknowledged = 0usize;
    let refusal = loop {
        let (status, body, took) = post(
            &client,
            format!("{base}/endpoint"),
            Some(&token),
            &notification(&destination, acknowledged),
        )
        .await;
        match status {
            200 => acknowledged += 1,
            _ => break (status, body, took),
        }
        assert!(
            acknowledged < 5_000,
            "a {TMPFS_MB} MiB disk never filled up"
        );
    };
    let (status, body, took) = refusal;
    assert_eq!(status, 507, "{body}");
    let text = common::error_texts(&body).join(" ");
    assert!(
        text.contains("nearly full") && text.contains("reserve"),
        "{text}"
    );
    assert!(took < Duration::from_secs(5), "refused after {took:?}");
    assert!(acknowledged > 100, "only {acknowledged} fit");

    // Authentication is refused the same way, promptly; reads still work.
    let (status, body, took) = post(
        &client,
        format!("{base}/auth/authenticate"),
        None,
        &auth_body,
    )
    .await;
    assert_eq!(status, 507, "{body}");
    assert!(took < Duration::from_secs(5));
    let admin = cli_json(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "disk"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let status: Value = client
        .get(format!("{base}/admin/v1/status"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert!(
        status["diskFreeBytes"].as_u64() < status["diskReserveBytes"].as_u64(),
        "{status}"
    );

    // Space is freed: the same engine takes requests again, without a restart.
    std::fs::remove_file(&ballast).expect("remove ballast");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body, _) = post(
            &client,
            format!("{base}/endpoint"),
            Some(&token),
            &notification(&destination, acknowledged),
        )
        .await;
        if status == 200 {
            acknowledged += 1;
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body, _) = post(
        &client,
        format!("{base}/auth/authenticate"),
        None,
        &auth_body,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Everything acknowledged is there, queued for the destination.
    let connections: Value = client
        .get(format!("{base}/admin/v1/connections?env=development"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("connections")
        .json()
        .await
        .expect("json");
    let queued = connections["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "EHR")
        .expect("EHR")["queueDepth"]
        .as_u64();
    assert_eq!(queued, Some(acknowledged as u64), "{connections}");
}
