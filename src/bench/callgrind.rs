//! `switchboard bench ingest --callgrind [--requests N]`: the engine and the ingest
//! baseline, each as a child process under `valgrind --tool=callgrind`, count the
//! instructions they execute for N authenticated 1 KiB notifications (at c=16). The
//! counts are exact and do not move with a busy host, unlike time.
//!
//! Start-up and a warm-up are excluded: valgrind starts with instrumentation off
//! (`--instr-atstart=no`); after the warm-up (and, for the engine, once its journal is
//! applied) `callgrind_control -i on` turns it on, and after the N requests (and the
//! engine's journal applied again, so the work after the 200 is counted) `-i off`.
//! The process then ends on SIGTERM and callgrind writes its one dump, which
//! `callgrind_annotate` reads for the top functions, inclusive and self. (Zeroing and
//! dumping a running process with `-z`/`-d` instead gave totals a couple of hundred
//! times too low, all of them charged to `clone`: the threads' stacks at the zeroing.)

use super::child::{ServerProcess, wait_applied};
use super::load::{self, counted_loop};
use super::report::Report;
use super::scenarios::ingest::start_baseline;
use super::serve::{self, TempDir};
use super::{BenchError, Result};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const DEFAULT_REQUESTS: u64 = 2000;
/// Requests before the counters are zeroed: connections, caches and sled's first
/// leaves are in place by then.
const WARMUP_REQUESTS: u64 = 200;
const CONCURRENCY: usize = 16;
/// Functions listed per view.
const TOP: usize = 15;
/// Applying the backlog is ~50 times slower under valgrind.
const DRAIN_DEADLINE: Duration = Duration::from_secs(600);
/// Ending a process under valgrind, and writing its dump, takes seconds, not ms.
const EXIT_GRACE: Duration = Duration::from_secs(120);

const TOOLS: [&str; 3] = ["valgrind", "callgrind_control", "callgrind_annotate"];

/// Runs both measurements and prints the report (a table, or one JSON line).
pub fn run(requests: u64, json_out: bool) -> Result<()> {
    if let Some(missing) = TOOLS.iter().find(|t| find_in_path(t).is_none()) {
        return Err(BenchError(format!(
            "--callgrind needs valgrind's tools on PATH, and `{missing}` is not there: \
             install valgrind (Debian: apt-get install valgrind), or measure without \
             --callgrind"
        )));
    }
    if requests == 0 {
        return Err(BenchError("--requests must be at least 1".into()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::new("cannot start the async runtime", e))?;
    let started = Instant::now();
    let mut report = runtime.block_on(measure(requests))?;
    report.duration_s = started.elapsed().as_secs_f64();
    if json_out {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
        print!("{}", top_tables(&report));
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// One side's result: instructions counted, requests answered, top functions.
struct Counted {
    instructions: u64,
    ok: u64,
    errors: u64,
    top: Value,
}

async fn measure(requests: u64) -> Result<Report> {
    let mut report = Report::new("ingest_callgrind", false);
    report.baseline_is = "the ingest baseline (axum + sled, insert, group-commit flush, \
        200) in its own process under the same valgrind"
        .into();
    report.size("requests", requests);
    report.size("warmup_requests", WARMUP_REQUESTS);
    report.size("concurrency", CONCURRENCY);
    report.size("body_bytes", 1024);
    if cfg!(debug_assertions) {
        report.note(
            "this is a debug build: its instruction counts are not a release build's \
             (cargo build --release)",
        );
    }
    let engine = count_engine(requests).await?;
    let baseline = count_baseline(requests).await?;
    for (name, side) in [("engine", &engine), ("baseline", &baseline)] {
        if side.errors > 0 {
            report.note(format!("{name}: {} requests failed", side.errors));
        }
    }
    report.pair(
        "instructions_per_request",
        "Ir",
        per_request(&engine),
        per_request(&baseline),
    );
    report.pair(
        "instructions_total",
        "Ir",
        engine.instructions as f64,
        baseline.instructions as f64,
    );
    report.details.insert(
        "top_functions".into(),
        json!({"engine": engine.top, "baseline": baseline.top}),
    );
    report.note(
        "the engine's count includes applying its journal after the 200, and the few \
         GET /metrics polls that wait for it",
    );
    report.note(format!(
        "the dumps are kept in {} (engine.callgrind.out, baseline.callgrind.out)",
        kept_dir().display()
    ));
    Ok(report)
}

fn per_request(side: &Counted) -> f64 {
    if side.ok == 0 {
        f64::NAN
    } else {
        side.instructions as f64 / side.ok as f64
    }
}

/// `valgrind --tool=callgrind` with its output files in `dir`.
fn wrapper(dir: &Path) -> Vec<OsString> {
    let mut out = OsString::from("--callgrind-out-file=");
    out.push(dir.join("callgrind.out.%p"));
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--instr-atstart=no".into(),
        out,
    ]
}

async fn count_engine(requests: u64) -> Result<Counted> {
    let dir = TempDir::new("callgrind-engine")?;
    let config = dir.path().join("config.toml");
    std::fs::write(&config, serve::config(1, None))
        .map_err(|e| BenchError::new("write config", e))?;
    let engine = ServerProcess::engine_under(dir.path(), &config, &wrapper(dir.path()))?;
    let client = load::client();
    let token = serve::token(&client, &engine, &dir.path().join("data")).await?;
    let request = notifications(&client, engine.url("/endpoint"), Some(token));
    count(
        "engine",
        dir.path(),
        engine,
        request,
        requests,
        Some(&client),
    )
    .await
}

async fn count_baseline(requests: u64) -> Result<Counted> {
    let dir = TempDir::new("callgrind-baseline")?;
    let baseline = start_baseline(dir.path(), &wrapper(dir.path()))?;
    let client = load::client();
    let request = notifications(&client, baseline.url("/ingest"), None);
    count("baseline", dir.path(), baseline, request, requests, None).await
}

fn notifications(client: &reqwest::Client, url: String, token: Option<String>) -> load::Request {
    let destination = [serve::destination_id(0)];
    let client = client.clone();
    load::request(move |i, _| {
        let (cl, url, tok) = (client.clone(), url.clone(), token.clone());
        let body = serve::notification(&destination, i);
        async move {
            load::post(&cl, &url, tok.as_deref(), body)
                .await
                .map(|_| ())
        }
    })
}

/// Warm-up, instrumentation on, `requests` counted, off, exit and its dump; `drain`
/// waits for the engine's journal.
async fn count(
    label: &str,
    dir: &Path,
    server: ServerProcess,
    request: load::Request,
    requests: u64,
    drain: Option<&reqwest::Client>,
) -> Result<Counted> {
    let _ = counted_loop(request.clone(), CONCURRENCY, WARMUP_REQUESTS).await;
    if let Some(client) = drain {
        wait_applied(client, &server, DRAIN_DEADLINE).await?;
    }
    let pid = server.pid().to_string();
    control(&["-i", "on", &pid]).await?;
    let outcome = counted_loop(request, CONCURRENCY, requests).await;
    if let Some(client) = drain {
        wait_applied(client, &server, DRAIN_DEADLINE).await?;
    }
    control(&["-i", "off", &pid]).await?;
    tokio::task::spawn_blocking(move || server.stop_within(EXIT_GRACE))
        .await
        .map_err(|e| BenchError::new("stop the server", e))?;
    let dump = keep(&dir.join(format!("callgrind.out.{pid}")), label)?;
    let instructions = total_instructions(&dump)?;
    let top = json!({
        "inclusive": annotate(&dump, true).await?,
        "self": annotate(&dump, false).await?,
    });
    Ok(Counted {
        instructions,
        ok: outcome.ok,
        errors: outcome.errors,
        top,
    })
}

/// `callgrind_control ARGS`, off the async workers (it waits for valgrind to answer).
async fn control(args: &[&str]) -> Result<()> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output =
        tokio::task::spawn_blocking(move || Command::new("callgrind_control").args(&args).output())
            .await
            .map_err(|e| BenchError::new("callgrind_control", e))?
            .map_err(|e| BenchError::new("run callgrind_control", e))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BenchError(format!(
            "callgrind_control failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// Where the dumps are kept for `callgrind_annotate` or KCachegrind after the run (the
/// server's temp dir goes with it).
pub fn kept_dir() -> PathBuf {
    std::env::temp_dir().join(format!("switchboard-callgrind-{}", std::process::id()))
}

/// Copies a dump to [`kept_dir`] as `<label>.callgrind.out`.
fn keep(dump: &Path, label: &str) -> Result<PathBuf> {
    let dir = kept_dir();
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::new("create the dump dir", e))?;
    let kept = dir.join(format!("{label}.callgrind.out"));
    std::fs::copy(dump, &kept).map_err(|e| BenchError::new("keep the dump", e))?;
    Ok(kept)
}

/// The dump's `totals:` line (or `summary:` without one): the instructions counted.
/// With instrumentation switched on mid-run `summary:` reads 0, so `totals:` comes first.
fn total_instructions(dump: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(dump).map_err(|e| BenchError::new("read dump", e))?;
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    line("totals:")
        .or_else(|| line("summary:"))
        .filter(|&n| n > 0)
        .ok_or_else(|| BenchError(format!("no instruction total in {}", dump.display())))
}

/// The top functions of a dump, inclusive or self, from `callgrind_annotate`.
async fn annotate(dump: &Path, inclusive: bool) -> Result<Value> {
    let flag = format!("--inclusive={}", if inclusive { "yes" } else { "no" });
    let dump = dump.to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("callgrind_annotate")
            .arg(flag)
            .arg(&dump)
            .output()
    })
    .await
    .map_err(|e| BenchError::new("callgrind_annotate", e))?
    .map_err(|e| BenchError::new("run callgrind_annotate", e))?;
    if !output.status.success() {
        return Err(BenchError(format!(
            "callgrind_annotate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(Value::Array(top_functions(&String::from_utf8_lossy(
        &output.stdout,
    ))))
}

/// `{"function", "instructions", "percent"}` for the first [`TOP`] function lines of
/// `callgrind_annotate`'s output (`1,234 (12.5%)  file:function [object]`).
fn top_functions(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (count, rest) = line.split_once(' ')?;
            let instructions: u64 = count.replace(',', "").parse().ok()?;
            let rest = rest.trim_start();
            let (percent, name) = rest.strip_prefix('(')?.split_once("%)")?;
            let percent: f64 = percent.trim().parse().ok()?;
            let name = name.trim();
            // Above 100 %: a recursive function counted once per level.
            if name == "PROGRAM TOTALS" || name.is_empty() || percent > 100.0 {
                return None;
            }
            // The object file in brackets is the same binary on every line.
            let name = name.rsplit_once(" [").map_or(name, |(n, _)| n);
            Some(json!({"function": name, "instructions": instructions, "percent": percent}))
        })
        .take(TOP)
        .collect()
}

/// The top functions as text, for the table mode.
fn top_tables(report: &Report) -> String {
    let mut out = String::new();
    let Some(top) = report.details.get("top_functions") else {
        return out;
    };
    for side in ["engine", "baseline"] {
        for view in ["inclusive", "self"] {
            out += &format!("\n-- {side}: top functions ({view}) --\n");
            for f in top[side][view].as_array().into_iter().flatten() {
                out += &format!(
                    "{:>16} {:>6.2}%  {}\n",
                    f["instructions"].as_u64().unwrap_or(0),
                    f["percent"].as_f64().unwrap_or(0.0),
                    f["function"].as_str().unwrap_or("?")
                );
            }
        }
    }
    out
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::{top_functions, total_instructions};

    #[test]
    fn the_total_is_read_from_totals_when_summary_reads_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dump = dir.path().join("callgrind.out.1");
        std::fs::write(
            &dump,
            "events: Ir\nsummary: 0\nfn=main\n1 5\ntotals: 153002830\n",
        )
        .expect("write");
        assert_eq!(total_instructions(&dump).expect("a total"), 153_002_830);
        std::fs::write(&dump, "events: Ir\nsummary: 0\n").expect("write");
        assert!(
            total_instructions(&dump).is_err(),
            "nothing counted is no total"
        );
    }

    #[test]
    fn annotate_lines_become_functions() {
        let text = "--------\nIr\n--------\n8,000 (100.0%)  PROGRAM TOTALS\n\n\
                    Ir  file:function\n4,000 (50.00%)  ???:sled::tree::Tree::split_node [/bin/switchboard]\n\
                    1,000 (12.50%)  ???:memcpy [/lib/libc.so.6]\n";
        let top = top_functions(text);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0]["function"], "???:sled::tree::Tree::split_node");
        assert_eq!(top[0]["instructions"], 4000);
        assert_eq!(top[1]["percent"], 12.5);
    }
}
