//! [`PgStore`]: one node's handle on the shared database, its connection pool and its
//! group committer ([`super::accept`]).

use super::{PgError, PgLocation, Result, accept, migrate, partitions};
use crate::store::Sealer;
use chrono::{Days, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Connections a node keeps at most: the committers, the dispatchers' reads and the
/// API's reads share them. PostgreSQL's default `max_connections` is 100, so three
/// nodes fit with room for psql and pg_dump.
pub const POOL_SIZE: usize = 24;

/// How long a caller waits for a pooled connection before its request fails (503).
const POOL_WAIT: Duration = Duration::from_secs(10);

/// Days of history partitions made ahead of today.
const DAYS_AHEAD: u64 = 2;

#[derive(Clone)]
pub struct PgStore {
    pub(crate) at: PgLocation,
    pub(crate) pool: deadpool_postgres::Pool,
    pub(crate) sealer: Sealer,
    pub(crate) committer: Arc<accept::Committer>,
    /// This node's ID (new at every open): in leases and change notes.
    pub(crate) node: uuid::Uuid,
}

impl PgStore {
    /// Connects, brings the schema to this version (see [`migrate`]), makes the days
    /// of history ahead, and starts the group committer. `by` names this node in the
    /// migrations table.
    pub async fn open(at: &PgLocation, sealer: Sealer, by: &str) -> Result<Self> {
        migrate::migrate(at, by).await?;
        let manager = deadpool_postgres::Manager::from_config(
            at.config().clone(),
            at.tls(),
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| PgError::Connect {
                at: at.shown().to_string(),
                detail: e.to_string(),
            })?;
        let node = uuid::Uuid::now_v7();
        let store = PgStore {
            at: at.clone(),
            committer: Arc::new(accept::Committer::start(pool.clone(), at.clone(), node)),
            pool,
            sealer,
            node,
        };
        store.make_days_ahead().await?;
        Ok(store)
    }

    /// Makes the history partitions from yesterday to [`DAYS_AHEAD`] days from now
    /// (nodes call it at start and then daily; making a day twice is a no-op).
    pub async fn make_days_ahead(&self) -> Result<usize> {
        let today = Utc::now().date_naive();
        let mut client = self.client().await?;
        partitions::ensure_days(
            &self.at,
            &mut client,
            today - Days::new(1),
            today + Days::new(DAYS_AHEAD),
        )
        .await
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| PgError::Connect {
            at: self.at.shown().to_string(),
            detail: match e {
                deadpool_postgres::PoolError::Backend(e) => super::describe(&e),
                other => other.to_string(),
            },
        })
    }

    /// This node's ID.
    pub fn node(&self) -> uuid::Uuid {
        self.node
    }

    /// Where this store is, for messages.
    pub fn location(&self) -> &PgLocation {
        &self.at
    }

    /// Whether this node's pooled sessions are encrypted (`pg_stat_ssl`).
    pub async fn session_uses_tls(&self) -> Result<bool> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(|e| self.at.query_error(&e))?;
        Ok(row.get(0))
    }

    /// Transactions the group committer has made, and write sets it committed in them.
    pub fn commit_counts(&self) -> (u64, u64) {
        self.committer.counts()
    }

    /// Retention on the shared store: `environment`'s days before `cutoff` dropped
    /// whole (the disk gets them back at once), except days still owed delivery.
    /// Returns what went and how many days were kept for being owed.
    pub async fn expire(
        &self,
        environment: crate::model::Environment,
        cutoff: chrono::DateTime<Utc>,
    ) -> Result<(partitions::Dropped, usize)> {
        let mut client = self.at.connect().await?;
        let owed = partitions::owed_days(&self.at, &client).await?;
        let day = cutoff.date_naive();
        let kept = owed.iter().filter(|d| **d < day).count();
        let dropped =
            partitions::drop_days_counting(&self.at, &mut client, environment, day, &owed).await?;
        Ok((dropped, kept))
    }
}
