//! `ingest`: authenticated 1 KiB notifications to `/endpoint`, acknowledged after the
//! group-commit flush, at concurrency 1, 16 and 64; next to a minimal axum + sled server
//! that only inserts, waits for the same flush and answers 200.
//!
//! The engine's destination is a poll destination, so nothing is pushed during the run:
//! the figure is ingest alone (route, store request + log + index + queue entry, flush).
//!
//! Both servers are child processes, so the CPU each spends per accepted message is
//! read alike from `/proc/<pid>/stat`: before the measured window and after it, once the
//! engine has applied everything it acknowledged in the window (its journal backlog at
//! 0), so the work after the 200 is counted too.

use super::secs;
use crate::bench::child::{ServerProcess, wait_applied};
use crate::bench::load::{self, Outcome, closed_loop};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, TempDir};
use crate::bench::{Result, Scenario, new_report};
use std::time::Duration;

pub const LEVELS: [usize; 3] = [1, 16, 64];

/// The concurrency at which CPU per message is reported.
const CPU_LEVEL: usize = 16;

/// How long the engine may take to apply its backlog after a window.
const DRAIN_DEADLINE: Duration = Duration::from_secs(120);

/// The `bench-baseline ingest` child on a sled dir under `dir`.
pub(crate) fn start_baseline(
    dir: &std::path::Path,
    wrapper: &[std::ffi::OsString],
) -> Result<ServerProcess> {
    let db = dir.join("db");
    ServerProcess::baseline_under(
        dir,
        wrapper,
        vec!["ingest".into(), "--db".into(), db.into()],
    )
}

/// A warm-up (not counted), then one measured window of `c` clients, with the server's
/// CPU time read around it. For the engine (`drain` given), both reads wait until the
/// journal is applied, so the window's CPU holds its own requests' work after the 200
/// and no warm-up's.
async fn window(
    request: load::Request,
    c: usize,
    warmup: Duration,
    duration: Duration,
    server: &ServerProcess,
    drain: Option<&reqwest::Client>,
) -> Result<(Outcome, Duration)> {
    let _ = closed_loop(request.clone(), c, Duration::ZERO, warmup).await;
    if let Some(client) = drain {
        wait_applied(client, server, DRAIN_DEADLINE).await?;
    }
    let before = server.cpu()?;
    let outcome = closed_loop(request, c, Duration::ZERO, duration).await;
    if let Some(client) = drain {
        wait_applied(client, server, DRAIN_DEADLINE).await?;
    }
    let cpu = server.cpu()?.saturating_sub(before);
    Ok((outcome, cpu))
}

/// CPU microseconds per accepted message (NaN when none was accepted).
fn per_message_us(cpu: Duration, outcome: &Outcome) -> f64 {
    if outcome.ok == 0 {
        f64::NAN
    } else {
        cpu.as_secs_f64() * 1e6 / outcome.ok as f64
    }
}

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Ingest, quick);
    report.baseline_is = "a minimal axum + sled server on 2 worker threads (as the engine), \
        in its own process: insert the body, wait for the same group-commit flush, 200"
        .into();
    let warmup = secs(quick, 0.3, 2.0);
    let duration = secs(quick, 1.0, 10.0);
    report.size("body_bytes", 1024);
    report.size("seconds_per_level", duration.as_secs_f64());
    report.size("concurrency", serde_json::json!(LEVELS));

    let dir = TempDir::new("ingest")?;
    let engine = EngineProcess::start(dir.path(), &serve::config(1, None))?;
    let client = load::client();
    let token = serve::token(&client, &engine, &dir.path().join("data")).await?;
    let base_dir = TempDir::new("ingest-baseline")?;
    let baseline = start_baseline(base_dir.path(), &[])?;

    let destination = [serve::destination_id(0)];
    // Authenticated 1 KiB notifications to `url` in a closed loop of `c` clients.
    let notifications = |url: String| {
        let (cl, tok) = (client.clone(), token.clone());
        load::request(move |i, _| {
            let (cl, url, tok) = (cl.clone(), url.clone(), tok.clone());
            let body = serve::notification(&destination, i);
            async move { load::post(&cl, &url, Some(&tok), body).await.map(|_| ()) }
        })
    };
    for c in LEVELS {
        // Alternate engine and baseline at each level so drift hits both alike.
        let to_engine = notifications(engine.url("/endpoint"));
        let (mut e, e_cpu) = window(to_engine, c, warmup, duration, &engine, Some(&client)).await?;
        let to_baseline = notifications(baseline.url("/ingest"));
        let (mut b, b_cpu) = window(to_baseline, c, warmup, duration, &baseline, None).await?;
        if let Some(err) = e.first_error.as_ref().or(b.first_error.as_ref()) {
            report.note(format!(
                "c={c}: errors ({} engine, {} baseline), first: {err}",
                e.errors, b.errors
            ));
        }
        report.pair(
            &format!("c{c}_throughput"),
            "/s",
            e.throughput(),
            b.throughput(),
        );
        report.pair(
            &format!("c{c}_p50"),
            "µs",
            e.latencies.p50(),
            b.latencies.p50(),
        );
        report.pair(
            &format!("c{c}_p99"),
            "µs",
            e.latencies.p99(),
            b.latencies.p99(),
        );
        report.pair(
            &format!("c{c}_p999"),
            "µs",
            e.latencies.p999(),
            b.latencies.p999(),
        );
        report.figure(&format!("c{c}_errors"), "", e.errors as f64);
        if c == CPU_LEVEL {
            report.pair(
                "cpu_per_msg_us",
                "µs",
                per_message_us(e_cpu, &e),
                per_message_us(b_cpu, &b),
            );
        }
    }
    floors(&mut report);
    drop(baseline);
    engine.stop();
    Ok(report)
}

/// Issue 20's ingest floors.
fn floors(report: &mut Report) {
    let cpu = report.ratio("cpu_per_msg_us").unwrap_or(f64::NAN);
    report.floor(
        &format!("CPU per accepted notification ≤ 2.0× baseline at c=16 (is {cpu:.2}×)"),
        cpu <= 2.0,
    );
    let ratio = report.ratio("c16_throughput").unwrap_or(0.0);
    let p99 = report.value("c16_p99").unwrap_or(f64::INFINITY);
    report.floor(
        &format!(
            "c=16 throughput ≥ 0.6× baseline (is {ratio:.2}×) with p99 ≤ 5 ms (is {:.2} ms)",
            p99 / 1000.0
        ),
        ratio >= 0.6 && p99 <= 5000.0,
    );
}
