//! Delivery throughput to a fast loopback stub, next to a baseline measured in the same
//! run: one client POSTing the same payloads straight to the stub, one at a time (what a
//! single FIFO queue can do at best on this machine).
//!
//! `cargo bench --bench delivery` (`-- --quick` for a short run).

use axum::Router;
use axum::routing::post;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchboard::engine::{Config, Engine};
use switchboard::model::LogStatus;

async fn stub() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn payload(destinations: &[String], i: usize) -> serde_json::Value {
    json!({
        "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                 "Destinations": destinations.iter().map(|d| json!({"ID": d})).collect::<Vec<_>>()},
        "Patient": {"Identifiers": [{"ID": format!("{i:010}"), "IDType": "MR"}],
                    "Demographics": {"FirstName": "Bench", "LastName": "Mark", "DOB": "1980-01-01"}},
        "Visit": {"VisitNumber": format!("{i}"), "VisitDateTime": "2024-05-01T10:00:00"}
    })
}

async fn baseline(url: &str, n: usize) -> f64 {
    let client = reqwest::Client::new();
    let body = serde_json::to_vec(&payload(&["x".into()], 0)).expect("json");
    let start = Instant::now();
    for _ in 0..n {
        let r = client
            .post(url)
            .body(body.clone())
            .send()
            .await
            .expect("post");
        assert!(r.status().is_success());
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn engine_run(destinations: usize, messages: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = String::from("[[sources]]\nname = \"Bench\"\nenvironment = \"development\"\n");
    let mut stubs = Vec::new();
    for d in 0..destinations {
        let (url, hits) = stub().await;
        stubs.push(hits);
        config += &format!(
            "[[destinations]]\nname = \"D{d}\"\nenvironment = \"development\"\nurl = \"{url}\"\nverification_token = \"t\"\n\
             [[subscriptions]]\nsource = \"Bench\"\ndestination = \"D{d}\"\ndata_models = [\"*\"]\n"
        );
    }
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("config");
    let config = Config::load(&path, true, dir.path()).expect("config");
    let engine = Engine::start(dir.path(), config).expect("engine");
    let source = engine
        .registry()
        .source_named("Bench")
        .expect("source")
        .clone();
    let ids: Vec<String> = engine
        .registry()
        .destinations
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    let mut events = engine.subscribe();
    let expected = messages * destinations;

    let start = Instant::now();
    let senders = 16;
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (engine, source, ids) = (engine.clone(), source.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for i in (s..messages).step_by(senders) {
                let body = serde_json::to_vec(&payload(&ids, i)).expect("json");
                engine.endpoint(&source, &body).await.expect("accepted");
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let accepted = messages as f64 / start.elapsed().as_secs_f64();
    let mut delivered = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered < expected && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Ok(e)) if e.log.status == LogStatus::Succeeded => delivered += 1,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | Err(_) => {
                delivered = stubs.iter().map(|h| h.load(Ordering::Relaxed)).sum();
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    engine.shutdown().await;
    (accepted, expected as f64 / elapsed)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let messages = if quick { 500 } else { 5000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (url, _) = stub().await;
        let base = baseline(&url, messages).await;
        println!(
            "delivery to a loopback stub, {messages} messages, {} cores",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!(
            "{:<34} {:>12}",
            "baseline: direct POSTs, 1 client",
            format!("{base:.0}/s")
        );
        for destinations in [1, 10] {
            let (accepted, delivered) =
                engine_run(destinations, messages / destinations.min(5)).await;
            println!(
                "{:<34} {:>12} {:>14}  ratio {:.2}",
                format!("engine → {destinations} destination(s)"),
                format!("{delivered:.0}/s"),
                format!("(accepted {accepted:.0}/s)"),
                delivered / base
            );
        }
    });
}
