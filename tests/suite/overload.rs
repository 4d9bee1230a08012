//! Overload and poison messages over real HTTP: an engine on a loopback port, stub
//! destinations (axum) that answer by message and count requests in flight.
//!
//! - a destination at its `max_queue_items` gets no new message: 429 naming it, and
//!   nothing of the message stored, for any of its destinations;
//! - a full journal backlog (the expander held, as by an online backup) gets 503 with
//!   `Retry-After`, after a bounded wait, instead of an unbounded one;
//! - a permanent refusal (400) is quarantined after 3 attempts by default and the queue
//!   moves on; a transient one (503) is retried and never quarantined;
//! - however many patient lanes a destination has, at most `max_concurrent_deliveries`
//!   attempts reach it at once.

use crate::common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::model::{LogRecord, LogStatus, Role};
use uuid::Uuid;

/// How long any wait for the engine may take (generous: a loaded two-core machine).
const DEADLINE: Duration = Duration::from_secs(20);

/// Short retries, so attempts come quickly.
const FAST: &str = "retry_schedule_seconds = [0.05]\ntimeout_seconds = 5\n";

type Answer = Box<dyn Fn(&str) -> u16 + Send + Sync>;

struct StubState {
    /// The MRN of every request received, in order.
    received: Mutex<Vec<String>>,
    answer: Mutex<Answer>,
    delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A destination on `127.0.0.1:<ephemeral>` answering each message by its patient's MRN.
struct Stub {
    url: String,
    state: Arc<StubState>,
}

impl Stub {
    async fn start(delay: Duration, answer: impl Fn(&str) -> u16 + Send + Sync + 'static) -> Stub {
        let state = Arc::new(StubState {
            received: Mutex::new(Vec::new()),
            answer: Mutex::new(Box::new(answer)),
            delay,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/redox", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let url = format!("http://{}/redox", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub { url, state }
    }

    fn answer(&self, answer: impl Fn(&str) -> u16 + Send + Sync + 'static) {
        *self.state.answer.lock().expect("lock") = Box::new(answer);
    }

    fn received(&self) -> Vec<String> {
        self.state.received.lock().expect("lock").clone()
    }

    fn times(&self, mrn: &str) -> usize {
        self.received().iter().filter(|m| *m == mrn).count()
    }
}

async fn receive(State(state): State<Arc<StubState>>, body: Bytes) -> StatusCode {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mrn = body["Patient"]["Identifiers"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    tokio::time::sleep(state.delay).await;
    state.received.lock().expect("lock").push(mrn.clone());
    let status = (state.answer.lock().expect("lock"))(&mrn);
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn destination(name: &str, url: &str, extra: &str) -> String {
    format!(
        "{}\n{extra}\n",
        destination_toml(name, "development", url).trim_end()
    )
}

fn config(destinations: &[String]) -> String {
    let mut toml = source_toml("Lab", "development", None);
    for (i, d) in destinations.iter().enumerate() {
        toml += d;
        let name = d
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("destination {i} has no name"));
        toml += &subscription_toml("Lab", name, &["*"]);
    }
    toml
}

/// `POST /endpoint` of one Results message for patient `mrn`: the status, the
/// `Retry-After` header and the body.
async fn send(
    te: &TestEngine,
    token: &str,
    to: &[Uuid],
    mrn: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = te
        .client
        .post(te.url("/endpoint"))
        .bearer_auth(token)
        .json(&payload("Results", "New", to, mrn))
        .send()
        .await
        .expect("request to engine");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or_default();
    (status, retry_after, body)
}

/// The log ID of an accepted message at its only destination.
fn log_id(body: &Value) -> Uuid {
    uuid_of(&body["Meta"]["Logs"][0]["ID"])
}

fn log(te: &TestEngine, id: Uuid) -> LogRecord {
    te.store().log(id).expect("read log").expect("log exists")
}

async fn eventually(what: &str, check: impl FnMut() -> Result<(), String>) {
    common::eventually_within(what, DEADLINE, check).await
}

fn all_succeeded(te: &TestEngine, ids: &[Uuid]) -> Result<(), String> {
    let states: Vec<_> = ids.iter().map(|id| log(te, *id).status).collect();
    if states.iter().all(|s| *s == LogStatus::Succeeded) {
        Ok(())
    } else {
        Err(format!("{states:?}"))
    }
}

async fn status(te: &TestEngine) -> Value {
    let admin = te.admin_token(Role::Admin);
    let (code, body) = te.get("/admin/v1/status", Some(&admin)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_at_its_queue_bound_refuses_new_messages_whole() {
    let stub = Stub::start(Duration::ZERO, |_| 503).await;
    let other = Stub::start(Duration::ZERO, |_| 200).await;
    let te = TestEngine::start(&config(&[
        destination("EHR", &stub.url, &format!("{FAST}max_queue_items = 3")),
        destination("Billing", &other.url, FAST),
    ]))
    .await;
    let (ehr, billing) = (te.destination_id("EHR"), te.destination_id("Billing"));
    let token = te.token("Lab").await;

    let mut accepted = Vec::new();
    for mrn in ["m1", "m2", "m3"] {
        let (code, _, body) = send(&te, &token, &[ehr], mrn).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        accepted.push(log_id(&body));
    }
    // The fourth, alone and with a destination that has room: refused whole.
    for to in [vec![ehr], vec![billing, ehr]] {
        let (code, retry_after, body) = send(&te, &token, &to, "m4").await;
        assert_error(code, &body, StatusCode::TOO_MANY_REQUESTS, "\"EHR\"");
        let text = error_texts(&body).join(" ");
        assert!(text.contains("max_queue_items"), "{text}");
        assert!(retry_after.is_some(), "429 without Retry-After");
    }
    assert_eq!(te.all_logs().len(), 3, "a refused message left logs");
    assert!(
        te.store().queued(billing).expect("queued").is_empty(),
        "the destination with room got part of a refused message"
    );
    assert!(other.received().is_empty());
    assert_eq!(status(&te).await["queueFull"], 2);

    // The queued three stay deliverable, in order; then there is room again.
    stub.answer(|_| 200);
    eventually("the queued messages to be delivered", || {
        all_succeeded(&te, &accepted)
    })
    .await;
    let delivered: Vec<String> = stub.received().into_iter().fold(Vec::new(), |mut seen, m| {
        if seen.last() != Some(&m) {
            seen.push(m);
        }
        seen
    });
    assert_eq!(delivered, ["m1", "m2", "m3"]);
    let (code, _, body) = send(&te, &token, &[ehr], "m5").await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journal_backlog_answers_503_with_retry_after() {
    let stub = Stub::start(Duration::ZERO, |_| 200).await;
    let te = TestEngine::start(&format!(
        "[engine]\njournal_backlog = 2\n\n{}",
        config(&[destination("EHR", &stub.url, FAST)])
    ))
    .await;
    let ehr = te.destination_id("EHR");
    let token = te.token("Lab").await;
    // One delivered first, so nothing else (a delivery's outcome, a queue count)
    // needs the journal while it is held.
    let (code, _, body) = send(&te, &token, &[ehr], "m0").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let first = log_id(&body);
    eventually("the first message to be delivered", || {
        all_succeeded(&te, &[first])
    })
    .await;
    eventually("its dispatcher to retire", || {
        match te.engine.delivery().active_dispatchers() {
            0 => Ok(()),
            n => Err(format!("{n} dispatchers")),
        }
    })
    .await;
    assert_eq!(status(&te).await["journalCapacity"], 2);

    // Nothing is applied meanwhile, as during an online backup's copy. The guard is
    // held on a thread of its own, as a backup holds it.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let engine = te.engine.clone();
    let holder = std::thread::spawn(move || {
        let _held = engine.store().hold_writes();
        let _ = held_tx.send(());
        let _ = release_rx.recv();
    });
    held_rx.recv().expect("writes held");
    let refused_at = {
        for mrn in ["m1", "m2"] {
            let (code, _, body) = send(&te, &token, &[ehr], mrn).await;
            assert_eq!(code, StatusCode::OK, "{mrn} within the backlog: {body}");
        }
        let asked = Instant::now();
        let (code, retry_after, body) = send(&te, &token, &[ehr], "m3").await;
        let waited = asked.elapsed();
        assert_error(code, &body, StatusCode::SERVICE_UNAVAILABLE, "overloaded");
        assert_eq!(retry_after.as_deref(), Some("1"));
        // A query's log goes through the same backlog: refused the same way.
        let query = payload("PatientSearch", "Query", &[ehr], "m3");
        let (code, body) = te.post_json("/query", Some(&token), &query).await;
        assert_error(code, &body, StatusCode::SERVICE_UNAVAILABLE, "overloaded");
        waited
    };
    drop(release_tx);
    holder.join().expect("holder thread");
    // A bounded wait (1 s), not an unbounded one.
    assert!(
        refused_at >= Duration::from_millis(900) && refused_at < Duration::from_secs(10),
        "refused after {refused_at:?}"
    );
    // Released: the two acknowledged ones are applied and delivered; new ones pass.
    let (code, _, body) = send(&te, &token, &[ehr], "m4").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    eventually("every accepted message to be delivered", || {
        match (stub.times("m1"), stub.times("m2"), stub.times("m4")) {
            (1.., 1.., 1..) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(stub.times("m3"), 0);
    assert_eq!(te.all_logs().len(), 4, "the refused request left a log");
    let figures = status(&te).await;
    assert_eq!(figures["overloaded"], 2, "{figures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_quarantined_after_three_attempts_and_the_queue_moves_on() {
    let stub = Stub::start(
        Duration::ZERO,
        |mrn| if mrn == "POISON" { 400 } else { 200 },
    )
    .await;
    let busy = Stub::start(Duration::ZERO, |_| 503).await;
    // No quarantine_after: the default (3) applies.
    let te = TestEngine::start(&config(&[
        destination("EHR", &stub.url, FAST),
        destination("Busy", &busy.url, FAST),
    ]))
    .await;
    let (ehr, busy_id) = (te.destination_id("EHR"), te.destination_id("Busy"));
    let token = te.token("Lab").await;
    let mut ids = Vec::new();
    for mrn in ["m1", "POISON", "m2", "m3"] {
        let (code, _, body) = send(&te, &token, &[ehr], mrn).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        ids.push(log_id(&body));
    }
    eventually("the messages behind the poison one to be delivered", || {
        all_succeeded(&te, &[ids[0], ids[2], ids[3]])
    })
    .await;
    assert_eq!(
        stub.received(),
        ["m1", "POISON", "POISON", "POISON", "m2", "m3"],
        "order, and three attempts of the poison message"
    );
    let poison = log(&te, ids[1]);
    assert_eq!(
        (poison.status, poison.attempts, poison.quarantined),
        (LogStatus::Pending, 3, true)
    );
    let quarantined: Vec<Uuid> = te
        .store()
        .quarantined(ehr)
        .expect("quarantine")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(quarantined, [ids[1]]);

    // A transient answer is retried and never quarantined.
    let (code, _, body) = send(&te, &token, &[busy_id], "m9").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let waiting = log_id(&body);
    eventually("five attempts at the busy destination", || {
        match busy.times("m9") {
            n if n >= 5 => Ok(()),
            n => Err(format!("{n} attempts")),
        }
    })
    .await;
    let l = log(&te, waiting);
    assert_eq!((l.status, l.quarantined), (LogStatus::Pending, false));
    assert!(
        te.store()
            .quarantined(busy_id)
            .expect("quarantine")
            .is_empty()
    );
    assert_eq!(te.store().queued(busy_id).expect("queued"), [waiting]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_lanes_share_the_destinations_concurrency_cap() {
    let stub = Stub::start(Duration::from_millis(50), |_| 200).await;
    let te = TestEngine::start(&config(&[destination(
        "EHR",
        &stub.url,
        &format!("{FAST}queue_key = \"patient\"\nmax_concurrent_deliveries = 2"),
    )]))
    .await;
    let ehr = te.destination_id("EHR");
    let token = te.token("Lab").await;
    let mut ids = Vec::new();
    for i in 0..24 {
        let (code, _, body) = send(&te, &token, &[ehr], &format!("patient-{i}")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        ids.push(log_id(&body));
    }
    eventually("every lane to be delivered", || all_succeeded(&te, &ids)).await;
    let most = stub.state.max_in_flight.load(Ordering::SeqCst);
    assert!(
        most <= 2,
        "{most} deliveries in flight at once; the cap is 2"
    );

    // The cap and the bound are shown with the destination.
    let admin = te.admin_token(Role::Admin);
    let (code, body) = te.get("/admin/v1/connections", Some(&admin)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let shown = body["destinations"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["name"] == "EHR"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(shown["delivery"]["maxConcurrentDeliveries"], 2, "{shown}");
    assert_eq!(shown["delivery"]["maxQueueItems"], 1_000_000, "{shown}");
    assert_eq!(shown["delivery"]["quarantineAfter"], 3, "{shown}");
    // And by the command line, from the config.
    let listed = common::bin::cli_json(te.dir.path(), &["connections"]);
    let listed = listed["destinations"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["name"] == "EHR"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed["delivery"], shown["delivery"], "{listed}");
}
