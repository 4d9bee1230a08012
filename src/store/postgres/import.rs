//! `switchboard export --from sled:DIR --to postgres://…`: a sled store's history and
//! queues written into PostgreSQL, in batches, each record once however often the
//! export is run again (a run cut short is simply run again). Queue entries keep their
//! numbers, so every queue keeps its order, and the queues go on numbering after them.
//! The generated IDs of the installation come along, so sources and destinations keep
//! the IDs their history names. Rows of days no node has made a partition for go to
//! the default partitions; retention deletes them there row by row.

use super::{PgError, PgStore, Result};
use crate::store::QueueItem;
use crate::store::export::Exported;
use crate::store::identities::{Identities, Kind};
use uuid::Uuid;

/// Records written per statement.
const BATCH: usize = 500;

/// What an export wrote (records already there are counted as skipped).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub requests: u64,
    pub logs: u64,
    pub attempts: u64,
    pub responses: u64,
    pub queued: u64,
    pub quarantined: u64,
    pub identities: u64,
    pub skipped: u64,
}

#[derive(Default)]
struct Pending {
    requests: Vec<super::accept::RequestRow>,
    logs: Vec<super::accept::LogRow>,
    attempts: Vec<(Uuid, i32, Vec<u8>)>,
    responses: Vec<(Uuid, Vec<u8>)>,
    queued: Vec<QueueItem>,
    /// The quarantined log and the queue place it came from.
    quarantined: Vec<QueueItem>,
}

impl Pending {
    fn len(&self) -> usize {
        self.requests.len()
            + self.logs.len()
            + self.attempts.len()
            + self.responses.len()
            + self.queued.len()
            + self.quarantined.len()
    }
}

impl PgStore {
    /// Writes `records` (a sled store's, in its key order) and the installation's
    /// generated IDs. Fails when the database already gives one of those names
    /// another ID (a node started on it before the export).
    pub async fn import(
        &self,
        records: impl Iterator<Item = crate::store::Result<Exported>>,
        identities: &Identities,
    ) -> Result<Imported> {
        let mut done = Imported {
            identities: self.import_identities(identities).await?,
            ..Imported::default()
        };
        let mut pending = Pending::default();
        for record in records {
            let record = record.map_err(|e| PgError::Query {
                at: "the sled store".into(),
                detail: e.to_string(),
            })?;
            self.stage(record, &mut pending);
            if pending.len() >= BATCH {
                self.flush_import(std::mem::take(&mut pending), &mut done)
                    .await?;
            }
        }
        self.flush_import(pending, &mut done).await?;
        Ok(done)
    }

    fn stage(&self, record: Exported, pending: &mut Pending) {
        match record {
            Exported::Request(r) => pending.requests.push(super::accept::RequestRow {
                id: r.id,
                environment: r.environment.as_str(),
                received_at: r.received_at,
                source_id: r.source_id,
                record: self.sealer.encode(&*r),
            }),
            Exported::Log(log) => pending.logs.push(super::history::log_row(&log)),
            Exported::Attempt(a) => {
                pending
                    .attempts
                    .push((a.log_id, a.number as i32, self.sealer.encode(&*a)))
            }
            Exported::Response { log_id, body } => pending
                .responses
                .push((log_id, self.sealer.seal(crate::store::codec::pack(&body)))),
            Exported::Queued(item) => pending.queued.push(item),
            Exported::Quarantined { log_id, item } => {
                pending.quarantined.push(QueueItem { log_id, ..item })
            }
        }
    }

    async fn import_identities(&self, identities: &Identities) -> Result<u64> {
        let mut wanted = Vec::new();
        for (kind, map) in [
            (Kind::Source, &identities.sources),
            (Kind::Destination, &identities.destinations),
            (Kind::Organization, &identities.organizations),
        ] {
            for (name, id) in map {
                wanted.push((kind, name.as_str(), *id));
            }
        }
        let client = self.client().await?;
        for (kind, name, id) in &wanted {
            let kept = super::shared::identity(&client, *kind, name, *id)
                .await
                .map_err(|e| self.at.query_error(&e))?;
            if kept != *id {
                return Err(PgError::Query {
                    at: self.at.shown().to_string(),
                    detail: format!(
                        "the database already gives {} {name:?} the ID {kept}, and the sled \
                         store's history names it {id}: export into a new database, before \
                         any node starts on it",
                        super::shared::kind_name(*kind)
                    ),
                });
            }
        }
        Ok(wanted.len() as u64)
    }

    async fn flush_import(&self, p: Pending, done: &mut Imported) -> Result<()> {
        if p.len() == 0 {
            return Ok(());
        }
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        let written = tx
            .execute(
                "INSERT INTO requests (id, environment, received_at, source_id, record)
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[],
                     $5::bytea[]) ON CONFLICT DO NOTHING",
                &[
                    &p.requests.iter().map(|r| r.id).collect::<Vec<_>>(),
                    &p.requests.iter().map(|r| r.environment).collect::<Vec<_>>(),
                    &p.requests.iter().map(|r| r.received_at).collect::<Vec<_>>(),
                    &p.requests.iter().map(|r| r.source_id).collect::<Vec<_>>(),
                    &p.requests
                        .iter()
                        .map(|r| r.record.as_slice())
                        .collect::<Vec<_>>(),
                ],
            )
            .await
            .map_err(q)?;
        done.requests += written;
        done.skipped += p.requests.len() as u64 - written;
        let logs: Vec<&super::accept::LogRow> = p.logs.iter().collect();
        let written = super::accept::insert_logs_once(&tx, &logs)
            .await
            .map_err(q)?;
        done.logs += written;
        done.skipped += logs.len() as u64 - written;
        let written = tx
            .execute(
                // Filed under their log's environment; one whose log is not there
                // is left out (counted as skipped).
                "INSERT INTO attempts (log_id, environment, number, record)
                 SELECT a.log_id, l.environment, a.number, a.record
                 FROM unnest($1::uuid[], $2::int4[], $3::bytea[]) AS a(log_id, number, record)
                 JOIN logs l ON l.id = a.log_id
                 ON CONFLICT DO NOTHING",
                &[
                    &p.attempts.iter().map(|a| a.0).collect::<Vec<_>>(),
                    &p.attempts.iter().map(|a| a.1).collect::<Vec<_>>(),
                    &p.attempts
                        .iter()
                        .map(|a| a.2.as_slice())
                        .collect::<Vec<_>>(),
                ],
            )
            .await
            .map_err(q)?;
        done.attempts += written;
        done.skipped += p.attempts.len() as u64 - written;
        let written = tx
            .execute(
                "INSERT INTO responses (log_id, environment, body)
                 SELECT r.log_id, l.environment, r.body
                 FROM unnest($1::uuid[], $2::bytea[]) AS r(log_id, body)
                 JOIN logs l ON l.id = r.log_id
                 ON CONFLICT DO NOTHING",
                &[
                    &p.responses.iter().map(|r| r.0).collect::<Vec<_>>(),
                    &p.responses
                        .iter()
                        .map(|r| r.1.as_slice())
                        .collect::<Vec<_>>(),
                ],
            )
            .await
            .map_err(q)?;
        done.responses += written;
        done.skipped += p.responses.len() as u64 - written;
        let (queued, quarantined) = import_queues(&tx, &p).await.map_err(q)?;
        done.queued += queued;
        done.quarantined += quarantined;
        done.skipped += (p.queued.len() + p.quarantined.len()) as u64 - queued - quarantined;
        tx.commit().await.map_err(q)
    }
}

/// Queue entries with their sled numbers (their order), the sequence numbering on after
/// the largest, and quarantined deliveries with the place they came from.
async fn import_queues(
    tx: &deadpool_postgres::Transaction<'_>,
    p: &Pending,
) -> std::result::Result<(u64, u64), tokio_postgres::Error> {
    let mut queued = 0;
    if !p.queued.is_empty() {
        let items = &p.queued;
        let dest: Vec<Uuid> = items.iter().map(|i| i.queue.destination).collect();
        let source: Vec<Uuid> = items.iter().map(|i| i.queue.source).collect();
        let lane: Vec<i64> = items.iter().map(|i| i.queue.lane as i64).collect();
        let seq: Vec<i64> = items.iter().map(|i| i.seq as i64).collect();
        let logs: Vec<Uuid> = items.iter().map(|i| i.log_id).collect();
        let lease: Vec<i64> = items.iter().map(|i| i.lease_until_ms as i64).collect();
        tx.execute(
            "INSERT INTO queues (destination_id, source_id, lane)
             SELECT DISTINCT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[])
             ON CONFLICT DO NOTHING",
            &[&dest, &source, &lane],
        )
        .await?;
        // What is accepted after the move is numbered after what was moved.
        tx.execute(
            "SELECT setval('queue_item_seq', greatest(
                 (SELECT last_value FROM queue_item_seq), (SELECT max(n) FROM unnest($1::int8[]) AS n)))",
            &[&seq],
        )
        .await?;
        queued = tx
            .execute(
                "INSERT INTO queue_items (destination_id, source_id, lane, seq, log_id, lease_until_ms)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::uuid[],
                     $6::int8[]) ON CONFLICT DO NOTHING",
                &[&dest, &source, &lane, &seq, &logs, &lease],
            )
            .await?;
    }
    let mut quarantined = 0;
    if !p.quarantined.is_empty() {
        let q = &p.quarantined;
        quarantined = tx
            .execute(
                "INSERT INTO quarantine (destination_id, log_id, source_id, lane, seq)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::int8[])
                 ON CONFLICT DO NOTHING",
                &[
                    &q.iter().map(|i| i.queue.destination).collect::<Vec<_>>(),
                    &q.iter().map(|i| i.log_id).collect::<Vec<_>>(),
                    &q.iter().map(|i| i.queue.source).collect::<Vec<_>>(),
                    &q.iter().map(|i| i.queue.lane as i64).collect::<Vec<_>>(),
                    &q.iter().map(|i| i.seq as i64).collect::<Vec<_>>(),
                ],
            )
            .await?;
    }
    Ok((queued, quarantined))
}
