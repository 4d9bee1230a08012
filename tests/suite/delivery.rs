//! Push and poll delivery over real HTTP: an engine on a loopback port, scripted stub
//! destinations on raw TCP (so they can also misbehave below HTTP: drop, reset, cut a
//! response short), and the admin API for the operator actions.
//!
//! Every test checks that nothing is lost, that each queue keeps its order (a
//! destination may see the item in flight again, never anything out of order), and that
//! attempts are recorded on the logs.

use crate::common;

use axum::http::StatusCode;
use common::bin::{Served, access_token, cli_json, serve_command, spawn_serve};
use common::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::model::{Attempt, AttemptOutcome, LogRecord, LogStatus, Role};
use switchboard::store::AuditEntry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use uuid::Uuid;

/// How long any wait for the engine may take before the test fails (generous: the
/// suite must hold on a loaded two-core machine).
const DEADLINE: Duration = Duration::from_secs(15);

/// Short retries; attempts bounded generously so a loaded machine does not time out a
/// healthy answer.
const FAST: &str = "retry_schedule_seconds = [0.05, 0.1]\ntimeout_seconds = 5\n";

// ---- scripted stub destination -------------------------------------------------

/// How the stub answers one request.
#[derive(Debug, Clone, PartialEq)]
enum Behave {
    /// 200 `{"ok":true}`; a verification request gets its challenge echoed.
    Ok,
    /// This status with a small JSON body.
    Status(u16),
    /// This status with a `Retry-After` header.
    RetryAfter(u16, &'static str),
    /// Waits, then behaves as the inner one.
    Late(Duration, Box<Behave>),
    /// Reads the request, then closes the connection without answering.
    Drop,
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request, sends part of a response head, then closes.
    CloseMidResponse,
    /// Holds the request until the test opens the gate, then behaves as the inner one.
    Gated(Box<Behave>),
    /// 200 with a body that is not the challenge.
    EchoWrong,
}

impl Behave {
    /// The HTTP status the engine should record for this answer (`None`: no answer).
    fn status(&self) -> Option<u16> {
        match self {
            Behave::Ok | Behave::EchoWrong => Some(200),
            Behave::Status(c) | Behave::RetryAfter(c, _) => Some(*c),
            Behave::Gated(inner) | Behave::Late(_, inner) => inner.status(),
            Behave::Drop | Behave::Reset | Behave::CloseMidResponse => None,
        }
    }

    fn acknowledges(&self) -> bool {
        self.status().is_some_and(|c| (200..300).contains(&c))
    }
}

fn late(ms: u64, then: Behave) -> Behave {
    Behave::Late(Duration::from_millis(ms), Box::new(then))
}

/// Decides by content (e.g. a marker or a patient); `None` falls through to the script.
type Rule = Arc<dyn Fn(&Value) -> Option<Behave> + Send + Sync>;

struct Script {
    /// Consumed one per request first.
    queue: VecDeque<Behave>,
    /// Then cycled through, one per request.
    cycle: Vec<Behave>,
    next: usize,
    rule: Option<Rule>,
}

impl Script {
    fn pick(&mut self, body: &Value) -> Behave {
        if let Some(b) = self.rule.as_ref().and_then(|r| r(body)) {
            return b;
        }
        if let Some(b) = self.queue.pop_front() {
            return b;
        }
        let b = self.cycle[self.next % self.cycle.len()].clone();
        self.next += 1;
        b
    }
}

/// One request the stub received, and how it answered.
#[derive(Debug, Clone)]
struct Arrival {
    at: Instant,
    method: String,
    /// Path and query.
    target: String,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when it was not JSON).
    body: Value,
    behave: Behave,
}

impl Arrival {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Switchboard-Log-Id` of a delivery.
    fn log_id(&self) -> Option<Uuid> {
        self.header("switchboard-log-id")
            .and_then(|v| Uuid::parse_str(v).ok())
    }

    /// `Meta.Logs[0]` of a delivered payload: (ID, AttemptID).
    fn meta_log(&self) -> (Uuid, Uuid) {
        let logs = self.body["Meta"]["Logs"]
            .as_array()
            .unwrap_or_else(|| panic!("no Meta.Logs in {}", self.body));
        assert_eq!(
            logs.len(),
            1,
            "Meta.Logs names more than this log: {logs:?}"
        );
        (uuid_of(&logs[0]["ID"]), uuid_of(&logs[0]["AttemptID"]))
    }

    fn marker(&self) -> &str {
        marker_of(&self.body)
    }
}

fn marker_of(body: &Value) -> &str {
    body["Visit"]["VisitNumber"].as_str().unwrap_or_default()
}

fn patient_of(body: &Value) -> &str {
    body["Patient"]["Identifiers"][0]["ID"]
        .as_str()
        .unwrap_or_default()
}

struct Shared {
    script: Mutex<Script>,
    arrivals: Mutex<Vec<Arrival>>,
    gate: watch::Sender<bool>,
    connections: Mutex<Vec<AbortHandle>>,
}

/// A destination on `127.0.0.1:<ephemeral>` speaking just enough HTTP/1.1 (keep-alive,
/// Content-Length bodies), answering from a script and recording every request.
struct Stub {
    url: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.accept.abort();
        for c in self.shared.connections.lock().expect("lock").iter() {
            c.abort();
        }
    }
}

impl Stub {
    /// A stub cycling through `cycle` (one entry per request).
    async fn start(cycle: Vec<Behave>) -> Stub {
        assert!(!cycle.is_empty());
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                queue: VecDeque::new(),
                cycle,
                next: 0,
                rule: None,
            }),
            arrivals: Mutex::new(Vec::new()),
            gate: watch::channel(false).0,
            connections: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
        let addr = listener.local_addr().expect("addr");
        let for_accept = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let task = tokio::spawn(serve_connection(for_accept.clone(), stream));
                for_accept
                    .connections
                    .lock()
                    .expect("lock")
                    .push(task.abort_handle());
            }
        });
        Stub {
            url: format!("http://{addr}/redox"),
            shared,
            accept,
        }
    }

    async fn ok() -> Stub {
        Stub::start(vec![Behave::Ok]).await
    }

    /// Answers to use, in order, before the cycle.
    fn script(&self, answers: Vec<Behave>) {
        self.shared
            .script
            .lock()
            .expect("lock")
            .queue
            .extend(answers);
    }

    fn set_cycle(&self, cycle: Vec<Behave>) {
        let mut s = self.shared.script.lock().expect("lock");
        s.cycle = cycle;
        s.next = 0;
    }

    /// From now on every request is answered 200 (a rule still applies).
    fn recover(&self) {
        self.set_cycle(vec![Behave::Ok]);
    }

    fn set_rule(&self, rule: Option<Rule>) {
        self.shared.script.lock().expect("lock").rule = rule;
    }

    fn open_gate(&self) {
        self.shared.gate.send_replace(true);
    }

    fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals.lock().expect("lock").clone()
    }

    /// Requests that carried a `Switchboard-Log-Id` (deliveries, not challenges).
    fn deliveries(&self) -> Vec<Arrival> {
        self.arrivals()
            .into_iter()
            .filter(|a| a.log_id().is_some())
            .collect()
    }

    /// The log IDs delivered, in arrival order, repeats included.
    fn log_ids(&self) -> Vec<Uuid> {
        self.deliveries()
            .iter()
            .filter_map(Arrival::log_id)
            .collect()
    }

    fn deliveries_of(&self, log: Uuid) -> Vec<Arrival> {
        self.deliveries()
            .into_iter()
            .filter(|a| a.log_id() == Some(log))
            .collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The challenge of a verification request: `GET ?challenge=` or a JSON body with
/// `challenge` (and no `Meta`).
fn challenge_of(method: &str, target: &str, body: &Value) -> Option<String> {
    if method == "GET" {
        return query_param(target, "challenge");
    }
    if body.get("Meta").is_some() {
        return None;
    }
    body.get("challenge")
        .and_then(Value::as_str)
        .map(str::to_string)
}

async fn serve_connection(shared: Arc<Shared>, mut stream: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p + 4;
            }
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_string();
        let target = request_line.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        }
        let body_bytes: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let body: Value = serde_json::from_slice(&body_bytes).unwrap_or(Value::Null);
        let behave = shared.script.lock().expect("lock").pick(&body);
        let challenge = challenge_of(&method, &target, &body);
        shared.arrivals.lock().expect("lock").push(Arrival {
            at: Instant::now(),
            method,
            target,
            headers,
            body,
            behave: behave.clone(),
        });
        if !respond(&shared, &mut stream, behave, challenge).await {
            return;
        }
    }
}

async fn write_response(
    stream: &mut TcpStream,
    code: u16,
    extra: &[(&str, &str)],
    body: &str,
) -> bool {
    let mut out = format!(
        "HTTP/1.1 {code} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    stream.write_all(out.as_bytes()).await.is_ok() && stream.flush().await.is_ok()
}

const REFUSAL: &str = r#"{"error":"stub says no"}"#;

/// Answers one request; `false` ends the connection.
async fn respond(
    shared: &Shared,
    stream: &mut TcpStream,
    mut behave: Behave,
    challenge: Option<String>,
) -> bool {
    let behave = loop {
        match behave {
            Behave::Gated(inner) => {
                let mut gate = shared.gate.subscribe();
                let _ = gate.wait_for(|open| *open).await;
                behave = *inner;
            }
            Behave::Late(wait, inner) => {
                tokio::time::sleep(wait).await;
                behave = *inner;
            }
            other => break other,
        }
    };
    match behave {
        Behave::Ok => {
            let body = challenge.unwrap_or_else(|| r#"{"ok":true}"#.to_string());
            write_response(stream, 200, &[], &body).await
        }
        Behave::Status(code) => write_response(stream, code, &[], REFUSAL).await,
        Behave::RetryAfter(code, after) => {
            write_response(stream, code, &[("Retry-After", after)], REFUSAL).await
        }
        Behave::Drop => false,
        Behave::Reset => {
            let _ = stream.set_zero_linger();
            false
        }
        Behave::CloseMidResponse => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
            let _ = stream.flush().await;
            false
        }
        Behave::EchoWrong => write_response(stream, 200, &[], "not-the-challenge").await,
        Behave::Gated(_) | Behave::Late(..) => unreachable!("unwrapped above"),
    }
}

// ---- engine side helpers ----------------------------------------------------------

/// A `[[destinations]]` block with extra settings.
fn push_destination(name: &str, environment: &str, url: &str, extra: &str) -> String {
    format!("{}{extra}\n", destination_toml(name, environment, url))
}

/// A poll destination (optionally with a URL, to show it is never pushed to).
fn poll_destination(name: &str, environment: &str, url: Option<&str>) -> String {
    let mut s = format!(
        "[[destinations]]\nname = \"{name}\"\nenvironment = \"{environment}\"\nmode = \"poll\"\nverification_token = \"{}\"\n",
        verification_token(name)
    );
    if let Some(url) = url {
        s.push_str(&format!("url = \"{url}\"\n"));
    }
    s.push('\n');
    s
}

/// A notification for `destinations` about patient `mrn`, told apart by `marker`
/// (`Visit.VisitNumber`).
fn message(destinations: &[Uuid], mrn: &str, marker: &str) -> Value {
    let mut body = payload("PatientAdmin", "Arrival", destinations, mrn);
    body["Visit"] = json!({"VisitNumber": marker});
    body
}

/// One accepted request.
struct Sent {
    at: Instant,
    /// Destination ID → log ID.
    logs: HashMap<Uuid, Uuid>,
}

impl Sent {
    fn log(&self, destination: Uuid) -> Uuid {
        *self
            .logs
            .get(&destination)
            .unwrap_or_else(|| panic!("no log for destination {destination}"))
    }
}

/// `POST /endpoint`, which must answer 200; returns the log of each destination.
async fn send(
    te: &TestEngine,
    token: &str,
    destinations: &[Uuid],
    mrn: &str,
    marker: &str,
) -> Sent {
    let at = Instant::now();
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(token),
            &message(destinations, mrn, marker),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "send {marker}: {body}");
    let named = body["Meta"]["Destinations"]
        .as_array()
        .expect("Destinations");
    let logs = body["Meta"]["Logs"].as_array().expect("Logs");
    assert_eq!(named.len(), destinations.len(), "{body}");
    assert_eq!(logs.len(), destinations.len(), "{body}");
    Sent {
        at,
        logs: named
            .iter()
            .zip(logs)
            .map(|(d, l)| (uuid_of(&d["ID"]), uuid_of(&l["ID"])))
            .collect(),
    }
}

/// Sends `n` messages `{prefix}{i}` for patient `mrn`; returns them in sending order.
async fn send_many(
    te: &TestEngine,
    token: &str,
    destinations: &[Uuid],
    mrn: &str,
    prefix: &str,
    n: usize,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    for i in 0..n {
        sent.push(send(te, token, destinations, mrn, &format!("{prefix}{i}")).await);
    }
    sent
}

fn logs_of(sent: &[Sent], destination: Uuid) -> Vec<Uuid> {
    sent.iter().map(|s| s.log(destination)).collect()
}

fn log(te: &TestEngine, id: Uuid) -> LogRecord {
    te.log(id)
}

fn attempts(te: &TestEngine, id: Uuid) -> Vec<Attempt> {
    te.attempts(id)
}

fn queued(te: &TestEngine, destination: Uuid) -> Vec<Uuid> {
    te.queued(destination)
}

fn quarantined(te: &TestEngine, destination: Uuid) -> Vec<Uuid> {
    te.quarantined(destination)
}

fn audit(te: &TestEngine) -> Vec<AuditEntry> {
    te.engine
        .audit_page(&switchboard::store::audit::AuditFilter::default(), 100)
        .expect("audit trail")
        .entries
        .into_iter()
        .map(|r| r.entry)
        .collect()
}

fn describe(l: &LogRecord) -> String {
    format!(
        "{} {} attempts={}{}",
        l.id,
        l.status.as_str(),
        l.attempts,
        if l.quarantined { " quarantined" } else { "" }
    )
}

/// Polls `check` every 20 ms until it passes; fails the test with its last complaint
/// after [`DEADLINE`].
async fn eventually(what: &str, check: impl FnMut() -> Result<(), String>) {
    common::eventually_within(what, DEADLINE, check).await
}

fn all_status(te: &TestEngine, ids: &[Uuid], want: LogStatus) -> Result<(), String> {
    let off: Vec<String> = ids
        .iter()
        .map(|id| log(te, *id))
        .filter(|l| l.status != want)
        .map(|l| describe(&l))
        .collect();
    if off.is_empty() {
        Ok(())
    } else {
        Err(format!("not {}: {}", want.as_str(), off.join("; ")))
    }
}

/// Checks that every delivery `stub` received came at or after `released`: what was
/// held (paused, unverified) stayed held until the test let it go. Checked once it has
/// all arrived, instead of watching a while for something that must not happen (which
/// passes by accident on a slow machine).
fn assert_delivered_after(stub: &Stub, released: Instant, what: &str) {
    let early: Vec<String> = stub
        .deliveries()
        .iter()
        .filter(|a| a.at < released)
        .map(|a| a.marker().to_string())
        .collect();
    assert!(early.is_empty(), "{what}: delivered while held: {early:?}");
}

fn has_deliveries(stub: &Stub, n: usize) -> Result<(), String> {
    let got = stub.log_ids().len();
    if got >= n {
        Ok(())
    } else {
        Err(format!("{got} of {n} deliveries"))
    }
}

/// The arrival sequence with repeats of the item in flight folded: what a FIFO queue
/// that only moves on after an acknowledgement can produce.
fn folded(ids: &[Uuid]) -> Vec<Uuid> {
    let mut v = ids.to_vec();
    v.dedup();
    v
}

/// Checks that a stub saw the logs in sending order, repeating at most the item in
/// flight, and (with `once`) each exactly once.
fn assert_fifo(stub: &Stub, sent: &[Uuid], once: bool, what: &str) {
    let arrived = stub.log_ids();
    assert_eq!(
        folded(&arrived),
        sent,
        "{what}: deliveries out of order or missing (arrived {arrived:?})"
    );
    if once {
        assert_eq!(arrived, sent, "{what}: something was delivered twice");
    }
}

/// `POST` an admin action with an (operator) token.
async fn act(te: &TestEngine, token: &str, path: &str) -> (StatusCode, Value) {
    te.post_raw(&format!("/admin/v1{path}"), Some(token), b"")
        .await
}

/// Every delivery carries the destination's token, JSON, and a Log ID that matches
/// the payload's `Meta.Logs`.
fn assert_delivery_headers(stub: &Stub, destination_name: &str) {
    for a in stub.deliveries() {
        assert_eq!(a.method, "POST");
        assert_eq!(a.target, "/redox");
        assert_eq!(
            a.header("verification-token"),
            Some(verification_token(destination_name).as_str()),
            "{:?}",
            a.headers
        );
        assert_eq!(
            a.header("content-type"),
            Some("application/json"),
            "{:?}",
            a.headers
        );
        let (meta_log, _) = a.meta_log();
        assert_eq!(Some(meta_log), a.log_id(), "Meta.Logs names another log");
    }
}

// ---- 1. the happy path ----------------------------------------------------------------

async fn twenty_notifications_arrive_in_order_once_with_the_right_headers() {
    let stub = Stub::ok().await;
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let mut events = te.engine.subscribe();
    let token = te.token("Lab").await;
    let sent = send_many(&te, &token, &[ehr], "MRN-1", "m", 20).await;
    let logs = logs_of(&sent, ehr);

    // Wait on the event bus: every log gets a SUCCEEDED event.
    let mut succeeded = HashSet::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while succeeded.len() < logs.len() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => {
                if event.log.status == LogStatus::Succeeded {
                    assert!(
                        succeeded.insert(event.log.id),
                        "two SUCCEEDED events for {}",
                        event.log.id
                    );
                }
            }
            Ok(Err(e)) => panic!("event bus: {e}"),
            Err(_) => panic!(
                "only {} of {} logs reported SUCCEEDED",
                succeeded.len(),
                logs.len()
            ),
        }
    }
    assert_eq!(succeeded, logs.iter().copied().collect::<HashSet<_>>());
    // Its queue empty, the dispatcher retires: nothing more can be delivered after that.
    eventually("the dispatcher to retire", || {
        match te.engine.delivery().active_dispatchers() {
            0 => Ok(()),
            n => Err(format!("{n} dispatchers")),
        }
    })
    .await;

    assert_fifo(&stub, &logs, true, "EHR");
    assert_delivery_headers(&stub, "EHR");
    for (i, (a, id)) in stub.deliveries().iter().zip(&logs).enumerate() {
        assert_eq!(a.marker(), format!("m{i}"));
        let l = log(&te, *id);
        assert_eq!(l.status, LogStatus::Succeeded);
        assert_eq!(l.attempts, 1, "{}", describe(&l));
        // First attempt: the AttemptID handed out in the 200 of /endpoint.
        assert_eq!(a.meta_log(), (*id, l.attempt_id));
        assert_eq!(a.body["Meta"]["Source"]["Name"], "Lab");
        assert_eq!(a.body["Meta"]["Destinations"][0]["ID"], json!(ehr));
        let tried = attempts(&te, *id);
        assert_eq!(tried.len(), 1);
        assert_eq!(tried[0].number, 1);
        assert_eq!(tried[0].id, l.attempt_id);
        assert_eq!(tried[0].outcome, AttemptOutcome::Succeeded);
        assert_eq!(tried[0].http_status, Some(200));
        assert!(tried[0].error.is_none(), "{:?}", tried[0]);
    }
    // The admin API shows the attempt.
    let admin = te.admin_token(Role::Admin);
    let (status, detail) = te
        .get(&format!("/admin/v1/logs/{}", logs[0]), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["log"]["status"], "SUCCEEDED");
    assert_eq!(detail["log"]["attempts"], 1);
    let shown = &detail["attempts"][0];
    assert_eq!(shown["httpStatus"], 200, "{detail}");
    assert_eq!(shown["outcome"], "SUCCEEDED");
    assert_eq!(shown["responseBody"], r#"{"ok":true}"#);
    assert!(shown["latencyMs"].as_f64().is_some_and(|l| l >= 0.0));

    assert!(queued(&te, ehr).is_empty());
    eventually("the dispatcher to retire", || {
        match te.engine.delivery().active_dispatchers() {
            0 => Ok(()),
            n => Err(format!("{n} dispatchers")),
        }
    })
    .await;
}

// ---- 2. the fault matrix ---------------------------------------------------------------

struct FaultCase {
    /// Answers of the failing stub before its steady behaviour.
    script: Vec<Behave>,
    /// What it answers (cycled) until it recovers.
    fault: Vec<Behave>,
    /// Its destination settings.
    settings: &'static str,
    /// It must have seen this many requests before it recovers.
    min_requests: usize,
    /// Its first log must still be undelivered when the healthy destination has
    /// everything (false for flapping, which lets some through).
    held: bool,
    /// Each failed attempt must be recorded exactly as the stub answered (not for
    /// timeouts, where a loaded machine may also time out a healthy answer).
    exact: bool,
}

struct FaultRun {
    te: TestEngine,
    flaky: Stub,
    flaky_logs: Vec<Uuid>,
}

const MESSAGES: usize = 10;

/// One source sends to a failing destination ("Flaky") and a healthy one beside it.
/// The healthy one must get everything while the failing one still fails; then the
/// failing one recovers and must get everything in order.
async fn fault_case(case: FaultCase) -> FaultRun {
    let flaky = Stub::start(case.fault.clone()).await;
    flaky.script(case.script.clone());
    let healthy = Stub::ok().await;
    let config = source_toml("Lab", "development", None)
        + &push_destination("Flaky", "development", &flaky.url, case.settings)
        + &push_destination("Healthy", "development", &healthy.url, FAST)
        + &subscription_toml("Lab", "Flaky", &["*"])
        + &subscription_toml("Lab", "Healthy", &["*"]);
    let te = TestEngine::start(&config).await;
    let (f, h) = (te.destination_id("Flaky"), te.destination_id("Healthy"));
    let token = te.token("Lab").await;
    let sent = send_many(&te, &token, &[f, h], "MRN-1", "m", MESSAGES).await;
    let (flaky_logs, healthy_logs) = (logs_of(&sent, f), logs_of(&sent, h));

    eventually("the healthy destination to get everything", || {
        has_deliveries(&healthy, MESSAGES)
    })
    .await;
    if case.held {
        let first = log(&te, flaky_logs[0]);
        assert_eq!(
            first.status,
            LogStatus::Pending,
            "the failing destination took its first item before recovering: {}",
            describe(&first)
        );
        // Its queue waits behind the failed item.
        let arrived = folded(&flaky.log_ids());
        assert!(
            arrived.len() <= 1 && arrived.iter().all(|id| *id == flaky_logs[0]),
            "the failing queue moved past its head: {arrived:?}"
        );
    }
    let latencies: Vec<Duration> = healthy
        .deliveries()
        .iter()
        .zip(&sent)
        .map(|(a, s)| a.at.duration_since(s.at))
        .collect();
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    eprintln!("healthy destination beside the failing one: slowest send→arrival {slowest:?}");
    assert!(
        slowest < Duration::from_secs(5),
        "the healthy destination was held: {latencies:?}"
    );
    assert_fifo(&healthy, &healthy_logs, true, "Healthy");
    // (The stub records a request before the engine has its answer.)
    eventually("the healthy logs to be settled", || {
        all_status(&te, &healthy_logs, LogStatus::Succeeded)
    })
    .await;

    eventually("the failing destination to fail a few times", || {
        let n = flaky.arrivals().len();
        if n >= case.min_requests {
            Ok(())
        } else {
            Err(format!("{n} requests"))
        }
    })
    .await;
    flaky.recover();
    flaky.open_gate();
    eventually("the failing destination to get everything", || {
        all_status(&te, &flaky_logs, LogStatus::Succeeded)
    })
    .await;

    assert_fifo(&flaky, &flaky_logs, false, "Flaky");
    assert_delivery_headers(&flaky, "Flaky");
    assert!(queued(&te, f).is_empty() && queued(&te, h).is_empty());
    assert_eq!(healthy.log_ids(), healthy_logs, "healthy got repeats");

    for (i, id) in flaky_logs.iter().enumerate() {
        let l = log(&te, *id);
        let tried = attempts(&te, *id);
        assert_eq!(tried.len() as u32, l.attempts, "{}", describe(&l));
        assert_eq!(
            tried.iter().map(|a| a.number).collect::<Vec<_>>(),
            (1..=l.attempts).collect::<Vec<_>>()
        );
        let (last, failed) = tried.split_last().expect("an attempt");
        assert_eq!(last.outcome, AttemptOutcome::Succeeded, "{last:?}");
        assert!(
            last.http_status.is_some_and(|s| (200..300).contains(&s)),
            "{last:?}"
        );
        for a in failed {
            assert_eq!(a.outcome, AttemptOutcome::Failed, "{a:?}");
            assert!(
                a.error.as_deref().is_some_and(|e| !e.trim().is_empty()),
                "a failed attempt without an error: {a:?}"
            );
            assert!(a.latency_ms >= 0.0);
        }
        if i == 0 {
            assert!(l.attempts > 1, "{}", describe(&l));
        }
        if case.exact {
            // One attempt per request the stub saw, recorded as it answered.
            let seen = flaky.deliveries_of(*id);
            assert_eq!(seen.len(), tried.len(), "log {i}: {tried:#?}");
            for (a, s) in tried.iter().zip(&seen) {
                assert_eq!(a.http_status, s.behave.status(), "{a:?} vs {:?}", s.behave);
                assert_eq!(
                    a.outcome == AttemptOutcome::Succeeded,
                    s.behave.acknowledges(),
                    "{a:?} vs {:?}",
                    s.behave
                );
                // Each attempt names itself in Meta.Logs; the first one is the
                // AttemptID handed out when the request was accepted.
                assert_eq!(s.meta_log(), (*id, a.id));
            }
            assert_eq!(tried[0].id, l.attempt_id);
        }
    }
    FaultRun {
        te,
        flaky,
        flaky_logs,
    }
}

async fn fault_500_three_times_then_200() {
    let gated = Behave::Gated(Box::new(Behave::Status(500)));
    let run = fault_case(FaultCase {
        script: vec![Behave::Status(500), Behave::Status(500), gated],
        fault: vec![Behave::Ok],
        // The third 500 is held back until the healthy destination is done.
        settings: "retry_schedule_seconds = [0.05, 0.1]\ntimeout_seconds = 10\n",
        min_requests: 3,
        held: true,
        exact: true,
    })
    .await;
    let first = run.flaky_logs[0];
    let tried = attempts(&run.te, first);
    assert_eq!(tried.len(), 4, "{tried:#?}");
    for a in &tried[..3] {
        assert_eq!(a.http_status, Some(500));
        assert_eq!(a.error.as_deref(), Some("HTTP 500"));
        assert_eq!(a.response_body.as_deref(), Some(REFUSAL));
    }
    assert_eq!(tried[3].http_status, Some(200));
    // The waits follow the schedule (lower bounds only: 0.05 s and 0.1 s, −10 %).
    let at: Vec<Instant> = run
        .flaky
        .deliveries_of(first)
        .iter()
        .map(|a| a.at)
        .collect();
    assert!(at[1].duration_since(at[0]) >= Duration::from_millis(40));
    assert!(at[2].duration_since(at[1]) >= Duration::from_millis(85));
    for other in &run.flaky_logs[1..] {
        assert_eq!(log(&run.te, *other).attempts, 1);
    }
}

async fn fault_429_waits_for_retry_after_not_the_schedule() {
    let run = fault_case(FaultCase {
        script: vec![],
        fault: vec![Behave::RetryAfter(429, "1")],
        settings: FAST,
        min_requests: 2,
        held: true,
        exact: true,
    })
    .await;
    let first = run.flaky_logs[0];
    let seen = run.flaky.deliveries_of(first);
    assert!(seen.len() >= 2);
    for pair in seen.windows(2) {
        if pair[0].behave.status() == Some(429) {
            let gap = pair[1].at.duration_since(pair[0].at);
            assert!(
                gap >= Duration::from_millis(900),
                "retried {gap:?} after a 429 with Retry-After: 1 (the schedule says 0.05 s)"
            );
        }
    }
    for a in attempts(&run.te, first)
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Failed)
    {
        assert_eq!(a.http_status, Some(429));
        assert_eq!(a.error.as_deref(), Some("HTTP 429"));
    }
}

async fn fault_answers_slower_than_the_timeout() {
    let run = fault_case(FaultCase {
        script: vec![],
        fault: vec![late(2000, Behave::Ok)],
        settings: "retry_schedule_seconds = [0.05, 0.1]\ntimeout_seconds = 0.5\n",
        min_requests: 2,
        held: true,
        exact: false,
    })
    .await;
    let tried = attempts(&run.te, run.flaky_logs[0]);
    let failed: Vec<&Attempt> = tried
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Failed)
        .collect();
    assert!(failed.len() >= 2, "{tried:#?}");
    for a in failed {
        assert_eq!(a.http_status, None, "{a:?}");
        assert_eq!(a.error.as_deref(), Some("no answer within 0.5 s"), "{a:?}");
        assert!(a.latency_ms >= 450.0, "gave up early: {a:?}");
    }
}

fn assert_no_answer_recorded(run: &FaultRun) {
    let tried = attempts(&run.te, run.flaky_logs[0]);
    for a in tried.iter().filter(|a| a.outcome == AttemptOutcome::Failed) {
        assert_eq!(a.http_status, None, "{a:?}");
        assert!(a.response_body.is_none(), "{a:?}");
    }
}

async fn fault_connection_closed_without_an_answer() {
    let run = fault_case(FaultCase {
        script: vec![],
        fault: vec![Behave::Drop],
        settings: FAST,
        min_requests: 3,
        held: true,
        exact: true,
    })
    .await;
    assert_no_answer_recorded(&run);
}

async fn fault_connection_reset() {
    let run = fault_case(FaultCase {
        script: vec![],
        fault: vec![Behave::Reset],
        settings: FAST,
        min_requests: 3,
        held: true,
        exact: true,
    })
    .await;
    assert_no_answer_recorded(&run);
}

async fn fault_connection_closed_mid_response() {
    let run = fault_case(FaultCase {
        script: vec![],
        fault: vec![Behave::CloseMidResponse],
        settings: FAST,
        min_requests: 3,
        held: true,
        exact: true,
    })
    .await;
    assert_no_answer_recorded(&run);
}

async fn fault_flapping_up_and_down() {
    let run = fault_case(FaultCase {
        script: vec![],
        fault: vec![
            Behave::Status(500),
            Behave::Reset,
            Behave::Ok,
            Behave::Drop,
            Behave::Ok,
            Behave::Status(503),
            Behave::Ok,
            Behave::CloseMidResponse,
            Behave::Status(502),
            Behave::Ok,
            Behave::Ok,
        ],
        settings: FAST,
        min_requests: 8,
        held: false,
        exact: true,
    })
    .await;
    // 500, reset, then 200.
    assert_eq!(log(&run.te, run.flaky_logs[0]).attempts, 3);
    let failures: usize = run
        .flaky_logs
        .iter()
        .map(|id| log(&run.te, *id).attempts as usize - 1)
        .sum();
    let refused = run
        .flaky
        .deliveries()
        .iter()
        .filter(|a| !a.behave.acknowledges())
        .count();
    assert_eq!(failures, refused);
}

// ---- 3. pause and resume -----------------------------------------------------------------

async fn pause_holds_delivery_across_a_restart_and_resume_delivers_in_order() {
    let stub = Stub::ok().await;
    let other = Stub::ok().await;
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &push_destination("Other", "development", &other.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"])
        + &subscription_toml("Lab", "Other", &["*"]);
    let te = TestEngine::start(&config).await;
    let (ehr, oth) = (te.destination_id("EHR"), te.destination_id("Other"));
    let operator = te.admin_token(Role::Operator);
    let (status, body) = act(&te, &operator, "/destinations/EHR/pause").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"paused": true}));
    assert!(te.engine.delivery().is_paused(ehr));

    let token = te.token("Lab").await;
    let mut sent = send_many(&te, &token, &[ehr, oth], "MRN-1", "before-", 4).await;
    eventually("the unpaused destination to get its copies", || {
        has_deliveries(&other, 4)
    })
    .await;
    assert!(stub.arrivals().is_empty(), "delivered while paused");
    let held = logs_of(&sent, ehr);
    for id in &held {
        let l = log(&te, *id);
        assert_eq!((l.status, l.attempts), (LogStatus::Pending, 0));
    }
    assert_eq!(queued(&te, ehr), held);

    let te = te.restart().await;
    assert!(
        te.engine.delivery().is_paused(ehr),
        "pause did not survive a restart"
    );
    sent.extend(send_many(&te, &token, &[ehr, oth], "MRN-1", "after-", 3).await);
    eventually("the unpaused destination to get the later copies", || {
        has_deliveries(&other, 7)
    })
    .await;
    assert!(stub.arrivals().is_empty(), "delivered while paused");

    // Resume by ID (the action takes a name or an ID).
    let resumed = Instant::now();
    let (status, body) = act(&te, &operator, &format!("/destinations/{ehr}/resume")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"paused": false}));
    let all = logs_of(&sent, ehr);
    eventually("everything to arrive after resume", || {
        all_status(&te, &all, LogStatus::Succeeded)
    })
    .await;
    assert_delivered_after(&stub, resumed, "EHR (paused)");
    assert_fifo(&stub, &all, true, "EHR");
    assert_fifo(&other, &logs_of(&sent, oth), true, "Other");
    let markers: Vec<String> = stub
        .deliveries()
        .iter()
        .map(|a| a.marker().to_string())
        .collect();
    assert_eq!(
        markers,
        [
            "before-0", "before-1", "before-2", "before-3", "after-0", "after-1", "after-2"
        ]
    );

    let trail = audit(&te);
    for action in ["pause", "resume"] {
        assert!(
            trail.iter().any(|e| e.action == action
                && e.actor.contains("test-operator")
                && e.detail.as_deref() == Some("EHR")),
            "no {action} in the audit trail: {trail:#?}"
        );
    }
}

// ---- 4. quarantine ----------------------------------------------------------------------------

/// A rule refusing (400, a permanent failure) the messages whose marker is in `refused`.
fn refuse_markers(refused: &Arc<Mutex<HashSet<String>>>) -> Rule {
    let refused = refused.clone();
    Arc::new(move |body: &Value| {
        refused
            .lock()
            .expect("lock")
            .contains(marker_of(body))
            .then_some(Behave::Status(400))
    })
}

async fn quarantine_sets_poison_aside_and_operators_release_fail_and_quarantine() {
    let stub = Stub::ok().await;
    let refused = Arc::new(Mutex::new(HashSet::from([
        "POISON-1".to_string(),
        "POISON-2".to_string(),
    ])));
    stub.set_rule(Some(refuse_markers(&refused)));
    let manual = Stub::ok().await;
    manual.set_rule(Some(refuse_markers(&Arc::new(Mutex::new(HashSet::from(
        ["STUCK".to_string()],
    ))))));
    let config = source_toml("Lab", "development", None)
        + &push_destination(
            "EHR",
            "development",
            &stub.url,
            &format!("{FAST}quarantine_after = 2\n"),
        )
        // 0: never quarantined by the engine; an operator acts.
        + &push_destination(
            "Manual",
            "development",
            &manual.url,
            &format!("{FAST}quarantine_after = 0\n"),
        )
        + &subscription_toml("Lab", "EHR", &["*"])
        + &subscription_toml("Lab", "Manual", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let operator = te.admin_token(Role::Operator);
    let token = te.token("Lab").await;
    let mut ids = Vec::new();
    for marker in ["m0", "POISON-1", "m2", "m3", "POISON-2", "m5"] {
        ids.push(send(&te, &token, &[ehr], "MRN-1", marker).await.log(ehr));
    }
    let (m0, p1, m2, m3, p2, m5) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);

    eventually("the good messages to pass the poison ones", || {
        all_status(&te, &[m0, m2, m3, m5], LogStatus::Succeeded)
    })
    .await;
    eventually("both poison messages to be quarantined", || {
        let q = quarantined(&te, ehr);
        if q.contains(&p1) && q.contains(&p2) {
            Ok(())
        } else {
            Err(format!("quarantine {q:?}"))
        }
    })
    .await;
    assert_eq!(folded(&stub.log_ids()), vec![m0, p1, m2, m3, p2, m5]);
    for p in [p1, p2] {
        let l = log(&te, p);
        assert_eq!(
            (l.status, l.attempts, l.quarantined),
            (LogStatus::Pending, 2, true),
            "{}",
            describe(&l)
        );
        assert_eq!(stub.deliveries_of(p).len(), 2);
        assert!(
            attempts(&te, p)
                .iter()
                .all(|a| a.http_status == Some(400) && a.outcome == AttemptOutcome::Failed)
        );
    }
    assert!(queued(&te, ehr).is_empty());
    // The quarantine list of the admin API (by name).
    let (status, listed) = te
        .get("/admin/v1/destinations/EHR/quarantine", Some(&operator))
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed: HashSet<Uuid> = listed["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| uuid_of(&l["id"]))
        .collect();
    assert_eq!(listed, HashSet::from([p1, p2]));
    let trail = audit(&te);
    for p in [p1, p2] {
        assert!(
            trail
                .iter()
                .any(|e| e.action == "quarantine" && e.actor == "engine" && e.log_id == Some(p)),
            "{trail:#?}"
        );
    }

    // Release: the stub takes it now; it goes back to the head and is delivered.
    refused.lock().expect("lock").remove("POISON-1");
    let (status, body) = act(&te, &operator, &format!("/logs/{p1}/release")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(p1));
    assert_ne!(body["quarantined"], json!(true), "{body}");
    eventually("the released message to be delivered", || {
        all_status(&te, &[p1], LogStatus::Succeeded)
    })
    .await;
    assert_eq!(stub.deliveries_of(p1).len(), 3);
    assert_eq!(log(&te, p1).attempts, 3);
    assert_eq!(quarantined(&te, ehr), vec![p2]);

    // Fail: FAILED, out of quarantine, never delivered.
    let (status, body) = act(&te, &operator, &format!("/logs/{p2}/fail")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "FAILED");
    refused.lock().expect("lock").clear();
    // One more message through the same queue: once it is delivered, a FAILED log
    // still queued ahead of it would have been delivered first.
    let after = send(&te, &token, &[ehr], "MRN-1", "after-fail")
        .await
        .log(ehr);
    eventually("the message after the failed one", || {
        all_status(&te, &[after], LogStatus::Succeeded)
    })
    .await;
    let l = log(&te, p2);
    assert_eq!((l.status, l.quarantined), (LogStatus::Failed, false));
    assert_eq!(
        stub.deliveries_of(p2).len(),
        2,
        "a FAILED log was delivered"
    );
    assert!(quarantined(&te, ehr).is_empty() && queued(&te, ehr).is_empty());
    let (status, body) = act(&te, &operator, &format!("/logs/{p2}/release")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "not in quarantine");
    let (status, body) = act(&te, &operator, &format!("/logs/{p2}/fail")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "already FAILED");
    let (status, body) = act(&te, &operator, &format!("/logs/{m0}/quarantine")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "not queued");

    // An operator quarantines a stuck head by hand; the queue goes on.
    let man = te.destination_id("Manual");
    let mut stuck = Vec::new();
    for marker in ["STUCK", "n1", "n2"] {
        stuck.push(send(&te, &token, &[man], "MRN-1", marker).await.log(man));
    }
    eventually("the stuck head to fail twice", || {
        match manual.deliveries_of(stuck[0]).len() {
            n if n >= 2 => Ok(()),
            n => Err(format!("{n} attempts")),
        }
    })
    .await;
    for behind in &stuck[1..] {
        let l = log(&te, *behind);
        assert_eq!(
            (l.status, l.attempts),
            (LogStatus::Pending, 0),
            "queue moved on"
        );
    }
    let (status, body) = act(&te, &operator, &format!("/logs/{}/quarantine", stuck[0])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quarantined"], true);
    eventually("the queue behind the quarantined head to go on", || {
        all_status(&te, &stuck[1..], LogStatus::Succeeded)
    })
    .await;
    assert_eq!(folded(&manual.log_ids()), stuck);
    assert_eq!(quarantined(&te, man), vec![stuck[0]]);
    let l = log(&te, stuck[0]);
    assert_eq!((l.status, l.quarantined), (LogStatus::Pending, true));

    let trail = audit(&te);
    let by_operator = |action: &str, id: Uuid| {
        trail.iter().any(|e| {
            e.action == action && e.log_id == Some(id) && e.actor.contains("test-operator")
        })
    };
    assert!(by_operator("release", p1), "{trail:#?}");
    assert!(by_operator("mark-failed", p2), "{trail:#?}");
    assert!(by_operator("quarantine", stuck[0]), "{trail:#?}");
}

/// An operator marks the head FAILED while an attempt at it is in flight; the attempt
/// then fails and reaches `quarantine_after`. The log must stay FAILED and out of
/// quarantine.
async fn a_log_failed_while_in_flight_is_not_quarantined_afterwards() {
    let stub = Stub::start(vec![late(800, Behave::Status(400))]).await;
    let config = source_toml("Lab", "development", None)
        + &push_destination(
            "EHR",
            "development",
            &stub.url,
            "retry_schedule_seconds = [0.05]\ntimeout_seconds = 10\nquarantine_after = 1\n",
        )
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let operator = te.admin_token(Role::Operator);
    let token = te.token("Lab").await;
    let first = send(&te, &token, &[ehr], "MRN-1", "m0").await.log(ehr);
    let second = send(&te, &token, &[ehr], "MRN-1", "m1").await.log(ehr);
    eventually("the first attempt to be in flight", || {
        has_deliveries(&stub, 1)
    })
    .await;
    stub.recover();
    let (status, body) = act(&te, &operator, &format!("/logs/{first}/fail")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the next message to be delivered", || {
        all_status(&te, &[second], LogStatus::Succeeded)
    })
    .await;
    let l = log(&te, first);
    assert_eq!(l.attempts, 1, "the attempt in flight is recorded");
    assert_eq!(l.status, LogStatus::Failed, "{}", describe(&l));
    assert!(
        !l.quarantined && quarantined(&te, ehr).is_empty(),
        "a log the operator marked FAILED was put in quarantine when its in-flight attempt \
         failed: {} (quarantine {:?})",
        describe(&l),
        quarantined(&te, ehr)
    );
    assert_eq!(stub.deliveries_of(first).len(), 1);
}

/// An operator quarantines the head while an attempt at it is in flight, and the
/// destination acknowledges that attempt. The destination has the message: the log must
/// say SUCCEEDED, not sit in quarantine waiting to be released and sent again.
async fn a_log_acknowledged_while_being_quarantined_is_settled() {
    let stub = Stub::start(vec![late(800, Behave::Ok)]).await;
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let operator = te.admin_token(Role::Operator);
    let token = te.token("Lab").await;
    let first = send(&te, &token, &[ehr], "MRN-1", "m0").await.log(ehr);
    eventually("the first attempt to be in flight", || {
        has_deliveries(&stub, 1)
    })
    .await;
    let (status, body) = act(&te, &operator, &format!("/logs/{first}/quarantine")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the attempt in flight to be recorded", || {
        match log(&te, first).attempts {
            1 => Ok(()),
            n => Err(format!("{n} attempts")),
        }
    })
    .await;
    let tried = attempts(&te, first);
    assert_eq!(tried[0].outcome, AttemptOutcome::Succeeded);
    let l = log(&te, first);
    assert_eq!(
        (l.status, l.quarantined, quarantined(&te, ehr)),
        (LogStatus::Succeeded, false, vec![]),
        "the destination acknowledged the message, yet its log is {}",
        describe(&l)
    );
}

// ---- 5. resend ------------------------------------------------------------------------------------

async fn resending_a_delivered_log_delivers_it_again_under_a_new_log() {
    let stub = Stub::ok().await;
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let operator = te.admin_token(Role::Operator);
    let token = te.token("Lab").await;
    let original = send(&te, &token, &[ehr], "MRN-1", "m0").await.log(ehr);
    eventually("the original to be delivered", || {
        all_status(&te, &[original], LogStatus::Succeeded)
    })
    .await;

    let (status, body) = act(&te, &operator, &format!("/logs/{original}/resend")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resent = uuid_of(&body["id"]);
    assert_ne!(resent, original);
    assert_eq!(body["resendOf"], json!(original));
    assert_eq!(body["attempts"], 0);
    eventually("the resend to be delivered", || {
        all_status(&te, &[resent], LogStatus::Succeeded)
    })
    .await;
    assert_fifo(&stub, &[original, resent], true, "EHR");
    let deliveries = stub.deliveries();
    let new_log = log(&te, resent);
    assert_eq!(new_log.resend_of, Some(original));
    assert_eq!(new_log.attempts, 1);
    assert_eq!(deliveries[1].meta_log(), (resent, new_log.attempt_id));
    assert_eq!(deliveries[1].body["Patient"], deliveries[0].body["Patient"]);
    assert_eq!(deliveries[1].marker(), "m0");
    let old = log(&te, original);
    assert_eq!((old.status, old.attempts), (LogStatus::Succeeded, 1));
    assert!(audit(&te).iter().any(|e| e.action == "resend"
        && e.log_id == Some(original)
        && e.detail == Some(format!("new log {resent}"))));
}

// ---- 6. per-patient child queues ------------------------------------------------------------------

async fn per_patient_queues_let_other_patients_pass_a_failing_one() {
    let refuse_a = Arc::new(Mutex::new(true));
    let rule = |refuse: &Arc<Mutex<bool>>| -> Rule {
        let refuse = refuse.clone();
        Arc::new(move |body: &Value| {
            (*refuse.lock().expect("lock") && patient_of(body) == "A")
                .then_some(Behave::Status(503))
        })
    };
    let lanes = Stub::ok().await;
    lanes.set_rule(Some(rule(&refuse_a)));
    let pair = Stub::ok().await;
    pair.set_rule(Some(rule(&refuse_a)));
    let config = source_toml("Lab", "development", None)
        + &push_destination(
            "Lanes",
            "development",
            &lanes.url,
            &format!("{FAST}queue_key = \"patient\"\n"),
        )
        + &push_destination("Pair", "development", &pair.url, FAST)
        + &subscription_toml("Lab", "Lanes", &["*"])
        + &subscription_toml("Lab", "Pair", &["*"]);
    let te = TestEngine::start(&config).await;
    let (l, p) = (te.destination_id("Lanes"), te.destination_id("Pair"));
    let token = te.token("Lab").await;
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut sent = Vec::new();
    for i in 0..3 {
        let s = send(&te, &token, &[l, p], "A", &format!("a{i}")).await;
        a.push(s.log(l));
        sent.push(s);
        let s = send(&te, &token, &[l, p], "B", &format!("b{i}")).await;
        b.push(s.log(l));
        sent.push(s);
    }
    eventually("patient B to pass patient A", || {
        all_status(&te, &b, LogStatus::Succeeded)
    })
    .await;
    eventually("A's head to have failed twice", || {
        match lanes.deliveries_of(a[0]).len() {
            n if n >= 2 => Ok(()),
            n => Err(format!("{n} attempts")),
        }
    })
    .await;
    for later in &a[1..] {
        let rec = log(&te, *later);
        assert_eq!(
            (rec.status, rec.attempts),
            (LogStatus::Pending, 0),
            "A's queue moved past its failing head"
        );
    }
    // Without patient queues, everything from the source waits behind A's head.
    let pair_logs = logs_of(&sent, p);
    eventually("the shared queue to try A's head", || {
        has_deliveries(&pair, 1)
    })
    .await;
    assert_eq!(folded(&pair.log_ids()), vec![pair_logs[0]]);
    assert_eq!(log(&te, pair_logs[1]).attempts, 0);

    *refuse_a.lock().expect("lock") = false;
    eventually("A's messages after A recovers", || {
        all_status(&te, &a, LogStatus::Succeeded)
    })
    .await;
    eventually("the shared queue to drain", || {
        all_status(&te, &pair_logs, LogStatus::Succeeded)
    })
    .await;
    let arrived = lanes.log_ids();
    let only = |set: &[Uuid]| -> Vec<Uuid> {
        arrived
            .iter()
            .copied()
            .filter(|id| set.contains(id))
            .collect()
    };
    assert_eq!(folded(&only(&a)), a, "A out of order");
    assert_eq!(only(&b), b, "B out of order or repeated");
    assert!(log(&te, a[0]).attempts >= 3);
    assert_fifo(&pair, &pair_logs, false, "Pair");
    // B overtook A at the lane destination.
    let first_a_success = lanes
        .deliveries()
        .iter()
        .position(|x| x.log_id() == Some(a[0]) && x.behave.acknowledges())
        .expect("A delivered");
    let last_b = arrived.iter().rposition(|id| *id == b[2]).expect("b2");
    assert!(last_b < first_a_success);
}

// ---- 7. poll mode ------------------------------------------------------------------------------

async fn poll_call(
    te: &TestEngine,
    token: Option<&str>,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = te.client.post(te.url(path)).json(body);
    if let Some(token) = token {
        request = request.header("verification-token", token);
    }
    let response = request.send().await.expect("poll request");
    let status = response.status();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn poll(te: &TestEngine, destination: Uuid, max: usize, lease: u64) -> Vec<(Uuid, Value)> {
    let token = verification_token("Poller");
    let (status, body) = poll_call(
        te,
        Some(&token),
        "/poll",
        &json!({"destination": destination, "max": max, "leaseSeconds": lease}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (uuid_of(&i["logId"]), i["payload"].clone()))
        .collect()
}

async fn ack(te: &TestEngine, destination: Uuid, ids: &[Uuid]) -> (StatusCode, Value) {
    poll_call(
        te,
        Some(&verification_token("Poller")),
        "/poll/ack",
        &json!({"destination": destination, "logIds": ids}),
    )
    .await
}

fn ids(items: &[(Uuid, Value)]) -> Vec<Uuid> {
    items.iter().map(|(id, _)| *id).collect()
}

async fn poll_destinations_lease_ack_and_are_never_pushed_to() {
    let stub = Stub::ok().await;
    let config = source_toml("Lab", "development", None)
        + &poll_destination("Poller", "development", Some(&stub.url))
        + &poll_destination("Poller2", "development", None)
        + &push_destination("Pusher", "development", &closed_url(), FAST)
        + &subscription_toml("Lab", "Poller", &["*"])
        + &subscription_toml("Lab", "Poller2", &["*"]);
    let te = TestEngine::start(&config).await;
    let (pd, other) = (te.destination_id("Poller"), te.destination_id("Poller2"));
    let token = te.token("Lab").await;
    let sent = send_many(&te, &token, &[pd, other], "MRN-1", "m", 5).await;
    let logs = logs_of(&sent, pd);

    // Oldest first, max respected.
    let first = poll(&te, pd, 2, 60).await;
    assert_eq!(ids(&first), logs[..2]);
    for (i, (id, payload)) in first.iter().enumerate() {
        assert_eq!(payload["Meta"]["Logs"][0]["ID"], json!(id));
        assert_eq!(marker_of(payload), format!("m{i}"));
    }
    // Within the lease: the next items, then nothing.
    assert_eq!(ids(&poll(&te, pd, 10, 60).await), logs[2..]);
    assert!(poll(&te, pd, 10, 60).await.is_empty());

    let (status, body) = ack(&te, pd, &logs[2..]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"acknowledged": 3}));
    let (_, body) = ack(&te, pd, &logs[2..3]).await;
    assert_eq!(body, json!({"acknowledged": 0}), "acknowledged twice");
    assert_eq!(all_status(&te, &logs[2..], LogStatus::Succeeded), Ok(()));
    for id in &logs[2..] {
        let tried = attempts(&te, *id);
        assert_eq!(tried.len(), 1);
        assert_eq!(tried[0].outcome, AttemptOutcome::Succeeded);
    }
    let (_, body) = ack(&te, pd, &logs[..1]).await;
    assert_eq!(body, json!({"acknowledged": 1}));
    // History shows them settled.
    let admin = te.admin_token(Role::Admin);
    let (status, page) = te
        .get_query(
            "/admin/v1/logs",
            &admin,
            &[("destination", "Poller"), ("status", "SUCCEEDED")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let settled: HashSet<Uuid> = page["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| uuid_of(&l["id"]))
        .collect();
    assert_eq!(settled, HashSet::from([logs[0], logs[2], logs[3], logs[4]]));

    // A lease that runs out hands the item out again.
    let late = send(&te, &token, &[pd], "MRN-1", "late").await.log(pd);
    let leased_at = Instant::now();
    assert_eq!(ids(&poll(&te, pd, 10, 1).await), vec![late]);
    let again = loop {
        let items = poll(&te, pd, 10, 60).await;
        if !items.is_empty() {
            break items;
        }
        assert!(leased_at.elapsed() < DEADLINE, "the lease never ran out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        leased_at.elapsed() >= Duration::from_millis(900),
        "handed out again after {:?} of a 1 s lease",
        leased_at.elapsed()
    );
    assert_eq!(ids(&again), vec![late]);

    // Errors: wrong or missing token, another destination's logs, unknown IDs.
    let body = json!({"destination": pd, "max": 10});
    let (status, answer) = poll_call(&te, Some("wrong"), "/poll", &body).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNAUTHORIZED,
        "verification-token",
    );
    let (status, answer) = poll_call(&te, None, "/poll", &body).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNAUTHORIZED,
        "verification-token",
    );
    let (status, answer) = poll_call(
        &te,
        Some("wrong"),
        "/poll/ack",
        &json!({"destination": pd, "logIds": [late]}),
    )
    .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNAUTHORIZED,
        "verification-token",
    );
    let theirs = sent[0].log(other);
    let (status, answer) = ack(&te, pd, &[late, theirs]).await;
    assert_error(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "another destination",
    );
    assert_eq!(
        log(&te, late).status,
        LogStatus::Pending,
        "acked despite the 403"
    );
    assert_eq!(log(&te, theirs).status, LogStatus::Pending);
    let (status, answer) = ack(&te, pd, &[Uuid::new_v4()]).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "no log");
    let (status, answer) = poll_call(
        &te,
        Some(&verification_token("Poller")),
        "/poll",
        &json!({"destination": Uuid::new_v4()}),
    )
    .await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not a destination");
    let (status, answer) = poll_call(
        &te,
        Some(&verification_token("Pusher")),
        "/poll",
        &json!({"destination": te.destination_id("Pusher")}),
    )
    .await;
    assert_error(status, &answer, StatusCode::BAD_REQUEST, "push destination");

    let (_, body) = ack(&te, pd, &[late, logs[1]]).await;
    assert_eq!(body, json!({"acknowledged": 2}));
    let l = log(&te, late);
    assert_eq!((l.status, l.attempts), (LogStatus::Succeeded, 1));
    assert_eq!(all_status(&te, &logs, LogStatus::Succeeded), Ok(()));
    assert!(queued(&te, pd).is_empty());
    assert!(poll(&te, pd, 10, 60).await.is_empty());

    // Never pushed to, even with a URL: every item has sat in its queue past the 1 s
    // lease awaited above, and no dispatcher runs for a poll destination.
    assert!(
        stub.arrivals().is_empty(),
        "a poll destination was pushed to"
    );
    assert_eq!(te.engine.delivery().active_dispatchers(), 0);
}

// ---- 8. endpoint verification --------------------------------------------------------------------

fn staging_config(destinations: &[(&str, &str, &str)]) -> String {
    let mut c = source_toml("Stage Lab", "staging", None);
    for (name, url, extra) in destinations {
        c += &push_destination(name, "staging", url, &format!("{FAST}{extra}"));
    }
    for (name, _, _) in destinations {
        c += &subscription_toml("Stage Lab", name, &["*"]);
    }
    c
}

/// The verification record kept for a destination (a file, or a shared record).
fn verification(te: &TestEngine, destination: Uuid) -> Option<Value> {
    let stored = te.engine.verification_records().stored(destination)?;
    Some(serde_json::to_value(stored).expect("JSON"))
}

async fn verification_holds_staging_until_the_endpoint_echoes_the_challenge() {
    let post = Stub::ok().await;
    let get = Stub::ok().await;
    let wrong = Stub::start(vec![Behave::EchoWrong]).await;
    let trusted = Stub::ok().await;
    let config = staging_config(&[
        ("StagePost", post.url.as_str(), ""),
        (
            "StageGet",
            get.url.as_str(),
            "verification_method = \"get\"\n",
        ),
        ("StageWrong", wrong.url.as_str(), ""),
        ("StageTrusted", trusted.url.as_str(), "verified = true\n"),
    ]);
    let te = TestEngine::start(&config).await;
    let d = |n: &str| te.destination_id(n);
    let operator = te.admin_token(Role::Operator);
    let token = te.token("Stage Lab").await;
    let everyone = [
        d("StagePost"),
        d("StageGet"),
        d("StageWrong"),
        d("StageTrusted"),
    ];
    let sent = send_many(&te, &token, &everyone, "MRN-1", "m", 3).await;

    // verified = true in the config needs no challenge.
    let trusted_logs = logs_of(&sent, d("StageTrusted"));
    eventually("the trusted destination to be delivered to", || {
        all_status(&te, &trusted_logs, LogStatus::Succeeded)
    })
    .await;
    for name in ["StagePost", "StageGet", "StageWrong"] {
        let held = logs_of(&sent, d(name));
        for id in &held {
            let l = log(&te, *id);
            assert_eq!((l.status, l.attempts), (LogStatus::Pending, 0), "{name}");
        }
        assert_eq!(queued(&te, d(name)), held, "{name}");
    }
    assert!(post.arrivals().is_empty() && get.arrivals().is_empty());
    assert!(wrong.arrivals().is_empty());

    // POST challenge.
    let verified = Instant::now();
    let (status, body) = act(&te, &operator, "/destinations/StagePost/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);
    assert!(is_utc_millis(
        body["verifiedAt"].as_str().expect("verifiedAt")
    ));
    let challenge = &post.arrivals()[0];
    assert_eq!(challenge.method, "POST");
    assert_eq!(
        challenge.body["verification-token"],
        verification_token("StagePost")
    );
    let uuid = uuid_of(&challenge.body["challenge"]);
    assert!(verification(&te, d("StagePost")).is_some());
    let post_logs = logs_of(&sent, d("StagePost"));
    eventually("the verified destination's queue to be delivered", || {
        all_status(&te, &post_logs, LogStatus::Succeeded)
    })
    .await;
    assert_fifo(&post, &post_logs, true, "StagePost");
    assert_delivery_headers(&post, "StagePost");
    assert_delivered_after(&post, verified, "StagePost (unverified)");

    // GET challenge.
    let verified = Instant::now();
    let (status, body) = act(&te, &operator, "/destinations/StageGet/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let challenge = &get.arrivals()[0];
    assert_eq!(challenge.method, "GET");
    let echoed = query_param(&challenge.target, "challenge").expect("challenge param");
    assert_ne!(echoed, uuid.to_string(), "the same challenge twice");
    assert_eq!(
        query_param(&challenge.target, "verification-token"),
        Some(verification_token("StageGet"))
    );
    let get_logs = logs_of(&sent, d("StageGet"));
    eventually("the GET-verified destination's queue", || {
        all_status(&te, &get_logs, LogStatus::Succeeded)
    })
    .await;
    assert_fifo(&get, &get_logs, true, "StageGet");
    assert_delivered_after(&get, verified, "StageGet (unverified)");

    // A wrong echo: 422, not verified, still held.
    let (status, body) = act(&te, &operator, "/destinations/StageWrong/verify").await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "challenge");
    assert!(verification(&te, d("StageWrong")).is_none());
    let (status, _) = act(&te, &operator, "/destinations/StageWrong/retry").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wrong.arrivals().len(), 1, "only the challenge");
    for id in logs_of(&sent, d("StageWrong")) {
        assert_eq!(log(&te, id).attempts, 0);
    }
    let trail = audit(&te);
    let verifies: Vec<&AuditEntry> = trail.iter().filter(|e| e.action == "verify").collect();
    assert_eq!(verifies.len(), 3, "{trail:#?}");
    assert!(verifies.iter().all(|e| e.actor.contains("test-operator")));
    assert!(verifies.iter().any(|e| {
        e.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("StageWrong: ") && d.contains("challenge"))
    }));

    // Once it echoes right, its queue goes, and none of it went before (the retry
    // above included).
    wrong.set_cycle(vec![Behave::Ok]);
    let verified = Instant::now();
    let (status, body) = act(&te, &operator, "/destinations/StageWrong/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let wrong_logs = logs_of(&sent, d("StageWrong"));
    eventually("the queue behind the corrected echo", || {
        all_status(&te, &wrong_logs, LogStatus::Succeeded)
    })
    .await;
    assert_fifo(&wrong, &wrong_logs, true, "StageWrong");
    assert_delivered_after(&wrong, verified, "StageWrong (unverified)");
}

async fn the_cli_verifies_a_destination_while_the_engine_runs() {
    let good = Stub::ok().await;
    let bad = Stub::start(vec![Behave::EchoWrong]).await;
    let config = staging_config(&[
        ("StageCli", good.url.as_str(), ""),
        ("StageBad", bad.url.as_str(), ""),
    ]);
    let te = TestEngine::start(&config).await;
    let cli = te.destination_id("StageCli");
    let token = te.token("Stage Lab").await;
    let sent = send_many(&te, &token, &[cli], "MRN-1", "m", 2).await;
    let logs = logs_of(&sent, cli);

    let run = |name: &'static str| {
        let data_dir = te.data_dir.clone();
        let config_path = te.config_path.clone();
        let store = te.store_env();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .envs(store)
                .args(["destinations", "verify", name, "--data-dir"])
                .arg(&data_dir)
                .arg("--config")
                .arg(&config_path)
                .output()
                .expect("run switchboard")
        })
    };
    let out = run("StageBad").await.expect("join");
    assert!(!out.status.success(), "a wrong echo verified");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not verified"), "{stderr}");
    assert!(verification(&te, te.destination_id("StageBad")).is_none());

    assert!(good.arrivals().is_empty(), "delivered before verification");
    let verified = Instant::now();
    let out = run("StageCli").await.expect("join");
    assert!(
        out.status.success(),
        "verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified \"StageCli\""));
    let record = verification(&te, cli).expect("a verification record");
    assert_eq!(record["destinationId"], json!(cli));
    assert_eq!(record["url"], good.url);
    assert!(
        te.engine
            .is_verified(te.engine.registry().destination(cli).expect("cli"))
    );

    // Connections say so, in the admin API and on the command line.
    let admin = te.admin_token(Role::Admin);
    let (status, view) = te.get("/admin/v1/connections", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let verified_in = |destinations: &Value, name: &str| {
        destinations
            .as_array()
            .and_then(|all| all.iter().find(|d| d["name"] == name))
            .map(|d| d["verified"].clone())
    };
    assert_eq!(
        verified_in(&view["destinations"], "StageCli"),
        Some(json!(true)),
        "{view}"
    );
    assert_eq!(
        verified_in(&view["destinations"], "StageBad"),
        Some(json!(false)),
        "{view}"
    );
    let listed = {
        let (data_dir, config_path) = (te.data_dir.clone(), te.config_path.clone());
        let store = te.store_env();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .envs(store)
                .args(["connections", "--json", "--data-dir"])
                .arg(&data_dir)
                .arg("--config")
                .arg(&config_path)
                .output()
                .expect("run switchboard")
        })
        .await
        .expect("join")
    };
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("connections --json");
    assert_eq!(
        verified_in(&listed["destinations"], "StageCli"),
        Some(json!(true)),
        "{listed}"
    );
    assert_eq!(
        verified_in(&listed["destinations"], "StageBad"),
        Some(json!(false)),
        "{listed}"
    );

    // The engine picks the record up at its next look; "retry" makes that now.
    let operator = te.admin_token(Role::Operator);
    let (status, _) = act(&te, &operator, "/destinations/StageCli/retry").await;
    assert_eq!(status, StatusCode::OK);
    eventually("the CLI-verified destination's queue", || {
        all_status(&te, &logs, LogStatus::Succeeded)
    })
    .await;
    assert_fifo(&good, &logs, true, "StageCli");
    assert_delivered_after(&good, verified, "StageCli (unverified)");
}

// ---- 9. operator permissions and retry-now ----------------------------------------------------------

async fn operator_actions_need_an_operator_token_and_are_audited() {
    let stub = Stub::ok().await;
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let token = te.token("Lab").await;
    let id = send(&te, &token, &[ehr], "MRN-1", "m0").await.log(ehr);
    eventually("delivery", || all_status(&te, &[id], LogStatus::Succeeded)).await;
    let before = audit(&te).len();

    let viewer = te.admin_token(Role::Viewer);
    let phi = te.admin_token(Role::Phi);
    let operator = te.admin_token(Role::Operator);
    let admin = te.admin_token(Role::Admin);
    for who in [&viewer, &phi] {
        for action in ["pause", "resume", "retry", "verify"] {
            let (status, body) = act(&te, who, &format!("/destinations/EHR/{action}")).await;
            assert_error(status, &body, StatusCode::FORBIDDEN, "operator");
        }
        for action in ["quarantine", "release", "fail", "resend"] {
            let (status, body) = act(&te, who, &format!("/logs/{id}/{action}")).await;
            assert_error(status, &body, StatusCode::FORBIDDEN, "operator");
        }
    }
    let (status, body) = te
        .post_raw("/admin/v1/destinations/EHR/pause", None, b"")
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "authorization");
    let (status, body) = act(&te, "not-a-token", "/destinations/EHR/pause").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(!te.engine.delivery().is_paused(ehr));
    assert_eq!(log(&te, id).status, LogStatus::Succeeded);
    assert_eq!(stub.log_ids(), vec![id], "a refused resend was sent");
    // Each refusal to a genuine token is audited as such, and nothing else is; the
    // requests without one name no one and are not.
    let trail = audit(&te);
    let added = &trail[..trail.len() - before];
    assert_eq!(added.len(), 16, "{added:#?}");
    let before = trail.len();
    assert!(
        added
            .iter()
            .all(|e| e.action == "refused" && e.outcome.as_deref() == Some("refused")),
        "{added:#?}"
    );
    // Reading the quarantine list is allowed to a viewer.
    let (status, body) = te
        .get("/admin/v1/destinations/EHR/quarantine", Some(&viewer))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"logs": []}));

    // Unknown actions and targets.
    let (status, body) = act(&te, &operator, "/destinations/EHR/explode").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "unknown destination action",
    );
    let (status, body) = act(&te, &operator, &format!("/logs/{id}/explode")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "unknown log action");
    let (status, body) = act(&te, &operator, "/destinations/Nowhere/pause").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no destination");
    let (status, body) = act(&te, &operator, &format!("/logs/{}/fail", Uuid::new_v4())).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no log");
    let (status, body) = act(&te, &operator, "/logs/not-a-log/fail").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "not a log id");
    let trail = audit(&te);
    assert_eq!(trail.len(), before + 5, "each refusal audited: {trail:#?}");
    assert!(trail[..5].iter().all(|e| e.action == "refused"));
    let before = trail.len();

    // Allowed actions, each audited with the token's name.
    for (who, name, path, action) in [
        (
            &operator,
            "test-operator",
            "/destinations/EHR/pause",
            "pause",
        ),
        (&admin, "test-admin", "/destinations/EHR/resume", "resume"),
        (
            &operator,
            "test-operator",
            "/destinations/EHR/retry",
            "retry-now",
        ),
    ] {
        let (status, body) = act(&te, who, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let trail = audit(&te);
        let last = &trail[0];
        assert_eq!(last.action, action);
        assert!(
            last.actor.starts_with(&format!("token:{name} (")),
            "{last:?}"
        );
        assert_eq!(last.detail.as_deref(), Some("EHR"));
    }
    let (status, body) = act(&te, &admin, &format!("/logs/{id}/resend")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trail = audit(&te);
    assert_eq!(trail[0].action, "resend");
    assert_eq!(trail[0].log_id, Some(id));
    assert!(trail[0].actor.starts_with("token:test-admin ("));
    assert_eq!(audit(&te).len(), before + 4);
}

async fn retry_now_cuts_a_long_wait_short() {
    let stub = Stub::start(vec![Behave::Status(500)]).await;
    let config = source_toml("Lab", "development", None)
        + &push_destination(
            "EHR",
            "development",
            &stub.url,
            "retry_schedule_seconds = [30]\ntimeout_seconds = 5\n",
        )
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let token = te.token("Lab").await;
    let sent = send_many(&te, &token, &[ehr], "MRN-1", "m", 3).await;
    let logs = logs_of(&sent, ehr);
    eventually("the first attempt to fail", || {
        match log(&te, logs[0]).attempts {
            0 => Err("no attempt yet".into()),
            _ => Ok(()),
        }
    })
    .await;
    stub.recover();
    assert_eq!(stub.arrivals().len(), 1, "retried before the 30 s wait");
    let operator = te.admin_token(Role::Operator);
    let asked = Instant::now();
    let (status, body) = act(&te, &operator, "/destinations/EHR/retry").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"retrying": true}));
    eventually("delivery after retry-now", || {
        all_status(&te, &logs, LogStatus::Succeeded)
    })
    .await;
    assert!(asked.elapsed() < Duration::from_secs(10));
    assert_fifo(&stub, &logs, false, "EHR");
    assert_eq!(log(&te, logs[0]).attempts, 2);
    // The second try was the operator's, not the schedule's.
    let arrivals = stub.arrivals();
    assert!(arrivals[1].at >= asked, "retried before retry-now");
}

/// An operator action on one log kicks every dispatcher of its destination. A kick that
/// lands while an attempt is in flight must not be kept for later: it would cut short
/// the wait the peer asks for in its answer to that attempt.
async fn an_operator_action_during_an_attempt_does_not_skip_the_peers_retry_after() {
    let stub = Stub::ok().await;
    stub.script(vec![late(600, Behave::RetryAfter(429, "2"))]);
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let operator = te.admin_token(Role::Operator);
    let token = te.token("Lab").await;
    let head = send(&te, &token, &[ehr], "MRN-1", "m0").await.log(ehr);
    let behind = send(&te, &token, &[ehr], "MRN-1", "m1").await.log(ehr);
    eventually("the head to be in flight", || has_deliveries(&stub, 1)).await;
    // The operator gives up on the message behind the head.
    let (status, body) = act(&te, &operator, &format!("/logs/{behind}/fail")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the head to be delivered", || {
        all_status(&te, &[head], LogStatus::Succeeded)
    })
    .await;
    let seen = stub.deliveries_of(head);
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at.duration_since(seen[0].at);
    // 0.6 s to answer, then the 2 s the peer asked for.
    assert!(
        gap >= Duration::from_millis(2400),
        "retried {gap:?} after the first request although the peer answered 429 with \
         Retry-After: 2 (the operator's earlier kick was kept and cut that wait short)"
    );
    assert_eq!(stub.deliveries_of(behind).len(), 0);
}

// ---- pause and a crash -------------------------------------------------------------------------

async fn serve(dir: PathBuf) -> (Served, String) {
    tokio::task::spawn_blocking(move || {
        let mut command = serve_command(&dir);
        command.env("SWITCHBOARD_LOG", "error");
        spawn_serve(command)
    })
    .await
    .expect("join")
}

/// The operator's 200 to `pause` must mean the pause is kept, as the 200 of
/// `/endpoint` means the request is: after a crash (SIGKILL) and a restart, the
/// destination must still be paused.
async fn a_pause_acknowledged_before_a_crash_is_still_in_force_after_it() {
    let stub = Stub::ok().await;
    let other = Stub::ok().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = source_toml("Lab", "development", None)
        + &push_destination("EHR", "development", &stub.url, FAST)
        + &push_destination("Other", "development", &other.url, FAST)
        + &subscription_toml("Lab", "EHR", &["*"])
        + &subscription_toml("Lab", "Other", &["*"]);
    std::fs::write(dir.path().join("config.toml"), config).expect("config");
    let operator = cli_json(
        dir.path(),
        &["tokens", "create", "--role", "operator", "--name", "ops"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Lab"]);
    let http = client();

    let (mut engine, base) = serve(dir.path().to_path_buf()).await;
    let response = http
        .post(format!("{base}/admin/v1/destinations/EHR/pause"))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("pause");
    assert_eq!(response.status(), StatusCode::OK);
    engine.0.kill().expect("SIGKILL");
    engine.0.wait().expect("reap");

    let (_engine, base) = serve(dir.path().to_path_buf()).await;
    let connections: Value = http
        .get(format!("{base}/admin/v1/connections"))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("connections")
        .json()
        .await
        .expect("JSON");
    let ehr_view = connections["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "EHR")
        .expect("EHR");
    assert_eq!(
        ehr_view["paused"],
        json!(true),
        "the pause acknowledged (200) before the crash was not written durably: {ehr_view}"
    );
    let ehr = uuid_of(&ehr_view["id"]);
    let oth = connections["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "Other")
        .map(|d| uuid_of(&d["id"]))
        .expect("Other");
    let access = access_token(&base, &key).await;
    let response = http
        .post(format!("{base}/endpoint"))
        .bearer_auth(&access)
        .json(&message(&[ehr, oth], "MRN-1", "m0"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    eventually("the unpaused destination to get its copy", || {
        has_deliveries(&other, 1)
    })
    .await;
    assert!(
        stub.deliveries().is_empty(),
        "delivered to a destination paused (200) before the crash"
    );
    // Held until resumed: whatever arrives, arrives after the resume.
    let resumed = Instant::now();
    let response = http
        .post(format!("{base}/admin/v1/destinations/EHR/resume"))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("resume");
    assert_eq!(response.status(), StatusCode::OK);
    eventually("the delivery after resume", || has_deliveries(&stub, 1)).await;
    assert_delivered_after(&stub, resumed, "EHR (paused before the crash)");
}

crate::on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] twenty_notifications_arrive_in_order_once_with_the_right_headers;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_500_three_times_then_200;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_429_waits_for_retry_after_not_the_schedule;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_answers_slower_than_the_timeout;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_connection_closed_without_an_answer;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_connection_reset;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_connection_closed_mid_response;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] fault_flapping_up_and_down;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] pause_holds_delivery_across_a_restart_and_resume_delivers_in_order;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] quarantine_sets_poison_aside_and_operators_release_fail_and_quarantine;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_log_failed_while_in_flight_is_not_quarantined_afterwards;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_log_acknowledged_while_being_quarantined_is_settled;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] resending_a_delivered_log_delivers_it_again_under_a_new_log;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] per_patient_queues_let_other_patients_pass_a_failing_one;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] poll_destinations_lease_ack_and_are_never_pushed_to;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] verification_holds_staging_until_the_endpoint_echoes_the_challenge;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] the_cli_verifies_a_destination_while_the_engine_runs;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] operator_actions_need_an_operator_token_and_are_audited;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] retry_now_cuts_a_long_wait_short;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] an_operator_action_during_an_attempt_does_not_skip_the_peers_retry_after;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_pause_acknowledged_before_a_crash_is_still_in_force_after_it;
}
