//! Data at rest (issue 19, point 2), with the real binary: the data directory is
//! private to the engine's user (loose modes fixed at start, with a warning), and with
//! `encryption_key_file` stored bodies are not in the files in clear, read back after a
//! restart, refuse to start without the key, stay readable from before the key, and
//! after a rotation with the old key kept.

use crate::common;

use common::bin::{LAB_TO_EHR, access_token, cli_json, destination_id, serve_command};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A served engine whose stderr goes to `DIR/stderr.N`.
struct Run {
    served: common::bin::Served,
    base: String,
    stderr: PathBuf,
}

fn serve(dir: &Path, n: u32) -> Run {
    let stderr = dir.join(format!("stderr.{n}"));
    let mut command = serve_command(dir);
    command.stderr(std::fs::File::create(&stderr).expect("stderr file"));
    let (served, base) = common::bin::spawn_serve(command);
    Run {
        served,
        base,
        stderr,
    }
}

impl Run {
    async fn stop(mut self) -> String {
        let status = self.served.terminate(Duration::from_secs(30)).await;
        assert!(status.success(), "engine exit: {status:?}");
        std::fs::read_to_string(&self.stderr).expect("stderr")
    }
}

fn config(dir: &Path, engine: &str) {
    std::fs::write(
        dir.join("config.toml"),
        format!("[engine]\n{engine}\n{LAB_TO_EHR}"),
    )
    .expect("config");
}

fn key_file(dir: &Path, name: &str, byte: u8) {
    // Hex text, one of the two forms a key file may take.
    std::fs::write(
        dir.join(name),
        format!("{}\n", format!("{byte:02x}").repeat(32)),
    )
    .expect("key");
}

/// Sends one notification whose patient is named `name`; its log ID.
async fn send(dir: &Path, base: &str, key: &Value, name: &str) -> String {
    let token = access_token(base, key).await;
    let reply: Value = common::client()
        .post(format!("{base}/endpoint"))
        .bearer_auth(token)
        .json(&json!({
            "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                     "Destinations": [{"ID": destination_id(dir, "EHR")}]},
            "Patient": {"Identifiers": [{"ID": "0000042", "IDType": "MR"}],
                        "Demographics": {"FirstName": name}}
        }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("reply");
    reply["Meta"]["Logs"][0]["ID"]
        .as_str()
        .unwrap_or_else(|| panic!("no log in {reply}"))
        .to_string()
}

/// The admin API's detail of a log, as text.
async fn detail(dir: &Path, base: &str, log: &str) -> String {
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    let token = cli_json(
        dir,
        &["tokens", "create", "--role", "admin", "--name", &name],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let response = common::client()
        .get(format!("{base}/admin/v1/logs/{log}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("detail");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// Whether any file under `dir` holds `needle`.
fn on_disk(dir: &Path, needle: &str) -> bool {
    let mut found = false;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found |= on_disk(&path, needle);
        } else {
            let bytes = std::fs::read(&path).expect("read");
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
    }
    found
}

/// Every path under `dir` (itself included) with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mode = std::fs::metadata(dir).expect("stat").permissions().mode() & 0o777;
    let mut all = vec![(dir.to_path_buf(), mode)];
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            all.extend(modes(&entry.expect("entry").path()));
        }
    }
    all
}

fn assert_private(data: &Path) {
    for (path, mode) in modes(data) {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, wanted, "{} is {mode:o}", path.display());
    }
}

/// `serve` that must fail: its stderr.
fn refused(dir: &Path) -> String {
    let mut child = serve_command(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the engine started when it should have refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_directory_is_private_and_loose_modes_are_fixed_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    config(dir.path(), "");
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let data = dir.path().join("data");

    let run = serve(dir.path(), 1);
    send(dir.path(), &run.base, &key, "Ada").await;
    let stderr = run.stop().await;
    assert_private(&data);
    assert!(
        !stderr.contains("made"),
        "nothing to fix on a new store: {stderr}"
    );

    // As an earlier version (or a careless copy) left it.
    for (path, _) in modes(&data) {
        let loose = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).expect("chmod");
    }
    let run = serve(dir.path(), 2);
    assert_private(&data);
    let stderr = run.stop().await;
    let warning: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warning.len(), 1, "one warning: {stderr}");
    assert!(
        warning[0].contains("private") && warning[0].contains(&data.display().to_string()),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_key_bodies_are_sealed_on_disk_and_need_the_key_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    key_file(dir.path(), "store.key", 0x5a);
    config(dir.path(), "encryption_key_file = \"store.key\"");
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let data = dir.path().join("data");

    let run = serve(dir.path(), 1);
    let log = send(dir.path(), &run.base, &key, "Zephyrina").await;
    assert!(
        detail(dir.path(), &run.base, &log)
            .await
            .contains("Zephyrina")
    );
    run.stop().await;
    assert!(
        on_disk(&data, "0000042"),
        "the MRN index is metadata, kept plain"
    );
    assert!(
        !on_disk(&data, "Zephyrina"),
        "the body is in the files in clear"
    );
    // The offline commands read sealed bodies with the configuration's key: check
    // finds them readable, and restore verifies a sealed backup.
    let report = cli_json(dir.path(), &["check"]);
    assert_eq!(report["healthy"], true, "{report}");
    let copy = dir.path().join("backup");
    cli_json(dir.path(), &["backup", &copy.to_string_lossy()]);
    assert!(
        !on_disk(&copy, "Zephyrina"),
        "the backup holds bodies in clear"
    );
    cli_json(dir.path(), &["restore", &copy.to_string_lossy()]);

    let run = serve(dir.path(), 2);
    assert!(
        detail(dir.path(), &run.base, &log)
            .await
            .contains("Zephyrina")
    );
    run.stop().await;

    config(dir.path(), "");
    let stderr = refused(dir.path());
    assert!(
        stderr.contains("encrypted") && stderr.contains("encryption_key_file"),
        "{stderr}"
    );
    // Sessions are not bodies: listing them needs no key.
    cli_json(dir.path(), &["tokens", "list"]);

    // Rotation: a new primary key, the old one kept for reading.
    key_file(dir.path(), "new.key", 0x77);
    config(
        dir.path(),
        "encryption_key_file = \"new.key\"\nencryption_old_key_files = [\"store.key\"]",
    );
    let run = serve(dir.path(), 3);
    let newer = send(dir.path(), &run.base, &key, "Quillon").await;
    assert!(
        detail(dir.path(), &run.base, &log)
            .await
            .contains("Zephyrina")
    );
    assert!(
        detail(dir.path(), &run.base, &newer)
            .await
            .contains("Quillon")
    );
    run.stop().await;
    assert!(!on_disk(&data, "Quillon"));

    // Without the old key, what it sealed cannot be read, and the start says which
    // setting is missing.
    config(dir.path(), "encryption_key_file = \"new.key\"");
    let stderr = refused(dir.path());
    assert!(stderr.contains("encryption_old_key_files"), "{stderr}");

    // `reencrypt` with both keys seals everything with the new one; then the old key
    // can go.
    config(
        dir.path(),
        "encryption_key_file = \"new.key\"\nencryption_old_key_files = [\"store.key\"]",
    );
    let report = cli_json(dir.path(), &["reencrypt"]);
    assert!(
        report["resealed"].as_u64().expect("resealed") >= 1,
        "{report}"
    );
    config(dir.path(), "encryption_key_file = \"new.key\"");
    let run = serve(dir.path(), 4);
    assert!(
        detail(dir.path(), &run.base, &log)
            .await
            .contains("Zephyrina")
    );
    run.stop().await;
    assert!(!on_disk(&data, "Zephyrina"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_written_before_the_key_stays_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    config(dir.path(), "");
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let data = dir.path().join("data");

    let run = serve(dir.path(), 1);
    let plain = send(dir.path(), &run.base, &key, "Beforekey").await;
    run.stop().await;
    assert!(on_disk(&data, "Beforekey"));

    key_file(dir.path(), "store.key", 0x11);
    config(dir.path(), "encryption_key_file = \"store.key\"");
    let run = serve(dir.path(), 2);
    let sealed = send(dir.path(), &run.base, &key, "Afterkey").await;
    assert!(
        detail(dir.path(), &run.base, &plain)
            .await
            .contains("Beforekey")
    );
    assert!(
        detail(dir.path(), &run.base, &sealed)
            .await
            .contains("Afterkey")
    );
    run.stop().await;
    assert!(!on_disk(&data, "Afterkey"));
}

/// Two stores open in one process, each with its own key (as several engines in one
/// process will be): each seals with its own key only, and reads back its own.
#[test]
fn two_stores_in_one_process_keep_their_own_keys() {
    use switchboard::store::seal::Keyring;
    use switchboard::store::{OpenMode, Sealer, Store, StoredRequest};
    let dirs = [
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    ];
    let keys = [[1u8; 32], [2u8; 32]];
    let stores: Vec<Store> = dirs
        .iter()
        .zip(&keys)
        .map(|(dir, key)| {
            let sealer = Sealer::new(Some(Keyring::from_keys(key, &[])));
            Store::open_sealed(dir.path(), OpenMode::Serve, sealer).expect("open")
        })
        .collect();
    let requests: Vec<StoredRequest> = ["Ada", "Grace"]
        .iter()
        .map(|name| StoredRequest {
            id: uuid::Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            environment: switchboard::model::Environment::Development,
            source_id: uuid::Uuid::now_v7(),
            exchange: switchboard::model::Exchange::Notification,
            payload: json!({"Patient": {"Demographics": {"FirstName": name}}}),
        })
        .collect();
    for (store, request) in stores.iter().zip(&requests) {
        store.insert_accepted(request, &[], None).expect("insert");
    }
    for (i, (store, request)) in stores.iter().zip(&requests).enumerate() {
        let read = store.request(request.id).expect("read").expect("stored");
        assert_eq!(read.payload, request.payload);
        let mut key = vec![b'r'];
        key.extend_from_slice(request.id.as_bytes());
        let stored = store
            .db()
            .open_tree("exchange")
            .expect("tree")
            .get(&key)
            .expect("get")
            .expect("stored");
        let own = Keyring::from_keys(&keys[i], &[]);
        let other = Keyring::from_keys(&keys[1 - i], &[]);
        assert!(
            own.open(&stored).is_ok(),
            "store {i} sealed with another key"
        );
        assert!(
            other.open(&stored).is_err(),
            "store {i} opens with the other key"
        );
    }
}

/// `POST /upload` of `bytes` as Lab: the URI.
async fn upload(base: &str, key: &Value, bytes: &[u8]) -> String {
    let boundary = "----at-rest-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let reply: Value = common::client()
        .post(format!("{base}/upload"))
        .bearer_auth(access_token(base, key).await)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("reply");
    reply["URI"].as_str().expect("URI").to_string()
}

/// `GET` an upload's URI as Lab: its bytes (checked against its Content-Length).
async fn download(base: &str, key: &Value, uri: &str) -> Vec<u8> {
    let path = &uri[uri.find("/upload/").expect("URI")..];
    let response = common::client()
        .get(format!("{base}{path}"))
        .bearer_auth(access_token(base, key).await)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .expect("length")
        .parse()
        .expect("number");
    let bytes = response.bytes().await.expect("bytes").to_vec();
    assert_eq!(length, bytes.len());
    bytes
}

/// Whether the file of `bytes` (named by their hash) holds a stretch of them in clear.
fn upload_in_clear(data: &Path, bytes: &[u8]) -> bool {
    use sha2::Digest;
    let name: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stored = std::fs::read(data.join("uploads/development").join(name)).expect("stored");
    stored.windows(64).any(|w| w == &bytes[1000..1064])
}

#[tokio::test(flavor = "multi_thread")]
async fn uploaded_files_are_sealed_served_in_clear_and_resealed_after_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    config(dir.path(), "");
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let data = dir.path().join("data");
    // Bytes that are not text, across the engine's 1 MiB write pieces.
    let sample = |len: usize, seed: u8| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
            .collect()
    };
    let (before, secret) = (sample(200_000, 1), sample(2_500_000, 2));

    let run = serve(dir.path(), 1);
    let before_uri = upload(&run.base, &key, &before).await;
    run.stop().await;
    assert!(upload_in_clear(&data, &before), "plain before any key");

    key_file(dir.path(), "store.key", 0x21);
    config(dir.path(), "encryption_key_file = \"store.key\"");
    let run = serve(dir.path(), 2);
    let secret_uri = upload(&run.base, &key, &secret).await;
    assert!(
        !upload_in_clear(&data, &secret),
        "the upload is on disk in clear"
    );
    assert!(download(&run.base, &key, &secret_uri).await == secret);
    assert!(download(&run.base, &key, &before_uri).await == before);
    run.stop().await;
    let sealed_once = std::fs::read(
        files_of(&data.join("uploads/development"))
            .into_iter()
            .find(|p| std::fs::read(p).is_ok_and(|b| b.starts_with(b"\0SBF")))
            .expect("a sealed file"),
    )
    .expect("read");

    // Rotation: reencrypt seals both files with the new key; the old one can go.
    key_file(dir.path(), "new.key", 0x43);
    config(
        dir.path(),
        "encryption_key_file = \"new.key\"\nencryption_old_key_files = [\"store.key\"]",
    );
    let report = cli_json(dir.path(), &["reencrypt"]);
    assert_eq!(report["filesResealed"], 2, "{report}");
    assert!(
        !upload_in_clear(&data, &before),
        "reencrypt seals the plain one too"
    );
    assert!(!upload_in_clear(&data, &secret));
    let again = cli_json(dir.path(), &["reencrypt"]);
    assert_eq!(again["filesResealed"], 0, "{again}");
    assert_eq!(again["filesCurrent"], 2, "{again}");
    assert!(
        files_of(&data.join("uploads/development"))
            .iter()
            .all(|p| std::fs::read(p).expect("read") != sealed_once),
        "the sealed file was not sealed again"
    );
    config(dir.path(), "encryption_key_file = \"new.key\"");
    let run = serve(dir.path(), 3);
    assert!(download(&run.base, &key, &secret_uri).await == secret);
    assert!(download(&run.base, &key, &before_uri).await == before);
    run.stop().await;
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect()
}
