//! History on PostgreSQL: accepted requests written (through the group committer),
//! requests and logs read back, and history searched with the tables' indexes.
//! Records are the sled store's own encodings (packed JSON; requests sealed when a
//! key is configured), so a record reads the same from either store.

use super::accept::{AcceptSet, LogRow, RequestRow};
use super::{PgError, PgStore, Result};
use crate::model::LogRecord;
use crate::store::{QueueId, StoredRequest, encode};
use uuid::Uuid;

impl PgStore {
    /// Commits an accepted request with its logs and, with `lanes` (one per log), a
    /// delivery-queue entry per log; returns once it is committed.
    pub async fn accept(
        &self,
        request: &StoredRequest,
        logs: &[LogRecord],
        lanes: Option<&[u64]>,
    ) -> Result<()> {
        let set = AcceptSet {
            request: Some(RequestRow {
                id: request.id,
                environment: request.environment.as_str(),
                received_at: request.received_at,
                source_id: request.source_id,
                record: self.sealer.encode(request),
            }),
            logs: logs.iter().map(log_row).collect(),
            queued: match lanes {
                Some(lanes) => logs
                    .iter()
                    .enumerate()
                    .map(|(i, log)| {
                        let queue = QueueId {
                            destination: log.destination_id,
                            source: log.source_id,
                            lane: lanes.get(i).copied().unwrap_or(0),
                        };
                        (queue, log.id)
                    })
                    .collect(),
                None => Vec::new(),
            },
        };
        self.committer.commit(set).await
    }

    pub async fn log(&self, id: Uuid) -> Result<Option<LogRecord>> {
        let client = self.client().await?;
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let read = client
            .prepare_cached("SELECT record FROM logs WHERE id = $1")
            .await
            .map_err(q)?;
        let row = client.query_opt(&read, &[&id]).await.map_err(q)?;
        row.map(|r| self.decode_log(r.get(0))).transpose()
    }

    pub async fn request(&self, id: Uuid) -> Result<Option<StoredRequest>> {
        let client = self.client().await?;
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let read = client
            .prepare_cached("SELECT record FROM requests WHERE id = $1")
            .await
            .map_err(q)?;
        let row = client.query_opt(&read, &[&id]).await.map_err(q)?;
        row.map(|r| {
            self.sealer
                .decode(b"r", r.get::<_, &[u8]>(0))
                .map_err(|e| self.corrupt(&format!("request {id}"), e))
        })
        .transpose()
    }

    /// The log IDs queued in `queue`, in delivery order.
    pub async fn queued(&self, queue: &QueueId) -> Result<Vec<Uuid>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT log_id FROM queue_items
                 WHERE destination_id = $1 AND source_id = $2 AND lane = $3 ORDER BY seq",
                &[&queue.destination, &queue.source, &(queue.lane as i64)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The log IDs queued for `destination`, queue by queue (as the sled store lists
    /// them: by source, then lane), each in delivery order.
    pub async fn queued_for(&self, destination: Uuid) -> Result<Vec<Uuid>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT log_id FROM queue_items WHERE destination_id = $1
                 ORDER BY source_id, lane, seq",
                &[&destination],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(super) fn decode_log(&self, record: &[u8]) -> Result<LogRecord> {
        crate::store::decode(b"l", record).map_err(|e| self.corrupt("a log", e))
    }

    fn corrupt(&self, what: &str, e: crate::store::StoreError) -> PgError {
        PgError::Query {
            at: self.at.shown().to_string(),
            detail: format!("{what} is unreadable: {e}"),
        }
    }
}

pub(super) fn log_row(log: &LogRecord) -> LogRow {
    LogRow {
        id: log.id,
        environment: log.environment.as_str(),
        request_id: log.request_id,
        created_at: log.created_at,
        log_type: log.log_type.as_str(),
        status: log.status.as_str(),
        source_id: log.source_id,
        destination_id: log.destination_id,
        data_model: log.data_model.clone(),
        event_type: log.event_type.clone(),
        patient_id: log.patient_id.clone(),
        record: encode(log),
    }
}
