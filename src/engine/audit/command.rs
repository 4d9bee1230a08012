//! `switchboard audit export` and the entries the command line writes for what it did
//! to the credential files (`tokens create`, `keys create`): through the engine that
//! holds the data directory when one runs (sled allows one process), else on the store,
//! opened for maintenance: the trail is never sealed, so no encryption key is needed,
//! and a store an engine would refuse still gives its trail.

use super::MAX_PAGE;
use crate::engine::runfile;
use crate::store::audit::{AuditFilter, AuditPage, AuditRecord};
use crate::store::postgres::{PgLocation, PgStore};
use crate::store::{AuditEntry, OpenMode, Sealer, Store};
use std::path::Path;

/// Who the trail names for the command line on this machine.
pub const CLI_ACTOR: &str = "command line";

/// What the command line reports (the engine takes no other action from it).
pub const LOCAL_ACTIONS: [&str; 3] = ["token.create", "key.create", "user-key.create"];

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Engine(#[from] runfile::AttachError),
    #[error("the running engine's audit page could not be read: {0}")]
    Decode(String),
    #[error(
        "cannot open the store in {dir} to read the audit trail: {reason}. If an engine is \
         starting on this data dir, try again once it runs"
    )]
    Store { dir: String, reason: String },
    #[error("the shared store's audit trail: {0}")]
    Shared(#[from] crate::store::postgres::PgError),
}

/// Every entry matching `filter`, oldest first: through the engine that holds
/// `data_dir` when one runs (sled allows one process), else from the store itself.
/// Both read the same entries, so both give the same records.
/// On a shared store (`shared`), its one trail, read from the database.
pub async fn export(
    data_dir: &Path,
    shared: Option<&PgLocation>,
    filter: &AuditFilter,
) -> Result<Vec<AuditRecord>, CommandError> {
    let mut all = match (shared, runfile::running(data_dir)) {
        (Some(at), _) => export_shared(at, filter).await?,
        (None, Some(engine)) => export_through(&engine, filter).await?,
        (None, None) => export_offline(data_dir, filter)?,
    };
    all.reverse();
    Ok(all)
}

async fn export_shared(
    at: &PgLocation,
    filter: &AuditFilter,
) -> Result<Vec<AuditRecord>, CommandError> {
    let store = PgStore::open(at, Sealer::default(), CLI_ACTOR).await?;
    let mut filter = filter.clone();
    let mut all = Vec::new();
    loop {
        let page = store.audit_page(&filter, MAX_PAGE).await?;
        all.extend(page.entries);
        match page.next {
            Some(next) => filter.before = Some(next),
            None => return Ok(all),
        }
    }
}

fn export_offline(data_dir: &Path, filter: &AuditFilter) -> Result<Vec<AuditRecord>, CommandError> {
    let failed = |e: &dyn std::fmt::Display| CommandError::Store {
        dir: data_dir.display().to_string(),
        reason: e.to_string(),
    };
    let store = Store::open_with(data_dir, OpenMode::Maintenance).map_err(|e| failed(&e))?;
    let mut filter = filter.clone();
    let mut all = Vec::new();
    loop {
        let page = store
            .audit_page(&filter, MAX_PAGE)
            .map_err(|e| failed(&e))?;
        all.extend(page.entries);
        match page.next {
            Some(next) => filter.before = Some(next),
            None => return Ok(all),
        }
    }
}

async fn export_through(
    engine: &runfile::RunFile,
    filter: &AuditFilter,
) -> Result<Vec<AuditRecord>, CommandError> {
    let mut before = filter.before;
    let mut all = Vec::new();
    loop {
        let mut params = vec![("limit", MAX_PAGE.to_string())];
        let instant = |t: chrono::DateTime<chrono::Utc>| crate::model::time::format_utc(t);
        params.extend(filter.since.map(|t| ("since", instant(t))));
        params.extend(filter.until.map(|t| ("until", instant(t))));
        params.extend(filter.action.clone().map(|a| ("action", a)));
        params.extend(filter.actor.clone().map(|a| ("actor", a)));
        params.extend(filter.log.map(|l| ("log", l.to_string())));
        params.extend(before.map(|b| ("before", b.to_string())));
        let query = serde_urlencoded::to_string(&params)
            .map_err(|e| CommandError::Decode(e.to_string()))?;
        let answer = engine
            .admin(reqwest::Method::GET, &format!("/audit?{query}"), None)
            .await?;
        let page: AuditPage =
            serde_json::from_value(answer).map_err(|e| CommandError::Decode(e.to_string()))?;
        all.extend(page.entries);
        match page.next {
            Some(next) => before = Some(next),
            None => return Ok(all),
        }
    }
}

/// A credential change made by the command line (`action`, and `detail` without any
/// secret), appended to the trail: through the running engine, else on the store.
/// On a shared store (`shared`), written there.
pub async fn record_local(
    data_dir: &Path,
    shared: Option<&PgLocation>,
    action: &str,
    detail: &str,
) -> Result<(), CommandError> {
    if let Some(at) = shared {
        let store = PgStore::open(at, Sealer::default(), CLI_ACTOR).await?;
        store.append_audit(&local_entry(action, detail)).await?;
        return Ok(());
    }
    if let Some(engine) = runfile::running(data_dir) {
        let body = serde_json::json!({"action": action, "detail": detail});
        engine
            .admin(reqwest::Method::POST, "/audit", Some(&body))
            .await?;
        return Ok(());
    }
    let failed = |e: &dyn std::fmt::Display| CommandError::Store {
        dir: data_dir.display().to_string(),
        reason: e.to_string(),
    };
    let store = Store::open_with(data_dir, OpenMode::Maintenance).map_err(|e| failed(&e))?;
    store
        .append_audit(&local_entry(action, detail))
        .map_err(|e| failed(&e))?;
    store.db().flush().map_err(|e| failed(&e))?;
    Ok(())
}

/// The entry for something the command line did on this machine.
pub fn local_entry(action: &str, detail: &str) -> AuditEntry {
    local_entry_of(AuditEntry {
        actor: CLI_ACTOR.into(),
        action: action.into(),
        detail: Some(detail.into()),
        ..AuditEntry::default()
    })
}

/// `entry`, of something the command line did on this machine without an engine,
/// stamped as the engine would stamp it: now, from `cli`, `ok` unless it says.
pub fn local_entry_of(mut entry: AuditEntry) -> AuditEntry {
    entry.at = chrono::Utc::now();
    entry.origin.get_or_insert_with(|| "cli".into());
    entry.outcome.get_or_insert_with(|| "ok".into());
    entry
}
