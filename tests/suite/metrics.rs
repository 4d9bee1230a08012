//! Issue 19, points 6 and 9: `GET /metrics` in the Prometheus (OpenMetrics) text format
//! after real traffic (notifications, a query, a delivery refused with 500, a failed
//! login), `metrics_token`, `GET /healthz` and `GET /readyz` (503 with a reason when
//! the store cannot take writes).

use crate::common;

use common::{StubDestination, StubReply, TestEngine};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// One sample: its name and labels as written, e.g. `x_total{a="b"}`, and its value.
type Samples = BTreeMap<String, f64>;

/// Parses an OpenMetrics text exposition, failing on any line that is not a comment
/// of the format or a well-formed sample, and on a missing `# EOF`.
fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" {
            assert!(lines.peek().is_none(), "text after # EOF:\n{text}");
            return samples;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let kind = rest.split(' ').next().unwrap_or("");
            assert!(
                ["HELP", "TYPE", "UNIT"].contains(&kind),
                "unknown comment {line:?}"
            );
            if kind == "TYPE" {
                let t = rest.rsplit(' ').next().unwrap_or("");
                assert!(
                    ["counter", "gauge", "histogram", "info", "unknown"].contains(&t),
                    "{line:?}"
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample without a value: {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name.starts_with("switchboard_")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            check_labels(&series[name_end..], line);
        }
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "a series twice: {line:?}"
        );
    }
    panic!("no # EOF at the end:\n{text}");
}

/// `{name="value",…}`: names are identifiers, values quoted with escapes.
fn check_labels(labels: &str, line: &str) {
    let inner = labels
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .unwrap_or_else(|| panic!("labels not in braces: {line:?}"));
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label without =\": {line:?}"));
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "label name {name:?} in {line:?}"
        );
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("an unclosed label value: {line:?}"));
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
}

async fn scrape(te: &TestEngine, bearer: Option<&str>) -> (StatusCode, String) {
    let mut request = te.client.get(te.url("/metrics"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("scrape");
    let status = response.status();
    if status == StatusCode::OK {
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    }
    (status, response.text().await.expect("body"))
}

fn value(samples: &Samples, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no series {series} in {samples:#?}"))
}

fn config(good: &str, failing: &str, engine: &str) -> String {
    format!(
        "{engine}\n{}{}{}\
         retry_schedule_seconds = [600]\n\n{}{}",
        common::source_toml("Lab", "development", None),
        common::destination_toml("Good", "development", good),
        common::destination_toml("Failing", "development", failing),
        common::subscription_toml("Lab", "Good", &["*"]),
        common::subscription_toml("Lab", "Failing", &["*"]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_traffic_in_prometheus_text() {
    let good = StubDestination::start(StubReply::Json(
        200,
        json!({"Meta": {"DataModel": "PatientSearch", "EventType": "Query"}, "Patient": {}}),
    ))
    .await;
    let failing = StubDestination::start(StubReply::Text(500, "down".into())).await;
    let te = TestEngine::start(&config(&good.url, &failing.url, "")).await;
    let (good_id, failing_id) = (te.destination_id("Good"), te.destination_id("Failing"));
    let token = te.token("Lab").await;

    let (status, body) = scrape(&te, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = parse(&body);
    let accepted =
        "switchboard_http_requests_total{route=\"/endpoint\",method=\"POST\",status=\"200\"}";
    assert!(!before.contains_key(accepted), "{body}");

    for n in 0..2 {
        let payload = common::payload("PatientAdmin", "Arrival", &[good_id], &format!("G{n}"));
        let (status, body) = te.post_json("/endpoint", Some(&token), &payload).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for n in 0..3 {
        let payload = common::payload("PatientAdmin", "Arrival", &[failing_id], &format!("F{n}"));
        let (status, body) = te.post_json("/endpoint", Some(&token), &payload).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let query = common::payload("PatientSearch", "Query", &[good_id], "Q1");
    let (status, body) = te.post_json("/query", Some(&token), &query).await;
    assert!(status.is_success(), "{status}: {body}");
    let (status, _) = te
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": "no-such-key", "secret": "wrong"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An ID in a path is not a label: the route template is.
    let (status, _) = te
        .get(&format!("/upload/{}", uuid::Uuid::new_v4()), Some(&token))
        .await;
    assert!(status.is_client_error(), "{status}");

    // Deliveries run on their own: wait until both destinations were tried.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let samples = loop {
        let (_, body) = scrape(&te, None).await;
        let samples = parse(&body);
        let done = samples
            .get("switchboard_deliveries_total{destination=\"Good\"}")
            .is_some_and(|v| *v >= 2.0)
            && samples
                .get("switchboard_delivery_failures_total{destination=\"Failing\"}")
                .is_some_and(|v| *v >= 1.0);
        if done {
            break samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries not counted within 30 s:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert_eq!(value(&samples, accepted), 5.0);
    assert_eq!(
        value(
            &samples,
            "switchboard_http_requests_total{route=\"/auth/authenticate\",method=\"POST\",status=\"401\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_auth_failures_total{route=\"/auth/authenticate\"}"
        ),
        1.0
    );
    assert!(
        samples
            .keys()
            .any(|k| k.starts_with("switchboard_http_requests_total{route=\"/upload/{id}\"")),
        "{samples:#?}"
    );
    assert!(
        !samples.keys().any(|k| k.contains(&good_id.to_string())),
        "an ID became a label: {samples:#?}"
    );
    // Histograms: one observation per accepted request, per query, per attempt.
    assert_eq!(
        value(&samples, "switchboard_ingest_duration_seconds_count"),
        5.0
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_ingest_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        5.0
    );
    assert_eq!(
        value(&samples, "switchboard_query_duration_seconds_count"),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_deliveries_total{destination=\"Good\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_delivery_attempt_duration_seconds_count{destination=\"Good\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "switchboard_delivery_attempt_duration_seconds_count{destination=\"Failing\"}"
        ),
        1.0
    );
    // The 500 paused Failing's queue behind its head (next retry in 600 s): all three wait.
    assert_eq!(
        value(
            &samples,
            "switchboard_delivery_failures_total{destination=\"Failing\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "switchboard_queue_depth{destination=\"Failing\"}"),
        3.0
    );
    assert!(
        value(
            &samples,
            "switchboard_queue_oldest_age_seconds{destination=\"Failing\"}"
        ) >= 0.0
    );
    assert_eq!(
        value(&samples, "switchboard_queue_depth{destination=\"Good\"}"),
        0.0
    );
    assert!(value(&samples, "switchboard_open_connections") >= 1.0);
    assert!(value(&samples, "switchboard_journal_backlog_limit") >= 1.0);
    assert!(samples.contains_key("switchboard_journal_backlog"));
    assert!(samples.contains_key("switchboard_requests_refused_total{reason=\"queue_full\"}"));
}

#[tokio::test]
async fn a_metrics_token_is_asked_for_when_set_and_health_needs_none() {
    let engine = "[engine]\nmetrics_token = \"s3cret-metrics\"\n";
    let te = TestEngine::start(&config(
        &common::closed_url(),
        &common::closed_url(),
        engine,
    ))
    .await;
    let (status, body) = scrape(&te, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("metrics_token"), "{body}");
    let (status, _) = scrape(&te, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = scrape(&te, Some("s3cret-metrics")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    parse(&body);

    let (status, body) = te.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = te.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readyz_says_503_and_why_while_the_store_cannot_take_writes() {
    // A reserve larger than any disk: the engine's disk counts as full.
    let engine = "[engine]\nmin_free_disk_mb = 1000000000\n";
    let te = TestEngine::start(&config(
        &common::closed_url(),
        &common::closed_url(),
        engine,
    ))
    .await;
    let (status, body) = te.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let texts = common::error_texts(&body).join(" ");
    assert!(
        texts.contains("Not ready") && texts.contains("nearly full"),
        "{texts}"
    );
    // The process still serves.
    let (status, _) = te.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

/// A read-only bind mount over the data directory, undone when dropped (lazily: the
/// engine still holds files under it).
struct ReadOnly(std::path::PathBuf);

impl ReadOnly {
    fn over(dir: &std::path::Path) -> ReadOnly {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .output()
                .expect("run mount(8)");
            assert!(
                out.status.success(),
                "this test bind-mounts the data directory read-only, which needs root (CI \
                 runs as root): mount {args:?} said {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        };
        run(&["--bind"]);
        let ro = ReadOnly(dir.to_path_buf());
        run(&["-o", "remount,ro,bind"]);
        ro
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The probe write, for real: the data directory turns read-only under a running
/// engine (as when a disk is remounted after errors). Its files opened before still
/// take writes, so only a write through the directory's path notices.
#[tokio::test]
async fn readyz_says_503_when_the_data_directory_turns_read_only() {
    let te = TestEngine::start(&config(&common::closed_url(), &common::closed_url(), "")).await;
    let (status, body) = te.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read_only = ReadOnly::over(&te.data_dir);
    let (status, body) = te.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let texts = common::error_texts(&body).join(" ");
    assert!(
        texts.contains("does not take writes") && texts.contains("read-write"),
        "{texts}"
    );
    drop(read_only);
    let (status, body) = te.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "ready again once writable: {body}");
}

/// `metrics_token_file` is read from beside the config file (whitespace around the
/// token dropped); two ways of setting it at once, or an unreadable file, are refused
/// with the line and what to do.
#[test]
fn the_metrics_token_comes_from_one_place() {
    use switchboard::engine::Config;
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, data) = (dir.path().join("config.toml"), dir.path().join("data"));
    std::fs::write(dir.path().join("metrics.token"), "  t0k3n\n").expect("token file");
    std::fs::write(&path, "[engine]\nmetrics_token_file = \"metrics.token\"\n").expect("config");
    let config = Config::load(&path, true, &data).expect("valid");
    let token = config.settings.metrics_token.expect("a token");
    assert_eq!(token.expose(), "t0k3n");

    std::fs::write(
        &path,
        "[engine]\nmetrics_token = \"a\"\nmetrics_token_file = \"metrics.token\"\n",
    )
    .expect("config");
    let err = Config::load(&path, true, &data)
        .expect_err("two ways")
        .to_string();
    assert!(err.contains("more than one of metrics_token"), "{err}");

    std::fs::write(&path, "[engine]\nmetrics_token_file = \"missing.token\"\n").expect("config");
    let err = Config::load(&path, true, &data)
        .expect_err("no file")
        .to_string();
    assert!(
        err.contains("line 2: cannot read metrics_token_file"),
        "{err}"
    );
}
