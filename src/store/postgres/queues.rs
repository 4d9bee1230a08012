//! Delivery queues shared by every node. At most one node delivers a queue at a time:
//! it holds the queue's lease (its row in `queues`: `leased_by`, `lease_until`, by the
//! database's clock, so nodes' clocks do not matter) and renews it while it delivers.
//! A node that dies stops renewing, and another takes the queue over once the lease has
//! expired ([`LEASE_TTL`]). Every outcome is written only under the lease, checked in
//! the same transaction ([`PgStore::settle`]): a node that lost its lease (paused too
//! long, cut off from the database) finds out there, before it delivers again, and its
//! outcome is not written. At-least-once: the item stays at the head until an outcome
//! under the lease removes it.

use super::{PgError, PgStore, Result};
use crate::model::{Attempt, LogRecord, LogStatus};
use crate::store::{QueueId, QueueItem, encode};
use std::time::Duration;
use uuid::Uuid;

/// How long a lease lasts unless renewed; a dead node's queues are taken over within
/// this (plus the taker's next look).
pub const LEASE_TTL: Duration = Duration::from_secs(6);

/// A queue this node delivers, until the database's clock passes `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub queue: QueueId,
    pub node: Uuid,
    pub until: chrono::DateTime<chrono::Utc>,
}

fn interval(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

impl PgStore {
    /// Takes `queue` for `node` if nobody holds it, its holder's lease expired, or
    /// `node` holds it already (then this renews it).
    pub async fn try_lease(
        &self,
        queue: &QueueId,
        node: Uuid,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE queues
                 SET leased_by = $4, lease_until = now() + make_interval(secs => $5)
                 WHERE destination_id = $1 AND source_id = $2 AND lane = $3
                   AND (leased_by IS NULL OR leased_by = $4 OR lease_until < now())
                 RETURNING lease_until",
                &[
                    &queue.destination,
                    &queue.source,
                    &(queue.lane as i64),
                    &node,
                    &interval(ttl),
                ],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.map(|r| Lease {
            queue: *queue,
            node,
            until: r.get(0),
        }))
    }

    /// Gives a queue back (a clean stop), so another node need not wait for expiry.
    pub async fn release_lease(&self, lease: &Lease) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE queues SET leased_by = NULL, lease_until = NULL
                 WHERE destination_id = $1 AND source_id = $2 AND lane = $3 AND leased_by = $4",
                &[
                    &lease.queue.destination,
                    &lease.queue.source,
                    &(lease.queue.lane as i64),
                    &lease.node,
                ],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// Queues with items that `node` could deliver now: free, expired, or its own.
    pub async fn deliverable_queues(&self, node: Uuid) -> Result<Vec<QueueId>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT q.destination_id, q.source_id, q.lane FROM queues q
                 WHERE (q.leased_by IS NULL OR q.leased_by = $1 OR q.lease_until < now())
                   AND EXISTS (SELECT 1 FROM queue_items i
                               WHERE i.destination_id = q.destination_id
                                 AND i.source_id = q.source_id AND i.lane = q.lane)
                 ORDER BY 1, 2, 3",
                &[&node],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| QueueId {
                destination: r.get(0),
                source: r.get(1),
                lane: r.get::<_, i64>(2) as u64,
            })
            .collect())
    }

    /// Which node delivers each destination's queues now (unexpired leases), for the
    /// Connections pane.
    pub async fn delivering_nodes(&self) -> Result<Vec<(Uuid, Uuid)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT destination_id, leased_by FROM queues
                 WHERE leased_by IS NOT NULL AND lease_until > now() ORDER BY 1, 2",
                &[],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The first item of a queue.
    pub async fn head(&self, queue: &QueueId) -> Result<Option<QueueItem>> {
        let client = self.client().await?;
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let head = client
            .prepare_cached(
                "SELECT seq, log_id, lease_until_ms FROM queue_items
                 WHERE destination_id = $1 AND source_id = $2 AND lane = $3
                 ORDER BY seq LIMIT 1",
            )
            .await
            .map_err(q)?;
        let row = client
            .query_opt(
                &head,
                &[&queue.destination, &queue.source, &(queue.lane as i64)],
            )
            .await
            .map_err(q)?;
        Ok(row.map(|r| QueueItem {
            queue: *queue,
            seq: r.get::<_, i64>(0) as u64,
            log_id: r.get(1),
            lease_until_ms: r.get::<_, i64>(2) as u64,
        }))
    }

    /// Writes an attempt's outcome: `update` makes the log's new state from the log as
    /// it is now (read and locked in this transaction, so an operator's action on
    /// another node is not overwritten; `fallback` if it is gone), the attempt is
    /// recorded, and when `done` the item leaves its queue; all only if `lease` is still
    /// this node's (checked and held for the transaction). `Ok(None)`: the lease was
    /// lost and nothing was written; the caller stops delivering this queue.
    pub async fn settle(
        &self,
        lease: &Lease,
        item: &QueueItem,
        fallback: &LogRecord,
        update: impl FnOnce(LogRecord) -> LogRecord + Send,
        attempt: Option<&Attempt>,
        done: bool,
    ) -> Result<Option<LogRecord>> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        if !holds(&tx, lease).await.map_err(q)? {
            return Ok(None);
        }
        let current = match self.locked_log(&tx, fallback.id).await? {
            Some(current) => current,
            None => fallback.clone(),
        };
        let was_quarantined = current.quarantined;
        let new = update(current);
        if was_quarantined && !new.quarantined {
            // Set aside during the attempt, and the destination took it: settled.
            tx.execute(
                "DELETE FROM quarantine WHERE destination_id = $1 AND log_id = $2",
                &[&item.queue.destination, &new.id],
            )
            .await
            .map_err(q)?;
        }
        if !self.write_outcome(&tx, &new, attempt).await.map_err(q)? {
            return Err(PgError::Query {
                at: self.at.shown().to_string(),
                detail: format!("log {} of a queued item is missing", new.id),
            });
        }
        if done {
            delete_item(&tx, item).await.map_err(q)?;
        }
        super::shared::announce_on(&tx, self.node, &[new.id])
            .await
            .map_err(q)?;
        tx.commit().await.map_err(q)?;
        Ok(Some(new))
    }

    /// Drops a queue's item whose log is no longer PENDING (an operator settled it),
    /// under `lease`; `Ok(false)`: the lease was lost, or the log is PENDING again.
    pub async fn drop_settled(&self, lease: &Lease, item: &QueueItem) -> Result<bool> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        if !holds(&tx, lease).await.map_err(q)? {
            return Ok(false);
        }
        let pending = tx
            .query_opt(
                "SELECT 1 FROM logs WHERE id = $1 AND status = $2 FOR UPDATE",
                &[&item.log_id, &LogStatus::Pending.as_str()],
            )
            .await
            .map_err(q)?;
        if pending.is_some() {
            return Ok(false);
        }
        delete_item(&tx, item).await.map_err(q)?;
        tx.commit().await.map_err(q)?;
        Ok(true)
    }

    /// Items queued for `destination`, counted up to `cap` (the queue bound's check).
    pub async fn queue_depth(&self, destination: Uuid, cap: usize) -> Result<usize> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM (SELECT 1 FROM queue_items
                 WHERE destination_id = $1 LIMIT $2) AS t",
                &[&destination, &(cap as i64)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.get::<_, i64>(0) as usize)
    }

    /// A log read and locked for the rest of `tx`.
    pub(crate) async fn locked_log(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: Uuid,
    ) -> Result<Option<LogRecord>> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let locked = tx
            .prepare_cached("SELECT record FROM logs WHERE id = $1 FOR UPDATE")
            .await
            .map_err(q)?;
        let row = tx.query_opt(&locked, &[&id]).await.map_err(q)?;
        row.map(|r| self.decode_log(r.get(0))).transpose()
    }

    /// The attempts recorded for a log, in order.
    pub async fn attempts(&self, log_id: Uuid) -> Result<Vec<Attempt>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT record FROM attempts WHERE log_id = $1 ORDER BY number",
                &[&log_id],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        rows.iter()
            .map(|r| {
                self.sealer
                    .decode(b"a", r.get::<_, &[u8]>(0))
                    .map_err(|e| PgError::Query {
                        at: self.at.shown().to_string(),
                        detail: format!("an attempt of log {log_id} is unreadable: {e}"),
                    })
            })
            .collect()
    }
}

impl PgStore {
    /// A poll destination's next batch: up to `max` items not handed out now (their
    /// lease passed), oldest first per queue, handed out until `until_ms` (Unix ms).
    /// Two nodes polling at once never hand out one item twice (rows locked and
    /// skipped), and the batch can be acknowledged through any node ([`PgStore::ack_polled`]).
    pub async fn poll_lease(
        &self,
        destination: Uuid,
        max: usize,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Vec<QueueItem>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE queue_items i SET lease_until_ms = $4
                 FROM (SELECT destination_id, source_id, lane, seq FROM queue_items
                       WHERE destination_id = $1 AND lease_until_ms <= $2
                       ORDER BY seq, source_id, lane LIMIT $3
                       FOR UPDATE SKIP LOCKED) picked
                 WHERE i.destination_id = picked.destination_id
                   AND i.source_id = picked.source_id AND i.lane = picked.lane
                   AND i.seq = picked.seq
                 RETURNING i.source_id, i.lane, i.seq, i.log_id",
                &[
                    &destination,
                    &(now_ms as i64),
                    &(max as i64),
                    &(until_ms as i64),
                ],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        let mut items: Vec<QueueItem> = rows
            .iter()
            .map(|r| QueueItem {
                queue: QueueId {
                    destination,
                    source: r.get(0),
                    lane: r.get::<_, i64>(1) as u64,
                },
                seq: r.get::<_, i64>(2) as u64,
                log_id: r.get(3),
                lease_until_ms: until_ms,
            })
            .collect();
        items.sort_by_key(|i| (i.seq, i.queue.source, i.queue.lane));
        Ok(items)
    }

    /// Acknowledges polled logs of `destination`: each still queued leaves its queue
    /// and its log is written as `settle` makes it from the log as it is now (locked),
    /// with its attempt, in one transaction. Returns the logs acknowledged (one not
    /// queued, or of another destination, is not: acknowledged once, through any node).
    pub async fn ack_polled(
        &self,
        destination: Uuid,
        ids: &[Uuid],
        settle: impl Fn(&LogRecord) -> (LogRecord, Attempt) + Send + Sync,
    ) -> Result<Vec<LogRecord>> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        let mut acked = Vec::new();
        for id in ids {
            let removed = tx
                .execute(
                    "DELETE FROM queue_items WHERE destination_id = $1 AND log_id = $2",
                    &[&destination, id],
                )
                .await
                .map_err(q)?;
            if removed == 0 {
                continue;
            }
            let Some(log) = self.locked_log(&tx, *id).await? else {
                continue;
            };
            let (updated, attempt) = settle(&log);
            self.write_outcome(&tx, &updated, Some(&attempt))
                .await
                .map_err(q)?;
            acked.push(updated);
        }
        let ids: Vec<Uuid> = acked.iter().map(|l| l.id).collect();
        super::shared::announce_on(&tx, self.node, &ids)
            .await
            .map_err(q)?;
        tx.commit().await.map_err(q)?;
        Ok(acked)
    }

    /// Drops a poll destination's item whose log an operator settled (no longer
    /// PENDING).
    pub async fn drop_polled_settled(&self, item: &QueueItem) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM queue_items i
                 WHERE destination_id = $1 AND source_id = $2 AND lane = $3 AND seq = $4
                   AND NOT EXISTS (SELECT 1 FROM logs l
                                   WHERE l.id = i.log_id AND l.status = $5)",
                &[
                    &item.queue.destination,
                    &item.queue.source,
                    &(item.queue.lane as i64),
                    &(item.seq as i64),
                    &LogStatus::Pending.as_str(),
                ],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }
}

/// Whether `lease` is still held (by the database's clock), locking it for `tx`.
async fn holds(
    tx: &deadpool_postgres::Transaction<'_>,
    lease: &Lease,
) -> std::result::Result<bool, tokio_postgres::Error> {
    let held = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT 1 FROM queues
             WHERE destination_id = $1 AND source_id = $2 AND lane = $3
               AND leased_by = $4 AND lease_until > now()
             FOR UPDATE",
            )
            .await?,
            &[
                &lease.queue.destination,
                &lease.queue.source,
                &(lease.queue.lane as i64),
                &lease.node,
            ],
        )
        .await?;
    Ok(held.is_some())
}

async fn delete_item(
    tx: &deadpool_postgres::Transaction<'_>,
    item: &QueueItem,
) -> std::result::Result<(), tokio_postgres::Error> {
    tx.execute(
        &tx.prepare_cached(
            "DELETE FROM queue_items
         WHERE destination_id = $1 AND source_id = $2 AND lane = $3 AND seq = $4",
        )
        .await?,
        &[
            &item.queue.destination,
            &item.queue.source,
            &(item.queue.lane as i64),
            &(item.seq as i64),
        ],
    )
    .await?;
    Ok(())
}

impl PgStore {
    /// Writes a log as it is now with its attempt and, for a query, the answer's body
    /// (not a queued log's outcome: those go through [`PgStore::settle`]).
    pub async fn update_log(
        &self,
        log: &LogRecord,
        attempt: Option<&Attempt>,
        response: Option<&[u8]>,
    ) -> Result<()> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        self.write_outcome(&tx, log, attempt).await.map_err(q)?;
        if let Some(body) = response {
            let sealed = self.sealer.seal(crate::store::codec::pack(body));
            tx.execute(
                "INSERT INTO responses (log_id, environment, body) VALUES ($1, $2, $3)
                 ON CONFLICT (log_id, environment) DO UPDATE SET body = excluded.body",
                &[&log.id, &log.environment.as_str(), &sealed],
            )
            .await
            .map_err(q)?;
        }
        super::shared::announce_on(&tx, self.node, &[log.id])
            .await
            .map_err(q)?;
        tx.commit().await.map_err(q)
    }

    /// Writes a log as it is now and, if given, its attempt, inside `tx`. Returns
    /// whether the log was there.
    async fn write_outcome(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        log: &LogRecord,
        attempt: Option<&Attempt>,
    ) -> std::result::Result<bool, tokio_postgres::Error> {
        let environment = log.environment.as_str();
        let updated = tx
            .execute(
                &tx.prepare_cached(
                    "UPDATE logs SET status = $3, record = $4 WHERE id = $1 AND environment = $2",
                )
                .await?,
                &[&log.id, &environment, &log.status.as_str(), &encode(log)],
            )
            .await?;
        if let Some(attempt) = attempt {
            tx.execute(
                &tx.prepare_cached("INSERT INTO attempts (log_id, environment, number, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (log_id, number, environment) DO UPDATE SET record = excluded.record").await?,
                &[
                    &attempt.log_id,
                    &environment,
                    &(attempt.number as i32),
                    &self.sealer.encode(attempt),
                ],
            )
            .await?;
        }
        Ok(updated == 1)
    }
}
