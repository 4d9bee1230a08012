//! History on PostgreSQL at size: `logs` logs (about 1 KiB of payload each) spread over
//! three environments, 3 sources, 10 destinations, 5 data models and 10,000 patients,
//! written through the store's group commit; then the first page (50) of searches
//! with and without filters, timed as the store answers them (p50 and max of 20).

use crate::bench::report::Report;
use crate::bench::{BenchError, Result};
use crate::model::log::new_log_id;
use crate::model::{Environment, Exchange, LogRecord, LogStatus, LogType};
use crate::store::postgres::{PgLocation, PgStore};
use crate::store::{LogQuery, StoredRequest};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ENVIRONMENTS: [Environment; 3] = [
    Environment::Development,
    Environment::Staging,
    Environment::Production,
];
const MODELS: [&str; 5] = ["PatientAdmin", "Results", "Scheduling", "Orders", "Notes"];
const IN_FLIGHT: usize = 256;
const SAMPLES: usize = 20;

fn id(kind: u128, i: usize) -> Uuid {
    Uuid::from_u128((kind << 64) | i as u128)
}

fn log_of(i: usize) -> (StoredRequest, LogRecord) {
    let (log_id, created_at) = new_log_id();
    let environment = ENVIRONMENTS[i % 3];
    let log = LogRecord {
        id: log_id,
        request_id: Uuid::now_v7(),
        attempt_id: Uuid::now_v7(),
        log_type: LogType::Send,
        status: if i.is_multiple_of(10) {
            LogStatus::Failed
        } else {
            LogStatus::Succeeded
        },
        exchange: Exchange::Notification,
        environment,
        source_id: id(1, i % 3),
        source_name: format!("S{}", i % 3),
        destination_id: id(2, i % 10),
        destination_name: format!("D{}", i % 10),
        data_model: MODELS[i % 5].into(),
        event_type: "New".into(),
        test: false,
        created_at,
        updated_at: created_at,
        attempts: 1,
        latency_ms: Some(2.0),
        patient_id: Some(format!("MRN-{:05}", i % 10_000)),
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    };
    let request = StoredRequest {
        id: log.request_id,
        received_at: created_at,
        environment,
        source_id: log.source_id,
        exchange: Exchange::Notification,
        payload: serde_json::json!({"Meta": {"DataModel": log.data_model}, "Note": "x".repeat(900)}),
    };
    (request, log)
}

pub(super) async fn run(url: &str, logs: usize, report: &mut Report) -> Result<()> {
    let at: PgLocation = url.parse().map_err(|e| BenchError::new("store URL", e))?;
    let store = PgStore::open(&at, crate::store::Sealer::default(), "bench")
        .await
        .map_err(|e| BenchError::new("open the store", e))?;
    let started = Instant::now();
    let failures = futures_util::stream::iter(0..logs)
        .map(|i| {
            let store = store.clone();
            async move {
                let (request, log) = log_of(i);
                store
                    .accept(&request, std::slice::from_ref(&log), None)
                    .await
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .filter(|r| std::future::ready(r.is_err()))
        .count()
        .await;
    let took = started.elapsed().as_secs_f64();
    report.size("history_logs", logs);
    report.figure("history_load", "/s", logs as f64 / took.max(1e-9));
    if failures > 0 {
        report.note(format!("{failures} history writes failed"));
    }
    let size: i64 = store_size(&at).await?;
    report.figure(
        "history_bytes_per_log",
        "B",
        size as f64 / logs.max(1) as f64,
    );

    // Destination 3's logs are all "Orders" (i % 10 == 3 gives i % 5 == 3): one search
    // that matches, and one that matches nothing, so must rule out the whole range.
    let searches: [(&str, LogQuery); 8] = [
        ("none", LogQuery::default()),
        (
            "environment",
            LogQuery {
                environment: Some(Environment::Production),
                ..Default::default()
            },
        ),
        (
            "environment_failed",
            LogQuery {
                environment: Some(Environment::Production),
                status: Some(LogStatus::Failed),
                ..Default::default()
            },
        ),
        (
            "destination_model",
            LogQuery {
                destination: Some(id(2, 3)),
                data_model: Some("Orders".into()),
                ..Default::default()
            },
        ),
        (
            "destination_model_none_match",
            LogQuery {
                destination: Some(id(2, 3)),
                data_model: Some("Scheduling".into()),
                ..Default::default()
            },
        ),
        (
            "patient",
            LogQuery {
                patient_id: Some("MRN-00042".into()),
                ..Default::default()
            },
        ),
        (
            "data_model",
            LogQuery {
                data_model: Some("Orders".into()),
                ..Default::default()
            },
        ),
        (
            "data_model_none_match",
            LogQuery {
                data_model: Some("Nonexistent".into()),
                ..Default::default()
            },
        ),
    ];
    let mut worst: f64 = 0.0;
    for (name, mut query) in searches {
        query.limit = 50;
        let mut took = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t = Instant::now();
            store
                .search(&query)
                .await
                .map_err(|e| BenchError::new("search", e))?;
            took.push(t.elapsed());
        }
        took.sort();
        let p50 = ms(took[SAMPLES / 2]);
        let max = ms(took[SAMPLES - 1]);
        worst = worst.max(p50);
        report.figure(&format!("search_{name}_p50"), "ms", p50);
        report.figure(&format!("search_{name}_max"), "ms", max);
    }
    report.floor(
        &format!("filtered first page over {logs} logs under 50 ms (p50 worst {worst:.1} ms)"),
        worst < 50.0,
    );
    report.note(format!(
        "…_none_match: filters no log matches; a call reads at most {} rows to check \
         filters without an index of their own, then answers a page cut short with its \
         cursor",
        crate::store::postgres::search::SCAN_BUDGET
    ));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn store_size(at: &PgLocation) -> Result<i64> {
    let client = at
        .connect()
        .await
        .map_err(|e| BenchError::new("connect", e))?;
    let row = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .map_err(|e| BenchError::new("database size", e))?;
    Ok(row.get(0))
}
