//! HTTPS on the engine (issue 19, point 4): `serve --tls-cert/--tls-key` with a CA and
//! server certificates made here by the `openssl` command; clients that trust the CA
//! work, plain HTTP and untrusting clients fail clearly, SIGHUP puts a new certificate
//! in force and a bad one leaves the old, the console's and the simulator's `--ca`
//! reach the engine, and plain HTTP on a non-loopback address is warned about.

use crate::common;

use common::bin::*;
use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Generous: the suite must hold on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(30);

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (installed by .ci/run)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA: `ca.pem` and `ca.key` in `dir`.
fn make_ca(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Switchboard Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join("ca.pem")
}

/// A server certificate for localhost and 127.0.0.1 issued by the CA with `serial`:
/// `NAME.pem`, `NAME.key` and `NAME.der` (what a client sees) in `dir`.
fn make_server_cert(dir: &Path, name: &str, serial: u32) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write extensions");
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial.to_string(),
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            &pem,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-in",
            &pem,
            "-outform",
            "DER",
            "-out",
            &format!("{name}.der"),
        ],
    );
    (dir.join(pem), dir.join(key))
}

/// A client that trusts `ca` and keeps what the server presented.
fn trusting(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("read CA");
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"))
        .tls_info(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The certificate the engine presents to a new connection (DER).
async fn presented(ca: &Path, base: &str) -> Vec<u8> {
    let response = trusting(ca)
        .get(format!("{base}/admin/v1/status"))
        .send()
        .await
        .expect("reach the engine over TLS");
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the peer certificate")
        .to_vec()
}

/// `DIR/config.toml` (Lab -> EHR), a CA and a first server certificate in `DIR`.
struct Setup {
    dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), LAB_TO_EHR).expect("write config");
    let ca = make_ca(dir.path());
    let (cert, key) = make_server_cert(dir.path(), "server", 1001);
    Setup { dir, ca, cert, key }
}

fn serve_tls(s: &Setup) -> (Served, String) {
    let mut command = serve_command(s.dir.path());
    command
        .arg("--tls-cert")
        .arg(&s.cert)
        .arg("--tls-key")
        .arg(&s.key);
    spawn_serve(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_the_ca_authenticates_and_sends_over_https() {
    let s = setup();
    let (mut served, base) = serve_tls(&s);
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    // The command line on this machine still reaches the engine (plain loopback).
    let key = cli_json(s.dir.path(), &["keys", "create", "--source", "Lab"]);
    let ehr = destination_id(s.dir.path(), "EHR");
    let client = trusting(&s.ca);
    let grant: serde_json::Value = client
        .post(format!("{base}/auth/authenticate"))
        .json(&serde_json::json!({"apiKey": key["apiKey"], "secret": key["secret"]}))
        .send()
        .await
        .expect("authenticate over TLS")
        .json()
        .await
        .expect("grant");
    let token = grant["accessToken"].as_str().expect("accessToken");
    let ehr: uuid::Uuid = serde_json::from_value(ehr).expect("destination ID");
    let sent = client
        .post(format!("{base}/endpoint"))
        .bearer_auth(token)
        .json(&payload("PatientAdmin", "NewPatient", &[ehr], "MRN-TLS-1"))
        .send()
        .await
        .expect("send over TLS");
    assert_eq!(sent.status(), 200, "{:?}", sent.text().await);
    assert_eq!(
        presented(&s.ca, &base).await,
        std::fs::read(s.dir.path().join("server.der")).expect("der")
    );
    assert!(served.terminate(DEADLINE).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_clients_not_trusting_the_ca_are_refused_clearly() {
    let s = setup();
    let (mut served, base) = serve_tls(&s);
    // Plain HTTP on the TLS port: a 400 that says to use https, then the close.
    let plain = base.replacen("https://", "http://", 1);
    let answer = client()
        .get(format!("{plain}/admin/v1/status"))
        .send()
        .await
        .expect("a plain answer");
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    let text = body["Meta"]["Errors"][0]["Text"].as_str().expect("Text");
    assert!(text.contains("https://"), "{text}");
    // A client that does not trust the CA fails the handshake.
    let e = client()
        .get(format!("{base}/admin/v1/status"))
        .send()
        .await
        .expect_err("an untrusted certificate");
    let chain = format!("{:?}", e);
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    // And the engine still serves those that trust it.
    assert!(!presented(&s.ca, &base).await.is_empty());
    assert!(served.terminate(DEADLINE).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_puts_a_new_certificate_in_force_and_a_bad_one_keeps_the_old() {
    let s = setup();
    let (mut served, base) = serve_tls(&s);
    let first = std::fs::read(s.dir.path().join("server.der")).expect("der");
    assert_eq!(presented(&s.ca, &base).await, first);
    // Renewed in place (same paths), then SIGHUP.
    let (cert2, key2) = make_server_cert(s.dir.path(), "renewed", 1002);
    let second = std::fs::read(s.dir.path().join("renewed.der")).expect("der");
    assert_ne!(first, second);
    std::fs::copy(&cert2, &s.cert).expect("copy cert");
    std::fs::copy(&key2, &s.key).expect("copy key");
    let hup = Command::new("kill")
        .args(["-HUP", &served.pid()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let until = std::time::Instant::now() + DEADLINE;
    while presented(&s.ca, &base).await != second {
        assert!(
            std::time::Instant::now() < until,
            "SIGHUP did not put the new certificate in force within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A broken certificate: the reload says so, and the renewed one stays in force.
    std::fs::write(&s.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").expect("break");
    let report = cli_json(s.dir.path(), &["reload"]);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("TLS certificate not reloaded"),
        "{report}"
    );
    assert_eq!(presented(&s.ca, &base).await, second);
    assert!(served.terminate(DEADLINE).await.success());
}

/// The console's first contact happens before it needs a terminal: with `--ca` it gets
/// that far (and stops for want of a terminal); without, it names the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reaches_an_https_engine_with_ca() {
    let s = setup();
    let (mut served, base) = serve_tls(&s);
    let token = cli_json(
        s.dir.path(),
        &[
            "tokens",
            "create",
            "--role",
            "admin",
            "--name",
            "tls-console",
        ],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let console = |ca: Option<&Path>| {
        let mut command = Command::new(BIN);
        command
            .args(["--engine", &base, "--token", &token, "--data-dir"])
            .arg(s.dir.path().join("console-data"))
            .stdin(Stdio::null());
        if let Some(ca) = ca {
            command.arg("--ca").arg(ca);
        }
        let out = command.output().expect("run the console");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let with_ca = console(Some(&s.ca));
    assert!(with_ca.contains("needs a terminal"), "{with_ca}");
    let without = console(None);
    assert!(
        without.contains("not trusted") && without.contains("--ca"),
        "{without}"
    );
    assert!(served.terminate(DEADLINE).await.success());
}

/// `simulate --engine https://…` trusts a private CA with `--ca`, as the console does:
/// with it the notifications go through; without, it names the certificate and --ca.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_reaches_an_https_engine_with_ca() {
    let s = setup();
    let (mut served, base) = serve_tls(&s);
    let simulate = |ca: Option<&Path>| {
        let mut command = Command::new(BIN);
        command
            .args(["simulate", "--rate", "20/s", "--duration", "1s", "--json"])
            .args(["--engine", &base, "--data-dir"])
            .arg(s.dir.path().join("data"))
            .arg("--config")
            .arg(s.dir.path().join("config.toml"));
        if let Some(ca) = ca {
            command.arg("--ca").arg(ca);
        }
        command.output().expect("run simulate")
    };
    let with_ca = simulate(Some(&s.ca));
    let stderr = String::from_utf8_lossy(&with_ca.stderr);
    assert!(with_ca.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&with_ca.stdout).expect("JSON");
    assert!(
        report["accepted"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    assert_eq!(report["refused"], 0, "{report}");
    let without = simulate(None);
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(!without.status.success());
    assert!(
        stderr.contains("not trusted") && stderr.contains("--ca"),
        "{stderr}"
    );
    // A file that is no CA is named before anything is sent.
    let wrong = simulate(Some(&s.dir.path().join("config.toml")));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(stderr.contains("as the CA for --ca"), "{stderr}");
    assert!(served.terminate(DEADLINE).await.success());
}

/// What `serve` logs up to its stop, on `--listen ADDR`, with or without TLS.
async fn log_of_serve(s: &Setup, listen: &str, tls: bool) -> String {
    let dir = s.dir.path();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("SWITCHBOARD_LOG", "warn")
        .stderr(Stdio::piped());
    if tls {
        command
            .arg("--tls-cert")
            .arg(&s.cert)
            .arg("--tls-key")
            .arg(&s.key);
    }
    let (mut served, _) = spawn_serve(command);
    assert!(served.terminate(DEADLINE).await.success());
    let mut log = String::new();
    served
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("read the log");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_a_non_loopback_address_is_warned_about() {
    let s = setup();
    let clear = log_of_serve(&s, "0.0.0.0:0", false).await;
    assert!(
        clear.contains("travel in clear") && clear.contains("--tls-cert"),
        "{clear}"
    );
    let secured = log_of_serve(&s, "0.0.0.0:0", true).await;
    assert!(!secured.contains("travel in clear"), "{secured}");
    let loopback = log_of_serve(&s, "127.0.0.1:0", false).await;
    assert!(!loopback.contains("travel in clear"), "{loopback}");
}

/// A connection that never starts its handshake is closed at the header timeout, as a
/// request head that never ends would be, rather than holding its slot. (TLS from the
/// configuration's `tls_cert`/`tls_key` here, no flags.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_at_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let s = setup();
    std::fs::write(
        s.dir.path().join("config.toml"),
        format!(
            "{LAB_TO_EHR}\n[engine]\nheader_timeout_seconds = 1\nidle_timeout_seconds = 600\n\
             tls_cert = {:?}\ntls_key = {:?}\n",
            s.cert.display().to_string(),
            s.key.display().to_string()
        ),
    )
    .expect("write config");
    let (mut served, base) = serve_dir(s.dir.path());
    assert!(base.starts_with("https://"), "{base}");
    let addr = base.trim_start_matches("https://");
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, silent.read(&mut byte))
        .await
        .expect("closed well before the idle timeout");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(served.terminate(DEADLINE).await.success());
}
