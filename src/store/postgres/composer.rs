//! The composer's history on PostgreSQL: one list for every node's consoles, bounded
//! as the embedded one (the newest entries kept, older ones removed with each append).
//! Records are the embedded store's encoding (bodies sealed when a key is set).

use super::{PgStore, Result};
use uuid::Uuid;

impl PgStore {
    /// Stores an entry's record and keeps only the newest `keep` entries.
    pub async fn composer_append(&self, id: Uuid, record: &[u8], keep: usize) -> Result<()> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        tx.execute(
            "INSERT INTO composer_history (id, owner, record) VALUES ($1, '', $2)",
            &[&id, &record],
        )
        .await
        .map_err(q)?;
        tx.execute(
            "DELETE FROM composer_history WHERE id < (
                 SELECT id FROM composer_history ORDER BY id DESC OFFSET $1 LIMIT 1)",
            &[&(keep.saturating_sub(1) as i64)],
        )
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)
    }

    /// Every entry's ID and record older than `before` (all when `None`), newest
    /// first; the list is bounded, so this is at most the kept number.
    pub async fn composer_entries(&self, before: Option<Uuid>) -> Result<Vec<(Uuid, Vec<u8>)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, record FROM composer_history
                 WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC",
                &[&before],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn composer_entry(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT record FROM composer_history WHERE id = $1", &[&id])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn composer_count(&self) -> Result<usize> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM composer_history", &[])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.get::<_, i64>(0) as usize)
    }
}
