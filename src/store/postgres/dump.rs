//! `switchboard backup` and `switchboard check` on a shared store: the database is the
//! store, so a backup is PostgreSQL's own dump (`pg_dump`, custom format, restored with
//! `pg_restore`), and a check asks the database what the sled check proves on disk:
//! the schema is this version's, and every queued delivery still has its log.

use super::{PgError, PgLocation, PgStore, Result, migrate};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The dump's file name in the backup directory.
pub const DUMP_FILE: &str = "switchboard.pgdump";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpReport {
    pub store: String,
    pub file: PathBuf,
    pub bytes: u64,
    pub seconds: f64,
}

impl DumpReport {
    pub fn text(&self) -> String {
        format!(
            "the shared store {} dumped to {} ({} bytes, {:.1} s) with pg_dump; restore it \
             into an empty database with `pg_restore --dbname URL {}`",
            self.store,
            self.file.display(),
            self.bytes,
            self.seconds,
            self.file.display()
        )
    }
}

/// Dumps the database at `at` into `dir` (made when missing; it must not hold a dump
/// already). The connection goes to `pg_dump` through its environment, so the
/// password is never on a command line.
pub fn dump(at: &PgLocation, dir: &Path) -> Result<DumpReport> {
    let failed = |detail: String| PgError::Query {
        at: at.shown().to_string(),
        detail,
    };
    let file = dir.join(DUMP_FILE);
    if file.exists() {
        return Err(failed(format!(
            "{} exists already: back up into a new or empty directory",
            file.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| failed(format!("cannot make {}: {e}", dir.display())))?;
    let program = client_program("pg_dump").ok_or_else(|| {
        failed(
            "pg_dump is not installed: install PostgreSQL's client programs (Debian: \
             `apt-get install postgresql-client`), or run pg_dump yourself (README: \
             Several nodes)"
                .into(),
        )
    })?;
    let started = Instant::now();
    let out = std::process::Command::new(&program)
        .args(["--format=custom", "--no-password", "--file"])
        .arg(&file)
        .envs(libpq_env(at))
        .output()
        .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&file);
        return Err(failed(format!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(DumpReport {
        store: at.shown().to_string(),
        file,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// libpq's environment for the location (host, port, user, password, database, TLS).
fn libpq_env(at: &PgLocation) -> Vec<(&'static str, String)> {
    let config = at.config();
    let mut env = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => env.push(("PGHOST", name.clone())),
            tokio_postgres::config::Host::Unix(path) => {
                env.push(("PGHOST", path.display().to_string()))
            }
        }
    }
    if let Some(port) = config.get_ports().first() {
        env.push(("PGPORT", port.to_string()));
    }
    if let Some(user) = config.get_user() {
        env.push(("PGUSER", user.to_string()));
    }
    if let Some(password) = config.get_password() {
        env.push(("PGPASSWORD", String::from_utf8_lossy(password).into_owned()));
    }
    if let Some(database) = config.get_dbname() {
        env.push(("PGDATABASE", database.to_string()));
    }
    let mode = match config.get_ssl_mode() {
        tokio_postgres::config::SslMode::Disable => "disable",
        tokio_postgres::config::SslMode::Require => "require",
        _ => "prefer",
    };
    env.push(("PGSSLMODE", mode.to_string()));
    env
}

/// A PostgreSQL client program: on PATH, else the newest of Debian's versioned
/// directories (/usr/lib/postgresql/N/bin), which the server package does not link.
fn client_program(name: &str) -> Option<PathBuf> {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedCheck {
    pub store: String,
    pub schema_version: i32,
    pub logs: i64,
    pub queued: i64,
    /// Queue entries whose log is gone: an acknowledged message that can no longer be
    /// delivered.
    pub orphaned: i64,
    pub healthy: bool,
}

impl SharedCheck {
    pub fn text(&self) -> String {
        let verdict = match self.healthy {
            true => "healthy",
            false => "PROBLEMS",
        };
        format!(
            "{verdict}: the shared store {} (schema version {}): {} logs, {} queued, {} \
             queued without their log",
            self.store, self.schema_version, self.logs, self.queued, self.orphaned
        )
    }
}

impl PgStore {
    /// What [`SharedCheck`] reports.
    pub async fn check(&self) -> Result<SharedCheck> {
        let client = self.client().await?;
        let q = |e: tokio_postgres::Error| self.at.query_error(&e);
        let one = |row: tokio_postgres::Row| row.get::<_, i64>(0);
        let version: i32 = client
            .query_one("SELECT max(version) FROM switchboard_migrations", &[])
            .await
            .map_err(q)?
            .get(0);
        let logs = one(client
            .query_one("SELECT count(*) FROM logs", &[])
            .await
            .map_err(q)?);
        let queued = one(client
            .query_one("SELECT count(*) FROM queue_items", &[])
            .await
            .map_err(q)?);
        let orphaned = one(client
            .query_one(
                "SELECT count(*) FROM queue_items q
                     WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE l.id = q.log_id)",
                &[],
            )
            .await
            .map_err(q)?);
        Ok(SharedCheck {
            store: self.at.shown().to_string(),
            schema_version: version,
            logs,
            queued,
            orphaned,
            healthy: orphaned == 0 && version == migrate::latest(),
        })
    }
}
