//! Uploads on PostgreSQL: the index (upload ID → file hash, size, type, log) and the
//! files' bytes, as each node stores them on disk (sealed when a key is set), so a
//! file uploaded through one node downloads through any. A node keeps a copy of a
//! file under its data directory once written or read (files are content-addressed,
//! so a copy never goes stale).

use super::{PgStore, Result};
use crate::model::Environment;
use crate::store::codec;
use crate::store::uploads::UploadRecord;
use uuid::Uuid;

impl PgStore {
    /// Stores a file's bytes under its hash (once: the same content is the same file).
    pub async fn put_upload_file(
        &self,
        environment: Environment,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO upload_files (environment, sha256, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&environment.as_str(), &sha256, &bytes],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// A file's bytes as stored, if the store has them.
    pub async fn upload_file(
        &self,
        environment: Environment,
        sha256: &str,
    ) -> Result<Option<Vec<u8>>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT bytes FROM upload_files WHERE environment = $1 AND sha256 = $2",
                &[&environment.as_str(), &sha256],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Records upload `id` of `environment` unless it is there (an export run again).
    pub async fn import_upload(
        &self,
        environment: Environment,
        id: Uuid,
        record: &UploadRecord,
    ) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO uploads (environment, id, record) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&environment.as_str(), &id, &codec::encode(record)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))
    }

    /// Records upload `id` of `environment`.
    pub async fn put_upload(
        &self,
        environment: Environment,
        id: Uuid,
        record: &UploadRecord,
    ) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO uploads (environment, id, record) VALUES ($1, $2, $3)",
                &[&environment.as_str(), &id, &codec::encode(record)],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// The upload `id` of `environment`, if there is one.
    pub async fn upload(&self, environment: Environment, id: Uuid) -> Result<Option<UploadRecord>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT record FROM uploads WHERE environment = $1 AND id = $2",
                &[&environment.as_str(), &id],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        row.map(|r| {
            codec::parse(b"upload", r.get(0)).map_err(|e| super::PgError::Query {
                at: self.at.shown().to_string(),
                detail: format!("an upload record is unreadable: {e}"),
            })
        })
        .transpose()
    }
}
