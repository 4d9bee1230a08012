//! The schema's versions: SQL files applied in order, each in its own transaction,
//! each recorded in `switchboard_migrations`. `switchboard migrate` applies them, and
//! so does every node at start; an advisory lock makes nodes starting together take
//! turns, and a node refuses a schema newer than it knows (a newer switchboard
//! migrated the database, and this one would misread it).

use super::{PgError, PgLocation, Result};

/// One version of the schema.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    sql: &'static str,
}

/// Every version this switchboard knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema",
        sql: include_str!("migrations/0001_schema.sql"),
    },
    Migration {
        version: 2,
        name: "queue item sequence",
        sql: include_str!("migrations/0002_queue_sequence.sql"),
    },
    Migration {
        version: 3,
        name: "audit logs and upload files",
        sql: include_str!("migrations/0003_audit_and_uploads.sql"),
    },
];

/// The newest version this switchboard knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The advisory lock the migrations run under ("Switchbd" in ASCII): one key for every
/// installation, since a database holds one.
const LOCK_KEY: i64 = 0x5377_6974_6368_6264;

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migrated {
    pub store: String,
    pub from: i32,
    pub to: i32,
    pub applied: Vec<AppliedVersion>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AppliedVersion {
    pub version: i32,
    pub name: &'static str,
}

/// Brings the database at `at` to [`latest`], on a connection of its own (the lock
/// ends with it, whatever happens). `by` is recorded with each version applied (which
/// node or command applied it).
pub async fn migrate(at: &PgLocation, by: &str) -> Result<Migrated> {
    let mut client = at.connect().await?;
    let q = |e: tokio_postgres::Error| at.query_error(&e);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(q)?;
    let result = migrate_locked(at, &mut client, by).await;
    // Dropping the connection would release it too; this says so at once.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result
}

async fn migrate_locked(
    at: &PgLocation,
    client: &mut tokio_postgres::Client,
    by: &str,
) -> Result<Migrated> {
    let q = |e: tokio_postgres::Error| at.query_error(&e);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS switchboard_migrations (
                 version     integer PRIMARY KEY,
                 name        text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now(),
                 applied_by  text NOT NULL
             )",
        )
        .await
        .map_err(q)?;
    let from = current_version(client).await.map_err(q)?;
    if from > latest() {
        return Err(PgError::NewerSchema {
            at: at.shown().to_string(),
            found: from,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > from) {
        let failed = |e: tokio_postgres::Error| PgError::Query {
            at: at.shown().to_string(),
            detail: format!(
                "applying schema version {} ({}) failed, and nothing of it was kept: {}",
                migration.version,
                migration.name,
                super::describe(&e)
            ),
        };
        let tx = client.transaction().await.map_err(q)?;
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO switchboard_migrations (version, name, applied_by) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &by],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(
            store = at.shown(),
            version = migration.version,
            name = migration.name,
            "applied a schema version"
        );
        applied.push(AppliedVersion {
            version: migration.version,
            name: migration.name,
        });
    }
    Ok(Migrated {
        store: at.shown().to_string(),
        from,
        to: latest().max(from),
        applied,
    })
}

async fn current_version(
    client: &tokio_postgres::Client,
) -> std::result::Result<i32, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM switchboard_migrations",
            &[],
        )
        .await?;
    row.try_get(0)
}
