//! Every published example payload goes through the engine unchanged: notifications
//! and writebacks through `/endpoint` to a recording destination, queries through
//! `/query`, and response examples back from the destination to the querying client.
//! The only differences allowed are the documented ones: timestamps normalized to UTC,
//! and the Meta fields the engine fills in (Source, Destinations, Logs, EventDateTime
//! when absent; the deprecated numeric Message/Transmission IDs replaced by the engine's,
//! in answers too).

use crate::common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use common::{TestEngine, destination_toml, source_toml, subscription_toml};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::model::catalog::{self, Exchange};
use switchboard::model::time::normalize_payload;

#[derive(Clone, Default)]
struct Recorder {
    arrivals: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<Value>>,
}

async fn record(State(r): State<Recorder>, body: Bytes) -> axum::Json<Value> {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.arrivals.lock().expect("lock").push(value);
    let answer = r.answer.lock().expect("lock").clone();
    axum::Json(if answer.is_null() { json!({}) } else { answer })
}

async fn recorder() -> (String, Recorder) {
    let state = Recorder::default();
    let app = Router::new().fallback(record).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/redox", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

fn examples() -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("examples dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/redox-examples");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).expect("read"))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect()
}

/// What the engine may change: its own Meta fields. Everything else must match.
fn strip_engine_fields(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("Meta").and_then(Value::as_object_mut) {
        for field in ["Source", "Destinations", "Logs", "Message", "Transmission"] {
            meta.remove(field);
        }
        if meta.get("EventDateTime").is_some_and(Value::is_null) {
            meta.remove("EventDateTime");
        }
    }
    v
}

/// A forwarded query with the `sender-organization-id` extension the engine adds (when
/// the example has none) taken out again, after checking it names an organization.
fn without_sender_organization(mut arrived: Value, example: &Value) -> Value {
    const NAME: &str = "sender-organization-id";
    if example["Meta"]["Extensions"].get(NAME).is_some() {
        return arrived;
    }
    let Some(extensions) = arrived["Meta"]
        .get_mut("Extensions")
        .and_then(Value::as_object_mut)
    else {
        return arrived;
    };
    let added = extensions.remove(NAME);
    assert!(
        added.as_ref().is_some_and(|e| e["string"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())),
        "a forwarded query without its sender organization: {added:?}"
    );
    if extensions.is_empty() && example["Meta"].get("Extensions").is_none() {
        arrived["Meta"]
            .as_object_mut()
            .map(|meta| meta.remove("Extensions"));
    }
    arrived
}

/// The sent example as it must arrive: the sender's Source dropped (the engine fills
/// it from the credentials), timestamps normalized in the source's zone (UTC here).
fn expected(example: &Value) -> Value {
    let mut v = example.clone();
    normalize_payload(&mut v, chrono_tz::Tz::UTC);
    strip_engine_fields(v)
}

fn addressed(example: &Value, destination: &str) -> Value {
    let mut v = example.clone();
    let meta = v["Meta"].as_object_mut().expect("Meta");
    // The example's own Source is another organization's; ours comes from the token.
    meta.remove("Source");
    meta.insert("Destinations".into(), json!([{"ID": destination}]));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_passes_through_unchanged() {
    let (url, recorder) = recorder().await;
    let mut config = source_toml("Lab", "development", None);
    config += &destination_toml("Recorder", "development", &url);
    config += &subscription_toml("Lab", "Recorder", &["*"]);
    let te = TestEngine::start(&config).await;
    let token = te.token("Lab").await;
    let destination = te.destination_id("Recorder").to_string();
    let all = examples();
    assert!(all.len() >= 50, "examples not found");

    let mut failures = Vec::new();
    let mut counts = (0, 0, 0);
    for (path, example) in &all {
        let name = path.display().to_string();
        let model = example["Meta"]["DataModel"].as_str().expect("DataModel");
        let event = example["Meta"]["EventType"].as_str().expect("EventType");
        let info = catalog::lookup(model, event).expect("catalog");
        match info.exchange {
            Exchange::Notification | Exchange::Writeback => {
                counts.0 += 1;
                let before = recorder.arrivals.lock().expect("lock").len();
                let (status, body) = te
                    .post_json("/endpoint", Some(&token), &addressed(example, &destination))
                    .await;
                if status != 200 {
                    failures.push(format!("{name}: /endpoint answered {status}: {body}"));
                    continue;
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                let arrived = loop {
                    if let Some(v) = recorder.arrivals.lock().expect("lock").get(before).cloned() {
                        break Some(v);
                    }
                    if Instant::now() > deadline {
                        break None;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                };
                match arrived {
                    Some(arrived) if strip_engine_fields(arrived.clone()) == expected(example) => {}
                    Some(arrived) => failures.push(format!(
                        "{name}: delivered payload differs\n  sent:    {}\n  arrived: {}",
                        expected(example),
                        strip_engine_fields(arrived)
                    )),
                    None => failures.push(format!("{name}: never delivered")),
                }
            }
            Exchange::Query => {
                counts.1 += 1;
                *recorder.answer.lock().expect("lock") =
                    json!({"Meta": {"DataModel": model, "EventType": event}});
                let before = recorder.arrivals.lock().expect("lock").len();
                let (status, body) = te
                    .post_json("/query", Some(&token), &addressed(example, &destination))
                    .await;
                if status != 200 {
                    failures.push(format!("{name}: /query answered {status}: {body}"));
                    continue;
                }
                let arrived = recorder.arrivals.lock().expect("lock").get(before).cloned();
                let arrived = arrived.map(|a| without_sender_organization(a, example));
                if arrived.map(strip_engine_fields) != Some(expected(example)) {
                    failures.push(format!("{name}: forwarded query differs"));
                }
            }
            Exchange::Response => {
                // A response example is what a destination answers: it must reach the
                // querying client unchanged (but for Meta.Logs and normalization).
                counts.2 += 1;
                let query_event = catalog::all()
                    .iter()
                    .find(|e| {
                        e.data_model == info.data_model
                            && e.exchange == Exchange::Query
                            && (format!("{}Response", e.event_type) == info.event_type
                                || (info.event_type == "Response" && e.event_type == "Query"))
                    })
                    .expect("a query for the response");
                *recorder.answer.lock().expect("lock") = example.clone();
                let query = json!({
                    "Meta": {"DataModel": model, "EventType": query_event.event_type,
                             "Destinations": [{"ID": destination}]},
                    "Patient": example.get("Patient").cloned().unwrap_or(json!({}))
                });
                let (status, body) = te.post_json("/query", Some(&token), &query).await;
                let mut want = example.clone();
                normalize_payload(&mut want, chrono_tz::Tz::UTC);
                let mut got = body.clone();
                // The engine's numbers in place of the destination's (tests/suite/legacy_ids.rs).
                for field in ["Message", "Transmission"] {
                    let ours = got["Meta"][field]["ID"].as_u64();
                    if ours.is_none() || ours == example["Meta"][field]["ID"].as_u64() {
                        failures.push(format!("{name}: answer's Meta.{field}.ID is {ours:?}"));
                    }
                    for v in [&mut want, &mut got] {
                        if let Some(meta) = v.get_mut("Meta").and_then(Value::as_object_mut) {
                            meta.remove(field);
                        }
                    }
                }
                let had_logs = got
                    .get_mut("Meta")
                    .and_then(Value::as_object_mut)
                    .and_then(|meta| meta.remove("Logs"))
                    .is_some();
                if !had_logs {
                    failures.push(format!("{name}: answer has no Meta.Logs"));
                }
                if status != 200 || got != want {
                    failures.push(format!(
                        "{name}: answer differs ({status})\n  want: {want}\n  got:  {got}"
                    ));
                }
            }
        }
    }
    println!(
        "examples: {} notifications/writebacks, {} queries, {} responses",
        counts.0, counts.1, counts.2
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
