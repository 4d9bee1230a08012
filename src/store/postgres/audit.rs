//! The audit trail on PostgreSQL: one trail for every node and command, appended and
//! read back in pages as the embedded store's (newest first, each entry's UUIDv7 its
//! cursor). Nothing here changes or removes an entry.

use super::{PgStore, Result};
use crate::store::AuditEntry;
use crate::store::audit::{AuditFilter, AuditPage, AuditRecord};
use crate::store::codec;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

impl PgStore {
    /// Appends `entry` (committed when this returns).
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<Uuid> {
        let id = Uuid::now_v7();
        self.insert_audit(id, entry).await?;
        Ok(id)
    }

    /// Writes `entry` under `id` unless an entry has that ID (an export run again);
    /// whether it was written.
    pub(super) async fn insert_audit(&self, id: Uuid, entry: &AuditEntry) -> Result<bool> {
        let client = self.client().await?;
        let mut logs = entry.logs.clone();
        logs.extend(entry.log_id.filter(|l| !entry.logs.contains(l)));
        let written = client
            .execute(
                "INSERT INTO audit (id, at, actor, action, log_id, logs, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &id,
                    &entry.at,
                    &entry.actor,
                    &entry.action,
                    &entry.log_id,
                    &logs,
                    &crate::store::encode(entry),
                ],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(written == 1)
    }

    /// Up to `limit` entries matching `filter`, newest first.
    pub async fn audit_page(&self, filter: &AuditFilter, limit: usize) -> Result<AuditPage> {
        let actor = filter.actor.clone();
        let log = filter.log.map(|l| vec![l]);
        let mut wanted: Vec<(&str, &(dyn ToSql + Sync))> = Vec::new();
        if let Some(action) = &filter.action {
            wanted.push(("action = ?", action));
        }
        if let Some(actor) = &actor {
            wanted.push(("strpos(actor, ?) > 0", actor));
        }
        if let Some(since) = &filter.since {
            wanted.push(("at >= ?", since));
        }
        if let Some(until) = &filter.until {
            wanted.push(("at < ?", until));
        }
        if let Some(log) = &log {
            wanted.push(("logs @> ?", log));
        }
        if let Some(before) = &filter.before {
            wanted.push(("id < ?", before));
        }
        let conditions: Vec<String> = wanted
            .iter()
            .enumerate()
            .map(|(i, (sql, _))| sql.replace('?', &format!("${}", i + 1)))
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = wanted.iter().map(|(_, v)| *v).collect();
        let filter_sql = match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        };
        let sql = format!(
            "SELECT id, record FROM audit {filter_sql} ORDER BY id DESC LIMIT {}",
            limit + 1
        );
        let client = self.client().await?;
        let rows = client
            .query(&sql, &params)
            .await
            .map_err(|e| self.at.query_error(&e))?;
        let mut page = AuditPage::default();
        for row in &rows {
            if page.entries.len() == limit {
                page.next = page.entries.last().map(|r| r.id);
                break;
            }
            let entry: AuditEntry =
                codec::parse(b"audit entry", row.get(1)).map_err(|e| super::PgError::Query {
                    at: self.at.shown().to_string(),
                    detail: format!("an audit entry is unreadable: {e}"),
                })?;
            page.entries.push(AuditRecord {
                id: row.get(0),
                entry,
            });
        }
        Ok(page)
    }
}
