//! `cluster`: engine nodes on one PostgreSQL store next to one node on the embedded
//! store, in the same run: ingest (closed loop, requests spread round-robin over the
//! nodes) and delivery (accepted → arrived at a stub, four push queues), with 1, 2 and 3
//! nodes; then history searches over a large history on PostgreSQL (first page,
//! filtered, through the admin API).
//!
//! On a 2-core machine every node, the database and the load generator share two
//! cores: the figures show what sharing a database costs and that nothing collapses as
//! nodes are added, not a speed-up (which needs a machine per node).
//!
//! Needs a PostgreSQL server: `SWITCHBOARD_BENCH_POSTGRES=postgres://USER@HOST/DB` names
//! one where USER may create databases; each configuration gets a fresh database,
//! dropped after. Not part of `all`.

use super::secs;
use crate::bench::load::{self, closed_loop};
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, TempDir};
use crate::bench::{BenchError, Result, Scenario, new_report};
use crate::store::credentials::Credentials;
use crate::store::postgres::PgLocation;
use crate::store::postgres::records::Reach;
use std::time::{Duration, Instant};

/// Where the bench finds PostgreSQL.
pub const POSTGRES_VAR: &str = "SWITCHBOARD_BENCH_POSTGRES";
/// Push destinations (queues) the traffic is spread over.
const QUEUES: usize = 4;
const CONCURRENCY: usize = 16;

mod history;

pub async fn run(quick: bool) -> Result<Report> {
    let server = std::env::var(POSTGRES_VAR).map_err(|_| {
        BenchError(format!(
            "bench cluster needs a PostgreSQL server: set {POSTGRES_VAR}=postgres://USER@HOST/DB \
             (USER may create databases; Debian: apt-get install postgresql, then \
             `createuser -s $USER` as postgres)"
        ))
    })?;
    let mut report = new_report(Scenario::Cluster, quick);
    report.baseline_is = "one node on the embedded (sled) store, same machine, same load".into();
    let duration = secs(quick, 1.0, 10.0);
    report.size("seconds", duration.as_secs_f64());
    report.size("concurrency", CONCURRENCY);
    report.size("queues", QUEUES);
    report.note(
        "2 cores shared by every node, PostgreSQL and the load: this shows the cost of a \
         shared store and that adding nodes does not collapse anything, not a speed-up",
    );
    let sled = measure(None, 1, duration).await?;
    for nodes in 1..=3 {
        let db = Scratch::create(&server, &format!("nodes{nodes}")).await?;
        let pg = measure(Some(&db.url), nodes, duration).await?;
        db.drop_now().await;
        report.pair(
            &format!("ingest_{nodes}_nodes"),
            "/s",
            pg.ingest_per_s,
            sled.ingest_per_s,
        );
        report.pair(
            &format!("ingest_{nodes}_nodes_p99"),
            "µs",
            pg.p99_us,
            sled.p99_us,
        );
        report.pair(
            &format!("delivery_{nodes}_nodes"),
            "/s",
            pg.delivered_per_s,
            sled.delivered_per_s,
        );
        if pg.errors > 0 {
            report.note(format!("{nodes} nodes: {} errors", pg.errors));
        }
    }
    let logs = if quick { 20_000 } else { 1_000_000 };
    let db = Scratch::create(&server, "history").await?;
    let searched = history::run(&db.url, logs, &mut report).await;
    db.drop_now().await;
    searched?;
    Ok(report)
}

struct Figures {
    ingest_per_s: f64,
    p99_us: f64,
    /// Accepted messages over the time from the first send to the last arrival.
    delivered_per_s: f64,
    errors: u64,
}

/// `nodes` engines (on `store`, else one on sled), a closed loop spread over them, then
/// the wait until every accepted message arrived.
async fn measure(store: Option<&str>, nodes: usize, duration: Duration) -> Result<Figures> {
    let (stub, stub_log) = serve::stub()?;
    let mut config = serve::config(QUEUES, Some(&stub.url("")));
    if let Some(url) = store {
        config = format!("[store]\nurl = \"{url}\"\n\n{config}");
    }
    let mut dirs = Vec::new();
    let mut engines = Vec::new();
    for i in 0..nodes {
        let dir = TempDir::new(&format!("cluster{i}"))?;
        engines.push(EngineProcess::start(dir.path(), &config)?);
        dirs.push(dir);
    }
    let client = load::client();
    let token = match store {
        Some(url) => shared_token(&client, &engines[0], dirs[0].path(), url).await?,
        None => serve::token(&client, &engines[0], &dirs[0].path().join("data")).await?,
    };
    let urls: Vec<String> = engines.iter().map(|e| e.url("/endpoint")).collect();
    let destinations: Vec<uuid::Uuid> = (0..QUEUES).map(serve::destination_id).collect();
    let request = load::request(move |i, _| {
        let (cl, tok) = (client.clone(), token.clone());
        let url = urls[i as usize % urls.len()].clone();
        let to = [destinations[i as usize % destinations.len()]];
        let body = serve::notification(&to, i);
        async move { load::post(&cl, &url, Some(&tok), body).await.map(|_| ()) }
    });
    let started = Instant::now();
    let mut outcome = closed_loop(request, CONCURRENCY, Duration::ZERO, duration).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let arrived = || stub_log.arrivals.lock().map(|a| a.len()).unwrap_or(0) as u64;
    while arrived() < outcome.ok && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = stub_log
        .arrivals
        .lock()
        .ok()
        .and_then(|a| a.iter().map(|(_, at)| *at).max())
        .unwrap_or_else(Instant::now);
    let delivered = arrived().min(outcome.ok);
    let figures = Figures {
        ingest_per_s: outcome.throughput(),
        p99_us: outcome.latencies.p99(),
        delivered_per_s: delivered as f64 / last.duration_since(started).as_secs_f64().max(1e-9),
        errors: outcome.errors + (outcome.ok - delivered),
    };
    for engine in engines {
        engine.stop();
    }
    Ok(figures)
}

/// An access token for the bench source, its key made in the shared store.
async fn shared_token(
    client: &reqwest::Client,
    engine: &EngineProcess,
    dir: &std::path::Path,
    url: &str,
) -> Result<String> {
    let at: PgLocation = url.parse().map_err(|e| BenchError::new("store URL", e))?;
    serve::token_from(client, engine, &Credentials::shared(dir, Reach::At(at))).await
}

/// A fresh database on the bench's server, dropped afterwards.
struct Scratch {
    server: PgLocation,
    name: String,
    url: String,
}

impl Scratch {
    async fn create(server: &str, label: &str) -> Result<Scratch> {
        let at: PgLocation = server
            .parse()
            .map_err(|e| BenchError::new("store URL", e))?;
        let name = format!("switchboard_bench_{label}_{}", std::process::id());
        let client = at
            .connect()
            .await
            .map_err(|e| BenchError::new("connect", e))?;
        // One statement each: CREATE DATABASE cannot run inside a transaction block.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&statement)
                .await
                .map_err(|e| BenchError::new("create a bench database", describe(&e)))?;
        }
        Ok(Scratch {
            url: with_database(server, &name),
            server: at,
            name,
        })
    }

    async fn drop_now(self) {
        if let Ok(client) = self.server.connect().await {
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }
}

fn describe(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_string())
}

/// `url` naming database `name` instead (its query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_names_another_database() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5/db?sslmode=require", "x"),
            "postgres://u:p@h:5/x?sslmode=require"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
