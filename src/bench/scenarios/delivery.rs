//! `delivery`: from the send of a notification to its arrival at a stub destination, at
//! a fixed rate (latency from the release of the send to arrival), and sustained
//! deliveries per second to 1, 10 and 100 destinations.
//!
//! Baselines: for latency, a minimal store-and-forward server (axum + sled insert +
//! group-commit flush + 200, then a POST to the stub); for sustained delivery, N clients
//! each POSTing one after another straight to the stub (what N FIFO queues can do at
//! best over HTTP on this machine, with no storage at all).

use super::secs;
use crate::bench::load::{self, Latencies, fixed_rate};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, StubLog, TempDir};
use crate::bench::{BenchError, Result, Scenario, new_report};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const FAN_OUT: [usize; 3] = [1, 10, 100];

/// Sends at `rate` for `d` to `url`; `id_of` reads the log id from each answer.
/// Returns the accept → arrival latencies and how many never arrived.
async fn latency(
    client: &reqwest::Client,
    url: String,
    token: Option<String>,
    stub: &Arc<StubLog>,
    rate: f64,
    d: Duration,
    id_of: fn(&[u8]) -> Option<Uuid>,
) -> (Latencies, u64, Option<String>) {
    if let Ok(mut a) = stub.arrivals.lock() {
        a.clear();
    }
    let sent: Arc<Mutex<Vec<(Uuid, Instant)>>> = Arc::default();
    let (cl, record) = (client.clone(), sent.clone());
    let out = fixed_rate(
        load::request(move |i, released| {
            let (cl, url, tok, record) = (cl.clone(), url.clone(), token.clone(), record.clone());
            let body = serve::notification(&[serve::destination_id(0)], i);
            async move {
                let answer = load::post(&cl, &url, tok.as_deref(), body).await?;
                let id = id_of(&answer).ok_or("no log id in the answer")?;
                if let Ok(mut r) = record.lock() {
                    r.push((id, released.into_std()));
                }
                Ok(())
            }
        }),
        rate,
        d,
        4096,
    )
    .await;
    let expected = sent.lock().map(|s| s.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let arrived = stub.arrivals.lock().map(|a| a.len()).unwrap_or(0);
        if arrived >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals: HashMap<Uuid, Instant> = stub
        .arrivals
        .lock()
        .map(|a| a.iter().copied().collect())
        .unwrap_or_default();
    let mut lat = Latencies::default();
    let mut missing = 0;
    for (id, released) in sent.lock().map(|s| s.clone()).unwrap_or_default() {
        match arrivals.get(&id) {
            Some(at) => lat.record(at.saturating_duration_since(released)),
            None => missing += 1,
        }
    }
    (lat, missing + out.errors, out.first_error)
}

fn engine_log_id(answer: &[u8]) -> Option<Uuid> {
    let v: serde_json::Value = serde_json::from_slice(answer).ok()?;
    Uuid::parse_str(v["Meta"]["Logs"][0]["ID"].as_str()?).ok()
}

fn baseline_id(answer: &[u8]) -> Option<Uuid> {
    let v: serde_json::Value = serde_json::from_slice(answer).ok()?;
    Uuid::parse_str(v["id"].as_str()?).ok()
}

/// `messages` notifications from 16 clients, message i to destination i % n; returns
/// (accepted/s, delivered/s) with delivered counted at the stub.
async fn sustained(
    client: &reqwest::Client,
    engine: &EngineProcess,
    token: &str,
    stub: &Arc<StubLog>,
    n: usize,
    messages: u64,
) -> Result<(f64, f64)> {
    let before = stub.hits.load(Ordering::Relaxed);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (cl, url, tok, next) = (
            client.clone(),
            engine.url("/endpoint"),
            token.to_string(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return Ok::<(), String>(());
                }
                let body = serve::notification(&[serve::destination_id(i as usize % n)], i);
                load::post(&cl, &url, Some(&tok), body).await?;
            }
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| BenchError::new("sender", e))?
            .map_err(|e| BenchError::new("sustained delivery: send", e))?;
    }
    let accepted = messages as f64 / start.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    while stub.hits.load(Ordering::Relaxed) - before < messages {
        if Instant::now() > deadline {
            return Err(BenchError(format!(
                "sustained delivery to {n}: only {} of {messages} arrived in 10 minutes",
                stub.hits.load(Ordering::Relaxed) - before
            )));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((accepted, messages as f64 / start.elapsed().as_secs_f64()))
}

/// `n` clients, each POSTing one after another to its own stub path, `messages` in all.
async fn direct(client: &reqwest::Client, stub: &serve::Loopback, n: usize, messages: u64) -> f64 {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..n {
        let (cl, url, next) = (client.clone(), stub.url(&format!("/d/{k}")), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < messages {
                let body = serve::notification(&[serve::destination_id(k)], 0);
                let _ = load::post(&cl, &url, None, body).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    messages as f64 / start.elapsed().as_secs_f64()
}

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Delivery, quick);
    report.baseline_is = "latency: a minimal store-and-forward (axum + sled insert + \
        group-commit flush + 200, then one POST to the stub); sustained: N clients POSTing \
        one after another straight to the stub (N FIFO queues at best, no storage)"
        .into();
    let rate = if quick { 200.0 } else { 1000.0 };
    let duration = secs(quick, 1.0, 10.0);
    let messages: u64 = if quick { 300 } else { 20_000 };
    report.size("rate_per_s", rate);
    report.size("seconds_at_rate", duration.as_secs_f64());
    report.size("messages_per_fan_out", messages);
    report.size("destinations", serde_json::json!(FAN_OUT));

    let (stub, stub_log) = serve::stub()?;
    let dir = TempDir::new("delivery")?;
    let engine = EngineProcess::start(
        dir.path(),
        &serve::config(*FAN_OUT.iter().max().unwrap_or(&1), Some(&stub.url(""))),
    )?;
    let client = load::client();
    let token = serve::token(&client, &engine, &dir.path().join("data")).await?;
    let base_dir = TempDir::new("delivery-baseline")?;
    let baseline = serve::baseline(base_dir.path(), 2, Some(stub.url("/d/0")))?;

    // Warm-up: a short run each, not counted.
    let warm = Duration::from_millis(300);
    let _ = latency(
        &client,
        engine.url("/endpoint"),
        Some(token.clone()),
        &stub_log,
        rate,
        warm,
        engine_log_id,
    )
    .await;
    let _ = latency(
        &client,
        baseline.url("/ingest"),
        None,
        &stub_log,
        rate,
        warm,
        baseline_id,
    )
    .await;

    let (mut e, e_missing, e_err) = latency(
        &client,
        engine.url("/endpoint"),
        Some(token.clone()),
        &stub_log,
        rate,
        duration,
        engine_log_id,
    )
    .await;
    let (mut b, b_missing, b_err) = latency(
        &client,
        baseline.url("/ingest"),
        None,
        &stub_log,
        rate,
        duration,
        baseline_id,
    )
    .await;
    if let Some(err) = e_err.or(b_err) {
        report.note(format!("errors at fixed rate, first: {err}"));
    }
    report.pair("accept_to_arrival_p50", "µs", e.p50(), b.p50());
    report.pair("accept_to_arrival_p99", "µs", e.p99(), b.p99());
    report.figure("not_arrived", "", (e_missing + b_missing) as f64);

    for n in FAN_OUT {
        let (accepted, delivered) =
            sustained(&client, &engine, &token, &stub_log, n, messages).await?;
        let best = direct(&client, &stub, n, messages).await;
        report.pair(&format!("d{n}_delivered_per_s"), "/s", delivered, best);
        report.figure(&format!("d{n}_accepted_per_s"), "/s", accepted);
    }
    drop(baseline);
    engine.stop();
    drop(stub);
    Ok(report)
}
