//! `switchboard bench`: the performance harness. Every scenario starts what it needs on
//! loopback (the engine as a child process of this same binary, stub destinations and
//! baselines on their own runtimes in this process), measures the engine and a baseline
//! in the same run, and reports both with their ratio, because absolute figures drift
//! from run to run on shared machines. See `BENCHMARKS.md` for the method.
//!
//! - [`report`]: the figures of one scenario, printed as a table or one JSON line.
//! - [`load`]: closed-loop and fixed-arrival-rate load generators, latency recording.
//! - [`serve`]: in-process servers on their own runtimes, stubs, the axum + sled
//!   baseline, the bare proxy, nginx.
//! - [`child`]: the engine and the baselines measured like it, as child processes
//!   (CPU time and resident memory from `/proc`).
//! - [`callgrind`]: `bench ingest --callgrind`, instructions per request under valgrind.
//! - [`scenarios`]: ingest, query, delivery, history, recovery, console, soak, cluster.

pub mod callgrind;
pub mod child;
pub mod load;
pub mod report;
pub mod scenarios;
pub mod serve;

use report::Report;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

impl BenchError {
    pub fn new(context: &str, e: impl std::fmt::Display) -> Self {
        BenchError(format!("{context}: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, BenchError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Authenticated 1 KiB notifications, ack after flush, vs axum + sled.
    Ingest,
    /// Queries through the engine vs the stub directly (and nginx if installed).
    Query,
    /// Accept → arrival at a stub; sustained delivery to 1, 10, 100 destinations.
    Delivery,
    /// Reads with a large history: open by id, filtered page, start-up, disk per log.
    History,
    /// Restart with a full queue: time to the first delivery and to drained.
    Recovery,
    /// The console's draw time, memory, and bytes written when idle.
    Console,
    /// 10 minutes at 1,000 notifications/s: the engine's resident memory over time
    /// (not part of `all`).
    Soak,
    /// Nodes on one PostgreSQL store (1, 2, 3) next to one sled node: ingest, delivery,
    /// history search at size (needs SWITCHBOARD_BENCH_POSTGRES; not part of `all`).
    Cluster,
    /// Every scenario in turn (all but `soak`).
    All,
}

impl Scenario {
    pub const EACH: [Scenario; 6] = [
        Scenario::Ingest,
        Scenario::Query,
        Scenario::Delivery,
        Scenario::History,
        Scenario::Recovery,
        Scenario::Console,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ingest => "ingest",
            Scenario::Query => "query",
            Scenario::Delivery => "delivery",
            Scenario::History => "history",
            Scenario::Recovery => "recovery",
            Scenario::Console => "console",
            Scenario::Soak => "soak",
            Scenario::Cluster => "cluster",
            Scenario::All => "all",
        }
    }
}

/// `switchboard bench SCENARIO [--quick] [--json]`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Which scenario (`all` runs each in turn).
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Small sizes and short runs (under a minute in all): a smoke run for CI.
    #[arg(long)]
    pub quick: bool,
    /// One JSON object per scenario on stdout, one per line, instead of tables.
    #[arg(long)]
    pub json: bool,
    /// `ingest` only: run the engine and its baseline under `valgrind --tool=callgrind`
    /// and report instructions per request and the top functions (use a release build).
    #[arg(long)]
    pub callgrind: bool,
    /// With --callgrind: requests counted (after a warm-up that is not).
    #[arg(long, default_value_t = callgrind::DEFAULT_REQUESTS, requires = "callgrind")]
    pub requests: u64,
}

/// `switchboard bench-baseline KIND` (hidden): a baseline server as its own process,
/// so the harness measures its CPU time and memory exactly as it measures the engine's.
#[derive(Debug, Clone, clap::Args)]
pub struct BaselineArgs {
    #[arg(value_enum)]
    pub kind: BaselineKind,
    /// The sled directory of the `ingest` baseline.
    #[arg(long, required_if_eq("kind", "ingest"))]
    pub db: Option<std::path::PathBuf>,
    /// Where the `proxy` baseline forwards.
    #[arg(long, required_if_eq("kind", "proxy"))]
    pub upstream: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineKind {
    /// axum + sled: insert the body, wait for the group-commit flush, 200.
    Ingest,
    /// axum in, reqwest out: the engine's HTTP stack alone.
    Proxy,
}

/// Serves one baseline on `127.0.0.1:0`, prints its address line (as `serve` does), and
/// runs until its stdin closes: the harness holds it, so the server ends with it.
pub fn serve_baseline(args: BaselineArgs) -> Result<()> {
    use std::io::{Read, Write};
    let server = match (args.kind, args.db, args.upstream) {
        (BaselineKind::Ingest, Some(db), _) => serve::baseline(&db, 2, None)?,
        (BaselineKind::Proxy, _, Some(upstream)) => serve::bare_proxy(upstream)?,
        (BaselineKind::Ingest, None, _) => {
            return Err(BenchError("the ingest baseline needs --db DIR".into()));
        }
        (BaselineKind::Proxy, _, None) => {
            return Err(BenchError("the proxy baseline needs --upstream URL".into()));
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}http://{}", child::LISTENING, server.addr)
        .and_then(|_| out.flush())
        .map_err(|e| BenchError::new("write the address line", e))?;
    drop(out);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(server);
    Ok(())
}

/// Runs the scenarios asked for, printing each report as it completes.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.callgrind {
        if args.scenario != Scenario::Ingest {
            return Err(BenchError(
                "--callgrind measures the ingest scenario only: `switchboard bench ingest \
                 --callgrind [--requests N]`"
                    .into(),
            ));
        }
        return callgrind::run(args.requests, args.json);
    }
    let list: Vec<Scenario> = match args.scenario {
        Scenario::All => Scenario::EACH.to_vec(),
        one => vec![one],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::new("cannot start the async runtime", e))?;
    let started = Instant::now();
    if !args.json {
        let m = report::Machine::here();
        println!(
            "switchboard bench ({} mode) on {} cores, {:.1} GiB memory",
            if args.quick { "quick" } else { "full" },
            m.cores,
            m.memory_bytes as f64 / (1u64 << 30) as f64
        );
    }
    for scenario in list {
        let t = Instant::now();
        let mut report = runtime.block_on(scenarios::run(scenario, args.quick))?;
        report.duration_s = t.elapsed().as_secs_f64();
        if args.json {
            println!("{}", report.to_json());
        } else {
            print!("{}", report.table());
        }
    }
    if !args.json {
        println!(
            "total {:.1} s ({} mode)",
            started.elapsed().as_secs_f64(),
            if args.quick { "quick" } else { "full" }
        );
    }
    // Loopback servers on their own threads end with the process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

/// What every report shares; `Report::new` fills it.
pub(crate) fn new_report(scenario: Scenario, quick: bool) -> Report {
    Report::new(scenario.name(), quick)
}
