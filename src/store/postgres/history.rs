//! History on PostgreSQL: accepted requests written (through the group committer),
//! requests and logs read back, and history searched with the tables' indexes.
//! Records are the sled store's own encodings (packed JSON; requests sealed when a
//! key is configured), so a record reads the same from either store.

use super::accept::{AcceptSet, LogRow, RequestRow};
use super::{PgError, PgStore, Result, partitions};
use crate::model::{LogRecord, LogStatus};
use crate::store::history::{LogPage, LogQuery, MAX_PAGE, v7_floor};
use crate::store::{QueueId, StoredRequest, encode};
use tokio_postgres::types::ToSql;
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
        let row = client
            .query_opt("SELECT record FROM logs WHERE id = $1", &[&id])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        row.map(|r| self.decode_log(r.get(0))).transpose()
    }

    pub async fn request(&self, id: Uuid) -> Result<Option<StoredRequest>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT record FROM requests WHERE id = $1", &[&id])
            .await
            .map_err(|e| self.at.query_error(&e))?;
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

    /// A page of history, newest first: the same answers as the sled store's search
    /// (its pages may end at other places; followed to the end, they list the same
    /// logs in the same order). A filter with an index of its own (patient,
    /// destination, source, a rare status) is one query. Other filters walk the days
    /// newest first, one day's partitions at a time and at most [`DAYS_PER_PAGE`]
    /// days per call, so a value that some environment never has cannot make one call
    /// read that environment's whole history; a page cut short carries the cursor.
    pub async fn search(&self, query: &LogQuery) -> Result<LogPage> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let (filter, params) = filters(query);
        let lower = query.since.map(|t| Uuid::from_bytes(v7_floor(t)));
        let mut upper = query
            .until
            .map(|t| Uuid::from_bytes(v7_floor(t + chrono::Duration::milliseconds(1))));
        if let Some(before) = query.before {
            upper = Some(upper.map_or(before, |u| u.min(before)));
        }
        let client = self.client().await?;
        let selective = query.patient_id.is_some()
            || query.destination.is_some()
            || query.source.is_some()
            || query
                .status
                .is_some_and(|s| matches!(s, LogStatus::Failed | LogStatus::Filtered));
        let mut page = LogPage::default();
        if selective {
            let rows = self
                .page_rows(&client, &filter, &params, lower, upper, limit + 1)
                .await?;
            self.fill(&mut page, &rows, limit)?;
            return Ok(page);
        }
        for _ in 0..DAYS_PER_PAGE {
            // The newest log left (any, through the primary key): its day is the next
            // window, and days without logs are skipped.
            let Some(newest) = self.newest_below(&client, query, lower, upper).await? else {
                return Ok(page);
            };
            let Some(day) = partitions::day_of(newest) else {
                // Not a UUIDv7 (never written by us): no windows, one query.
                let rows = self
                    .page_rows(&client, &filter, &params, lower, upper, limit + 1)
                    .await?;
                let room = limit - page.logs.len();
                self.fill(&mut page, &rows, room)?;
                return Ok(page);
            };
            let start = partitions::day_floor(day);
            let window_low = lower.map_or(start, |l| l.max(start));
            let wanted = limit - page.logs.len();
            let rows = self
                .page_rows(
                    &client,
                    &filter,
                    &params,
                    Some(window_low),
                    upper,
                    wanted + 1,
                )
                .await?;
            self.fill(&mut page, &rows, wanted)?;
            if page.logs.len() == limit {
                // Something older may be left: the caller pages on from the last.
                page.next = page.logs.last().map(|l| l.id);
                return Ok(page);
            }
            if lower.is_some_and(|l| window_low <= l) {
                return Ok(page);
            }
            upper = Some(window_low);
        }
        page.next = upper;
        Ok(page)
    }

    /// Up to `limit` matching logs' records with IDs in `[lower, upper)`, newest first.
    async fn page_rows(
        &self,
        client: &deadpool_postgres::Object,
        filter: &[String],
        params: &[Box<dyn ToSql + Sync + Send>],
        lower: Option<Uuid>,
        upper: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<tokio_postgres::Row>> {
        let mut conditions = filter.to_vec();
        let mut refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        if let Some(lower) = &lower {
            refs.push(lower);
            conditions.push(format!("id >= ${}", refs.len()));
        }
        if let Some(upper) = &upper {
            refs.push(upper);
            conditions.push(format!("id < ${}", refs.len()));
        }
        let filter = match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        };
        let sql = format!("SELECT record FROM logs {filter} ORDER BY id DESC LIMIT {limit}");
        client
            .query(&sql, &refs)
            .await
            .map_err(|e| self.at.query_error(&e))
    }

    /// The newest log ID in `[lower, upper)` of the query's environment, if any.
    async fn newest_below(
        &self,
        client: &deadpool_postgres::Object,
        query: &LogQuery,
        lower: Option<Uuid>,
        upper: Option<Uuid>,
    ) -> Result<Option<Uuid>> {
        let environment = query.environment.map(|e| e.as_str());
        let row = client
            .query_opt(
                "SELECT id FROM logs
                 WHERE ($1::text IS NULL OR environment = $1)
                   AND ($2::uuid IS NULL OR id >= $2) AND ($3::uuid IS NULL OR id < $3)
                 ORDER BY id DESC LIMIT 1",
                &[&environment, &lower, &upper],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Adds up to `room` of `rows` to the page; a row beyond them means more is left.
    fn fill(&self, page: &mut LogPage, rows: &[tokio_postgres::Row], room: usize) -> Result<()> {
        for row in rows.iter().take(room) {
            page.logs.push(self.decode_log(row.get(0))?);
        }
        if rows.len() > room {
            page.next = page.logs.last().map(|l| l.id);
        }
        Ok(())
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

/// Days a search without a selective filter walks per call.
pub const DAYS_PER_PAGE: usize = 31;

/// The query's filters other than its time bounds, as SQL conditions and parameters.
fn filters(query: &LogQuery) -> (Vec<String>, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut add = |column: &str, value: Box<dyn ToSql + Sync + Send>| {
        params.push(value);
        conditions.push(format!("{column} = ${}", params.len()));
    };
    if let Some(e) = query.environment {
        add("environment", Box::new(e.as_str()));
    }
    if let Some(s) = query.source {
        add("source_id", Box::new(s));
    }
    if let Some(d) = query.destination {
        add("destination_id", Box::new(d));
    }
    if let Some(m) = &query.data_model {
        add("data_model", Box::new(m.clone()));
    }
    if let Some(e) = &query.event_type {
        add("event_type", Box::new(e.clone()));
    }
    if let Some(t) = query.log_type {
        add("log_type", Box::new(t.as_str()));
    }
    if let Some(s) = query.status {
        add("status", Box::new(s.as_str()));
    }
    if let Some(p) = &query.patient_id {
        add("patient_id", Box::new(p.clone()));
    }
    (conditions, params)
}
