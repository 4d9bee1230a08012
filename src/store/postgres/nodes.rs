//! The nodes sharing a store: each registers at start and notes it is alive every few
//! seconds, so an operator (and the console) can see which nodes there are and which
//! delivers what.

use super::{PgStore, Result};
use uuid::Uuid;

/// A node as the store knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Node {
    pub id: Uuid,
    pub name: String,
    pub listen: String,
    pub version: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub seen_at: chrono::DateTime<chrono::Utc>,
}

/// A destination's queues at a glance (the Connections pane).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Items queued, counted up to the cap asked for.
    pub depth: usize,
    /// When the oldest queued item was accepted.
    pub oldest: Option<chrono::DateTime<chrono::Utc>>,
    pub quarantined: usize,
}

impl PgStore {
    /// Registers this node (its ID is new at every open) under `name`, reachable at
    /// `listen`.
    pub async fn register_node(&self, name: &str, listen: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO nodes (id, name, listen, version, started_at, seen_at)
                 VALUES ($1, $2, $3, $4, now(), now())
                 ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, seen_at = now()",
                &[&self.node, &name, &listen, &env!("CARGO_PKG_VERSION")],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// Notes that this node is alive; nodes not seen for a day are forgotten.
    pub async fn node_alive(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE nodes SET seen_at = now() WHERE id = $1",
                &[&self.node],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        client
            .execute(
                "DELETE FROM nodes WHERE seen_at < now() - interval '1 day'",
                &[],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// A clean stop: this node leaves the list at once.
    pub async fn unregister_node(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM nodes WHERE id = $1", &[&self.node])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// Every registered node, most recently started first.
    pub async fn nodes(&self) -> Result<Vec<Node>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, name, listen, version, started_at, seen_at FROM nodes
                 ORDER BY started_at DESC",
                &[],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| Node {
                id: r.get(0),
                name: r.get(1),
                listen: r.get(2),
                version: r.get(3),
                started_at: r.get(4),
                seen_at: r.get(5),
            })
            .collect())
    }

    /// The legacy numbers (`Meta.Message.ID`, `Meta.Transmission.ID`) of one message:
    /// `count` numbers from the shared sequence, so no two nodes hand out the same.
    pub async fn legacy_numbers(&self, count: usize) -> Result<Vec<u64>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT nextval('legacy_numbers') FROM generate_series(1, $1::int8)",
                &[&(count as i64)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    /// Logs by ID, in no particular order (those not found are left out).
    pub async fn logs(&self, ids: &[Uuid]) -> Result<Vec<crate::model::LogRecord>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT record FROM logs WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        rows.iter().map(|r| self.decode_log(r.get(0))).collect()
    }

    /// The body of a log's last answer (a query's), as the destination sent it.
    pub async fn response_body(&self, log_id: Uuid) -> Result<Option<Vec<u8>>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT body FROM responses WHERE log_id = $1", &[&log_id])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        let Some(row) = row else { return Ok(None) };
        let unreadable = |reason: String| super::PgError::Query {
            at: self.at.shown().to_string(),
            detail: format!("the answer of log {log_id} is unreadable: {reason}"),
        };
        let opened = self.sealer.open(row.get(0)).map_err(unreadable)?;
        let body = crate::store::codec::unpack(&opened).map_err(unreadable)?;
        Ok(Some(body.into_owned()))
    }

    /// Which node delivers each destination now, as `host listen` (a destination
    /// with queues on several nodes names them all).
    pub async fn delivering_labels(&self) -> Result<std::collections::HashMap<Uuid, String>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT q.destination_id, string_agg(DISTINCT n.name || ' ' || n.listen, ', ')
                 FROM queues q JOIN nodes n ON n.id = q.leased_by
                 WHERE q.lease_until > now() GROUP BY q.destination_id",
                &[],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// A destination's depth (up to `cap`), oldest item and quarantine.
    pub async fn destination_summary(&self, destination: Uuid, cap: usize) -> Result<Summary> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM (SELECT 1 FROM queue_items
                         WHERE destination_id = $1 LIMIT $2) AS t),
                        (SELECT log_id FROM queue_items WHERE destination_id = $1
                         ORDER BY log_id LIMIT 1),
                        (SELECT count(*) FROM quarantine WHERE destination_id = $1)",
                &[&destination, &(cap as i64)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        let oldest: Option<Uuid> = row.get(1);
        let oldest = match oldest {
            Some(id) => self.log(id).await?.map(|l| l.created_at),
            None => None,
        };
        Ok(Summary {
            depth: row.get::<_, i64>(0) as usize,
            oldest,
            quarantined: row.get::<_, i64>(2) as usize,
        })
    }
}
