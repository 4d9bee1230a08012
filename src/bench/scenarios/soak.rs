//! `soak` (not part of `all`): 10 minutes (20 s quick) of authenticated 1 KiB
//! notifications at a fixed 1,000/s into the engine, delivered to a stub, while the
//! engine's resident memory (VmRSS) is sampled every 10 s (2 s quick). It answers
//! whether `serve` stays bounded and flat as its history grows: start, end and highest
//! RSS, the slope over the second half, and the accept latency and errors meanwhile.
//!
//! No baseline: the figure is the engine's own memory over time.

use crate::bench::child::rss_bytes;
use crate::bench::load::{self, fixed_rate};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, TempDir};
use crate::bench::{Result, Scenario, new_report};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const RATE: f64 = 1000.0;
/// The floor's bound on resident memory.
const RSS_FLOOR_MIB: f64 = 256.0;
/// "Flat": growth over the second half of the run, at most this (MiB per minute).
const SLOPE_FLOOR_MIB_PER_MIN: f64 = 1.0;
const MIB: f64 = (1u64 << 20) as f64;

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Soak, quick);
    report.baseline_is = "none: the engine's own resident memory over time".into();
    let duration = super::secs(quick, 20.0, 600.0);
    let every = super::secs(quick, 2.0, 10.0);
    report.size("rate_per_s", RATE);
    report.size("seconds", duration.as_secs_f64());
    report.size("sample_every_s", every.as_secs_f64());
    report.size("body_bytes", 1024);

    let (stub, stub_log) = serve::stub()?;
    let dir = TempDir::new("soak")?;
    let engine = EngineProcess::start(dir.path(), &serve::config(1, Some(&stub.url(""))))?;
    let client = load::client();
    let token = serve::token(&client, &engine, &dir.path().join("data")).await?;

    let pid = engine.pid();
    let done = Arc::new(AtomicBool::new(false));
    let begun = Instant::now();
    let sampler = tokio::spawn(sample_rss(pid, begun, every, done.clone()));
    let destination = [serve::destination_id(0)];
    let (cl, url) = (client.clone(), engine.url("/endpoint"));
    let request = load::request(move |i, _| {
        let (cl, url, tok) = (cl.clone(), url.clone(), token.clone());
        let body = serve::notification(&destination, i);
        async move { load::post(&cl, &url, Some(&tok), body).await.map(|_| ()) }
    });
    let mut outcome = fixed_rate(request, RATE, duration, 4096).await;
    done.store(true, Ordering::Relaxed);
    let mut samples = sampler.await.unwrap_or_default();
    if let Some(end) = rss_bytes(pid) {
        samples.push((
            samples
                .last()
                .map_or(0.0, |s| s.0.max(duration.as_secs_f64())),
            end,
        ));
    }

    if let Some(e) = &outcome.first_error {
        report.note(format!("{} errors, first: {e}", outcome.errors));
    }
    let bytes: Vec<f64> = samples.iter().map(|(_, b)| *b as f64).collect();
    let start = bytes.first().copied().unwrap_or(f64::NAN);
    let end = bytes.last().copied().unwrap_or(f64::NAN);
    let max = bytes.iter().copied().fold(f64::NAN, f64::max);
    let slope = second_half_slope(&samples, duration.as_secs_f64());
    report.figure("rss_start_bytes", "B", start);
    report.figure("rss_end_bytes", "B", end);
    report.figure("rss_max_bytes", "B", max);
    report.figure("rss_slope_mib_per_min", "MiB/min", slope);
    report.figure("accept_p50", "µs", outcome.latencies.p50());
    report.figure("accept_p99", "µs", outcome.latencies.p99());
    report.figure("errors", "", outcome.errors as f64);
    report.figure("accepted_per_s", "/s", outcome.throughput());
    report.figure(
        "delivered",
        "",
        stub_log.hits.load(Ordering::Relaxed) as f64,
    );
    report.details.insert(
        "rss_samples".into(),
        json!(
            samples
                .iter()
                .map(|(t, b)| json!({"t_s": (t * 10.0).round() / 10.0, "bytes": b}))
                .collect::<Vec<_>>()
        ),
    );
    report.floor(
        &format!(
            "serve RSS ≤ {RSS_FLOOR_MIB:.0} MiB over the run (highest {:.0} MiB)",
            max / MIB
        ),
        max / MIB <= RSS_FLOOR_MIB,
    );
    report.floor(
        &format!(
            "RSS flat: slope over the second half ≤ {SLOPE_FLOOR_MIB_PER_MIN} MiB/min (is {slope:+.2})"
        ),
        slope <= SLOPE_FLOOR_MIB_PER_MIN,
    );
    if quick {
        report.note("quick mode: 20 s cannot show a trend; the slope is for the full 10 minutes");
    }
    engine.stop();
    drop(stub);
    Ok(report)
}

/// (seconds since start, VmRSS bytes) every `every` until `done`.
async fn sample_rss(
    pid: u32,
    start: Instant,
    every: Duration,
    done: Arc<AtomicBool>,
) -> Vec<(f64, u64)> {
    let mut samples = Vec::new();
    let mut next = tokio::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        if let Some(b) = rss_bytes(pid) {
            samples.push((start.elapsed().as_secs_f64(), b));
        }
        next += every;
        // Short naps so the end of the run is noticed promptly.
        while !done.load(Ordering::Relaxed) && tokio::time::Instant::now() < next {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    samples
}

/// Least-squares slope of RSS (MiB) over time (minutes), from the samples in the second
/// half of the run; NaN with fewer than two.
fn second_half_slope(samples: &[(f64, u64)], seconds: f64) -> f64 {
    let half: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(t, _)| *t >= seconds / 2.0)
        .map(|(t, b)| (t / 60.0, *b as f64 / MIB))
        .collect();
    if half.len() < 2 {
        return f64::NAN;
    }
    let n = half.len() as f64;
    let mean_t = half.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_m = half.iter().map(|p| p.1).sum::<f64>() / n;
    let var: f64 = half.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if var == 0.0 {
        return f64::NAN;
    }
    half.iter()
        .map(|p| (p.0 - mean_t) * (p.1 - mean_m))
        .sum::<f64>()
        / var
}

#[cfg(test)]
mod tests {
    use super::second_half_slope;

    #[test]
    fn slope_is_mib_per_minute_over_the_second_half() {
        let mib = 1u64 << 20;
        // Growth of 10 MiB in the first half, then 2 MiB per minute.
        let samples = [
            (0.0, 100 * mib),
            (30.0, 110 * mib),
            (60.0, 110 * mib),
            (90.0, 111 * mib),
            (120.0, 112 * mib),
        ];
        let slope = second_half_slope(&samples, 120.0);
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
        assert!(second_half_slope(&samples[..1], 120.0).is_nan());
    }
}
