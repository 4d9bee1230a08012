//! Accepted requests, committed in groups. A 200 means the request, its logs and its
//! queue entries are committed (`synchronous_commit` on), but the database's fsync
//! rate must not be the request rate: callers hand their write set to the
//! [`Committer`], which takes whatever is waiting (up to [`MAX_BATCH`]) into one
//! transaction of multi-row inserts, with up to [`IN_FLIGHT`] transactions at once.
//!
//! Queue entries are numbered from one database sequence before the commit, and a
//! request is acknowledged after it: a request sent after that acknowledgement is
//! numbered after, so FIFO per queue holds across nodes (see migration 0002).

use super::{PgError, PgLocation, Result};
use crate::store::QueueId;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

/// Write sets in one transaction at most.
pub const MAX_BATCH: usize = 256;
/// Group transactions in flight at once per node.
pub const IN_FLIGHT: usize = 4;
/// Write sets waiting for a transaction at most; beyond it callers wait.
pub const BACKLOG: usize = 4096;

/// One accepted request as rows.
pub(crate) struct AcceptSet {
    /// `None`: logs of a request stored before (a resend).
    pub request: Option<RequestRow>,
    pub logs: Vec<LogRow>,
    /// Queue entries to append: the queue and the log.
    pub queued: Vec<(QueueId, Uuid)>,
}

pub(crate) struct RequestRow {
    pub id: Uuid,
    pub environment: &'static str,
    pub received_at: DateTime<Utc>,
    pub source_id: Uuid,
    pub record: Vec<u8>,
}

pub(crate) struct LogRow {
    pub id: Uuid,
    pub environment: &'static str,
    pub request_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub log_type: &'static str,
    pub status: &'static str,
    pub source_id: Uuid,
    pub destination_id: Uuid,
    pub data_model: String,
    pub event_type: String,
    pub patient_id: Option<String>,
    pub record: Vec<u8>,
}

struct Pending {
    set: AcceptSet,
    done: oneshot::Sender<Result<()>>,
}

#[derive(Default)]
struct Counts {
    transactions: AtomicU64,
    sets: AtomicU64,
}

pub(crate) struct Committer {
    queue: mpsc::Sender<Pending>,
    counts: Arc<Counts>,
    at: PgLocation,
}

/// Where the committer writes, and which node it writes for.
#[derive(Clone)]
struct Target {
    pool: deadpool_postgres::Pool,
    at: PgLocation,
    node: Uuid,
}

impl Committer {
    pub fn start(pool: deadpool_postgres::Pool, at: PgLocation, node: Uuid) -> Self {
        let (queue, mut waiting) = mpsc::channel::<Pending>(BACKLOG);
        let counts = Arc::new(Counts::default());
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let task_counts = counts.clone();
        let target = Target {
            pool,
            at: at.clone(),
            node,
        };
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                // Whatever arrived while the previous transactions ran joins this one.
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let (target, counts) = (target.clone(), task_counts.clone());
                tokio::spawn(async move {
                    commit(&target, &counts, batch).await;
                    drop(slot);
                });
            }
        });
        Committer { queue, counts, at }
    }

    /// Commits `set` with whatever else is waiting; returns once it is committed.
    pub async fn commit(&self, set: AcceptSet) -> Result<()> {
        let (done, committed) = oneshot::channel();
        let stopped = || PgError::Query {
            at: self.at.shown().to_string(),
            detail: "the group committer has stopped (the engine is shutting down)".into(),
        };
        self.queue
            .send(Pending { set, done })
            .await
            .map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }

    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.transactions.load(Ordering::Relaxed),
            self.counts.sets.load(Ordering::Relaxed),
        )
    }
}

async fn commit(target: &Target, counts: &Counts, batch: Vec<Pending>) {
    let sets: Vec<&AcceptSet> = batch.iter().map(|p| &p.set).collect();
    let result = write(target, &sets).await;
    counts.transactions.fetch_add(1, Ordering::Relaxed);
    if matches!(result, Err(PgError::Rejected { .. })) && batch.len() > 1 {
        // One bad write set must not fail the others: each alone, so only it fails.
        // (A lost connection fails them all at once instead of one by one.)
        for pending in batch {
            let alone = write(target, &[&pending.set]).await;
            counts.transactions.fetch_add(1, Ordering::Relaxed);
            if alone.is_ok() {
                counts.sets.fetch_add(1, Ordering::Relaxed);
            }
            let _ = pending.done.send(alone);
        }
        return;
    }
    if result.is_ok() {
        counts.sets.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
    for pending in batch {
        let _ = pending.done.send(result.clone());
    }
}

/// One transaction: every request, log and queue entry of `sets`.
async fn write(target: &Target, sets: &[&AcceptSet]) -> Result<()> {
    let at = &target.at;
    let q = |e: tokio_postgres::Error| at.query_error(&e);
    let mut client = target.pool.get().await.map_err(|e| PgError::Connect {
        at: at.shown().to_string(),
        detail: e.to_string(),
    })?;
    let tx = client.transaction().await.map_err(q)?;
    insert_requests(&tx, sets).await.map_err(q)?;
    let logs: Vec<&LogRow> = sets.iter().flat_map(|s| &s.logs).collect();
    insert_logs(&tx, &logs).await.map_err(q)?;
    enqueue(&tx, sets).await.map_err(q)?;
    // Heard by every node's listeners when (and only if) this commits.
    let changed: Vec<Uuid> = logs.iter().map(|l| l.id).collect();
    super::shared::announce_on(&tx, target.node, &changed)
        .await
        .map_err(q)?;
    tx.commit().await.map_err(q)
}

type Tx<'a> = deadpool_postgres::Transaction<'a>;
type Sql<T> = std::result::Result<T, tokio_postgres::Error>;

async fn insert_requests(tx: &Tx<'_>, sets: &[&AcceptSet]) -> Sql<()> {
    let requests: Vec<&RequestRow> = sets.iter().filter_map(|s| s.request.as_ref()).collect();
    if requests.is_empty() {
        return Ok(());
    }
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO requests (id, environment, received_at, source_id, record)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::bytea[])",
        )
        .await?,
        &[
            &requests.iter().map(|r| r.id).collect::<Vec<_>>(),
            &requests.iter().map(|r| r.environment).collect::<Vec<_>>(),
            &requests.iter().map(|r| r.received_at).collect::<Vec<_>>(),
            &requests.iter().map(|r| r.source_id).collect::<Vec<_>>(),
            &requests
                .iter()
                .map(|r| r.record.as_slice())
                .collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_logs(tx: &Tx<'_>, logs: &[&LogRow]) -> Sql<()> {
    insert_logs_with(tx, logs, "").await.map(|_| ())
}

/// The logs not already there (an export run again); returns how many were new.
pub(super) async fn insert_logs_once(tx: &Tx<'_>, logs: &[&LogRow]) -> Sql<u64> {
    insert_logs_with(tx, logs, "ON CONFLICT DO NOTHING").await
}

async fn insert_logs_with(tx: &Tx<'_>, logs: &[&LogRow], on_conflict: &str) -> Sql<u64> {
    if logs.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO logs (id, environment, request_id, created_at, log_type, status,
             source_id, destination_id, data_model, event_type, patient_id, record)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[],
             $5::text[], $6::text[], $7::uuid[], $8::uuid[], $9::text[], $10::text[],
             $11::text[], $12::bytea[]) {on_conflict}"
    );
    tx.execute(
        &tx.prepare_cached(&sql).await?,
        &[
            &logs.iter().map(|l| l.id).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.environment).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.request_id).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.created_at).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.log_type).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.status).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.source_id).collect::<Vec<_>>(),
            &logs.iter().map(|l| l.destination_id).collect::<Vec<_>>(),
            &logs
                .iter()
                .map(|l| l.data_model.as_str())
                .collect::<Vec<_>>(),
            &logs
                .iter()
                .map(|l| l.event_type.as_str())
                .collect::<Vec<_>>(),
            &logs
                .iter()
                .map(|l| l.patient_id.as_deref())
                .collect::<Vec<_>>(),
            &logs.iter().map(|l| l.record.as_slice()).collect::<Vec<_>>(),
        ],
    )
    .await
}

/// Queue entries, numbered from the shared sequence in the order they were accepted.
/// Their queue rows (the leases) are made when missing, without locking existing
/// ones: a dispatcher's lease check and other accepts go on meanwhile.
async fn enqueue(tx: &Tx<'_>, sets: &[&AcceptSet]) -> Sql<()> {
    let queued: Vec<&(QueueId, Uuid)> = sets.iter().flat_map(|s| &s.queued).collect();
    if queued.is_empty() {
        return Ok(());
    }
    let queues: std::collections::BTreeSet<(Uuid, Uuid, i64)> = queued
        .iter()
        .map(|(q, _)| (q.destination, q.source, q.lane as i64))
        .collect();
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO queues (destination_id, source_id, lane)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[])
         ON CONFLICT DO NOTHING",
        )
        .await?,
        &[
            &queues.iter().map(|k| k.0).collect::<Vec<_>>(),
            &queues.iter().map(|k| k.1).collect::<Vec<_>>(),
            &queues.iter().map(|k| k.2).collect::<Vec<_>>(),
        ],
    )
    .await?;
    let mut numbers: Vec<i64> = tx
        .query(
            &tx.prepare_cached(
                "SELECT nextval('queue_item_seq') FROM generate_series(1, $1::int8)",
            )
            .await?,
            &[&(queued.len() as i64)],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    numbers.sort_unstable();
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO queue_items (destination_id, source_id, lane, seq, log_id)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::uuid[])",
        )
        .await?,
        &[
            &queued
                .iter()
                .map(|(q, _)| q.destination)
                .collect::<Vec<_>>(),
            &queued.iter().map(|(q, _)| q.source).collect::<Vec<_>>(),
            &queued
                .iter()
                .map(|(q, _)| q.lane as i64)
                .collect::<Vec<_>>(),
            &numbers,
            &queued.iter().map(|(_, log)| *log).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}
