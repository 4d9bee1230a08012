//! History searches on PostgreSQL: the same answers as the sled store's search (pages
//! may end at other places; followed to the end, they list the same logs in the same
//! order), each call's work bounded whatever the filters.
//!
//! A search walks one index in ID order (newest first): the most selective filter
//! with an index of its own (patient, destination, source, a rare status, then the
//! environment), or the primary key. The other filters are checked on the rows it
//! reads. Without such other filters, the rows read are the page. With them, rows are
//! read in chunks and at most [`SCAN_BUDGET`] per call: a combination that
//! matches nothing (a destination that never receives some data model) costs one
//! budget, and the page comes back cut short with the cursor to go on from.
//! Searches without a selective filter also walk the days newest first, one day at a
//! time and at most [`DAYS_PER_PAGE`] days per call, so the environment's index is
//! read one day's partition at a time.

use super::{PgStore, Result, partitions};
use crate::model::LogStatus;
use crate::store::history::{LogPage, LogQuery, MAX_PAGE, v7_floor};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// Days a search without a selective filter walks per call.
pub const DAYS_PER_PAGE: usize = 31;

/// Rows a call reads at most to check filters that have no index of their own.
pub const SCAN_BUDGET: usize = 2_000;

/// Rows read per statement of such a scan (a page's worth when it is larger). Kept
/// small: asked for thousands of a destination's rows in ID order, the planner
/// prefers gathering all of them and sorting, which is the whole-history read the
/// budget is there to prevent.
const CHUNK: usize = 256;

type Param = Box<dyn ToSql + Sync + Send>;

/// One filter: a column equal to a value.
struct Condition {
    column: &'static str,
    value: Param,
}

/// A query's filters (other than its time bounds), the one walked first.
struct Filters {
    all: Vec<Condition>,
    /// Index in `all` of the condition whose index the scan walks, if any.
    lead: Option<usize>,
}

impl Filters {
    fn of(query: &LogQuery) -> Filters {
        let mut all = Vec::new();
        let mut add = |column: &'static str, value: Param| all.push(Condition { column, value });
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
        let position = |column: &str| all.iter().position(|c| c.column == column);
        let rare_status = query
            .status
            .is_some_and(|s| matches!(s, LogStatus::Failed | LogStatus::Filtered));
        let lead = position("patient_id")
            .or_else(|| position("destination_id"))
            .or_else(|| position("source_id"))
            .or_else(|| rare_status.then(|| position("status")).flatten())
            .or_else(|| position("environment"));
        Filters { all, lead }
    }

    /// Whether the lead's index answers the query alone, in ID order (so the rows the
    /// scan reads are all matches).
    fn selective(&self) -> bool {
        self.lead
            .is_some_and(|i| self.all[i].column != "environment")
    }

    /// Filters beyond the lead, checked on the rows read.
    fn residual(&self) -> bool {
        self.all.len() > usize::from(self.lead.is_some())
    }
}

/// Where a scan of one ID range stopped.
enum Stop {
    /// The range has no more matches.
    Exhausted,
    /// The page is full (`next` set).
    Full,
    /// The budget ran out; rows below this ID are still to be read.
    Cut(Uuid),
}

impl PgStore {
    /// A page of history, newest first (see the module's comment).
    pub async fn search(&self, query: &LogQuery) -> Result<LogPage> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let filters = Filters::of(query);
        let lower = query.since.map(|t| Uuid::from_bytes(v7_floor(t)));
        let mut upper = query
            .until
            .map(|t| Uuid::from_bytes(v7_floor(t + chrono::Duration::milliseconds(1))));
        if let Some(before) = query.before {
            upper = Some(upper.map_or(before, |u| u.min(before)));
        }
        let client = self.client().await?;
        let mut page = LogPage::default();
        let mut budget = SCAN_BUDGET;
        if filters.selective() {
            let stop = self
                .collect(
                    &client,
                    &filters,
                    (lower, upper),
                    limit,
                    &mut page,
                    &mut budget,
                )
                .await?;
            if let Stop::Cut(at) = stop {
                page.next = Some(at);
            }
            return Ok(page);
        }
        for _ in 0..DAYS_PER_PAGE {
            // The newest log left (any, through the primary key): its day is the next
            // window, and days without logs are skipped.
            let Some(newest) = self.newest_below(&client, query, lower, upper).await? else {
                return Ok(page);
            };
            // Not a UUIDv7 (never written by us): the whole range as one window.
            let window_low = match partitions::day_of(newest) {
                Some(day) => {
                    let start = partitions::day_floor(day);
                    Some(lower.map_or(start, |l| l.max(start)))
                }
                None => lower,
            };
            let stop = self
                .collect(
                    &client,
                    &filters,
                    (window_low, upper),
                    limit,
                    &mut page,
                    &mut budget,
                )
                .await?;
            match stop {
                Stop::Full => return Ok(page),
                Stop::Cut(at) => {
                    page.next = Some(at);
                    return Ok(page);
                }
                Stop::Exhausted => {}
            }
            match window_low {
                Some(low) if lower.is_none_or(|l| l < low) => upper = Some(low),
                _ => return Ok(page),
            }
        }
        page.next = upper;
        Ok(page)
    }

    /// Adds the matches in `[lower, upper)` to `page`, newest first, until it holds
    /// `limit`; with residual filters, reads at most `budget` rows (and spends them).
    async fn collect(
        &self,
        client: &deadpool_postgres::Object,
        filters: &Filters,
        (lower, mut upper): (Option<Uuid>, Option<Uuid>),
        limit: usize,
        page: &mut LogPage,
        budget: &mut usize,
    ) -> Result<Stop> {
        let residual = filters.residual();
        loop {
            let wanted = limit - page.logs.len();
            // One more than wanted tells whether anything is left after a full page.
            let n = match residual {
                true => CHUNK.max(wanted + 1).min(*budget),
                false => wanted + 1,
            };
            if n == 0 {
                return Ok(match upper {
                    Some(at) => Stop::Cut(at),
                    None => Stop::Exhausted,
                });
            }
            let rows = self.rows(client, filters, lower, upper, n).await?;
            if residual {
                *budget -= rows.len();
            }
            for row in &rows {
                let Some(record) = row.get::<_, Option<&[u8]>>(1) else {
                    continue;
                };
                if page.logs.len() == limit {
                    page.next = page.logs.last().map(|l| l.id);
                    return Ok(Stop::Full);
                }
                page.logs.push(self.decode_log(record)?);
            }
            let Some(last) = rows.last().map(|r| r.get::<_, Uuid>(0)) else {
                return Ok(Stop::Exhausted);
            };
            if rows.len() < n {
                return Ok(Stop::Exhausted);
            }
            if page.logs.len() == limit {
                // Rows below `last` are unread: some may match.
                page.next = page.logs.last().map(|l| l.id);
                return Ok(Stop::Full);
            }
            if *budget == 0 {
                return Ok(Stop::Cut(last));
            }
            upper = Some(last);
        }
    }

    /// Up to `n` rows of the lead's index in `[lower, upper)`, newest first: each
    /// row's ID and, when it passes the other filters, its record.
    async fn rows(
        &self,
        client: &deadpool_postgres::Object,
        filters: &Filters,
        lower: Option<Uuid>,
        upper: Option<Uuid>,
        n: usize,
    ) -> Result<Vec<tokio_postgres::Row>> {
        let mut refs: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let mut walk = Vec::new();
        let mut check = Vec::new();
        for (i, c) in filters.all.iter().enumerate() {
            let sql = format!("{} = ${}", c.column, refs.len() + 1);
            refs.push(c.value.as_ref() as &(dyn ToSql + Sync));
            match Some(i) == filters.lead {
                true => walk.push(sql),
                false => check.push(sql),
            }
        }
        if let Some(lower) = &lower {
            refs.push(lower);
            walk.push(format!("id >= ${}", refs.len()));
        }
        if let Some(upper) = &upper {
            refs.push(upper);
            walk.push(format!("id < ${}", refs.len()));
        }
        let walk = match walk.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", walk.join(" AND ")),
        };
        let record = match check.is_empty() {
            true => "record".to_string(),
            false => format!("CASE WHEN {} THEN record END", check.join(" AND ")),
        };
        let sql = format!("SELECT id, {record} FROM logs {walk} ORDER BY id DESC LIMIT {n}");
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
}
