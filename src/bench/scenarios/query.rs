//! `query`: `PatientSearch Query` through the engine to a fast loopback stub, against
//! the same request straight to the stub (and through nginx `proxy_pass` when nginx is
//! installed), at a fixed arrival rate (in rounds that take turns, so drift over the
//! run hits each path alike) and in a closed loop at concurrency 16.

use super::secs;
use crate::bench::load::{self, Outcome, closed_loop, fixed_rate};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, Nginx, TempDir};
use crate::bench::{Result, Scenario, new_report};
use std::time::Duration;

/// Turns taken by the direct, engine, bare-proxy and nginx fixed-rate runs in full mode.
const FIXED_RATE_ROUNDS: u32 = 5;

/// One PatientSearch query POSTed to `url` (the engine's `/query`, the stub, or nginx).
fn query_request(client: &reqwest::Client, url: String, token: Option<String>) -> load::Request {
    let body = serve::query(serve::destination_id(0));
    let cl = client.clone();
    load::request(move |_, _| {
        let (cl, url, tok, body) = (cl.clone(), url.clone(), token.clone(), body.clone());
        async move {
            load::post(&cl, &url, tok.as_deref(), body)
                .await
                .map(|_| ())
        }
    })
}

async fn at_rate(
    client: &reqwest::Client,
    url: String,
    token: Option<String>,
    rate: f64,
    d: Duration,
) -> Outcome {
    fixed_rate(query_request(client, url, token), rate, d, 4096).await
}

async fn closed(
    client: &reqwest::Client,
    url: String,
    token: Option<String>,
    warmup: Duration,
    d: Duration,
) -> Outcome {
    closed_loop(query_request(client, url, token), 16, warmup, d).await
}

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Query, quick);
    report.baseline_is = "the same query POSTed straight to the stub (no engine); a bare \
        axum + reqwest proxy to the same stub (the engine's HTTP stack alone); nginx \
        proxy_pass to the same stub when nginx is installed"
        .into();
    let rate = if quick { 200.0 } else { 1000.0 };
    let duration = secs(quick, 1.0, 10.0);
    let warmup = secs(quick, 0.3, 2.0);
    report.size("rate_per_s", rate);
    report.size("seconds_per_run", duration.as_secs_f64());
    report.size("closed_loop_concurrency", 16);

    let (stub, _) = serve::stub()?;
    let dir = TempDir::new("query")?;
    let engine = EngineProcess::start(dir.path(), &serve::config(1, Some(&stub.url(""))))?;
    let client = load::client();
    let token = serve::token(&client, &engine, &dir.path().join("data")).await?;
    let nginx = match Nginx::find() {
        Some(bin) => match Nginx::start(&bin, stub.addr) {
            Ok(n) => Some(n),
            Err(e) => {
                report.note(format!("nginx did not run: {e}"));
                None
            }
        },
        None => {
            report.note("nginx is not installed (apt-get install nginx): no nginx figures");
            None
        }
    };
    let direct_url = stub.url("/d/0");
    let engine_url = engine.url("/query");
    // Warm every connection pool and path first.
    let _ = closed(
        &client,
        engine_url.clone(),
        Some(token.clone()),
        warmup,
        warmup,
    )
    .await;
    let _ = closed(&client, direct_url.clone(), None, warmup, warmup).await;
    let nginx_url = nginx.as_ref().map(|n| format!("{}/d/0", n.base));
    if let Some(url) = &nginx_url {
        let _ = closed(&client, url.clone(), None, warmup, warmup).await;
    }
    // What the HTTP stack alone (axum in, reqwest out) does, to read the engine by.
    let proxy = serve::bare_proxy(stub.url("/d/0"))?;
    let proxy_url = proxy.url("/query");
    let _ = closed(&client, proxy_url.clone(), None, warmup, warmup).await;

    // The fixed-rate runs take turns in rounds: the machine's drift over the scenario
    // (other tenants, page cache, CPU frequency) then lands on each path alike.
    let rounds = if quick { 1 } else { FIXED_RATE_ROUNDS };
    report.size("fixed_rate_rounds", rounds);
    let slice = duration / rounds;
    let [mut direct, mut through, mut via_proxy, mut via_nginx] =
        std::array::from_fn(|_| Outcome::default());
    for _ in 0..rounds {
        direct.merge(at_rate(&client, direct_url.clone(), None, rate, slice).await);
        let token = Some(token.clone());
        through.merge(at_rate(&client, engine_url.clone(), token, rate, slice).await);
        via_proxy.merge(at_rate(&client, proxy_url.clone(), None, rate, slice).await);
        if let Some(url) = &nginx_url {
            via_nginx.merge(at_rate(&client, url.clone(), None, rate, slice).await);
        }
    }
    for (name, o) in [
        ("direct", &direct),
        ("engine", &through),
        ("bare proxy", &via_proxy),
    ] {
        if let Some(e) = &o.first_error {
            report.note(format!(
                "{name} at fixed rate: {} errors, first: {e}",
                o.errors
            ));
        }
    }
    let (d50, d99) = (direct.latencies.p50(), direct.latencies.p99());
    let (e50, e99) = (through.latencies.p50(), through.latencies.p99());
    report.pair("fixed_rate_p50", "µs", e50, d50);
    report.pair("fixed_rate_p99", "µs", e99, d99);
    report.figure("added_p50", "µs", e50 - d50);
    report.figure("added_p99", "µs", e99 - d99);
    let (p50, p99) = (via_proxy.latencies.p50(), via_proxy.latencies.p99());
    report.pair("bare_proxy_fixed_rate_p50", "µs", p50, d50);
    report.pair("bare_proxy_fixed_rate_p99", "µs", p99, d99);
    report.figure("bare_proxy_added_p50", "µs", p50 - d50);

    let direct_c = closed(&client, direct_url.clone(), None, warmup, duration).await;
    let mut engine_c = closed(
        &client,
        engine_url.clone(),
        Some(token.clone()),
        warmup,
        duration,
    )
    .await;
    report.pair(
        "c16_throughput",
        "/s",
        engine_c.throughput(),
        direct_c.throughput(),
    );
    let proxy_c = closed(&client, proxy_url, None, warmup, duration).await;
    drop(proxy);
    report.pair(
        "c16_throughput_vs_bare_proxy",
        "/s",
        engine_c.throughput(),
        proxy_c.throughput(),
    );
    report.figure("bare_proxy_c16_throughput", "/s", proxy_c.throughput());
    report.figure("c16_p50", "µs", engine_c.latencies.p50());
    report.figure("c16_p99", "µs", engine_c.latencies.p99());
    report.figure("nginx_ran", "", if nginx.is_some() { 1.0 } else { 0.0 });

    let (added50, added99) = (e50 - d50, e99 - d99);
    report.floor(
        &format!(
            "added latency ≤ +150 µs p50 (is {added50:+.0} µs) and ≤ +1 ms p99 (is {:+.2} ms)",
            added99 / 1000.0
        ),
        added50 <= 150.0 && added99 <= 1000.0,
    );
    let vs_proxy = report.ratio("c16_throughput_vs_bare_proxy").unwrap_or(0.0);
    report.floor(
        &format!("c=16 throughput ≥ 0.5× the bare axum + reqwest proxy (is {vs_proxy:.2}×)"),
        vs_proxy >= 0.5,
    );
    if let Some(nginx_url) = &nginx_url {
        let mut n = via_nginx;
        let n_c = closed(&client, nginx_url.clone(), None, warmup, duration).await;
        if let Some(e) = n.first_error.as_ref().or(n_c.first_error.as_ref()) {
            report.note(format!("nginx: errors, first: {e}"));
        }
        let (n50, n99) = (n.latencies.p50(), n.latencies.p99());
        report.pair("nginx_fixed_rate_p50", "µs", n50, d50);
        report.pair("nginx_fixed_rate_p99", "µs", n99, d99);
        report.figure("nginx_added_p50", "µs", n50 - d50);
        report.pair(
            "nginx_c16_throughput",
            "/s",
            n_c.throughput(),
            direct_c.throughput(),
        );
        report.pair(
            "bare_proxy_c16_throughput_vs_nginx",
            "/s",
            proxy_c.throughput(),
            n_c.throughput(),
        );
        report.pair(
            "c16_throughput_vs_nginx",
            "/s",
            engine_c.throughput(),
            n_c.throughput(),
        );
    }
    drop(nginx);
    engine.stop();
    drop(stub);
    Ok(report)
}
