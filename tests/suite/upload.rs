//! `POST /upload` and `GET /upload/{id}` (issue 15, point 3) over real loopback HTTP:
//! the round trip, the environment boundary, the size bound, durability across a
//! restart, the upload's log and its PHI masking, and a Media notification that
//! carries the URI.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use switchboard::model::Role;

const BOUNDARY: &str = "----switchboard-test-boundary-7f3a";

/// Staging: "Lab" and "Lab Two"; Production: "Prod Lab"; "Lab" may send Media to
/// "Archive" (a stub destination at `archive_url`).
fn config(extra_engine: &str, archive_url: &str) -> String {
    format!(
        "[engine]\n{extra_engine}\n\n{}{}{}{}{}",
        source_toml("Lab", "staging", None),
        source_toml("Lab Two", "staging", None),
        source_toml("Prod Lab", "production", None),
        destination_toml("Archive", "staging", archive_url) + "verified = true\n\n",
        subscription_toml("Lab", "Archive", &["Media"]),
    )
}

/// A multipart/form-data body with one field (a file part when `file_name` is given).
fn multipart(
    field: &str,
    file_name: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Vec<u8> {
    let mut body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"");
    if let Some(name) = file_name {
        body.push_str(&format!("; filename=\"{name}\""));
    }
    body.push_str("\r\n");
    if let Some(ct) = content_type {
        body.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    body.push_str("\r\n");
    let mut out = body.into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// Bytes that are not text and cross the engine's write pieces (1 MiB).
fn sample(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

async fn post_upload(
    te: &TestEngine,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = te
        .client
        .post(te.url("/upload"))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let response = req.send().await.expect("upload request");
    let status = response.status();
    let bytes = response.bytes().await.expect("upload answer");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

fn form_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Uploads `bytes` as file `name` and returns the URI.
async fn upload(
    te: &TestEngine,
    token: &str,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> String {
    let (status, body) = post_upload(
        te,
        Some(token),
        &form_type(),
        multipart("file", Some(name), content_type, bytes),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "upload: {body}");
    body["URI"]
        .as_str()
        .unwrap_or_else(|| panic!("no URI: {body}"))
        .to_string()
}

/// `GET uri` (rebased on the engine's address): status, content type, length, bytes.
async fn fetch(
    te: &TestEngine,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Option<u64>, Vec<u8>) {
    let path = &uri[uri.find("/upload/").expect("an /upload/ URI")..];
    let mut req = te.client.get(te.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let response = req.send().await.expect("download request");
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let length = header("content-length").and_then(|v| v.parse().ok());
    let bytes = response.bytes().await.expect("download body").to_vec();
    (status, content_type, length, bytes)
}

/// Every regular file under `dir` (recursively), if it exists.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn uploads_of(te: &TestEngine) -> Vec<std::path::PathBuf> {
    files_under(&te.data_dir.join("uploads"))
}

async fn an_uploaded_file_comes_back_byte_for_byte_to_its_environment_only() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    let bytes = sample(1_500_000, 7);
    let uri = upload(&te, &lab, "scan.pdf", Some("application/pdf"), &bytes).await;
    assert!(
        uri.starts_with(&format!("{}/upload/", te.base)),
        "the URI is under the engine's public URL ({}): {uri}",
        te.base
    );

    // The uploader and another source of its environment get the same bytes.
    for token in [&lab, &te.token("Lab Two").await] {
        let (status, content_type, length, got) = fetch(&te, &uri, Some(token)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("application/pdf"));
        assert_eq!(length, Some(bytes.len() as u64));
        assert!(got == bytes, "the bytes came back changed");
    }

    // Another environment's token gets exactly the answer of an ID that never existed.
    let prod = te.token("Prod Lab").await;
    let (status, _, _, other_env) = fetch(&te, &uri, Some(&prod)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = format!("{}/upload/{}", te.base, uuid::Uuid::new_v4().simple());
    let (status, _, _, never) = fetch(&te, &unknown, Some(&lab)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(other_env, never, "the two 404s differ");
    let body: Value = serde_json::from_slice(&never).expect("JSON 404");
    error_texts(&body);

    // No token: 401 in the platform's shape.
    let (status, _, _, body) = fetch(&te, &uri, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    error_texts(&serde_json::from_slice(&body).expect("JSON 401"));
    let (status, body) = post_upload(
        &te,
        None,
        &form_type(),
        multipart("file", Some("a"), None, b"x"),
    )
    .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "authorization");
}

async fn the_same_bytes_are_stored_once_content_addressed_and_private() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    let bytes = sample(10_000, 3);
    let first = upload(&te, &lab, "a.bin", None, &bytes).await;
    let second = upload(&te, &lab, "b.bin", Some("image/png"), &bytes).await;
    assert_ne!(first, second, "each upload has its own URI");
    // Each keeps the content type it was sent with (none: application/octet-stream).
    let (_, first_type, _, _) = fetch(&te, &first, Some(&lab)).await;
    assert_eq!(first_type.as_deref(), Some("application/octet-stream"));
    let (_, second_type, _, _) = fetch(&te, &second, Some(&lab)).await;
    assert_eq!(second_type.as_deref(), Some("image/png"));

    let files = uploads_of(&te);
    assert_eq!(files.len(), 1, "one file for the same bytes: {files:?}");
    let file = &files[0];
    let digest = sha256_hex(&bytes);
    assert_eq!(
        file,
        &te.data_dir.join("uploads").join("staging").join(&digest)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(file), 0o600, "file mode");
        assert_eq!(mode(file.parent().expect("dir")), 0o700, "directory mode");
    }
    assert!(
        files_under(&te.data_dir.join("upload-tmp")).is_empty(),
        "no temporary file left"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept() {
    let te = TestEngine::start(&config("max_upload_bytes = 4096", &closed_url())).await;
    let lab = te.token("Lab").await;
    // Over the limit by one byte, and far over it: the body is read to its end before
    // the refusal, so the client gets the 413 rather than a closed connection.
    for len in [4097, 900 * 1024] {
        let (status, body) = post_upload(
            &te,
            Some(&lab),
            &form_type(),
            multipart("file", Some("big.bin"), None, &sample(len, 1)),
        )
        .await;
        assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "4096 bytes");
    }
    // Exactly at the limit is fine.
    upload(&te, &lab, "ok.bin", None, &sample(4096, 2)).await;
    let files = uploads_of(&te);
    assert_eq!(
        files.len(),
        1,
        "only the file within the limit is kept: {files:?}"
    );
    assert!(
        files_under(&te.data_dir.join("upload-tmp")).is_empty(),
        "no temporary file left"
    );
    let uploads: Vec<_> = te
        .all_logs()
        .into_iter()
        .filter(|l| l.data_model == "Upload")
        .collect();
    assert_eq!(uploads.len(), 1, "only the accepted upload is logged");
}

async fn bodies_that_are_not_an_upload_are_refused_with_400() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    let (status, body) = post_upload(
        &te,
        Some(&lab),
        "application/json",
        b"{\"file\": \"x\"}".to_vec(),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "multipart/form-data",
    );
    let (status, body) = post_upload(
        &te,
        Some(&lab),
        &form_type(),
        multipart("document", Some("a.pdf"), None, b"%PDF"),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "field `file`");
    let (status, body) = post_upload(
        &te,
        Some(&lab),
        &form_type(),
        multipart("file", Some("a.pdf"), None, b""),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "empty");
    let (status, body) = post_upload(
        &te,
        Some(&lab),
        &form_type(),
        b"--not-the-boundary\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    error_texts(&body);
    assert!(uploads_of(&te).is_empty(), "nothing stored");
    assert!(
        files_under(&te.data_dir.join("upload-tmp")).is_empty(),
        "no temporary file left"
    );
}

async fn an_upload_is_still_served_after_a_restart() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    let bytes = sample(300_000, 9);
    let uri = upload(&te, &lab, "kept.bin", Some("application/pdf"), &bytes).await;
    let te = te.restart().await;
    let (status, content_type, _, got) = fetch(&te, &uri, Some(&lab)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    assert!(
        got == bytes,
        "the bytes came back changed after the restart"
    );
}

async fn the_upload_is_logged_and_its_name_is_hidden_in_production_without_phi() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let prod = te.token("Prod Lab").await;
    let mut feed = te.engine.subscribe();
    let bytes = sample(2_000, 5);
    let uri = upload(
        &te,
        &prod,
        "Bixby-Timothy-2008-01-06.pdf",
        Some("application/pdf"),
        &bytes,
    )
    .await;

    // The live feed (the console's) is told of it like any log.
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), feed.recv())
        .await
        .expect("a live event within 10 s")
        .expect("a live event");
    assert_eq!(event.log.data_model, "Upload");

    let viewer = te.admin_token(Role::Viewer);
    let (status, page) = te
        .get_query("/admin/v1/logs", &viewer, &[("dataModel", "Upload")])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let logs = page["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "one log for the upload: {page}");
    let log = &logs[0];
    assert_eq!(log["eventType"], "Upload");
    assert_eq!(log["environment"], "Production");
    assert_eq!(log["status"], "SUCCEEDED");
    assert!(
        !page.to_string().contains("Bixby"),
        "the list names the file: {page}"
    );
    let id = log["id"].as_str().expect("log id");

    let (status, detail) = te.get(&format!("/admin/v1/logs/{id}"), Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["masked"], true);
    assert!(
        !detail.to_string().contains("Bixby"),
        "a viewer sees the file's name: {detail}"
    );

    let phi = te.admin_token(Role::Phi);
    let (status, detail) = te.get(&format!("/admin/v1/logs/{id}"), Some(&phi)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let file = &detail["request"]["File"];
    assert_eq!(file["Name"], "Bixby-Timothy-2008-01-06.pdf");
    assert_eq!(file["Size"], json!(bytes.len()));
    assert_eq!(file["SHA256"], json!(sha256_hex(&bytes)));
    assert_eq!(file["ContentType"], "application/pdf");
    assert_eq!(file["URI"], json!(uri));
    assert!(
        !detail
            .to_string()
            .contains(&String::from_utf8_lossy(&bytes[..64]).to_string()),
        "the log holds the file's bytes"
    );
}

async fn a_media_notification_carries_the_uri_in_file_contents() {
    let archive = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config("", &archive.url)).await;
    let lab = te.token("Lab").await;
    let uri = upload(
        &te,
        &lab,
        "note.pdf",
        Some("application/pdf"),
        b"%PDF-1.4 tiny",
    )
    .await;
    let mut message = payload(
        "Media",
        "New",
        &[te.destination_id("Archive")],
        "0000000001",
    );
    message["Media"] = json!({
        "FileType": "PDF",
        "FileName": "note",
        "FileContents": uri,
        "DocumentType": "Consult Note",
        "DocumentID": "b169267c-10c9-4fe3-91ae-9ckf5703e90l",
        "Provider": {"ID": "4356789876", "IDType": "NPI"},
        "Availability": "Available"
    });
    let (status, body) = te.post_json("/endpoint", Some(&lab), &message).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually_within(
        "the delivery to Archive",
        std::time::Duration::from_secs(20),
        || match archive.requests().len() {
            0 => Err("nothing delivered yet".into()),
            _ => Ok(()),
        },
    )
    .await;
    let delivered = &archive.requests()[0].body;
    assert_eq!(delivered["Media"]["FileContents"], json!(uri));
}

async fn the_uri_is_under_the_configured_public_url() {
    let te = TestEngine::start(&config(
        "public_url = \"https://switchboard.example/redox/\"",
        &closed_url(),
    ))
    .await;
    let lab = te.token("Lab").await;
    let uri = upload(&te, &lab, "a.txt", Some("text/plain"), b"hello").await;
    assert!(
        uri.starts_with("https://switchboard.example/redox/upload/"),
        "{uri}"
    );
    // The ID works on the engine's own address too.
    let (status, _, _, got) = fetch(&te, &uri, Some(&lab)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, b"hello");
}

#[test]
fn a_public_url_that_is_not_a_base_url_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[engine]\npublic_url = \"switchboard.example\"\n").expect("write");
    let error = switchboard::engine::Config::load(&path, true, &dir.path().join("data"))
        .expect_err("a bad public_url is refused")
        .to_string();
    assert!(
        error.contains("line 2") && error.contains("public_url") && error.contains("https://"),
        "the refusal names the line and says what to use: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_carries_the_uploads_and_checks_healthy() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    let bytes = sample(50_000, 11);
    upload(&te, &lab, "kept.bin", None, &bytes).await;
    let target = tempfile::tempdir().expect("tempdir");
    let backup_dir = target.path().join("backup");
    let (engine, data_dir, dir) = (te.engine.clone(), te.data_dir.clone(), backup_dir.clone());
    tokio::task::spawn_blocking(move || engine.store().backup(&data_dir, &dir, true))
        .await
        .expect("backup task")
        .expect("backup");
    let copied = backup_dir
        .join("uploads")
        .join("staging")
        .join(sha256_hex(&bytes));
    assert_eq!(
        std::fs::read(&copied).expect("the file in the backup"),
        bytes
    );
    // The upload's index entry is a known kind of record, tied to its log.
    let report = switchboard::store::check::check(&backup_dir, &Default::default()).expect("check");
    assert!(report.healthy, "{}", report.text());
}

async fn an_upload_log_cannot_be_resent_and_says_why() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    upload(&te, &lab, "a.bin", None, b"bytes").await;
    let log = te
        .all_logs()
        .into_iter()
        .find(|l| l.data_model == "Upload")
        .expect("the upload's log");
    let operator = te.admin_token(Role::Admin);
    let (status, body) = te
        .post_json(
            &format!("/admin/v1/logs/{}/resend", log.id),
            Some(&operator),
            &json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload the file again");
}

async fn an_upload_is_refused_with_507_while_the_disk_is_below_its_reserve() {
    let te = TestEngine::start(&config("", &closed_url())).await;
    let lab = te.token("Lab").await;
    // Then a reserve no disk here has: the disk is "below" it from the start.
    std::fs::write(
        &te.config_path,
        config("min_free_disk_mb = 1000000000", &closed_url()),
    )
    .expect("rewrite config");
    let te = te.restart().await;
    let (status, body) = post_upload(
        &te,
        Some(&lab),
        &form_type(),
        multipart("file", Some("a.bin"), None, &sample(100_000, 4)),
    )
    .await;
    assert_error(status, &body, StatusCode::INSUFFICIENT_STORAGE, "reserve");
    assert!(uploads_of(&te).is_empty(), "nothing stored");
}

crate::on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] an_uploaded_file_comes_back_byte_for_byte_to_its_environment_only;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] the_same_bytes_are_stored_once_content_addressed_and_private;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] bodies_that_are_not_an_upload_are_refused_with_400;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] an_upload_is_still_served_after_a_restart;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] the_upload_is_logged_and_its_name_is_hidden_in_production_without_phi;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_media_notification_carries_the_uri_in_file_contents;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] the_uri_is_under_the_configured_public_url;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] an_upload_log_cannot_be_resent_and_says_why;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] an_upload_is_refused_with_507_while_the_disk_is_below_its_reserve;
}
