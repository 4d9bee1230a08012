//! Access and refresh tokens (sessions) shared by every node: a token issued by one
//! node works on all of them. Rotating a refresh token locks its row, so of two nodes
//! given the same token at once only one rotates it and the other sees a reuse.

use super::{PgError, PgStore, Result};
use crate::store::{Rotation, Session, codec, encode};
use uuid::Uuid;

impl PgStore {
    fn decode_session(&self, record: &[u8]) -> Result<Session> {
        codec::parse::<Session>(b"session", record).map_err(|e| PgError::Query {
            at: self.at.shown().to_string(),
            detail: format!("a session is unreadable: {e}"),
        })
    }

    pub async fn put_session(&self, token_hash: &[u8; 32], session: &Session) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, source_id, family, expires, record)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (token_hash) DO UPDATE SET source_id = excluded.source_id,
                   family = excluded.family, expires = excluded.expires, record = excluded.record",
                &[
                    &token_hash.as_slice(),
                    &session.source_id,
                    &session.family,
                    &session.expires,
                    &encode(session),
                ],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        let client = self.client().await?;
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let read = client
            .prepare_cached("SELECT record FROM sessions WHERE token_hash = $1")
            .await
            .map_err(q)?;
        let row = client
            .query_opt(&read, &[&token_hash.as_slice()])
            .await
            .map_err(q)?;
        row.map(|r| self.decode_session(r.get(0))).transpose()
    }

    /// See `Store::rotate_refresh`: the same rule, under the row's lock.
    pub async fn rotate_refresh(
        &self,
        token_hash: &[u8; 32],
        new_family: Uuid,
    ) -> Result<Rotation> {
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(q)?;
        let row = tx
            .query_opt(
                "SELECT record FROM sessions WHERE token_hash = $1 FOR UPDATE",
                &[&token_hash.as_slice()],
            )
            .await
            .map_err(q)?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let mut session = self.decode_session(row.get(0))?;
        if session.rotated || !session.refresh {
            return Ok(Rotation::Reused(session));
        }
        session.rotated = true;
        session.family = Some(session.family.unwrap_or(new_family));
        tx.execute(
            "UPDATE sessions SET family = $2, record = $3 WHERE token_hash = $1",
            &[&token_hash.as_slice(), &session.family, &encode(&session)],
        )
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)?;
        Ok(Rotation::Rotated(session))
    }

    /// Marks the family ended, then removes its sessions; how many it removed.
    pub async fn end_family(&self, family: Uuid) -> Result<usize> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO ended_families (family) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&family],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        let removed = client
            .execute("DELETE FROM sessions WHERE family = $1", &[&family])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(removed as usize)
    }

    pub async fn family_ended(&self, family: Uuid) -> Result<bool> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT 1 FROM ended_families WHERE family = $1", &[&family])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.is_some())
    }

    /// Every session with its token hash.
    pub async fn sessions(&self) -> Result<Vec<([u8; 32], Session)>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT token_hash, record FROM sessions", &[])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        rows.iter()
            .map(|r| {
                let mut hash = [0u8; 32];
                let key: &[u8] = r.get(0);
                if key.len() == 32 {
                    hash.copy_from_slice(key);
                }
                Ok((hash, self.decode_session(r.get(1))?))
            })
            .collect()
    }

    /// Removes the sessions with these token hashes, and every expired one.
    pub async fn remove_sessions(&self, hashes: &[[u8; 32]]) -> Result<()> {
        let client = self.client().await?;
        let hashes: Vec<&[u8]> = hashes.iter().map(|h| h.as_slice()).collect();
        client
            .execute(
                "DELETE FROM sessions WHERE token_hash = ANY($1) OR expires <= now()",
                &[&hashes],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(())
    }

    /// Spends a JWT assertion's `jti` until `until`; false when it is spent already
    /// and not expired (a replay, through whichever node). One statement, so two
    /// copies racing in on two nodes get one `true`.
    pub async fn claim_jti(
        &self,
        client_id: &str,
        jti: &str,
        until: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "INSERT INTO spent_jtis (client_id, jti, expires) VALUES ($1, $2, $3)
                 ON CONFLICT (client_id, jti) DO UPDATE SET expires = excluded.expires
                 WHERE spent_jtis.expires <= $4
                 RETURNING 1",
                &[&client_id, &jti, &until, &now],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.is_some())
    }

    /// Removes the spent `jti`s that expired; how many.
    pub async fn prune_jtis(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM spent_jtis WHERE expires <= $1", &[&now])
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(n as usize)
    }
}
