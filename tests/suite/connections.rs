//! The engine's HTTP connections under abuse, on loopback: clients that send nothing or
//! send slowly (slowloris), header, body and idle timeouts, the connection cap, 414/431
//! in the platform's shape, and the open-file limit raised at start.

use crate::common;

use common::TestEngine;
use common::bin::{BIN, cli_json, spawn_serve};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use switchboard::model::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the engine closes the connection; `Some(what was read)` if it did within
/// `within`, `None` if it was still open then.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| seen)
}

/// Reads one whole response (head and Content-Length body) within `within`; `None` if
/// it did not come, or the connection closed first.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    return Some(seen);
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .flatten()
}

fn host(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// The status line and JSON body of a raw HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> (String, Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {text:?}"));
    let status = head.lines().next().unwrap_or("").to_string();
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, body)
}

fn error_text(body: &Value) -> &str {
    body["Meta"]["Errors"][0]["Text"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_partial_request_head_is_closed_after_the_header_timeout() {
    let te = TestEngine::start("[engine]\nheader_timeout_seconds = 1\n").await;
    let mut partial = TcpStream::connect(host(&te.base)).await.expect("connect");
    partial
        .write_all(b"POST /auth/authen")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(host(&te.base)).await.expect("connect");
    let started = Instant::now();
    let closed = closed_within(&mut partial, Duration::from_secs(6)).await;
    assert!(
        closed.is_some(),
        "a half-sent request line was still open after 6 s (header timeout 1 s)"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The header timer starts at a request's first byte: a connection that has sent
    // nothing is under the idle timeout (60 s by default) instead.
    assert!(
        closed_within(&mut silent, Duration::from_millis(500))
            .await
            .is_none(),
        "a silent connection was closed by the header timeout"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_with_no_request_is_closed_after_the_idle_timeout() {
    let te = TestEngine::start("[engine]\nidle_timeout_seconds = 1\n").await;
    let mut stream = TcpStream::connect(host(&te.base)).await.expect("connect");
    stream
        .write_all(b"GET /admin/v1/status HTTP/1.1\r\nHost: engine\r\n\r\n")
        .await
        .expect("write");
    let seen = read_response(&mut stream, Duration::from_secs(5))
        .await
        .expect("an answer");
    let (status, body) = parse_response(&seen);
    assert!(status.contains("401"), "{status} {body}");
    let started = Instant::now();
    assert!(
        closed_within(&mut stream, Duration::from_secs(6))
            .await
            .is_some(),
        "the kept-alive connection was still open 6 s after its answer (idle timeout 1 s)"
    );
    assert!(started.elapsed() >= Duration::from_millis(700));
    // And one that never sends anything.
    let mut silent = TcpStream::connect(host(&te.base)).await.expect("connect");
    assert!(
        closed_within(&mut silent, Duration::from_secs(6))
            .await
            .is_some(),
        "a silent connection was still open after 6 s (idle timeout 1 s)"
    );
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_in_the_platform_shape() {
    let te = TestEngine::start("[engine]\nbody_timeout_seconds = 1\n").await;
    let mut stream = TcpStream::connect(host(&te.base)).await.expect("connect");
    stream
        .write_all(
            b"POST /auth/authenticate HTTP/1.1\r\nHost: engine\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"apiKey\": \"k",
        )
        .await
        .expect("write");
    let seen = read_response(&mut stream, Duration::from_secs(6))
        .await
        .expect("no answer 6 s after the body stalled (body timeout 1 s)");
    let (status, body) = parse_response(&seen);
    assert!(status.contains("408"), "{status} {body}");
    assert!(
        error_text(&body).contains("within 1 s") && error_text(&body).contains("body_timeout"),
        "{body}"
    );
    assert_eq!(body["Meta"]["Errors"][0]["Type"], "timeout", "{body}");
}

#[tokio::test]
async fn oversized_targets_and_headers_get_414_and_431_with_meta_errors() {
    let te = TestEngine::start("").await;
    let admin = te.admin_token(Role::Admin);
    let long = format!("/admin/v1/status?pad={}", "a".repeat(9000));
    let (status, body) = te.get(&long, Some(&admin)).await;
    assert_eq!(status, 414, "{body}");
    assert!(error_text(&body).contains("8192"), "{body}");

    let mut req = te
        .client
        .get(te.url("/admin/v1/status"))
        .bearer_auth(&admin);
    for i in 0..70 {
        req = req.header(format!("x-extra-{i}"), "v");
    }
    let response = req.send().await.expect("send");
    assert_eq!(response.status(), 431);
    let body: Value = response.json().await.expect("json body");
    assert!(
        error_text(&body).contains("header fields") && error_text(&body).contains("64"),
        "{body}"
    );

    let response = te
        .client
        .get(te.url("/admin/v1/status"))
        .bearer_auth(&admin)
        .header("x-big", "b".repeat(40 * 1024))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 431);
    let body: Value = response.json().await.expect("json body");
    assert!(error_text(&body).contains("32768"), "{body}");

    // Within the limits, the same request is served, and the bounds are shown.
    let (status, me) = te.get("/admin/v1/status", Some(&admin)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["maxRequestTargetBytes"], 8192, "{me}");
    assert_eq!(me["headerTimeoutSeconds"], 30, "{me}");
    assert_eq!(me["idleTimeoutSeconds"], 60, "{me}");
    assert!(
        me["connections"].as_u64().expect("connections") >= 1,
        "{me}"
    );
}

/// `switchboard serve` run by bash with `limits` (ulimit options) applied first, on
/// `dir/config.toml` and `dir/data`.
fn serve_with_ulimit(dir: &std::path::Path, limits: &str) -> (common::bin::Served, String) {
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("ulimit {limits} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("SWITCHBOARD_LOG", "warn");
    spawn_serve(command)
}

#[tokio::test]
async fn the_open_file_soft_limit_is_raised_to_the_hard_limit_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), "").expect("config");
    let (served, _base) = serve_with_ulimit(dir.path(), "-S -n 512");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", served.pid()))
        .expect("read /proc/<pid>/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "Max open files  <soft>  <hard>  files"
    let (soft, hard) = (fields[3], fields[4]);
    assert_eq!(soft, hard, "{line}");
    assert_ne!(soft, "512", "{line}");
}

/// Holds `count` connections open to `addr` until `until`: half send nothing, half
/// dribble a request head one byte at a time; each one the engine closes is opened
/// again a second later. Returns how many connections it opened in all.
async fn slowloris(addr: String, count: usize, until: Instant) -> usize {
    let mut tasks = Vec::new();
    for i in 0..count {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut opened = 0;
            while Instant::now() < until {
                let Ok(mut stream) = TcpStream::connect(&addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                opened += 1;
                let head = b"POST /auth/authenticate HTTP/1.1\r\nHost: engine\r\nX-Pad: ";
                let mut sent = 0;
                let mut buf = [0u8; 256];
                while Instant::now() < until {
                    if i % 2 == 1 {
                        let byte = head.get(sent).copied().unwrap_or(b'a');
                        if stream.write_all(&[byte]).await.is_err() {
                            break;
                        }
                        sent += 1;
                    }
                    // A read that ends means the engine closed this one: open another.
                    match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf))
                        .await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        Ok(Ok(_)) | Err(_) => {}
                    }
                }
                // Bounded churn: a second before coming back.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            opened
        }));
    }
    let mut opened = 0;
    for task in tasks {
        opened += task.await.unwrap_or(0);
    }
    opened
}

/// `GET /admin/v1/status` on a fresh connection each time, as a new client would open.
async fn try_status(base: &str, token: &str) -> Result<Value, reqwest::Error> {
    let probe = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    probe
        .get(format!("{base}/admin/v1/status"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

async fn fresh_status(base: &str, token: &str) -> Value {
    try_status(base, token)
        .await
        .expect("the engine did not answer under a slowloris of 300 connections")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_slowloris_does_not_stop_the_engine_answering() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[engine]\nmax_connections = 32\n",
    )
    .expect("config");
    let token = cli_json(
        dir.path(),
        &["tokens", "create", "--role", "admin", "--name", "probe"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    // 256 file descriptors in all: without a cap, 300 idle connections exhaust them.
    let (_served, base) = serve_with_ulimit(dir.path(), "-n 256");
    let until = Instant::now() + Duration::from_secs(8);
    let attack = tokio::spawn(slowloris(host(&base).to_string(), 300, until));
    // Probe only once the attack holds the cap: the engine has evicted a connection to
    // make room for a newer one (else the probes could pass before the flood arrived).
    let saturated_by = Instant::now() + Duration::from_secs(5);
    // While the first burst of 300 arrives, a probe may itself be the oldest connection
    // with nothing read yet and be evicted: only the probes after it must be answered.
    loop {
        let status = try_status(&base, &token).await;
        let evicted = status
            .as_ref()
            .ok()
            .and_then(|s| s["connectionsEvicted"].as_u64());
        if evicted.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < saturated_by,
            "the attack never reached the cap of 32: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut answered = Vec::new();
    let mut last = Value::Null;
    for _ in 0..4 {
        let started = Instant::now();
        last = fresh_status(&base, &token).await;
        answered.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let opened = attack.await.expect("attack");
    assert!(opened >= 300, "the attack opened only {opened} connections");
    for took in &answered {
        assert!(*took < Duration::from_secs(5), "answers took {answered:?}");
    }
    assert_eq!(last["connectionCapacity"], 32, "{last}");
    assert!(
        last["connections"].as_u64().expect("connections") <= 32,
        "{last}"
    );
    assert!(
        last["connectionsEvicted"].as_u64().expect("evicted") > 0,
        "{last}"
    );
}

#[tokio::test]
async fn a_graceful_stop_lets_the_request_in_flight_finish_and_ends_event_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let mut config = switchboard::engine::Config::builtin();
    config.attach_sandbox(listener.local_addr().expect("addr"));
    let engine = switchboard::engine::Engine::start(dir.path(), config).expect("engine");
    let token = engine
        .credentials()
        .create_token(Role::Admin, "stop")
        .expect("token")
        .1;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let closing = engine.clone();
    let server = tokio::spawn(switchboard::api::server::serve(
        listener,
        engine.clone(),
        async move {
            let _ = stopped.await;
            closing.close_streams();
        },
    ));

    // A live event stream, an idle connection, and a request whose body is half sent.
    let mut events = TcpStream::connect(&addr).await.expect("connect");
    events
        .write_all(
            format!(
                "GET /admin/v1/events HTTP/1.1\r\nHost: engine\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    let mut in_flight = TcpStream::connect(&addr).await.expect("connect");
    in_flight
        .write_all(
            b"POST /auth/authenticate HTTP/1.1\r\nHost: engine\r\n\
              Content-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"apiKey\": \"k\",",
        )
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).expect("stop");

    assert!(
        closed_within(&mut idle, Duration::from_secs(5))
            .await
            .is_some(),
        "the idle connection stayed open during the stop"
    );
    assert!(
        closed_within(&mut events, Duration::from_secs(5))
            .await
            .is_some(),
        "the event stream did not end during the stop"
    );
    // New connections are no longer accepted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = match TcpStream::connect(&addr).await {
        Err(_) => true,
        Ok(mut s) => closed_within(&mut s, Duration::from_secs(2))
            .await
            .is_some(),
    };
    assert!(refused, "a new connection was served after the stop began");
    assert!(
        !server.is_finished(),
        "the stop did not wait for the request in flight"
    );
    in_flight
        .write_all(b" \"secret\": \"s\"}")
        .await
        .expect("finish the body");
    let seen = read_response(&mut in_flight, Duration::from_secs(5))
        .await
        .expect("the request in flight was answered");
    let (status, body) = parse_response(&seen);
    assert!(status.contains("401"), "{status} {body}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returned once every connection closed")
        .expect("serve task");
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_a_newcomer_is_refused_not_let_past() {
    let te = TestEngine::start("[engine]\nmax_connections = 2\n").await;
    let admin = te.admin_token(Role::Admin);
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(host(&te.base)).await.expect("connect");
        s.write_all(
            format!(
                "GET /admin/v1/events HTTP/1.1\r\nHost: engine\r\nAuthorization: Bearer {admin}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
        // The stream's head arrives: the request is in flight.
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("event stream answered")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
        streams.push(s);
    }
    let mut newcomer = TcpStream::connect(host(&te.base)).await.expect("connect");
    assert!(
        closed_within(&mut newcomer, Duration::from_secs(3))
            .await
            .is_some(),
        "a third connection was kept past a cap of 2 busy ones"
    );
    let figures = te.engine.listener();
    assert!(figures.refused() >= 1);
    assert_eq!(figures.open(), 2);
    assert_eq!(figures.capacity(), 2);

    // Once a stream ends, there is room again.
    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    while te.engine.listener().open() >= 2 {
        assert!(
            Instant::now() < deadline,
            "the ended stream's connection stayed open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, me) = te.get("/admin/v1/status", Some(&admin)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["connectionCapacity"], 2, "{me}");
}
