//! `ingest`: authenticated 1 KiB notifications to `/endpoint`, acknowledged after the
//! group-commit flush, at concurrency 1, 16 and 64; next to a minimal axum + sled server
//! that only inserts, waits for the same flush and answers 200.
//!
//! The engine's destination is a poll destination, so nothing is pushed during the run:
//! the figure is ingest alone (route, store request + log + index + queue entry, flush).

use super::secs;
use crate::bench::load::{self, closed_loop};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, TempDir};
use crate::bench::{Result, Scenario, new_report};

pub const LEVELS: [usize; 3] = [1, 16, 64];

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Ingest, quick);
    report.baseline_is = "a minimal axum + sled server on 2 worker threads (as the engine): \
        insert the body, wait for the same group-commit flush, 200"
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
    let baseline = serve::baseline(base_dir.path(), 2, None)?;

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
        let mut e = closed_loop(notifications(engine.url("/endpoint")), c, warmup, duration).await;
        let mut b = closed_loop(notifications(baseline.url("/ingest")), c, warmup, duration).await;
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
    }
    let ratio = report.ratio("c16_throughput").unwrap_or(0.0);
    let p99 = report.value("c16_p99").unwrap_or(f64::INFINITY);
    report.floor(
        &format!(
            "c=16 throughput ≥ 0.9× baseline (is {ratio:.2}×) with p99 ≤ 5 ms (is {:.2} ms)",
            p99 / 1000.0
        ),
        ratio >= 0.9 && p99 <= 5000.0,
    );
    drop(baseline);
    engine.stop();
    Ok(report)
}
