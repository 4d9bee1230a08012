//! `recovery`: the engine starts on a data dir with 100k queued items (2k in quick
//! mode) for one push destination: time from spawn to the first delivery at the stub,
//! and to drained. The queue is filled through the store API, as `history` does.
//!
//! The baseline is a minimal FIFO drain in this process: open a sled tree holding the
//! same number of 1 KiB items, POST them one after another to the stub, remove each
//! after its 2xx.

use super::history::fill;
use crate::bench::load;
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, TempDir};
use crate::bench::{BenchError, Result, Scenario, new_report};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// (time to the first arrival, time to drained) of the baseline drain.
async fn baseline_drain(
    client: &reqwest::Client,
    dir: &std::path::Path,
    url: &str,
    n: u64,
) -> Result<(Duration, Duration)> {
    {
        let db = sled::open(dir).map_err(|e| BenchError::new("baseline sled", e))?;
        for seq in 0..n {
            db.insert(
                seq.to_be_bytes(),
                serve::notification(&[serve::destination_id(0)], seq).as_ref(),
            )
            .map_err(|e| BenchError::new("baseline fill", e))?;
        }
        db.flush().map_err(|e| BenchError::new("flush", e))?;
    }
    let start = Instant::now();
    let db = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .map_err(|e| BenchError::new("baseline sled", e))?;
    let mut first = None;
    while let Some((k, v)) = db.first().map_err(|e| BenchError::new("baseline", e))? {
        load::post(client, url, None, axum::body::Bytes::from(v.to_vec()))
            .await
            .map_err(|e| BenchError::new("baseline drain", e))?;
        first.get_or_insert_with(|| start.elapsed());
        db.remove(k).map_err(|e| BenchError::new("baseline", e))?;
    }
    db.flush().map_err(|e| BenchError::new("flush", e))?;
    Ok((first.unwrap_or_default(), start.elapsed()))
}

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Recovery, quick);
    report.baseline_is = "a minimal FIFO drain: open a sled tree with the same number of \
        1 KiB items, POST each in order to the same stub, remove it after the 2xx"
        .into();
    let n: u64 = if quick { 2_000 } else { 100_000 };
    report.size("queued_items", n);
    report.size(
        "filled_through",
        "store API (Store::insert_accepted with a queue entry)",
    );

    let (stub, stub_log) = serve::stub()?;
    let dir = TempDir::new("recovery")?;
    let data = dir.path().join("data");
    tokio::task::block_in_place(|| fill(&data, n, true, n))?;
    let config = dir.path().join("config.toml");
    std::fs::write(&config, serve::config(1, Some(&stub.url(""))))
        .map_err(|e| BenchError::new("config", e))?;

    let start = Instant::now();
    let engine = EngineProcess::start_on(dir.path(), &config)?;
    let deadline = start + Duration::from_secs(1800);
    while stub_log.hits.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            return Err(BenchError(format!(
                "recovery: {} of {n} delivered in 30 minutes",
                stub_log.hits.load(Ordering::Relaxed)
            )));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let drained = start.elapsed();
    report.figure("engine_startup", "ms", engine.startup.as_secs_f64() * 1e3);
    let first = stub_log
        .first
        .lock()
        .ok()
        .and_then(|f| *f)
        .map(|f| f.saturating_duration_since(start))
        .unwrap_or_default();
    engine.stop();

    let client = load::client();
    let base_dir = TempDir::new("recovery-baseline")?;
    let (b_first, b_drained) =
        baseline_drain(&client, base_dir.path(), &stub.url("/d/1"), n).await?;
    report.pair(
        "time_to_first_delivery",
        "ms",
        first.as_secs_f64() * 1e3,
        b_first.as_secs_f64() * 1e3,
    );
    report.pair(
        "time_to_drained",
        "ms",
        drained.as_secs_f64() * 1e3,
        b_drained.as_secs_f64() * 1e3,
    );
    report.pair(
        "drain_rate",
        "/s",
        n as f64 / drained.as_secs_f64(),
        n as f64 / b_drained.as_secs_f64(),
    );
    drop(stub);
    Ok(report)
}
