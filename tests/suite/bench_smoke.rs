//! The CI smoke run of the performance harness: `switchboard bench all --quick --json`
//! runs every scenario and reports every figure, its baseline and their ratio. No speed
//! is asserted: these machines are shared and noisy; BENCHMARKS.md says how to read the
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
            "disk_bytes_per_log",
        ],
        &["fill_logs_per_s"],
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
        assert!(report["floors"].is_array());
    }
    eprintln!(
        "bench all --quick took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
