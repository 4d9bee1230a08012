//! One write path (issue 14): operator actions and delivery outcomes are applied in one
//! order and none loses the other's update; a log announced on the event bus is in
//! history; the verification check is remembered without missing a record written by
//! another process.

use crate::common;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::engine::Engine;
use switchboard::model::{LogRecord, LogStatus};
use switchboard::store::LogQuery;
use uuid::Uuid;

/// How long any wait for the engine may take before the test fails (generous: the
/// suite must hold on a loaded two-core machine).
const DEADLINE: Duration = Duration::from_secs(30);

/// A small pseudo-random sequence (xorshift), so a run's mix is varied but cheap.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A destination that answers 500 three times in four (200 otherwise) after a short,
/// varied wait while `flaky` is set, and 200 once it is cleared; it remembers every log it
/// acknowledged.
struct Flaky {
    url: String,
    flaky: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<HashSet<Uuid>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Flaky {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn flaky_destination() -> Flaky {
    let flaky = Arc::new(AtomicBool::new(true));
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let counter = Arc::new(AtomicU64::new(0x2545_f491_4f6c_dd1d));
    let (f, a) = (flaky.clone(), acknowledged.clone());
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let (flaky, acknowledged, counter) = (f.clone(), a.clone(), counter.clone());
        async move {
            let roll = Mix(counter.fetch_add(0x9e37_79b9, Ordering::Relaxed) | 1).next();
            tokio::time::sleep(Duration::from_micros(roll % 3_000)).await;
            let ok = !flaky.load(Ordering::SeqCst) || roll.is_multiple_of(4);
            let log = headers
                .get("switchboard-log-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| Uuid::parse_str(v).ok());
            if ok {
                if let Some(log) = log {
                    acknowledged.lock().expect("lock").insert(log);
                }
                (StatusCode::OK, axum::Json(json!({"ok": true})))
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"ok": false})),
                )
            }
        }
    });
    let (url, server) = common::serve_stub(app).await;
    Flaky {
        url,
        flaky,
        acknowledged,
        server,
    }
}

async fn send(te: &TestEngine, token: &str, destination: Uuid, mrn: &str) -> Uuid {
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(token),
            &payload("PatientAdmin", "Arrival", &[destination], mrn),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    uuid_of(&body["Meta"]["Logs"][0]["ID"])
}

/// Quarantine, release, mark-failed and resend at random among `logs` (resends join
/// them), from one operator, until `stop`. Refusals (409: not queued, not
/// quarantined, already settled) are part of the race; anything else fails the test.
async fn operate(
    engine: Arc<Engine>,
    logs: Arc<Mutex<Vec<Uuid>>>,
    seed: u64,
    stop: Arc<AtomicBool>,
) {
    let mut mix = Mix(seed);
    while !stop.load(Ordering::SeqCst) {
        let log = {
            let logs = logs.lock().expect("lock");
            logs[(mix.next() % logs.len() as u64) as usize]
        };
        let who = "race-operator";
        // Mostly quarantine and release, which keep logs in play; a few settle them.
        let result = match mix.next() % 40 {
            0..=17 => engine.quarantine(log, who).await,
            18..=35 => engine.release(log, who).await,
            36 => engine.mark_failed(log, who).await,
            _ => engine
                .resend(log, who)
                .await
                .inspect(|l| logs.lock().expect("lock").push(l.id)),
        };
        if let Err(e) = result {
            assert_eq!(e.status, 409, "operator action on {log}: {e}");
        }
        tokio::time::sleep(Duration::from_micros(mix.next() % 500)).await;
    }
}

fn describe(l: &LogRecord) -> String {
    format!(
        "{} {} attempts={} quarantined={}",
        l.id,
        l.status.as_str(),
        l.attempts,
        l.quarantined
    )
}

/// Operators quarantine, release, fail and resend logs while their deliveries succeed
/// and fail. Whatever the interleaving, every log ends in one consistent state: a log
/// the destination acknowledged is SUCCEEDED, a settled log is neither queued nor in
/// quarantine, a log in quarantine says so (and one that says so is there), every
/// attempt made is counted on its log, and the status indexes agree with the logs.
/// (Before operator actions were ordered updates, this failed in 2 of 2 runs of 10 s
/// and 1 of 3 runs of 5 s: a log left out of its queue without its quarantine, and an
/// acknowledged log overwritten as FAILED.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_racing_deliveries_lose_no_update() {
    let stub = flaky_destination().await;
    let config = source_toml("Lab", "development", None)
        + &destination_toml("EHR", "development", &stub.url)
        + "retry_schedule_seconds = [0.005]\ntimeout_seconds = 10\nquarantine_after = 4\n\
           queue_key = \"patient\"\n\n"
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let token = te.token("Lab").await;
    let mut logs = Vec::new();
    for i in 0..48 {
        logs.push(send(&te, &token, ehr, &format!("MRN-{}", i % 8)).await);
    }
    let logs = Arc::new(Mutex::new(logs));

    let stop = Arc::new(AtomicBool::new(false));
    let operators: Vec<_> = (0..8u64)
        .map(|i| {
            tokio::spawn(operate(
                te.engine.clone(),
                logs.clone(),
                0x9e37_79b9_7f4a_7c15 ^ (i + 1),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(8_000)).await;
    stop.store(true, Ordering::SeqCst);
    for operator in operators {
        operator.await.expect("operator task");
    }

    // From here the destination takes everything; wait until nothing is queued.
    stub.flaky.store(false, Ordering::SeqCst);
    let started = Instant::now();
    while !te.all_queued().is_empty() {
        assert!(
            started.elapsed() < DEADLINE,
            "queues never drained: {:?}",
            te.all_queued()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let store = te.store();
    let in_quarantine: HashSet<Uuid> = store
        .quarantined(ehr)
        .expect("quarantine")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let acknowledged = stub.acknowledged.lock().expect("lock").clone();
    let all: Vec<LogRecord> = logs
        .lock()
        .expect("lock")
        .iter()
        .map(|id| store.log(*id).expect("read").expect("log exists"))
        .collect();
    let mut problems = Vec::new();
    for l in &all {
        let quarantined = in_quarantine.contains(&l.id);
        let attempts = store.attempts(l.id).expect("attempts").len() as u32;
        let ok = match l.status {
            LogStatus::Succeeded | LogStatus::Failed => !l.quarantined && !quarantined,
            // Nothing is queued any more: a PENDING log must be in quarantine.
            LogStatus::Pending => l.quarantined && quarantined,
            LogStatus::Filtered => false,
        } && (!acknowledged.contains(&l.id) || l.status == LogStatus::Succeeded)
            && attempts == l.attempts;
        if !ok {
            problems.push(format!(
                "{} (in quarantine: {quarantined}, attempts recorded: {attempts}, \
                 acknowledged: {})",
                describe(l),
                acknowledged.contains(&l.id)
            ));
        }
    }
    for status in [LogStatus::Pending, LogStatus::Succeeded, LogStatus::Failed] {
        let want: HashSet<Uuid> = all
            .iter()
            .filter(|l| l.status == status)
            .map(|l| l.id)
            .collect();
        let mut found = HashSet::new();
        let mut before = None;
        loop {
            let page = store
                .search(&LogQuery {
                    destination: Some(ehr),
                    status: Some(status),
                    before,
                    limit: 500,
                    ..Default::default()
                })
                .expect("search");
            found.extend(page.logs.iter().map(|l| l.id));
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        if found != want {
            problems.push(format!(
                "a search for {} finds {} logs, {} have that status",
                status.as_str(),
                found.len(),
                want.len()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} logs are inconsistent:\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );
    // The race did happen: some of each outcome.
    let count = |s: LogStatus| all.iter().filter(|l| l.status == s).count();
    assert!(
        count(LogStatus::Succeeded) > 0 && count(LogStatus::Failed) > 0,
        "succeeded {}, failed {}",
        count(LogStatus::Succeeded),
        count(LogStatus::Failed)
    );
}

/// Every log announced on the event bus can be read from history by its ID the moment
/// the event arrives, while requests are accepted and delivered concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_announced_log_is_in_history_when_its_event_arrives() {
    let stub = StubDestination::start(StubReply::Json(200, json!({"ok": true}))).await;
    let config = source_toml("Lab", "development", None)
        + &destination_toml("EHR", "development", &stub.url)
        + "queue_key = \"patient\"\n\n"
        + &subscription_toml("Lab", "EHR", &["*"]);
    let te = TestEngine::start(&config).await;
    let ehr = te.destination_id("EHR");
    let token = te.token("Lab").await;
    let mut events = te.engine.subscribe();
    let engine = te.engine.clone();
    let reader = tokio::spawn(async move {
        let mut seen = 0usize;
        let mut missing = Vec::new();
        let mut statuses: HashMap<Uuid, LogStatus> = HashMap::new();
        while let Ok(event) = events.recv().await {
            seen += 1;
            let id = event.log.id;
            match engine.store().log(id).expect("read") {
                None => missing.push(format!("{id} ({})", event.log.status.as_str())),
                Some(stored) => {
                    statuses.insert(id, stored.status);
                }
            }
            if statuses
                .values()
                .filter(|s| **s == LogStatus::Succeeded)
                .count()
                == 200
            {
                break;
            }
        }
        (seen, missing)
    });
    let sends: Vec<_> = (0..200)
        .map(|i| {
            let te_url = te.url("/endpoint");
            let client = te.client.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let response = client
                    .post(te_url)
                    .bearer_auth(token)
                    .json(&payload(
                        "PatientAdmin",
                        "Arrival",
                        &[ehr],
                        &format!("MRN-{}", i % 20),
                    ))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(response.status(), StatusCode::OK);
            })
        })
        .collect();
    for send in sends {
        send.await.expect("send task");
    }
    let (seen, missing) = tokio::time::timeout(DEADLINE, reader)
        .await
        .expect("every log delivered in time")
        .expect("reader task");
    assert!(
        missing.is_empty(),
        "{} of {seen} events announced a log history did not have, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// A destination found verified is remembered (its record is not read again at every
/// delivery), while one not verified is looked up again each time, so a record written
/// by another process (the `verify` command) counts at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_destination_is_remembered_and_a_new_record_counts_at_once() {
    let url = closed_url();
    let config = source_toml("Stage Lab", "staging", None)
        + &destination_toml("Stage", "staging", &url)
        + &subscription_toml("Stage Lab", "Stage", &["*"]);
    let te = TestEngine::start(&config).await;
    let destination = te
        .engine
        .registry()
        .destination_named("Stage")
        .expect("destination")
        .clone();
    assert!(!te.engine.is_verified(&destination));

    // What `switchboard destinations verify` writes, from another process.
    let record = te
        .data_dir
        .join("verifications")
        .join(format!("{}.json", destination.id));
    std::fs::create_dir_all(record.parent().expect("parent")).expect("mkdir");
    let verification = switchboard::engine::verify::Verification {
        destination_id: destination.id,
        url: url.clone(),
        verified_at: chrono::Utc::now(),
    };
    std::fs::write(&record, serde_json::to_vec(&verification).expect("JSON")).expect("write");
    assert!(
        te.engine.is_verified(&destination),
        "a record written meanwhile was not seen"
    );

    // Remembered: the file is not read again at the next look.
    std::fs::remove_file(&record).expect("remove");
    assert!(
        te.engine.is_verified(&destination),
        "the verification was read from disk again"
    );
}
