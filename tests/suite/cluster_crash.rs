//! Three `switchboard serve` processes on one PostgreSQL store, traffic sent round-robin
//! through them to a steady and a flaky push destination and a poll destination, one
//! node SIGKILLed and restarted at random ten times: every acknowledged message is
//! delivered (at least once), in order per queue; duplicates and takeover times are
//! counted and printed.

use crate::common::bin::{BIN, Served, spawn_serve};
use crate::common::postgres::database;
use crate::common::{client, payload};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NODES: usize = 3;
const KILLS: usize = 10;
/// The longest wait for a dead node's queue this test accepts (see its end).
const TAKEOVER_BOUND: Duration = Duration::from_secs(20);
/// How long every acknowledged message has to arrive once the killing stops.
const DRAIN: Duration = Duration::from_secs(90);

/// What a push destination received: each message's marker, in arrival order.
#[derive(Clone, Default)]
struct Arrivals {
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
    /// The flaky one refuses every third request.
    flaky: bool,
    count: Arc<Mutex<u64>>,
}

async fn receive(State(arrivals): State<Arrivals>, body: axum::body::Bytes) -> StatusCode {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let marker = marker_of(&body);
    if arrivals.flaky {
        let mut count = arrivals.count.lock().expect("lock");
        *count += 1;
        if (*count).is_multiple_of(3) {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    arrivals
        .seen
        .lock()
        .expect("lock")
        .push((Instant::now(), marker));
    StatusCode::OK
}

fn marker_of(body: &Value) -> String {
    body["Patient"]["Identifiers"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn destination(flaky: bool) -> (String, Arrivals) {
    let arrivals = Arrivals {
        flaky,
        ..Arrivals::default()
    };
    let app = Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(arrivals.clone());
    let (url, _server) = crate::common::serve_stub(app).await;
    (url, arrivals)
}

fn config_text(store: &str, steady: &str, flaky: &str) -> String {
    let push = |name: &str, url: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\nenvironment = \"development\"\nurl = \"{url}\"\n\
             verification_token = \"tok-{name}\"\nretry_schedule_seconds = [0.05, 0.1]\n\
             timeout_seconds = 5\n\n"
        )
    };
    format!(
        "[store]\nurl = \"{store}\"\n\n[[sources]]\nname = \"Lab\"\nenvironment = \"development\"\n\n{}{}\
         [[destinations]]\nname = \"Poller\"\nenvironment = \"development\"\nmode = \"poll\"\n\
         verification_token = \"tok-Poller\"\n\n\
         [[subscriptions]]\nsource = \"Lab\"\ndestination = \"Steady\"\ndata_models = [\"*\"]\n\n\
         [[subscriptions]]\nsource = \"Lab\"\ndestination = \"Flaky\"\ndata_models = [\"*\"]\n\n\
         [[subscriptions]]\nsource = \"Lab\"\ndestination = \"Poller\"\ndata_models = [\"*\"]\n",
        push("Steady", steady),
        push("Flaky", flaky)
    )
}

/// One node: its data directory and, while it runs, its process and address.
struct Node {
    dir: std::path::PathBuf,
    config: std::path::PathBuf,
    running: Option<(Served, String)>,
}

impl Node {
    fn start(&mut self) {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.dir)
            .arg("--config")
            .arg(&self.config)
            .env("SWITCHBOARD_LOG", "warn");
        self.running = Some(spawn_serve(command));
    }

    fn base(&self) -> Option<String> {
        self.running.as_ref().map(|(_, base)| base.clone())
    }
}

fn cli_json(dir: &Path, config: &Path, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .arg("--json")
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run switchboard");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Sends one message through the first live node that answers 200, starting at
/// `turn`; whether one did (acknowledged).
async fn send(nodes: &Mutex<Vec<Option<String>>>, turn: usize, token: &str, body: &Value) -> bool {
    let bases: Vec<Option<String>> = nodes.lock().expect("lock").clone();
    for i in 0..bases.len() {
        let Some(base) = &bases[(turn + i) % bases.len()] else {
            continue;
        };
        let sent = client()
            .post(format!("{base}/endpoint"))
            .bearer_auth(token)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == StatusCode::OK => return true,
            // Refused (a node starting or stopping) or cut off: try the next one. A
            // message cut off may have been accepted; it counts only if acknowledged.
            _ => continue,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_and_keep_order_while_nodes_are_killed() {
    let db = database().await;
    let (steady_url, steady) = destination(false).await;
    let (flaky_url, flaky) = destination(true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text(&db.url, &steady_url, &flaky_url)).expect("config");
    let mut nodes: Vec<Node> = (0..NODES)
        .map(|i| Node {
            dir: dir.path().join(format!("node{i}")),
            config: config.clone(),
            running: None,
        })
        .collect();
    for node in &mut nodes {
        node.start();
    }
    let key = cli_json(
        &nodes[0].dir,
        &config,
        &["keys", "create", "--source", "Lab"],
    );
    let base0 = nodes[0].base().expect("running");
    let token = crate::common::bin::access_token(&base0, &key).await;
    let ids: HashMap<String, Value> =
        cli_json(&nodes[1].dir, &config, &["connections"])["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap_or("").to_string(),
                    d["id"].clone(),
                )
            })
            .collect();
    let targets: Vec<uuid::Uuid> = ["Steady", "Flaky", "Poller"]
        .iter()
        .map(|n| crate::common::uuid_of(&ids[*n]))
        .collect();
    let poller = ids["Poller"].clone();

    let live = Arc::new(Mutex::new(nodes.iter().map(Node::base).collect::<Vec<_>>()));
    let stop = tokio_util::sync::CancellationToken::new();

    // The sender: one message at a time, round-robin, numbered in send order.
    let sender = {
        let (live, stop, token) = (live.clone(), stop.clone(), token.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0usize;
            while !stop.is_cancelled() {
                let marker = format!("M{n:05}");
                let body = payload("PatientAdmin", "Arrival", &targets, &marker);
                if send(&live, n, &token, &body).await {
                    acked.push(marker);
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            acked
        })
    };
    // The poller: fetches through whichever node is up, acknowledges each batch.
    let polled = Arc::new(Mutex::new(Vec::<String>::new()));
    let poll_task = {
        let (live, stop, polled) = (live.clone(), stop.clone(), polled.clone());
        tokio::spawn(poll_loop(live, stop, polled, poller))
    };

    // Kill a random node every ~2 s and start it again: ten times.
    let mut rng = Lcg::seeded();
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.below(1000) + 1500)).await;
        let victim = rng.below(NODES as u64) as usize;
        if let Some((mut served, _)) = nodes[victim].running.take() {
            live.lock().expect("lock")[victim] = None;
            served.sigkill();
            kills.push(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(rng.below(1000) + 200)).await;
        nodes[victim].start();
        live.lock().expect("lock")[victim] = nodes[victim].base();
    }
    stop.cancel();
    let acked = sender.await.expect("sender");
    assert!(
        acked.len() > 50,
        "too little traffic got through: {}",
        acked.len()
    );

    // Everything acknowledged arrives, in order per queue.
    let wanted: HashSet<&String> = acked.iter().collect();
    let deadline = Instant::now() + DRAIN;
    let restart = tokio_util::sync::CancellationToken::new();
    let drain_poll = tokio::spawn(poll_loop(
        live.clone(),
        restart.clone(),
        polled.clone(),
        ids["Poller"].clone(),
    ));
    loop {
        let complete = |got: &[String]| wanted.iter().all(|m| got.contains(m));
        let (s, f, p) = (
            markers(&steady),
            markers(&flaky),
            polled.lock().expect("lock").clone(),
        );
        if complete(&s) && complete(&f) && complete(&p) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within {DRAIN:?}: steady {}/{}, flaky {}/{}, polled {}/{}",
            s.iter()
                .filter(|m| wanted.contains(m))
                .collect::<HashSet<_>>()
                .len(),
            wanted.len(),
            f.iter()
                .filter(|m| wanted.contains(m))
                .collect::<HashSet<_>>()
                .len(),
            wanted.len(),
            p.iter()
                .filter(|m| wanted.contains(m))
                .collect::<HashSet<_>>()
                .len(),
            wanted.len(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restart.cancel();
    let _ = drain_poll.await;
    let _ = poll_task.await;

    let mut report = Vec::new();
    for (name, got) in [
        ("steady", markers(&steady)),
        ("flaky", markers(&flaky)),
        ("polled", polled.lock().expect("lock").clone()),
    ] {
        // A poll batch whose answer died with its node comes again after its lease,
        // behind later batches: polled order is counted, push order asserted.
        let late = out_of_order(&got);
        if name != "polled" {
            assert_eq!(late, 0, "{name} arrived out of order: {got:?}");
        }
        let unique: HashSet<&String> = got.iter().collect();
        report.push(format!(
            "{name}: {} arrivals, {} duplicates, {late} first arrivals behind a later one",
            got.len(),
            got.len() - unique.len()
        ));
    }
    let takeovers = takeover_times(&kills, &steady);
    eprintln!(
        "three nodes, {KILLS} kills: {} acknowledged; {}; takeover after a kill (next delivery): max {:?}, {:?}",
        acked.len(),
        report.join("; "),
        takeovers.iter().max(),
        takeovers
    );
    // By design a lapsed lease is taken within 8 s (6 s lease, 2 s scan); the bound
    // here is looser so that a loaded test machine does not fail it, while a takeover
    // that does not happen still does. The figure itself is printed above.
    assert!(
        takeovers.iter().all(|t| *t < TAKEOVER_BOUND),
        "a dead node's queue waited {TAKEOVER_BOUND:?} or more: {takeovers:?}"
    );
}

/// Which node dies and when: random, its seed printed so a failure can be replayed
/// (`SWITCHBOARD_TEST_SEED`).
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Lcg {
        let seed = std::env::var("SWITCHBOARD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("cluster crash test seed: {seed}");
        Lcg(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn markers(arrivals: &Arrivals) -> Vec<String> {
    arrivals
        .seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, m)| m.clone())
        .collect()
}

/// First arrivals that came after a later message's (a repeat of an earlier one is a
/// duplicate, not a reordering: at-least-once).
fn out_of_order(got: &[String]) -> usize {
    let mut seen = HashSet::new();
    let mut last: Option<&String> = None;
    let mut late = 0;
    for marker in got {
        if !seen.insert(marker) {
            continue;
        }
        match last {
            Some(previous) if marker < previous => late += 1,
            _ => last = Some(marker),
        }
    }
    late
}

/// For each kill, how long until the steady destination next received something.
fn takeover_times(kills: &[Instant], arrivals: &Arrivals) -> Vec<Duration> {
    let seen = arrivals.seen.lock().expect("lock");
    kills
        .iter()
        .filter_map(|kill| {
            seen.iter()
                .map(|(at, _)| *at)
                .find(|at| at > kill)
                .map(|at| at - *kill)
        })
        .collect()
}

async fn poll_loop(
    live: Arc<Mutex<Vec<Option<String>>>>,
    stop: tokio_util::sync::CancellationToken,
    polled: Arc<Mutex<Vec<String>>>,
    poller: Value,
) {
    let mut turn = 0usize;
    while !stop.is_cancelled() {
        turn += 1;
        let bases = live.lock().expect("lock").clone();
        let Some(base) = bases[turn % bases.len()].clone() else {
            continue;
        };
        let call = |path: &str, body: Value| {
            client()
                .post(format!("{base}{path}"))
                .header("verification-token", "tok-Poller")
                .json(&body)
                .timeout(Duration::from_secs(10))
                .send()
        };
        let batch = json!({"destination": poller, "max": 20, "leaseSeconds": 2});
        let Ok(response) = call("/poll", batch).await else {
            continue;
        };
        let Ok(body) = response.json::<Value>().await else {
            continue;
        };
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let ids: Vec<Value> = items.iter().map(|i| i["logId"].clone()).collect();
        let got: Vec<String> = items.iter().map(|i| marker_of(&i["payload"])).collect();
        polled.lock().expect("lock").extend(got);
        // An ack lost with its node: the batch comes again after its lease.
        let _ = call("/poll/ack", json!({"destination": poller, "logIds": ids})).await;
    }
}
