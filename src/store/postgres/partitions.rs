//! The history's day partitions. Requests, logs, attempts and query answers are
//! partitioned by environment, then by day on ranges of their UUIDv7 key (the first
//! 48 bits are the creation time in milliseconds, and PostgreSQL compares UUIDs byte
//! by byte, so a day is one key range). Nodes make the days ahead of time
//! ([`ensure_days`]); retention drops whole days ([`drop_days_before`]), which frees
//! their disk at once instead of leaving dead rows for vacuum.
//!
//! A day is made beside the default partition and then attached, after moving into it
//! whatever the default partition holds of that day (an export of old history, or a
//! day no node had made yet): attaching takes a lighter lock on the parent than
//! creating a partition in place, so traffic goes on meanwhile.

use super::{PgError, PgLocation, Result};
use crate::model::Environment;
use chrono::{NaiveDate, NaiveTime};
use uuid::Uuid;

/// The history tables, with the column their days are ranges of.
pub const HISTORY: [(&str, &str); 4] = [
    ("requests", "id"),
    ("logs", "id"),
    ("attempts", "log_id"),
    ("responses", "log_id"),
];

pub const ENVIRONMENTS: [Environment; 3] = [
    Environment::Development,
    Environment::Staging,
    Environment::Production,
];

/// Held (for the transaction) while partitions are made or dropped, so that nodes
/// doing it at the same moment take turns ("SwbdPart").
const PARTITION_LOCK: i64 = 0x5377_6264_5061_7274;

/// The smallest UUIDv7 of `day` (UTC): its first millisecond, every other bit zero.
pub fn day_floor(day: NaiveDate) -> Uuid {
    let ms = day
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
        .max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    Uuid::from_bytes(bytes)
}

/// The day a UUIDv7 was made on (UTC), if it is one.
pub fn day_of(id: Uuid) -> Option<NaiveDate> {
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    Some(chrono::DateTime::from_timestamp(seconds as i64, nanos)?.date_naive())
}

/// `logs_production_20261203`.
pub fn partition_name(table: &str, environment: Environment, day: NaiveDate) -> String {
    format!(
        "{table}_{}_{}",
        environment.as_str().to_lowercase(),
        day.format("%Y%m%d")
    )
}

/// The day of a partition named by [`partition_name`], if it is one.
fn day_of_name(name: &str) -> Option<NaiveDate> {
    let (_, digits) = name.rsplit_once('_')?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// Makes every history table's partition for each day in `days` (inclusive) and
/// environment that does not exist yet. Returns how many it made.
pub async fn ensure_days(
    at: &PgLocation,
    client: &mut tokio_postgres::Client,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<usize> {
    let q = |e: tokio_postgres::Error| at.query_error(&e);
    let tx = client.transaction().await.map_err(q)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await
        .map_err(q)?;
    let mut made = 0;
    let mut day = first;
    while day <= last {
        let (low, high) = (day_floor(day), day_floor(day + chrono::Days::new(1)));
        for (table, column) in HISTORY {
            for environment in ENVIRONMENTS {
                let name = partition_name(table, environment, day);
                let exists: bool = tx
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                    .await
                    .map_err(q)?
                    .get(0);
                if exists {
                    continue;
                }
                let parent = format!("{table}_{}", environment.as_str().to_lowercase());
                let sql = format!(
                    "CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
                     WITH moved AS (
                         DELETE FROM {parent}_default
                         WHERE {column} >= '{low}' AND {column} < '{high}'
                         RETURNING *)
                     INSERT INTO {name} SELECT * FROM moved;
                     ALTER TABLE {parent} ATTACH PARTITION {name}
                         FOR VALUES FROM ('{low}') TO ('{high}');"
                );
                tx.batch_execute(&sql).await.map_err(|e| PgError::Query {
                    at: at.shown().to_string(),
                    detail: format!("making partition {name}: {}", super::describe(&e)),
                })?;
                made += 1;
            }
        }
        day = day + chrono::Days::new(1);
    }
    tx.commit().await.map_err(q)?;
    Ok(made)
}

/// Drops `environment`'s history partitions of the days before `cutoff`, and deletes
/// the rows before it that its default partitions hold (old history imported before
/// its days were made). Returns the partitions dropped.
pub async fn drop_days_before(
    at: &PgLocation,
    client: &mut tokio_postgres::Client,
    environment: Environment,
    cutoff: NaiveDate,
) -> Result<Vec<String>> {
    drop_days_keeping(at, client, environment, cutoff, &Default::default()).await
}

/// The days whose logs are still owed delivery (queued or quarantined, in any
/// environment): retention keeps those days whole until they are settled.
pub async fn owed_days(
    at: &PgLocation,
    client: &tokio_postgres::Client,
) -> Result<std::collections::HashSet<NaiveDate>> {
    // A UUIDv7's first 48 bits are its milliseconds since the epoch.
    let rows = client
        .query(
            "SELECT DISTINCT (to_timestamp((('x' || substr(replace(log_id::text, '-', ''), 1, 12))
                 ::bit(48)::bigint) / 1000.0) AT TIME ZONE 'UTC')::date
             FROM (SELECT log_id FROM queue_items UNION SELECT log_id FROM quarantine) AS owed",
            &[],
        )
        .await
        .map_err(|e| at.query_error(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// What dropping days removed: rows per history table, and the bytes the disk got
/// back at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dropped {
    pub partitions: Vec<String>,
    pub rows: std::collections::BTreeMap<&'static str, u64>,
    pub bytes: u64,
}

/// [`drop_days_before`], leaving the days in `keep` (see [`owed_days`]).
pub async fn drop_days_keeping(
    at: &PgLocation,
    client: &mut tokio_postgres::Client,
    environment: Environment,
    cutoff: NaiveDate,
    keep: &std::collections::HashSet<NaiveDate>,
) -> Result<Vec<String>> {
    Ok(drop_days_counting(at, client, environment, cutoff, keep)
        .await?
        .partitions)
}

/// [`drop_days_keeping`], counting what went.
pub async fn drop_days_counting(
    at: &PgLocation,
    client: &mut tokio_postgres::Client,
    environment: Environment,
    cutoff: NaiveDate,
    keep: &std::collections::HashSet<NaiveDate>,
) -> Result<Dropped> {
    let q = |e: tokio_postgres::Error| at.query_error(&e);
    let tx = client.transaction().await.map_err(q)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await
        .map_err(q)?;
    let mut dropped = Dropped::default();
    let floor = day_floor(cutoff);
    for (table, column) in HISTORY {
        let parent = format!("{table}_{}", environment.as_str().to_lowercase());
        for name in children(&tx, &parent).await.map_err(q)? {
            if day_of_name(&name).is_some_and(|day| day < cutoff && !keep.contains(&day)) {
                let figures = tx
                    .query_one(
                        &format!("SELECT count(*), pg_total_relation_size('{name}') FROM {name}"),
                        &[],
                    )
                    .await
                    .map_err(q)?;
                *dropped.rows.entry(table).or_default() += figures.get::<_, i64>(0) as u64;
                dropped.bytes += figures.get::<_, i64>(1) as u64;
                tx.batch_execute(&format!("DROP TABLE {name}"))
                    .await
                    .map_err(q)?;
                dropped.partitions.push(name);
            }
        }
        // The default partitions' old rows, where nothing owed is kept.
        let before = keep
            .iter()
            .min()
            .map_or(floor, |day| floor.min(day_floor(*day)));
        let deleted = tx
            .execute(
                &format!("DELETE FROM {parent}_default WHERE {column} < $1"),
                &[&before],
            )
            .await
            .map_err(q)?;
        *dropped.rows.entry(table).or_default() += deleted;
    }
    tx.commit().await.map_err(q)?;
    dropped.partitions.sort();
    Ok(dropped)
}

/// The day partitions of every history table, by name.
pub async fn days(
    client: &tokio_postgres::Client,
) -> std::result::Result<Vec<String>, tokio_postgres::Error> {
    let mut names = Vec::new();
    for (table, _) in HISTORY {
        for environment in ENVIRONMENTS {
            let parent = format!("{table}_{}", environment.as_str().to_lowercase());
            names.extend(children(client, &parent).await?);
        }
    }
    names.sort();
    Ok(names)
}

/// The partitions directly under `parent` that are days (not its default).
async fn children(
    client: &impl tokio_postgres::GenericClient,
    parent: &str,
) -> std::result::Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = to_regclass($1)",
            &[&parent],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|name| day_of_name(name).is_some())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_range_of_uuidv7s_made_on_it() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let next = day + chrono::Days::new(1);
        let noon = day.and_hms_opt(12, 0, 0).expect("noon").and_utc();
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            noon.timestamp() as u64,
            noon.timestamp_subsec_nanos(),
        );
        let id = Uuid::new_v7(ts);
        assert!(day_floor(day) <= id && id < day_floor(next));
        assert_eq!(day_of(id), Some(day));
        assert_eq!(day_of(day_floor(day)), Some(day));
        // The last millisecond of the day is still in it.
        let last = next.and_time(NaiveTime::MIN).and_utc() - chrono::Duration::milliseconds(1);
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            last.timestamp() as u64,
            last.timestamp_subsec_nanos(),
        );
        let late = Uuid::new_v7(ts);
        assert!(day_floor(day) <= late && late < day_floor(next));
        assert_eq!(
            partition_name("logs", Environment::Production, day),
            "logs_production_20261203"
        );
        assert_eq!(day_of_name("logs_production_20261203"), Some(day));
        assert_eq!(day_of_name("logs_production_default"), None);
    }
}
