//! `switchboard bench`: the performance harness. Every scenario starts what it needs on
//! loopback (the engine as a child process of this same binary, stub destinations and
//! baselines on their own runtimes in this process), measures the engine and a baseline
//! in the same run, and reports both with their ratio, because absolute figures drift
//! from run to run on shared machines. See `BENCHMARKS.md` for the method.
//!
//! - [`report`]: the figures of one scenario, printed as a table or one JSON line.
//! - [`load`]: closed-loop and fixed-arrival-rate load generators, latency recording.
//! - [`serve`]: the engine child process, in-process servers on their own runtimes,
//!   stubs, the axum + sled baseline, nginx.
//! - [`scenarios`]: ingest, query, delivery, history, recovery, console.

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
    /// Every scenario in turn.
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
}

/// Runs the scenarios asked for, printing each report as it completes.
pub fn run(args: BenchArgs) -> Result<()> {
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
