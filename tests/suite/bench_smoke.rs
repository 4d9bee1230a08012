//! The CI smoke run of the performance harness: `switchboard bench all --quick --json`
//! runs every scenario and reports every figure, its baseline and their ratio, and
//! `bench soak --quick` reports the engine's memory over time (the two run side by side,
//! as cargo runs a file's tests, so the soak adds little wall time). No speed is
//! asserted: these machines are shared and noisy; BENCHMARKS.md says how to read the
//! figures.

use serde_json::Value;
use std::process::Command;

/// Every figure each scenario must report; those with a baseline also carry one and a
/// ratio.
const EXPECTED: &[(&str, &[&str], &[&str])] = &[
    (
        "ingest",
        &[
            "c1_throughput",
            "c1_p50",
            "c1_p99",
            "c1_p999",
            "c16_throughput",
            "c16_p50",
            "c16_p99",
            "c16_p999",
            "c64_throughput",
            "c64_p50",
            "c64_p99",
            "c64_p999",
            "cpu_per_msg_us",
        ],
        &["c1_errors", "c16_errors", "c64_errors"],
    ),
    (
        "query",
        &[
            "fixed_rate_p50",
            "fixed_rate_p99",
            "c16_throughput",
            "c16_throughput_vs_bare_proxy",
            "bare_proxy_fixed_rate_p50",
            "bare_proxy_fixed_rate_p99",
        ],
        &[
            "added_p50",
            "added_p99",
            "bare_proxy_added_p50",
            "c16_p50",
            "c16_p99",
            "nginx_ran",
            "bare_proxy_c16_throughput",
        ],
    ),
    (
        "delivery",
        &[
            "accept_to_arrival_p50",
            "accept_to_arrival_p99",
            "d1_delivered_per_s",
            "d10_delivered_per_s",
            "d100_delivered_per_s",
        ],
        &[
            "not_arrived",
            "d1_accepted_per_s",
            "d10_accepted_per_s",
            "d100_accepted_per_s",
        ],
    ),
    (
        "history",
        &[
            "open_by_id_p50",
            "open_by_id_p99",
            "filtered_page_p50",
            "filtered_page_p99",
            "startup",
            "recovery_startup",
            "disk_bytes_per_log",
        ],
        &[
            "fill_logs_per_s",
            "serve_rss_bytes",
            "clean_stop",
            "restart_rss_bytes",
        ],
    ),
    (
        "recovery",
        &["time_to_first_delivery", "time_to_drained", "drain_rate"],
        &["engine_startup"],
    ),
    (
        "console",
        &["draw_p50", "draw_p99", "rss"],
        &["frames_drawn", "update_per_event", "idle_bytes_per_s"],
    ),
];

/// With nginx installed, the query scenario also reports these against it.
const NGINX: &[&str] = &[
    "nginx_fixed_rate_p50",
    "nginx_fixed_rate_p99",
    "nginx_c16_throughput",
    "c16_throughput_vs_nginx",
    "bare_proxy_c16_throughput_vs_nginx",
];

fn number(report: &Value, section: &str, name: &str) -> f64 {
    let scenario = report["scenario"].as_str().unwrap_or("?");
    report[section][name].as_f64().unwrap_or_else(|| {
        panic!("{scenario}: {section}.{name} is missing or not a number: {report}")
    })
}

/// Issue 20's floors, each with whether this run reached it.
fn assert_floors(report: &Value) {
    let floors = report["floors"]
        .as_array()
        .unwrap_or_else(|| panic!("floors is a list: {report}"));
    let want = match report["scenario"].as_str() {
        Some("ingest") => 2,
        Some("query") => 2,
        Some("history") => 3,
        Some("console") => 1,
        Some("soak") => 2,
        _ => 0,
    };
    assert_eq!(floors.len(), want, "floors of {report}");
    for floor in floors {
        assert!(floor["floor"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(floor["reached"].is_boolean(), "reached true|false: {floor}");
    }
}

/// Runs `switchboard ARGS` and parses each stdout line as JSON.
fn run_json(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("run switchboard bench");
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn bench_soak_quick_samples_the_engines_memory() {
    let reports = run_json(&["bench", "soak", "--quick", "--json"]);
    assert_eq!(reports.len(), 1, "one JSON line: {reports:?}");
    let report = &reports[0];
    assert_eq!(report["scenario"], "soak");
    assert_eq!(report["quick"], Value::Bool(true));
    for name in [
        "rss_start_bytes",
        "rss_end_bytes",
        "rss_max_bytes",
        "rss_slope_mib_per_min",
        "accept_p50",
        "accept_p99",
        "errors",
        "accepted_per_s",
        "delivered",
    ] {
        number(report, "figures", name);
    }
    // A real process's memory, sampled through the run (20 s, every 2 s).
    assert!(
        number(report, "figures", "rss_max_bytes") >= number(report, "figures", "rss_start_bytes")
    );
    assert!(number(report, "figures", "rss_start_bytes") > 1_000_000.0);
    let samples = report["details"]["rss_samples"]
        .as_array()
        .unwrap_or_else(|| panic!("rss_samples: {report}"));
    assert!(samples.len() >= 5, "sampled through the run: {samples:?}");
    assert!(number(report, "figures", "delivered") > 0.0, "{report}");
    assert_floors(report);
}

#[test]
fn callgrind_mode_says_what_is_missing_without_valgrind() {
    let empty = std::env::temp_dir().join(format!("bench-no-valgrind-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("empty dir");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["bench", "ingest", "--callgrind", "--requests", "10"])
        .env("PATH", &empty)
        .output()
        .expect("run switchboard bench");
    let _ = std::fs::remove_dir(&empty);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("valgrind") && stderr.contains("apt-get install valgrind"),
        "{stderr}"
    );
}

#[test]
fn bench_all_quick_reports_every_figure() {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["bench", "all", "--quick", "--json"])
        .output()
        .expect("run switchboard bench");
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let reports: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let names: Vec<&str> = reports
        .iter()
        .filter_map(|r| r["scenario"].as_str())
        .collect();
    assert_eq!(
        names,
        EXPECTED.iter().map(|(n, _, _)| *n).collect::<Vec<_>>(),
        "one JSON line per scenario, in order"
    );
    for (report, (_, paired, alone)) in reports.iter().zip(EXPECTED) {
        assert_eq!(report["quick"], Value::Bool(true));
        assert!(number(report, "machine", "cores") >= 1.0);
        assert!(number(report, "machine", "memory_bytes") > 0.0);
        assert!(report["duration_s"].as_f64().is_some());
        assert!(
            report["sizes"].as_object().is_some_and(|s| !s.is_empty()),
            "sizes stated: {report}"
        );
        assert!(
            report["baseline_is"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        for name in *paired {
            number(report, "figures", name);
            number(report, "baseline", name);
            number(report, "ratios", name);
            assert!(report["units"][name].is_string());
        }
        for name in *alone {
            number(report, "figures", name);
        }
        // Every baseline figure has its ratio.
        if let Some(baseline) = report["baseline"].as_object() {
            for name in baseline.keys() {
                number(report, "ratios", name);
            }
        }
        if report["scenario"] == "query" && number(report, "figures", "nginx_ran") == 1.0 {
            for name in NGINX {
                number(report, "figures", name);
                number(report, "ratios", name);
            }
        }
        assert_floors(report);
    }
    eprintln!(
        "bench all --quick took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
