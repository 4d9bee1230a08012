//! Operator actions on a shared store: quarantine, release, mark failed, resend, and
//! a destination's pause. Each locks the log's row for its transaction, as a delivery
//! outcome does ([`PgStore::settle`]), so neither loses the other's change, whichever
//! nodes they run on.

use super::{PgError, PgStore, Result};
use crate::model::{LogRecord, LogStatus};
use crate::store::queue::DestinationState;
use crate::store::{QueueId, codec, encode};
use uuid::Uuid;

/// What an operator's change found, when it did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NoLog,
    /// Not queued (quarantine), not in quarantine (release), not PENDING (mark failed).
    WrongState,
}

type Tx<'a> = deadpool_postgres::Transaction<'a>;

impl PgStore {
    /// Moves a queued, PENDING, not quarantined log to quarantine.
    pub async fn quarantine(
        &self,
        log_id: Uuid,
        update: impl FnOnce(&LogRecord) -> LogRecord + Send,
    ) -> Result<std::result::Result<LogRecord, Refused>> {
        self.in_log_tx(log_id, async |tx, log| {
            if log.status != LogStatus::Pending || log.quarantined {
                return Ok(Err(Refused::WrongState));
            }
            let moved = tx
                .execute(
                    "WITH gone AS (DELETE FROM queue_items WHERE destination_id = $1 AND log_id = $2
                                   RETURNING destination_id, log_id, source_id, lane, seq)
                     INSERT INTO quarantine (destination_id, log_id, source_id, lane, seq)
                     SELECT * FROM gone",
                    &[&log.destination_id, &log_id],
                )
                .await?;
            if moved == 0 {
                return Ok(Err(Refused::WrongState));
            }
            let updated = update(&log);
            self.write_log(tx, &updated).await?;
            Ok(Ok(updated))
        })
        .await
    }

    /// Puts a quarantined log back in its queue where it was (at the head, as the
    /// items behind it have later numbers); returns it and its queue.
    pub async fn release(
        &self,
        log_id: Uuid,
        update: impl FnOnce(&LogRecord) -> LogRecord + Send,
    ) -> Result<std::result::Result<(LogRecord, QueueId), Refused>> {
        self.in_log_tx(log_id, async |tx, log| {
            let row = tx
                .query_opt(
                    "WITH gone AS (DELETE FROM quarantine WHERE destination_id = $1 AND log_id = $2
                                   RETURNING destination_id, source_id, lane, seq, log_id)
                     INSERT INTO queue_items (destination_id, source_id, lane, seq, log_id)
                     SELECT * FROM gone RETURNING source_id, lane",
                    &[&log.destination_id, &log_id],
                )
                .await?;
            let Some(row) = row else {
                return Ok(Err(Refused::WrongState));
            };
            let queue = QueueId {
                destination: log.destination_id,
                source: row.get(0),
                lane: row.get::<_, i64>(1) as u64,
            };
            let updated = update(&log);
            self.write_log(tx, &updated).await?;
            Ok(Ok((updated, queue)))
        })
        .await
    }

    /// Gives up on a PENDING log: written as `update` makes it, out of its queue or
    /// quarantine.
    pub async fn mark_failed(
        &self,
        log_id: Uuid,
        update: impl FnOnce(&LogRecord) -> LogRecord + Send,
    ) -> Result<std::result::Result<LogRecord, Refused>> {
        self.in_log_tx(log_id, async |tx, log| {
            if log.status != LogStatus::Pending {
                return Ok(Err(Refused::WrongState));
            }
            for table in ["queue_items", "quarantine"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE destination_id = $1 AND log_id = $2"),
                    &[&log.destination_id, &log_id],
                )
                .await?;
            }
            let updated = update(&log);
            self.write_log(tx, &updated).await?;
            Ok(Ok(updated))
        })
        .await
    }

    /// A new log of an accepted request, queued at the end of `queue` (a resend).
    pub async fn enqueue_log(&self, log: &LogRecord, queue: &QueueId) -> Result<()> {
        let row = super::history::log_row(log);
        let set = super::accept::AcceptSet {
            request: None,
            logs: vec![row],
            queued: vec![(*queue, log.id)],
        };
        self.committer.commit(set).await
    }

    /// A destination's logs in quarantine, oldest first.
    pub async fn quarantined_logs(&self, destination: Uuid) -> Result<Vec<LogRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT l.record FROM quarantine z JOIN logs l ON l.id = z.log_id
                 WHERE z.destination_id = $1 ORDER BY z.log_id",
                &[&destination],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        rows.iter().map(|r| self.decode_log(r.get(0))).collect()
    }

    /// Pauses or resumes a destination for every node.
    pub async fn set_destination_state(&self, id: Uuid, state: &DestinationState) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO destination_states (destination_id, record) VALUES ($1, $2)
                 ON CONFLICT (destination_id) DO UPDATE SET record = excluded.record",
                &[&id, &encode(state)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// The destinations paused now.
    pub async fn paused_destinations(&self) -> Result<std::collections::HashSet<Uuid>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT destination_id, record FROM destination_states", &[])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        let mut paused = std::collections::HashSet::new();
        for row in rows {
            let state: DestinationState =
                codec::parse(b"destination state", row.get(1)).map_err(|e| PgError::Query {
                    at: self.at.shown().to_string(),
                    detail: format!("a destination's state is unreadable: {e}"),
                })?;
            if state.paused {
                paused.insert(row.get(0));
            }
        }
        Ok(paused)
    }

    /// Runs `change` in a transaction with the log read and locked; commits (with its
    /// change note) only when it applied.
    async fn in_log_tx<T: Send>(
        &self,
        log_id: Uuid,
        change: impl AsyncFnOnce(
            &Tx<'_>,
            LogRecord,
        ) -> std::result::Result<
            std::result::Result<T, Refused>,
            tokio_postgres::Error,
        > + Send,
    ) -> Result<std::result::Result<T, Refused>> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        let Some(log) = self.locked_log(&tx, log_id).await? else {
            return Ok(Err(Refused::NoLog));
        };
        let outcome = change(&tx, log).await.map_err(q)?;
        if outcome.is_ok() {
            super::shared::announce_on(&tx, self.node, &[log_id])
                .await
                .map_err(q)?;
            tx.commit().await.map_err(q)?;
        }
        Ok(outcome)
    }

    async fn write_log(
        &self,
        tx: &Tx<'_>,
        log: &LogRecord,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        tx.execute(
            "UPDATE logs SET status = $3, record = $4 WHERE id = $1 AND environment = $2",
            &[
                &log.id,
                &log.environment.as_str(),
                &log.status.as_str(),
                &encode(log),
            ],
        )
        .await?;
        Ok(())
    }
}
