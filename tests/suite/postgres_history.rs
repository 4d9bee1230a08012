//! The PostgreSQL store's history against the sled store's, on a real server: what is
//! accepted reads back the same, searches list the same logs in the same order,
//! concurrent requests share transactions, and queue entries keep their order.

use crate::common::postgres::database;
use switchboard::model::log::new_log_id;
use switchboard::model::{Environment, Exchange, LogRecord, LogStatus, LogType};
use switchboard::store::postgres::PgStore;
use switchboard::store::{LogQuery, QueueId, Store, StoredRequest};
use uuid::Uuid;

const MODELS: [(&str, &str); 3] = [
    ("PatientAdmin", "Arrival"),
    ("Results", "New"),
    ("Notes", "New"),
];

fn log(i: usize) -> LogRecord {
    let (model, event) = MODELS[i % 3];
    let (id, created_at) = new_log_id();
    LogRecord {
        id,
        request_id: Uuid::now_v7(),
        attempt_id: Uuid::now_v7(),
        log_type: if i.is_multiple_of(4) {
            LogType::Request
        } else {
            LogType::Send
        },
        status: match i % 7 {
            0 => LogStatus::Failed,
            1 => LogStatus::Pending,
            2 => LogStatus::Filtered,
            _ => LogStatus::Succeeded,
        },
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

fn request_of(log: &LogRecord) -> StoredRequest {
    StoredRequest {
        id: log.request_id,
        received_at: log.created_at,
        environment: log.environment,
        source_id: log.source_id,
        exchange: Exchange::Notification,
        payload: serde_json::json!({
            "Meta": {"DataModel": log.data_model, "EventType": log.event_type},
            "Patient": {"Identifiers": [{"ID": log.patient_id, "IDType": "MR"}]}
        }),
    }
}

/// Every log a query finds, following its pages to the end.
async fn all_pages_pg(store: &PgStore, query: &LogQuery) -> Vec<Uuid> {
    let mut found = Vec::new();
    let mut query = query.clone();
    loop {
        let page = store.search(&query).await.expect("search");
        found.extend(page.logs.iter().map(|l| l.id));
        match page.next {
            Some(next) => query.before = Some(next),
            None => return found,
        }
    }
}

fn all_pages_sled(store: &Store, query: &LogQuery) -> Vec<Uuid> {
    let mut found = Vec::new();
    let mut query = query.clone();
    loop {
        let page = store.search(&query).expect("search");
        found.extend(page.logs.iter().map(|l| l.id));
        match page.next {
            Some(next) => query.before = Some(next),
            None => return found,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_find_what_the_sled_store_finds_and_records_read_back_the_same() {
    let db = database().await;
    let pg = db.node().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sled = Store::open(dir.path()).expect("sled store");
    let logs: Vec<LogRecord> = (0..300).map(log).collect();
    for log in &logs {
        let request = request_of(log);
        sled.insert_accepted(&request, std::slice::from_ref(log), None)
            .expect("sled insert");
        pg.accept(&request, std::slice::from_ref(log), None)
            .await
            .expect("pg accept");
    }

    for log in logs.iter().step_by(37) {
        assert_eq!(pg.log(log.id).await.expect("log").as_ref(), Some(log));
        assert_eq!(
            pg.request(log.request_id).await.expect("request"),
            Some(request_of(log))
        );
    }
    assert_eq!(pg.log(Uuid::now_v7()).await.expect("absent"), None);

    let middle = logs[150].created_at;
    let queries = vec![
        LogQuery::default(),
        LogQuery {
            environment: Some(Environment::Production),
            ..Default::default()
        },
        LogQuery {
            status: Some(LogStatus::Failed),
            ..Default::default()
        },
        LogQuery {
            status: Some(LogStatus::Succeeded),
            environment: Some(Environment::Staging),
            ..Default::default()
        },
        LogQuery {
            patient_id: Some("MRN1".into()),
            ..Default::default()
        },
        LogQuery {
            destination: Some(Uuid::from_u128(11)),
            data_model: Some("Results".into()),
            ..Default::default()
        },
        LogQuery {
            source: Some(Uuid::from_u128(1)),
            log_type: Some(LogType::Request),
            event_type: Some("New".into()),
            ..Default::default()
        },
        LogQuery {
            since: Some(middle),
            ..Default::default()
        },
        LogQuery {
            until: Some(middle),
            environment: Some(Environment::Development),
            ..Default::default()
        },
        LogQuery {
            before: Some(logs[200].id),
            patient_id: Some("MRN2".into()),
            ..Default::default()
        },
    ];
    for limit in [1, 7, 50] {
        for query in &queries {
            let query = LogQuery {
                limit,
                ..query.clone()
            };
            let from_sled = all_pages_sled(&sled, &query);
            let from_pg = all_pages_pg(&pg, &query).await;
            assert!(!from_sled.is_empty() || query.before.is_some(), "{query:?}");
            assert_eq!(from_pg, from_sled, "{query:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_transactions_and_queues_keep_their_order() {
    let db = database().await;
    let store = db.node().await;
    let queue = QueueId {
        destination: Uuid::from_u128(10),
        source: Uuid::from_u128(1),
        lane: 0,
    };
    let one_queue = |i: usize| {
        let mut l = log(i);
        l.environment = Environment::Staging;
        l.source_id = queue.source;
        l.destination_id = queue.destination;
        l
    };

    // One sender after another: the queue holds them in the order acknowledged.
    let mut sent = Vec::new();
    for i in 0..20 {
        let l = one_queue(i);
        store
            .accept(&request_of(&l), std::slice::from_ref(&l), Some(&[0]))
            .await
            .expect("accept");
        sent.push(l.id);
    }
    assert_eq!(store.queued(&queue).await.expect("queued"), sent);

    // Many at once: fewer transactions than requests, and every one queued once.
    let (transactions_before, sets_before) = store.commit_counts();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            let l = one_queue(100 + i);
            tokio::spawn(async move {
                store
                    .accept(&request_of(&l), std::slice::from_ref(&l), Some(&[0]))
                    .await
                    .expect("accept");
                l.id
            })
        })
        .collect();
    let mut concurrent = Vec::new();
    for task in tasks {
        concurrent.push(task.await.expect("task"));
    }
    let (transactions, sets) = store.commit_counts();
    let (transactions, sets) = (transactions - transactions_before, sets - sets_before);
    assert_eq!(sets, 200);
    assert!(
        transactions < 200,
        "200 concurrent requests took {transactions} transactions: not grouped"
    );
    eprintln!("200 concurrent requests committed in {transactions} transactions");
    let queued = store.queued(&queue).await.expect("queued");
    assert_eq!(queued.len(), 220);
    assert_eq!(&queued[..20], sent.as_slice());
    let mut rest = queued[20..].to_vec();
    rest.sort();
    concurrent.sort();
    assert_eq!(rest, concurrent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_set_fails_alone_not_its_whole_group() {
    let db = database().await;
    let store = db.node().await;
    let first = log(0);
    store
        .accept(&request_of(&first), std::slice::from_ref(&first), None)
        .await
        .expect("accept");
    let tasks: Vec<_> = (1..=40)
        .map(|i| {
            let store = store.clone();
            // Every tenth one repeats the first request's ID: refused by its key.
            let l = if i % 10 == 0 { first.clone() } else { log(i) };
            tokio::spawn(async move {
                store
                    .accept(&request_of(&l), std::slice::from_ref(&l), None)
                    .await
                    .map(|_| l.id)
            })
        })
        .collect();
    let (mut refused, mut stored) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(id) => {
                assert!(store.log(id).await.expect("read").is_some());
                stored += 1;
            }
            Err(e) => {
                let said = e.to_string();
                assert!(said.contains("refused the write"), "{said}");
                assert!(said.contains("duplicate key"), "{said}");
                refused += 1;
            }
        }
    }
    assert_eq!((stored, refused), (36, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_over_many_days_pages_the_same_as_sled() {
    let db = database().await;
    let pg = db.node().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sled = Store::open(dir.path()).expect("sled store");
    // 45 days with logs, two a day, one of them Production's only model.
    let now = chrono::Utc::now();
    for day in 0..45i64 {
        for n in 0..2 {
            let at = now - chrono::Duration::days(day) - chrono::Duration::minutes(n * 5);
            let mut l = log(day as usize * 2 + n as usize);
            l.id = Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                at.timestamp() as u64,
                at.timestamp_subsec_nanos(),
            ));
            l.created_at = at;
            l.updated_at = at;
            l.environment = if n == 0 {
                Environment::Production
            } else {
                Environment::Staging
            };
            l.data_model = if n == 0 { "Results" } else { "Notes" }.into();
            let request = request_of(&l);
            sled.insert_accepted(&request, std::slice::from_ref(&l), None)
                .expect("sled");
            pg.accept(&request, std::slice::from_ref(&l), None)
                .await
                .expect("pg");
        }
    }
    let absent = LogQuery {
        environment: Some(Environment::Production),
        data_model: Some("Notes".into()),
        limit: 10,
        ..Default::default()
    };
    // A model Production never has: the first call stops after its day budget with a
    // cursor instead of reading Production's whole history.
    let first = pg.search(&absent).await.expect("search");
    assert!(first.logs.is_empty());
    assert!(first.next.is_some(), "cut short with a cursor");
    assert!(all_pages_pg(&pg, &absent).await.is_empty());
    for query in [
        LogQuery {
            limit: 7,
            ..Default::default()
        },
        LogQuery {
            environment: Some(Environment::Staging),
            data_model: Some("Notes".into()),
            limit: 4,
            ..Default::default()
        },
        LogQuery {
            data_model: Some("Results".into()),
            since: Some(now - chrono::Duration::days(20)),
            limit: 3,
            ..Default::default()
        },
    ] {
        assert_eq!(
            all_pages_pg(&pg, &query).await,
            all_pages_sled(&sled, &query),
            "{query:?}"
        );
    }
}

/// A destination + data model that only its oldest log has, behind more logs of that
/// destination than one call reads: each call stops at its scan budget with a cursor
/// (bounded work, however the filters combine), and following the cursor finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_without_an_index_of_its_own_reads_a_budget_per_call() {
    use switchboard::store::postgres::search::SCAN_BUDGET;
    let db = database().await;
    let pg = db.node().await;
    let destination = Uuid::from_u128(77);
    let of_destination = |model: &str| {
        let mut l = log(1);
        l.destination_id = destination;
        l.data_model = model.into();
        l
    };
    let oldest = of_destination("Notes");
    pg.accept(&request_of(&oldest), std::slice::from_ref(&oldest), None)
        .await
        .expect("accept");
    let newer: Vec<LogRecord> = (0..SCAN_BUDGET + 300)
        .map(|_| of_destination("Results"))
        .collect();
    for batch in newer.chunks(1000) {
        pg.accept(&request_of(&batch[0]), batch, None)
            .await
            .expect("accept");
    }
    let rare = LogQuery {
        destination: Some(destination),
        data_model: Some("Notes".into()),
        limit: 10,
        ..Default::default()
    };
    let first = pg.search(&rare).await.expect("search");
    assert!(first.logs.is_empty(), "{:?}", first.logs.len());
    assert!(first.next.is_some(), "cut short with a cursor");
    assert_eq!(all_pages_pg(&pg, &rare).await, vec![oldest.id]);

    // A combination many logs match fills its page at once.
    let common = LogQuery {
        data_model: Some("Results".into()),
        ..rare.clone()
    };
    let page = pg.search(&common).await.expect("search");
    assert_eq!(page.logs.len(), 10);
    assert_eq!(page.logs[0].id, newer.last().expect("newest").id);
    assert!(page.next.is_some());
}
