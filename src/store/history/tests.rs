//! Searches through every plan (selective index, environment summaries merged across
//! environments, sparse status index, all logs) give what filtering every log gives.

use super::*;
use crate::model::log::new_log_id;
use crate::model::{Exchange, LogType};
use crate::store::StoredRequest;

const MODELS: [(&str, &str); 3] = [
    ("PatientAdmin", "Arrival"),
    ("Results", "New"),
    ("Notes", "New"),
];

fn log(i: usize) -> LogRecord {
    let (model, event) = MODELS[i % 3];
    let (id, created_at) = new_log_id();
    let status = match i % 7 {
        0 => LogStatus::Failed,
        1 => LogStatus::Pending,
        2 => LogStatus::Filtered,
        _ => LogStatus::Succeeded,
    };
    LogRecord {
        id,
        request_id: Uuid::now_v7(),
        attempt_id: Uuid::now_v7(),
        log_type: if i.is_multiple_of(4) {
            LogType::Request
        } else {
            LogType::Send
        },
        status,
        exchange: Exchange::Notification,
        environment: Environment::ALL[i % 5 % 3],
        source_id: Uuid::from_u128(1 + (i % 2) as u128),
        source_name: "S".into(),
        destination_id: Uuid::from_u128(10 + (i % 3) as u128),
        destination_name: "D".into(),
        data_model: model.into(),
        event_type: event.into(),
        test: false,
        created_at,
        updated_at: created_at,
        attempts: 0,
        latency_ms: None,
        patient_id: (!i.is_multiple_of(6)).then(|| format!("MRN{}", i % 4)),
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    }
}

fn store_with(n: usize) -> (tempfile::TempDir, Store, Vec<LogRecord>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let logs: Vec<LogRecord> = (0..n).map(log).collect();
    for l in &logs {
        let request = StoredRequest {
            id: l.request_id,
            received_at: l.created_at,
            environment: l.environment,
            source_id: l.source_id,
            exchange: l.exchange,
            payload: serde_json::json!({}),
        };
        store
            .insert_accepted(&request, std::slice::from_ref(l), None)
            .unwrap();
    }
    (dir, store, logs)
}

fn queries() -> Vec<LogQuery> {
    let mut out = Vec::new();
    for environment in [None, Some(Environment::Production)] {
        for status in [None, Some(LogStatus::Failed), Some(LogStatus::Succeeded)] {
            for data_model in [None, Some("Results".to_string())] {
                for patient_id in [None, Some("MRN1".to_string())] {
                    out.push(LogQuery {
                        environment,
                        status,
                        data_model: data_model.clone(),
                        patient_id,
                        limit: 7,
                        ..Default::default()
                    });
                }
            }
        }
    }
    out.push(LogQuery {
        destination: Some(Uuid::from_u128(11)),
        log_type: Some(LogType::Request),
        limit: 5,
        ..Default::default()
    });
    out.push(LogQuery {
        source: Some(Uuid::from_u128(2)),
        event_type: Some("New".into()),
        status: Some(LogStatus::Filtered),
        limit: 5,
        ..Default::default()
    });
    out
}

/// Every page of `query`, followed through its cursors.
fn all_pages(store: &Store, query: &LogQuery) -> Vec<Uuid> {
    let mut found = Vec::new();
    let mut q = query.clone();
    loop {
        let page = store.search(&q).unwrap();
        assert!(page.logs.len() <= q.limit);
        found.extend(page.logs.iter().map(|l| l.id));
        match page.next {
            Some(next) => q.before = Some(next),
            None => return found,
        }
    }
}

fn expected(logs: &[LogRecord], query: &LogQuery) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = logs
        .iter()
        .filter(|l| query.matches(l))
        .map(|l| l.id)
        .collect();
    ids.sort();
    ids.reverse();
    ids
}

#[test]
fn every_plan_finds_what_filtering_every_log_finds_newest_first() {
    let (_dir, store, logs) = store_with(150);
    for query in queries() {
        assert_eq!(
            all_pages(&store, &query),
            expected(&logs, &query),
            "{query:?}"
        );
    }
}

#[test]
fn a_status_change_moves_the_log_between_status_searches() {
    let (_dir, store, logs) = store_with(20);
    let pending = logs
        .iter()
        .find(|l| l.status == LogStatus::Pending)
        .unwrap();
    let failed_query = |environment| LogQuery {
        environment,
        status: Some(LogStatus::Failed),
        limit: 100,
        ..Default::default()
    };
    let mut failed = pending.clone();
    failed.status = LogStatus::Failed;
    store.update_log(pending, &failed, None, None).unwrap();
    for env in [None, Some(pending.environment)] {
        assert!(all_pages(&store, &failed_query(env)).contains(&pending.id));
    }
    let mut succeeded = failed.clone();
    succeeded.status = LogStatus::Succeeded;
    store.update_log(&failed, &succeeded, None, None).unwrap();
    for env in [None, Some(pending.environment)] {
        assert!(!all_pages(&store, &failed_query(env)).contains(&pending.id));
    }
    let now = all_logs_with(&store, LogStatus::Succeeded);
    assert!(now.contains(&pending.id));
    assert_eq!(
        store.exchange.scan_prefix([b'x']).count(),
        logs.iter().map(|l| index_entries(l).len()).sum::<usize>(),
        "the log's entries were replaced, not added to (pending and succeeded logs have \
         no status entry; its failed one is gone)"
    );
}

fn all_logs_with(store: &Store, status: LogStatus) -> Vec<Uuid> {
    all_pages(
        store,
        &LogQuery {
            status: Some(status),
            limit: 100,
            ..Default::default()
        },
    )
}

#[test]
fn a_database_indexed_the_old_way_is_reindexed_at_open() {
    let (dir, store, logs) = store_with(30);
    // The layout before version 2: one key per field, and no version mark.
    let old_key = key(b'x', &[b"mResults\0", logs[0].id.as_bytes()]);
    store.exchange.insert(&old_key, Vec::new()).unwrap();
    store
        .exchange
        .remove(index_entries(&logs[1])[0].0.clone())
        .unwrap();
    store.db.open_tree("meta").unwrap().clear().unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert!(store.exchange.get(&old_key).unwrap().is_none());
    for query in queries() {
        assert_eq!(
            all_pages(&store, &query),
            expected(&logs, &query),
            "{query:?}"
        );
    }
}
