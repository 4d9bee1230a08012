//! What the scenarios run against: the engine as a child process, servers on their own
//! runtime threads in this process (stubs and baselines, so the load generator's
//! runtime does not slow them), and nginx when it is installed.

use super::{BenchError, Result};
use crate::store::GroupCommit;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

use super::child::stop_child;
pub use super::child::{EngineProcess, rss_bytes, terminate};

/// The one source every scenario sends from, and the destinations' fixed IDs.
pub const SOURCE_ID: Uuid = Uuid::from_u128(0x5b7c0a11_be0c_4000_8000_000000000001);
pub const SOURCE_NAME: &str = "Bench";

pub fn destination_id(i: usize) -> Uuid {
    Uuid::from_u128(0x5b7c0a11_be0c_4000_8000_0000000d0000 + i as u128)
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "switchboard-bench-{label}-{}-{}",
            std::process::id(),
            Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).map_err(|e| BenchError::new("cannot create temp dir", e))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes of every file under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A server on its own runtime (own threads), stopped when dropped.
pub struct Loopback {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Loopback {
    /// Builds the router inside the new runtime (so it may spawn tasks) and serves it
    /// on `127.0.0.1:0` with `workers` threads.
    pub fn start<F>(workers: usize, make: F) -> Result<Loopback>
    where
        F: FnOnce() -> Router + Send + 'static,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers.max(1))
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let addr = listener.local_addr().map_err(|e| e.to_string());
                let _ = ready_tx.send(addr);
                let app = make();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        });
        let addr = ready_rx
            .recv()
            .map_err(|e| BenchError::new("loopback server", e))?
            .map_err(|e| BenchError::new("loopback server", e))?;
        Ok(Loopback {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the stub destination saw.
#[derive(Default)]
pub struct StubLog {
    pub hits: AtomicU64,
    /// (log id from `Switchboard-Log-Id`, arrival) for every POST to `/d/{i}`.
    pub arrivals: Mutex<Vec<(Uuid, Instant)>>,
    pub first: Mutex<Option<Instant>>,
}

/// A fast destination: `POST /d/{i}` answers with a small fixed JSON object (a query's
/// answer; any 2xx acknowledges a notification) and records the arrival of a
/// notification by its `Switchboard-Log-Id`.
pub fn stub() -> Result<(Loopback, Arc<StubLog>)> {
    let log = Arc::new(StubLog::default());
    let state = log.clone();
    let server = Loopback::start(1, move || {
        Router::new()
            .route("/d/{i}", post(arrive))
            .with_state(state)
    })?;
    Ok((server, log))
}

pub const ANSWER: &str = r#"{"Meta":{"DataModel":"PatientSearch","EventType":"Query"},"Patient":{"Identifiers":[{"ID":"0000000001","IDType":"MR"}],"Demographics":{"FirstName":"Abigail","LastName":"Baker","DOB":"1974-05-30","Sex":"Female"}}}"#;

async fn arrive(
    State(log): State<Arc<StubLog>>,
    UrlPath(_i): UrlPath<u32>,
    headers: HeaderMap,
    _body: Bytes,
) -> ([(&'static str, &'static str); 1], &'static str) {
    let now = Instant::now();
    log.hits.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut first) = log.first.lock()
        && first.is_none()
    {
        *first = Some(now);
    }
    if let Some(id) = headers
        .get("switchboard-log-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
        && let Ok(mut arrivals) = log.arrivals.lock()
    {
        arrivals.push((id, now));
    }
    ([("content-type", "application/json")], ANSWER)
}

/// The ingest baseline: a minimal axum + sled server that inserts the body, waits for
/// the same group-commit flush the engine uses, and answers 200. With `forward`, it then
/// POSTs the body to that URL in a task (a minimal store-and-forward).
pub fn baseline(db_dir: &Path, workers: usize, forward: Option<String>) -> Result<Loopback> {
    let db = sled::Config::new()
        .path(db_dir)
        .cache_capacity(256 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .map_err(|e| BenchError::new("baseline sled", e))?;
    Loopback::start(workers, move || {
        let commit = GroupCommit::start(db.clone());
        let client = super::load::client();
        let state = Arc::new((db, commit, client, forward));
        Router::new()
            .route("/ingest", post(baseline_ingest))
            .with_state(state)
    })
}

type BaselineState = Arc<(sled::Db, GroupCommit, reqwest::Client, Option<String>)>;

async fn baseline_ingest(State(state): State<BaselineState>, body: Bytes) -> (StatusCode, String) {
    let (db, commit, client, forward) = &*state;
    let id = Uuid::now_v7();
    if let Err(e) = db.insert(id.as_bytes(), body.as_ref()) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    if let Err(e) = commit.durable().await {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    if let Some(url) = forward {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tokio::spawn(async move {
            let _ = client
                .post(url)
                .header("switchboard-log-id", id.to_string())
                .body(body)
                .send()
                .await;
        });
    }
    (StatusCode::OK, format!("{{\"id\":\"{id}\"}}"))
}

/// A bare reverse proxy (axum in, reqwest out, 2 workers like the engine): what the
/// engine's HTTP stack costs by itself on a query, with no auth, routing or storage.
pub fn bare_proxy(upstream: String) -> Result<Loopback> {
    Loopback::start(2, move || {
        let state = Arc::new((super::load::client(), upstream));
        Router::new()
            .route("/query", post(proxy_query))
            .with_state(state)
    })
}

async fn proxy_query(
    State(state): State<Arc<(reqwest::Client, String)>>,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let (client, upstream) = &*state;
    let answer = client
        .post(upstream.as_str())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match answer {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::OK);
            match r.bytes().await {
                Ok(b) => (status, b),
                Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
            }
        }
        Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
    }
}

/// A config with the bench source and `destinations` push destinations at
/// `{stub}/d/{i}` (or poll destinations when `stub` is `None`).
pub fn config(destinations: usize, stub: Option<&str>) -> String {
    let mut text = format!(
        "[engine]\nquery_timeout_seconds = 30\n\n[[sources]]\nname = \"{SOURCE_NAME}\"\nid = \"{SOURCE_ID}\"\nenvironment = \"development\"\n\n"
    );
    for i in 0..destinations {
        let id = destination_id(i);
        text += &format!(
            "[[destinations]]\nname = \"D{i}\"\nid = \"{id}\"\nenvironment = \"development\"\nverification_token = \"bench\"\nverified = true\n"
        );
        match stub {
            Some(base) => text += &format!("url = \"{base}/d/{i}\"\nmode = \"push\"\n\n"),
            None => text += "mode = \"poll\"\n\n",
        }
        text += &format!(
            "[[subscriptions]]\nsource = \"{SOURCE_NAME}\"\ndestination = \"D{i}\"\ndata_models = [\"*\"]\n\n"
        );
    }
    if let Some(mib) = std::env::var(CACHE_OVERRIDE)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        text += &format!("[store]\ncache_mib = {mib}\n");
    }
    text
}

/// `SWITCHBOARD_BENCH_CACHE_MIB=N`: the engine children run with `[store] cache_mib = N`
/// instead of the default, to measure what the page cache buys against its memory.
pub const CACHE_OVERRIDE: &str = "SWITCHBOARD_BENCH_CACHE_MIB";

/// An access token for the bench source of an engine on `data_dir`, through the real
/// `/auth/authenticate`.
pub async fn token(
    client: &reqwest::Client,
    engine: &EngineProcess,
    data_dir: &Path,
) -> Result<String> {
    let credentials = crate::store::credentials::Credentials::new(data_dir);
    token_from(client, engine, &credentials).await
}

/// [`token`], its key made in `credentials` (a shared store's, for several nodes).
pub async fn token_from(
    client: &reqwest::Client,
    engine: &EngineProcess,
    credentials: &crate::store::credentials::Credentials,
) -> Result<String> {
    // A shared store's key is written from synchronous code: off the async workers.
    let (key, secret) = tokio::task::block_in_place(|| {
        credentials.create_key(
            SOURCE_ID,
            SOURCE_NAME,
            crate::model::Environment::Development,
        )
    })
    .map_err(|e| BenchError::new("create key", e))?;
    let body = serde_json::json!({"apiKey": key.api_key, "secret": secret});
    let answer = super::load::post(
        client,
        &engine.url("/auth/authenticate"),
        None,
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
    .await
    .map_err(|e| BenchError::new("authenticate", e))?;
    let value: serde_json::Value =
        serde_json::from_slice(&answer).map_err(|e| BenchError::new("authenticate", e))?;
    value["accessToken"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| BenchError("authenticate: no accessToken".into()))
}

/// A 1 KiB PatientAdmin Arrival to the given destinations.
pub fn notification(destinations: &[Uuid], seq: u64) -> Bytes {
    let dests: Vec<String> = destinations
        .iter()
        .map(|d| format!("{{\"ID\":\"{d}\"}}"))
        .collect();
    let head = format!(
        "{{\"Meta\":{{\"DataModel\":\"PatientAdmin\",\"EventType\":\"Arrival\",\"Destinations\":[{}]}},\
         \"Patient\":{{\"Identifiers\":[{{\"ID\":\"{:010}\",\"IDType\":\"MR\"}}],\
         \"Demographics\":{{\"FirstName\":\"Bench\",\"LastName\":\"Mark\",\"DOB\":\"1980-01-01\"}}}},\
         \"Visit\":{{\"VisitNumber\":\"{seq}\",\"VisitDateTime\":\"2024-05-01T10:00:00Z\",\"Reason\":\"",
        dests.join(","),
        seq % 1000 + 1
    );
    let tail = "\"}}";
    let pad = 1024usize.saturating_sub(head.len() + tail.len());
    let mut text = head;
    text.extend(std::iter::repeat_n('x', pad));
    text += tail;
    Bytes::from(text)
}

/// A PatientSearch Query to destination `dest`.
pub fn query(dest: Uuid) -> Bytes {
    Bytes::from(format!(
        "{{\"Meta\":{{\"DataModel\":\"PatientSearch\",\"EventType\":\"Query\",\"Destinations\":[{{\"ID\":\"{dest}\"}}]}},\
         \"Patient\":{{\"Identifiers\":[{{\"ID\":\"0000000001\",\"IDType\":\"MR\"}}]}}}}"
    ))
}

/// nginx, if installed, with `proxy_pass` to `upstream` (keep-alive to it), on its own
/// prefix dir. Stopped (SIGTERM to the master) when dropped.
pub struct Nginx {
    child: Child,
    pub base: String,
    _dir: TempDir,
}

impl Nginx {
    pub fn find() -> Option<PathBuf> {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    pub fn start(binary: &Path, upstream: SocketAddr) -> Result<Nginx> {
        let dir = TempDir::new("nginx")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| BenchError::new("nginx port", e))?
            .port();
        let p = dir.path().display();
        let conf = format!(
            "daemon off;\nworker_processes auto;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n access_log off;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
             upstream stub {{ server {upstream}; keepalive 128; }}\n\
             server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   proxy_pass http://stub;\n\
             proxy_http_version 1.1;\n   proxy_set_header Connection \"\";\n  }}\n }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf)
            .map_err(|e| BenchError::new("nginx config", e))?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::new("spawn nginx", e))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return Err(BenchError("nginx did not start listening".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nginx {
            child,
            base: format!("http://{addr}"),
            _dir: dir,
        })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master stops its workers too; SIGKILL would orphan them.
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}
