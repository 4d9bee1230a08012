//! `history`: with a large history stored (1M logs; 20k in quick mode), open one log by
//! id and the first page of a filtered search through the admin API, the engine's
//! start-up time on that data dir, and disk bytes per stored log.
//!
//! The history is written through the store API directly (`Store::insert_accepted`,
//! the same batch the engine writes for each accepted request), not over HTTP, so a
//! million logs take minutes, not an hour. The baseline is a bare sled tree holding the
//! same log records by id and nothing else (no request bodies, no indexes), served by
//! a minimal axum server: `GET /log/{id}` is one `get`, and the filtered search is a
//! newest-first scan that decodes every record until the page is full.

use crate::bench::load::{self, Latencies};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, Loopback, TempDir};
use crate::bench::{BenchError, Result, Scenario, new_report};
use crate::model::catalog::Exchange;
use crate::model::log::new_log_id;
use crate::model::{Environment, LogRecord, LogStatus, LogType};
use crate::store::{Store, StoredRequest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

const MODELS: [(&str, &str); 5] = [
    ("PatientAdmin", "Arrival"),
    ("Results", "New"),
    ("Notes", "New"),
    ("Scheduling", "New"),
    ("Order", "New"),
];
pub const DESTINATIONS: usize = 10;
/// The filtered first page both engines are asked for.
const SEARCH: &str = "/admin/v1/logs?dataModel=Results&status=FAILED&limit=50";
/// One log in this many has FAILED.
const FAILED_ONE_IN: u64 = 50;

/// Whether log `seq` FAILED: one in [`FAILED_ONE_IN`], all of them `Results` logs (so
/// the filtered search, Results + FAILED, finds a page within the first 2,500 logs).
fn failed(seq: u64) -> bool {
    seq % FAILED_ONE_IN == 1
}

/// A log as the engine writes it for an accepted notification.
pub(super) fn log_record(seq: u64, destination: usize, status: LogStatus) -> LogRecord {
    let (model, event) = MODELS[(seq % MODELS.len() as u64) as usize];
    let (id, created_at) = new_log_id();
    LogRecord {
        id,
        request_id: Uuid::now_v7(),
        attempt_id: Uuid::now_v7(),
        log_type: LogType::Send,
        status,
        exchange: Exchange::Notification,
        environment: Environment::Development,
        source_id: serve::SOURCE_ID,
        source_name: serve::SOURCE_NAME.into(),
        destination_id: serve::destination_id(destination),
        destination_name: format!("D{destination}"),
        data_model: model.into(),
        event_type: event.into(),
        test: false,
        created_at,
        updated_at: created_at,
        attempts: u32::from(status != LogStatus::Pending),
        latency_ms: None,
        patient_id: Some(format!("{:010}", seq % 1000 + 1)),
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    }
}

/// One stored request (the 1 KiB notification) and its log, as the engine writes them.
pub(super) fn record(
    seq: u64,
    destination: usize,
    status: LogStatus,
) -> (StoredRequest, LogRecord) {
    let body = serve::notification(&[serve::destination_id(destination)], seq);
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let log = log_record(seq, destination, status);
    let request = StoredRequest {
        id: log.request_id,
        received_at: log.created_at,
        environment: Environment::Development,
        source_id: serve::SOURCE_ID,
        exchange: Exchange::Notification,
        payload,
    };
    (request, log)
}

/// Writes `n` requests with one log each on two threads; returns every `sample_every`th
/// log id. `queued` also puts each log on destination 0's delivery queue.
pub(super) fn fill(data_dir: &Path, n: u64, queued: bool, sample_every: u64) -> Result<Vec<Uuid>> {
    let store = Store::open(data_dir).map_err(|e| BenchError::new("open store", e))?;
    let threads = 2u64;
    let mut handles = Vec::new();
    for t in 0..threads {
        let store = store.clone();
        handles.push(std::thread::spawn(
            move || -> std::result::Result<Vec<Uuid>, String> {
                let mut sample = Vec::new();
                let mut seq = t;
                while seq < n {
                    let (destination, status) = if queued {
                        (0, LogStatus::Pending)
                    } else if failed(seq) {
                        ((seq % DESTINATIONS as u64) as usize, LogStatus::Failed)
                    } else {
                        ((seq % DESTINATIONS as u64) as usize, LogStatus::Succeeded)
                    };
                    let (request, log) = record(seq, destination, status);
                    let lanes = [0u64];
                    store
                        .insert_accepted(
                            &request,
                            std::slice::from_ref(&log),
                            queued.then_some(&lanes[..]),
                        )
                        .map_err(|e| e.to_string())?;
                    if seq % sample_every.max(1) == 0 {
                        sample.push(log.id);
                    }
                    seq += threads;
                }
                Ok(sample)
            },
        ));
    }
    let mut sample = Vec::new();
    for h in handles {
        sample.extend(
            h.join()
                .map_err(|_| BenchError("fill thread panicked".into()))?
                .map_err(|e| BenchError::new("fill", e))?,
        );
    }
    store
        .db()
        .flush()
        .map_err(|e| BenchError::new("flush", e))?;
    Ok(sample)
}

/// The bare baseline tree: `n` log records by id, nothing else.
fn fill_baseline(db_dir: &Path, n: u64) -> Result<()> {
    let db = sled::Config::new()
        .path(db_dir)
        .cache_capacity(256 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .map_err(|e| BenchError::new("baseline sled", e))?;
    let mut batch = sled::Batch::default();
    for seq in 0..n {
        let status = if failed(seq) {
            LogStatus::Failed
        } else {
            LogStatus::Succeeded
        };
        let (_, log) = record(seq, (seq % DESTINATIONS as u64) as usize, status);
        batch.insert(
            log.id.as_bytes(),
            serde_json::to_vec(&log).unwrap_or_default(),
        );
        if seq % 1000 == 999 {
            db.apply_batch(std::mem::take(&mut batch))
                .map_err(|e| BenchError::new("baseline fill", e))?;
        }
    }
    db.apply_batch(batch)
        .map_err(|e| BenchError::new("baseline fill", e))?;
    db.flush().map_err(|e| BenchError::new("flush", e))?;
    Ok(())
}

async fn baseline_log(
    State(db): State<sled::Db>,
    UrlPath(id): UrlPath<Uuid>,
) -> (StatusCode, Bytes) {
    match db.get(id.as_bytes()) {
        Ok(Some(v)) => (StatusCode::OK, Bytes::from(v.to_vec())),
        _ => (StatusCode::NOT_FOUND, Bytes::new()),
    }
}

/// Newest first, every record decoded, until 50 Results logs that FAILED are found.
async fn baseline_search(State(db): State<sled::Db>) -> (StatusCode, Bytes) {
    let mut page = Vec::new();
    for item in db.iter().rev() {
        let Ok((_, v)) = item else { break };
        if let Ok(log) = serde_json::from_slice::<LogRecord>(&v)
            && log.status == LogStatus::Failed
            && log.data_model == "Results"
        {
            page.push(log);
            if page.len() == 50 {
                break;
            }
        }
    }
    (
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&page).unwrap_or_default()),
    )
}

async fn timed_gets(
    client: &reqwest::Client,
    urls: &[String],
    token: Option<&str>,
) -> (Latencies, Option<String>) {
    let mut lat = Latencies::default();
    let mut error = None;
    for url in urls {
        let t = Instant::now();
        if let Err(e) = load::get(client, url, token).await {
            error.get_or_insert(e);
        }
        lat.record(t.elapsed());
    }
    (lat, error)
}

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::History, quick);
    report.baseline_is = "a bare sled tree with the same log records by id (no requests, \
        no indexes) behind a minimal axum server: get by id; filtered search = newest-first \
        scan decoding every record; start-up = opening that database and serving"
        .into();
    let n: u64 = if quick { 20_000 } else { 1_000_000 };
    let ops = if quick { 100 } else { 1000 };
    report.size("logs", n);
    report.size("lookups", ops);
    report.size("searches", ops / 5);
    report.size(
        "filled_through",
        "store API (Store::insert_accepted), 2 threads",
    );

    let dir = TempDir::new("history")?;
    let data = dir.path().join("data");
    let t = Instant::now();
    let sample = tokio::task::block_in_place(|| fill(&data, n, false, (n / 500).max(1)))?;
    report.figure(
        "fill_logs_per_s",
        "/s",
        n as f64 / t.elapsed().as_secs_f64(),
    );
    let base_dir = TempDir::new("history-baseline")?;
    tokio::task::block_in_place(|| fill_baseline(base_dir.path(), n))?;
    let engine_disk = serve::disk_bytes(&data.join("db"));
    let base_disk = serve::disk_bytes(base_dir.path());

    let config = dir.path().join("config.toml");
    std::fs::write(&config, serve::config(DESTINATIONS, None))
        .map_err(|e| BenchError::new("config", e))?;
    let (_, admin) = crate::store::credentials::Credentials::new(&data)
        .create_token(crate::model::Role::Admin, "bench")
        .map_err(|e| BenchError::new("admin token", e))?;
    let engine = EngineProcess::start_on(dir.path(), &config)?;
    let client = load::client();

    // The bare tree's first open scans everything its fill wrote, as the engine's did.
    let t = Instant::now();
    drop(open_baseline(base_dir.path())?);
    let base_recovery = t.elapsed();
    let t = Instant::now();
    let db = open_baseline(base_dir.path())?;
    let baseline = Loopback::start(2, move || {
        Router::new()
            .route("/log/{id}", get(baseline_log))
            .route("/search", get(baseline_search))
            .with_state(db)
    })?;
    let _ = load::get(&client, &baseline.url(&format!("/log/{}", sample[0])), None).await;
    let base_startup = t.elapsed();

    let mut ids = Vec::with_capacity(ops);
    for i in 0..ops {
        ids.push(sample[(i * 7919) % sample.len()]);
    }
    let engine_urls: Vec<String> = ids
        .iter()
        .map(|id| engine.url(&format!("/admin/v1/logs/{id}")))
        .collect();
    let base_urls: Vec<String> = ids
        .iter()
        .map(|id| baseline.url(&format!("/log/{id}")))
        .collect();
    let (mut e_open, e_err) = timed_gets(&client, &engine_urls, Some(&admin)).await;
    let (mut b_open, _) = timed_gets(&client, &base_urls, None).await;
    let search = engine.url(SEARCH);
    let e_search_urls = vec![search; ops / 5];
    let b_search_urls = vec![baseline.url("/search"); ops / 5];
    let (mut e_search, s_err) = timed_gets(&client, &e_search_urls, Some(&admin)).await;
    let (mut b_search, _) = timed_gets(&client, &b_search_urls, None).await;
    if let Some(e) = e_err.or(s_err) {
        report.note(format!("engine errors, first: {e}"));
    }

    report.pair("open_by_id_p50", "µs", e_open.p50(), b_open.p50());
    report.pair("open_by_id_p99", "µs", e_open.p99(), b_open.p99());
    report.pair("filtered_page_p50", "µs", e_search.p50(), b_search.p50());
    report.pair("filtered_page_p99", "µs", e_search.p99(), b_search.p99());
    report.pair(
        "recovery_startup",
        "ms",
        engine.startup.as_secs_f64() * 1e3,
        base_recovery.as_secs_f64() * 1e3,
    );
    report.pair(
        "disk_bytes_per_log",
        "B",
        engine_disk as f64 / n as f64,
        base_disk as f64 / n as f64,
    );
    // After the reads, so the engine's caches hold what a user's browsing would load.
    let rss = serve::rss_bytes(engine.pid()).map_or(f64::NAN, |b| b as f64);
    report.figure("serve_rss_bytes", "B", rss);
    drop(baseline);
    // A clean stop leaves a checkpoint; the restart after it is the start-up users see
    // after an upgrade or a reboot.
    let t = Instant::now();
    engine.stop();
    report.figure("clean_stop", "ms", t.elapsed().as_secs_f64() * 1e3);
    let engine = EngineProcess::start_on(dir.path(), &config)?;
    report.pair(
        "startup",
        "ms",
        engine.startup.as_secs_f64() * 1e3,
        base_startup.as_secs_f64() * 1e3,
    );
    // The same reads again: memory after a start from the checkpoint, without the scan.
    let again: Vec<String> = ids
        .iter()
        .map(|id| engine.url(&format!("/admin/v1/logs/{id}")))
        .chain(std::iter::repeat_n(engine.url(SEARCH), ops / 5))
        .collect();
    let _ = timed_gets(&client, &again, Some(&admin)).await;
    let restart_rss = serve::rss_bytes(engine.pid()).map_or(f64::NAN, |b| b as f64);
    report.figure("restart_rss_bytes", "B", restart_rss);
    engine.stop();
    floors(&mut report, rss);
    report.note(
        "recovery_startup: the first start after the history was written, with no \
        checkpoint since (as after a crash: sled scans every log segment written since its \
        last open); startup: the start after a clean stop, which leaves a checkpoint",
    );
    report.note("the engine stores per log: the request (1 KiB body), the log, 3 to 5 index entries (environment with a summary, source, destination, patient; a failed or filtered log also a status entry)");
    Ok(report)
}

fn open_baseline(path: &Path) -> Result<sled::Db> {
    sled::Config::new()
        .path(path)
        .cache_capacity(256 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .map_err(|e| BenchError::new("baseline sled", e))
}

/// Issue 20's floors on history: disk per log, start-up, resident memory.
fn floors(report: &mut Report, rss: f64) {
    let disk = report.ratio("disk_bytes_per_log").unwrap_or(f64::NAN);
    report.floor(
        &format!("disk bytes per stored 1 KiB log ≤ 2.0× the bare tree (is {disk:.2}×)"),
        disk <= 2.0,
    );
    let startup = report.value("startup").unwrap_or(f64::NAN);
    report.floor(
        &format!(
            "start-up on this history ≤ 1 s (is {:.2} s)",
            startup / 1000.0
        ),
        startup <= 1000.0,
    );
    let mib = rss / (1u64 << 20) as f64;
    report.floor(
        &format!("serve RSS with this history ≤ 256 MiB (is {mib:.0} MiB)"),
        mib <= 256.0,
    );
}
