//! Keeping a data directory safe from the command line: `check`, `backup`, `restore`
//! (the work is in [`crate::store::check`] and [`crate::store::backup`]), and the
//! engine's side of an online backup (`POST /admin/v1/backup`).
//!
//! sled allows one process per store, so a command first asks whether an engine runs
//! on the data directory ([`super::runfile`]): `backup` then goes through it; `check`
//! and `restore`, which need the store to themselves, refuse and say so.

use super::Engine;
use super::runfile::{self, AttachError};
use crate::model::ApiError;
use crate::store::StoreError;
use crate::store::backup::{self, BackupError, BackupReport, RestoreReport};
use crate::store::check::{self, CheckReport};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error("an engine is running on this data directory (pid {pid}, {url}): {what}")]
    Running {
        pid: u32,
        url: String,
        what: &'static str,
    },
    #[error("{0}")]
    Other(String),
}

/// `switchboard check`: verifies `data_dir` offline, with the keys of `settings` (so
/// that sealed bodies are read, not reported unreadable).
pub fn check(data_dir: &Path, settings: &super::Settings) -> Result<CheckReport, MaintenanceError> {
    if let Some(run) = runfile::running(data_dir) {
        return Err(MaintenanceError::Running {
            pid: run.pid,
            url: run.url,
            what: "check reads the store offline, and only one process may hold it. Take a \
                   consistent copy while it runs with `switchboard backup DIR` and check that \
                   (`switchboard check --data-dir DIR`), or stop the engine first",
        });
    }
    let sealer = super::keys(settings).map_err(|e| MaintenanceError::Other(e.to_string()))?;
    Ok(check::check(data_dir, &sealer)?)
}

/// `switchboard backup DIR`: through the running engine when there is one, else from
/// the stopped store.
pub fn backup(data_dir: &Path, dir: &Path) -> Result<BackupReport, MaintenanceError> {
    // The engine may run in another directory: it gets an absolute path.
    let dir = std::path::absolute(dir)
        .map_err(|e| MaintenanceError::Other(format!("cannot resolve {}: {e}", dir.display())))?;
    if let Some(run) = runfile::running(data_dir) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| MaintenanceError::Other(format!("cannot start the async runtime: {e}")))?;
        let body = serde_json::json!({ "dir": dir });
        let answer = runtime.block_on(run.admin(reqwest::Method::POST, "/backup", Some(&body)))?;
        return serde_json::from_value(answer).map_err(|e| {
            MaintenanceError::Other(format!(
                "the running engine answered the backup with something unexpected ({e}); \
                 check {} before relying on it",
                dir.display()
            ))
        });
    }
    Ok(backup::backup_offline(data_dir, &dir)?)
}

/// `switchboard reencrypt`: seals every stored body with the primary key of
/// `settings` (see `store::reseal`), offline.
pub fn reencrypt(
    data_dir: &Path,
    settings: &super::Settings,
) -> Result<crate::store::reseal::ReencryptReport, MaintenanceError> {
    if let Some(run) = runfile::running(data_dir) {
        return Err(MaintenanceError::Running {
            pid: run.pid,
            url: run.url,
            what: "reencrypt rewrites the store offline; stop the engine first",
        });
    }
    let sealer =
        super::at_rest(data_dir, settings).map_err(|e| MaintenanceError::Other(e.to_string()))?;
    let store =
        crate::store::Store::open_sealed(data_dir, crate::store::OpenMode::Maintenance, sealer)?;
    Ok(store.reencrypt(data_dir)?)
}

/// `switchboard restore DIR`: only while no engine runs on `data_dir`. The backup is
/// verified with the keys of `settings`.
pub fn restore(
    data_dir: &Path,
    dir: &Path,
    settings: &super::Settings,
) -> Result<RestoreReport, MaintenanceError> {
    if let Some(run) = runfile::running(data_dir) {
        return Err(MaintenanceError::Running {
            pid: run.pid,
            url: run.url,
            what: "restore replaces its store. Stop the engine, then run restore again",
        });
    }
    let sealer = super::keys(settings).map_err(|e| MaintenanceError::Other(e.to_string()))?;
    Ok(backup::restore(data_dir, dir, &sealer)?)
}

impl Engine {
    /// `POST /admin/v1/backup`: a consistent copy of the running store into `dir` (an
    /// absolute path on this machine), audited whether it succeeds or not.
    pub async fn backup_to(&self, dir: PathBuf, actor: &str) -> Result<BackupReport, ApiError> {
        let store = self.store.clone();
        let data_dir = self.data_dir.clone();
        let to = dir.clone();
        let result = tokio::task::spawn_blocking(move || store.backup(&data_dir, &to, true))
            .await
            .map_err(|e| ApiError::internal(format!("the backup stopped: {e}")))?;
        match result {
            Ok(report) => {
                self.audit(
                    actor,
                    "backup",
                    None,
                    Some(format!(
                        "to {}: {} acknowledged requests, {:.1} s",
                        dir.display(),
                        report.manifest.acknowledged,
                        report.seconds
                    )),
                );
                Ok(report)
            }
            Err(e) => {
                self.audit(
                    actor,
                    "backup failed",
                    None,
                    Some(format!("to {}: {e}", dir.display())),
                );
                Err(match e {
                    BackupError::NotEmpty { .. } => {
                        ApiError::new(409, "state", "Admin", e.to_string())
                    }
                    other => {
                        tracing::error!(error = %other, "backup failed");
                        ApiError::internal(other.to_string())
                    }
                })
            }
        }
    }
}

/// `switchboard export --from DIR --to URL`: the sled store of `data_dir` (engine
/// stopped) written into the PostgreSQL store at `to`, with the generated IDs.
/// What `export` wrote: history and queues, and what it carried beside them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Exported {
    #[serde(flatten)]
    pub imported: crate::store::postgres::import::Imported,
    #[serde(flatten)]
    pub carried: crate::store::postgres::carry::Carried,
}

pub async fn export(
    data_dir: &Path,
    to: &crate::store::postgres::PgLocation,
    settings: &super::Settings,
) -> Result<Exported, MaintenanceError> {
    if let Some(run) = runfile::running(data_dir) {
        return Err(MaintenanceError::Running {
            pid: run.pid,
            url: run.url,
            what: "export reads the store offline, and only one process may hold it: stop                    the engine, export, then start the nodes on PostgreSQL",
        });
    }
    let other = |e: &dyn std::fmt::Display| MaintenanceError::Other(e.to_string());
    let sealer = super::keys(settings).map_err(|e| other(&e))?;
    let store = crate::store::Store::open_sealed(
        data_dir,
        crate::store::OpenMode::Maintenance,
        sealer.clone(),
    )?;
    store.ensure_current_format()?;
    let identities = crate::store::identities::load(data_dir).map_err(|e| other(&e))?;
    let target = crate::store::postgres::PgStore::open(to, sealer, "switchboard export")
        .await
        .map_err(|e| other(&e))?;
    let imported = target
        .import(store.export_records(), &identities)
        .await
        .map_err(|e| other(&e))?;
    let carried = carry(data_dir, &store, &target, to)
        .await
        .map_err(|e| other(&e))?;
    Ok(Exported { imported, carried })
}

/// Credentials, revocations, verifications (files beside the store), the audit trail
/// and the composer's history (trees of it), to the database.
async fn carry(
    data_dir: &Path,
    store: &crate::store::Store,
    target: &crate::store::postgres::PgStore,
    to: &crate::store::postgres::PgLocation,
) -> Result<crate::store::postgres::carry::Carried, Box<dyn std::error::Error>> {
    let reach = crate::store::postgres::records::Reach::At(to.clone());
    let mut carried = crate::store::postgres::carry::carry_files(data_dir, &reach)?;
    let mut filter = crate::store::audit::AuditFilter::default();
    loop {
        let page = store.audit_page(&filter, super::audit::MAX_PAGE)?;
        target.import_audit(&page.entries).await?;
        carried.audit += page.entries.len() as u64;
        match page.next {
            Some(next) => filter.before = Some(next),
            None => break,
        }
    }
    let history = crate::store::composer_history::ComposerHistory::open(store)?;
    let entries = history.stored()?;
    target.import_composer(&entries).await?;
    carried.composer = entries.len() as u64;
    carried.uploads = target.import_uploads(store, data_dir).await?;
    Ok(carried)
}
