//! Shared harness for the HTTP integration tests: an engine with its real router on a
//! loopback port, and stub destinations that record what they receive.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod bin;
pub mod fhir_stub;
pub mod jwt;
pub mod postgres;
pub mod records;
pub mod screen;
pub mod tmux;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::engine::{Config, Engine};
use switchboard::model::{LogRecord, Role};
use switchboard::store::LogQuery;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// An HTTP client that never goes through a proxy (everything here is loopback).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// An engine served by `switchboard::api::server::serve` on `127.0.0.1:<ephemeral>`.
pub struct TestEngine {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The shared PostgreSQL store this engine is a node of; `None`: sled.
    pub store_url: Option<String>,
    pub engine: Arc<Engine>,
    pub client: reqwest::Client,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    server: JoinHandle<()>,
    // Last: the engine and server are gone before the directory is removed.
    pub dir: TempDir,
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Where the engines a test starts keep history and queues (see [`on_both_stores`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backing {
    Sled,
    Postgres,
}

tokio::task_local! {
    static BACKING: Backing;
}

/// The store of the test running now: PostgreSQL inside [`on_postgres`], sled otherwise.
pub fn backing() -> Backing {
    BACKING.try_with(|b| *b).unwrap_or(Backing::Sled)
}

/// Runs `test` with every engine it starts through [`TestEngine::start`] (and its
/// siblings) a node on a fresh database of the tests' PostgreSQL.
pub async fn on_postgres(test: impl std::future::Future<Output = ()>) {
    BACKING.scope(Backing::Postgres, test).await
}

/// Runs each named test (an `async fn` of the module, no arguments) twice: as
/// `NAME::sled`, with the attribute given (`tokio::test` and its flavor), and as
/// `NAME::postgres`, every engine a node on a PostgreSQL database of its own (on a
/// multi-thread runtime: the shared store's synchronous reads need one).
#[macro_export]
macro_rules! on_both_stores {
    ($(#[$sled:meta] $name:ident;)*) => {$(
        mod $name {
            #[$sled]
            async fn sled() {
                super::$name().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::on_postgres(super::$name()).await
            }
        }
    )*};
}

impl TestEngine {
    /// The engine's store (its reads see every acknowledged request: they wait for the
    /// journal themselves). Sled only: the store-neutral reads are [`TestEngine::log`],
    /// [`TestEngine::queued`] and their siblings.
    pub fn store(&self) -> &switchboard::store::Store {
        self.engine.store()
    }

    /// Writes `config_toml` into a fresh temp dir, loads it as the CLI does (required),
    /// starts the engine on a data dir beside it and serves its router.
    pub async fn start(config_toml: &str) -> TestEngine {
        Self::start_with(config_toml, |_| {}).await
    }

    /// As [`TestEngine::start`], with `configure` applied to the loaded configuration
    /// first (to inject what no file sets, such as a movable clock).
    /// Inside [`on_postgres`], the engine is a node on a fresh database.
    pub async fn start_with(config_toml: &str, configure: impl FnOnce(&mut Config)) -> TestEngine {
        match backing() {
            Backing::Sled => Self::start_on(config_toml, None, configure).await,
            Backing::Postgres => {
                let db = postgres::database().await;
                Self::start_on(config_toml, Some(&db.url), configure).await
            }
        }
    }

    /// As [`TestEngine::start_with`], on the shared PostgreSQL store at `store` (a
    /// node of a cluster) when given.
    pub async fn start_on(
        config_toml: &str,
        store: Option<&str>,
        configure: impl FnOnce(&mut Config),
    ) -> TestEngine {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.toml");
        let data_dir = dir.path().join("data");
        std::fs::write(&config_path, config_toml).expect("write config");
        let mut config = Config::load_on(&config_path, true, &data_dir, store)
            .unwrap_or_else(|e| panic!("test config refused: {e}\n{config_toml}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        config.attach_sandbox(addr);
        configure(&mut config);
        let shared = switchboard::engine::cluster::open(&config.settings)
            .await
            .expect("shared store");
        let engine = Engine::start_on(
            &data_dir,
            config,
            switchboard::store::OpenMode::Serve,
            shared,
        )
        .expect("engine start");
        switchboard::engine::cluster::register(&engine, addr).await;
        let server = tokio::spawn(switchboard::api::server::serve(
            listener,
            engine.clone(),
            std::future::pending(),
        ));
        TestEngine {
            base: format!("http://{addr}"),
            store_url: store.map(str::to_string),
            engine,
            client: client(),
            config_path,
            data_dir,
            server,
            dir,
        }
    }

    /// The environment a CLI command needs to reach this engine's store (none on sled).
    pub fn store_env(&self) -> Vec<(&'static str, String)> {
        self.store_url
            .iter()
            .map(|url| ("SWITCHBOARD_STORE", url.clone()))
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn source_id(&self, name: &str) -> Uuid {
        self.engine
            .registry()
            .source_named(name)
            .unwrap_or_else(|| panic!("no source {name}"))
            .id
    }

    pub fn destination_id(&self, name: &str) -> Uuid {
        self.engine
            .registry()
            .destination_named(name)
            .unwrap_or_else(|| panic!("no destination {name}"))
            .id
    }

    /// A new API key for a configured source: `(apiKey, secret)`.
    pub fn api_key(&self, source_name: &str) -> (String, String) {
        let source = self
            .engine
            .registry()
            .source_named(source_name)
            .unwrap_or_else(|| panic!("no source {source_name}"))
            .clone();
        let (record, secret) = self
            .engine
            .credentials()
            .create_key(source.id, &source.name, source.environment)
            .expect("create key");
        (record.api_key, secret)
    }

    /// The full `/auth/authenticate` answer for a fresh key of the source.
    pub async fn authenticate(&self, source_name: &str) -> Value {
        let (api_key, secret) = self.api_key(source_name);
        let (status, body) = self
            .post_json(
                "/auth/authenticate",
                None,
                &json!({"apiKey": api_key, "secret": secret}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "authenticate: {body}");
        body
    }

    /// An access token for the source, through the real `POST /auth/authenticate`.
    pub async fn token(&self, source_name: &str) -> String {
        self.authenticate(source_name).await["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_string()
    }

    /// An admin API token of the given role.
    pub fn admin_token(&self, role: Role) -> String {
        self.engine
            .credentials()
            .create_token(role, &format!("test-{}", role.as_str()))
            .expect("create token")
            .1
    }

    /// Any request; the answer as JSON, or as a JSON string when it is not JSON.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let response = req.send().await.expect("request to engine");
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        (status, to_value(&bytes))
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        self.request(
            Method::POST,
            path,
            bearer,
            Some(serde_json::to_vec(body).expect("json")),
        )
        .await
    }

    /// `POST path` with raw bytes.
    pub async fn post_raw(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &[u8],
    ) -> (StatusCode, Value) {
        self.request(Method::POST, path, bearer, Some(body.to_vec()))
            .await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        self.request(Method::GET, path, bearer, None).await
    }

    /// `GET path` with query parameters.
    pub async fn get_query(
        &self,
        path: &str,
        bearer: &str,
        query: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(bearer)
            .query(query)
            .send()
            .await
            .expect("request to engine");
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        (status, to_value(&bytes))
    }

    /// Waits for one of the engine's reads of the shared store from a test's
    /// synchronous code (a polling closure, say); the test runs on a multi-thread
    /// runtime, as [`on_both_stores`] makes it.
    fn shared_read<T>(&self, read: impl std::future::Future<Output = T>) -> T {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(read))
    }

    /// Every log in history, newest first (from whichever store the engine uses).
    pub fn all_logs(&self) -> Vec<LogRecord> {
        let mut query = LogQuery {
            limit: 500,
            ..Default::default()
        };
        let mut logs = Vec::new();
        loop {
            let mut page = match &self.store_url {
                None => self.store().search(&query),
                Some(_) => self.shared_read(self.engine.search_logs(&query)),
            }
            .expect("search");
            logs.append(&mut page.logs);
            // A page cut short carries the cursor (the PostgreSQL store's day walk).
            match page.next {
                Some(before) => query.before = Some(before),
                None => return logs,
            }
        }
    }

    /// Every queued log ID across the configured destinations.
    pub fn all_queued(&self) -> Vec<Uuid> {
        self.engine
            .registry()
            .destinations
            .iter()
            .flat_map(|d| self.queued(d.id))
            .collect()
    }

    /// A log as history has it now (panics when there is none).
    pub fn log(&self, id: Uuid) -> LogRecord {
        match &self.store_url {
            None => self.store().log(id),
            Some(_) => self.shared_read(self.engine.log_record(id)),
        }
        .expect("read log")
        .unwrap_or_else(|| panic!("no log {id}"))
    }

    /// A log's delivery attempts, in order.
    pub fn attempts(&self, id: Uuid) -> Vec<switchboard::model::Attempt> {
        match &self.store_url {
            None => self.store().attempts(id),
            Some(_) => self.shared_read(self.engine.log_attempts(id)),
        }
        .expect("read attempts")
    }

    /// The logs queued for a destination.
    pub fn queued(&self, destination: Uuid) -> Vec<Uuid> {
        match &self.store_url {
            None => self.store().queued(destination),
            Some(_) => self.shared_read(self.engine.queued_logs(destination)),
        }
        .expect("read queued")
    }

    /// The logs a destination has in quarantine.
    pub fn quarantined(&self, destination: Uuid) -> Vec<Uuid> {
        match &self.store_url {
            None => self
                .store()
                .quarantined(destination)
                .map(|q| q.into_iter().map(|(id, _)| id).collect()),
            Some(_) => self
                .shared_read(self.engine.quarantined_logs(destination))
                .map(|logs| logs.into_iter().map(|l| l.id).collect()),
        }
        .expect("read quarantine")
    }

    /// Uploads `bytes` as file `name` (`POST /upload`, multipart) and returns its URI.
    pub async fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> String {
        let boundary = "switchboard-test-upload";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let answer = self
            .client
            .post(self.url("/upload"))
            .bearer_auth(token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(answer.status(), 201, "upload refused");
        let answer: Value = answer.json().await.expect("JSON");
        answer["URI"].as_str().expect("URI").to_string()
    }

    /// Stops this engine gracefully and waits until every handle on it is gone (its
    /// store closed); hands back its directory (kept), configuration file and data dir.
    pub async fn stop(mut self) -> (TempDir, PathBuf, PathBuf) {
        // The engine's stop ends the server's accept loop and its connections, the
        // dispatchers and the live streams: every task that holds the engine.
        self.engine.shutdown().await;
        let closed = self.engine.closed();
        let server = &mut self.server;
        tokio::time::timeout(Duration::from_secs(20), async {
            let _ = server.await;
            closed.await;
        })
        .await
        .expect("the engine's tasks did not end within 20 s of its shutdown");
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let (config_path, data_dir) = (self.config_path.clone(), self.data_dir.clone());
        drop(self);
        (dir, config_path, data_dir)
    }

    /// Stops this engine gracefully (`Engine::shutdown`), waits until every handle on
    /// it is gone (so the store is closed), and starts a new engine on the same data
    /// dir and config file, served on a new port. Tokens and credentials carry over;
    /// `base` changes.
    pub async fn restart(self) -> TestEngine {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let store_url = self.store_url.clone();
        let (dir, config_path, data_dir) = self.stop().await;
        // The group-commit flusher drops its database handle just after; until then the
        // store is still locked.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let engine = loop {
            let mut config = Config::load_on(&config_path, true, &data_dir, store_url.as_deref())
                .unwrap_or_else(|e| panic!("config refused on restart: {e}"));
            config.attach_sandbox(addr);
            let shared = switchboard::engine::cluster::open(&config.settings)
                .await
                .expect("shared store");
            let started = Engine::start_on(
                &data_dir,
                config,
                switchboard::store::OpenMode::Serve,
                shared,
            );
            match started {
                Ok(engine) => break engine,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("engine restart failed: {e}"),
            }
        };
        switchboard::engine::cluster::register(&engine, addr).await;
        let server = tokio::spawn(switchboard::api::server::serve(
            listener,
            engine.clone(),
            std::future::pending(),
        ));
        TestEngine {
            base: format!("http://{addr}"),
            store_url,
            engine,
            client: client(),
            config_path,
            data_dir,
            server,
            dir,
        }
    }
}

fn to_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Checks the platform's error shape `{"Meta": {..., "Errors": [{ID, Text, Type, Module}]}}`
/// and returns the texts.
/// Serves `app` on a fresh loopback port; its `/redox` URL and the server task.
pub async fn serve_stub(app: Router) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stub");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/redox"), server)
}

/// Polls `check` every 20 ms until it passes; fails the test with its last complaint
/// after `deadline`.
pub async fn eventually_within(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match check() {
            Ok(()) => return,
            Err(state) if tokio::time::Instant::now() >= until => {
                panic!("timed out after {deadline:?} waiting for {what}: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub fn error_texts(body: &Value) -> Vec<String> {
    let errors = body
        .get("Meta")
        .and_then(Value::as_object)
        .and_then(|m| m.get("Errors"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("not a platform error body: {body}"));
    assert!(!errors.is_empty(), "Errors is empty: {body}");
    errors
        .iter()
        .map(|e| {
            assert!(e["ID"].is_u64(), "Errors[].ID is not a number: {body}");
            assert!(e["Type"].is_string(), "Errors[].Type missing: {body}");
            assert!(e["Module"].is_string(), "Errors[].Module missing: {body}");
            let text = e["Text"]
                .as_str()
                .unwrap_or_else(|| panic!("Errors[].Text missing: {body}"));
            assert!(!text.trim().is_empty(), "Errors[].Text is empty: {body}");
            text.to_string()
        })
        .collect()
}

/// Asserts the status, the error shape, and that some error text contains `needle`
/// (case-insensitive). Returns the texts.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    want: StatusCode,
    needle: &str,
) -> Vec<String> {
    assert_eq!(status, want, "unexpected status, body: {body}");
    let texts = error_texts(body);
    let needle = needle.to_lowercase();
    assert!(
        texts.iter().any(|t| t.to_lowercase().contains(&needle)),
        "no error text mentions {needle:?}: {texts:#?}"
    );
    texts
}

/// True for `YYYY-MM-DDThh:mm:ss.sssZ`.
pub fn is_utc_millis(s: &str) -> bool {
    s.len() == 24
        && s.ends_with('Z')
        && chrono::NaiveDateTime::parse_from_str(&s[..23], "%Y-%m-%dT%H:%M:%S%.3f").is_ok()
        && s.as_bytes()[19] == b'.'
}

pub fn parse_utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&chrono::Utc)
}

pub fn uuid_of(v: &Value) -> Uuid {
    v.as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("not a UUID string: {v}"))
}

/// A URL on a loopback port nobody listens on.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/redox")
}

// ---- config snippets -------------------------------------------------------

pub fn source_toml(name: &str, environment: &str, timezone: Option<&str>) -> String {
    let mut s = format!("[[sources]]\nname = \"{name}\"\nenvironment = \"{environment}\"\n");
    if let Some(tz) = timezone {
        s.push_str(&format!("timezone = \"{tz}\"\n"));
    }
    s.push('\n');
    s
}

/// The verification token is `tok-<name>`.
pub fn destination_toml(name: &str, environment: &str, url: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nenvironment = \"{environment}\"\nurl = \"{url}\"\nverification_token = \"{}\"\n\n",
        verification_token(name)
    )
}

pub fn verification_token(destination: &str) -> String {
    format!("tok-{destination}")
}

pub fn subscription_toml(source: &str, destination: &str, models: &[&str]) -> String {
    let models: Vec<String> = models.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "[[subscriptions]]\nsource = \"{source}\"\ndestination = \"{destination}\"\ndata_models = [{}]\n\n",
        models.join(", ")
    )
}

// ---- payloads --------------------------------------------------------------

/// A request envelope with one patient.
pub fn payload(model: &str, event: &str, destinations: &[Uuid], mrn: &str) -> Value {
    json!({
        "Meta": {
            "DataModel": model,
            "EventType": event,
            "Test": true,
            "Destinations": destinations.iter().map(|d| json!({"ID": d})).collect::<Vec<_>>(),
        },
        "Patient": {
            "Identifiers": [{"ID": mrn, "IDType": "MR"}],
            "Demographics": {"FirstName": "Timothy", "LastName": "Bixby", "DOB": "2008-01-06"}
        }
    })
}

// ---- stub destination ------------------------------------------------------

/// How a stub destination answers.
#[derive(Debug, Clone)]
pub enum StubReply {
    Json(u16, Value),
    /// Waits, then answers with the JSON.
    Delay(Duration, u16, Value),
    Text(u16, String),
}

/// One request a stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The body as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct StubState {
    reply: StubReply,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

/// A destination on `127.0.0.1:<ephemeral>` that records every request.
pub struct StubDestination {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Recorded>>>,
    server: JoinHandle<()>,
}

impl Drop for StubDestination {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn stub_handler(
    State(state): State<StubState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.seen.lock().expect("lock").push(Recorded {
        method,
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let status = |code: u16| StatusCode::from_u16(code).expect("status");
    match state.reply {
        StubReply::Json(code, value) => (status(code), axum::Json(value)).into_response(),
        StubReply::Delay(wait, code, value) => {
            tokio::time::sleep(wait).await;
            (status(code), axum::Json(value)).into_response()
        }
        StubReply::Text(code, text) => (status(code), text).into_response(),
    }
}

impl StubDestination {
    pub async fn start(reply: StubReply) -> StubDestination {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(stub_handler).with_state(StubState {
            reply,
            seen: seen.clone(),
        });
        let (url, server) = serve_stub(app).await;
        StubDestination { url, seen, server }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().expect("lock").clone()
    }
}

/// A peer on loopback that answers every request 200 with a chunked body that never
/// ends (no Content-Length): only a bounded read gets past it. Returns its base URL.
pub async fn endless_answer() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
                // Until the reader hangs up.
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    format!("http://{addr}")
}
