//! `check`, `backup`, `restore`, `retention run` and `migrate`: the store's
//! maintenance commands, printed for people or as JSON.

use crate::Locations;
use anyhow::{Result, bail};
use std::path::Path;
use switchboard::engine::maintenance;
use switchboard::store::postgres::PgStore;

fn current_thread() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn check(json: bool, at: &Locations) -> Result<()> {
    // The configuration's keys, so that sealed bodies are checked, not unreadable.
    let config = at.load()?;
    if let Some(store) = &config.settings.shared_store {
        let report = current_thread()?.block_on(async {
            let by = switchboard::engine::audit::command::CLI_ACTOR;
            let pg = PgStore::open(store, Default::default(), by).await?;
            pg.check().await
        })?;
        super::print(json, &report, |r| r.text())?;
        if !report.healthy {
            bail!("the shared store has problems (listed above)");
        }
        return Ok(());
    }
    let report = maintenance::check(&at.data_dir(), &config.settings)?;
    super::print(json, &report, |r| r.text())?;
    if !report.healthy {
        bail!("the data directory has problems (listed above)");
    }
    Ok(())
}

pub fn backup(dir: &Path, json: bool, at: &Locations) -> Result<()> {
    if let Some(store) = at.shared_store()? {
        let report = switchboard::store::postgres::dump::dump(&store, dir)?;
        return super::print(json, &report, |r| r.text());
    }
    let report = maintenance::backup(&at.data_dir(), dir)?;
    super::print(json, &report, |r| r.text())
}

pub fn reencrypt(json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    if let Some(store) = &config.settings.shared_store {
        bail!(
            "the bodies are in the shared store {}: re-sealing them there is not supported \
             yet. Keep the old key in encryption_old_key_files on every node (bodies sealed \
             with it stay readable; new ones are sealed with the new key)",
            store.shown()
        );
    }
    let report = maintenance::reencrypt(&at.data_dir(), &config.settings)?;
    super::print(json, &report, |r| r.text())
}

pub fn restore(dir: &Path, json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    if let Some(store) = &config.settings.shared_store {
        bail!(
            "the store is the PostgreSQL database {}: put a `switchboard backup` back with \
             `pg_restore --dbname URL {}` into an empty database, the nodes stopped \
             (README: Several nodes). `restore` puts back an embedded store",
            store.shown(),
            dir.join(switchboard::store::postgres::dump::DUMP_FILE)
                .display()
        );
    }
    let report = maintenance::restore(&at.data_dir(), dir, &config.settings)?;
    super::print(json, &report, |r| r.text())
}

pub fn retention(json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let report = switchboard::engine::retention::run_now(&at.data_dir(), &config.settings)?;
    super::print(json, &report, |r| r.text())
}

/// `migrate --store URL`: the PostgreSQL store's schema brought to this version.
pub fn migrate(store: &str, json: bool) -> Result<()> {
    use switchboard::store::postgres::{PgLocation, migrate};
    let at: PgLocation = store.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let by = format!("switchboard {} migrate", env!("CARGO_PKG_VERSION"));
    let report = runtime.block_on(migrate::migrate(&at, &by))?;
    super::print(json, &report, |r| match r.applied.as_slice() {
        [] => format!("{}: schema version {}, nothing to apply", r.store, r.to),
        applied => {
            let names: Vec<String> = applied
                .iter()
                .map(|a| format!("{} ({})", a.version, a.name))
                .collect();
            format!(
                "{}: schema version {} → {}; applied {}",
                r.store,
                r.from,
                r.to,
                names.join(", ")
            )
        }
    })
}

/// `export --from sled:DIR --to URL`: history, queues and generated IDs moved into
/// the PostgreSQL store.
pub fn export(from: Option<String>, to: &str, json: bool, at: Locations) -> Result<()> {
    use switchboard::store::postgres::PgLocation;
    let dir = match from {
        Some(from) => std::path::PathBuf::from(from.strip_prefix("sled:").unwrap_or(&from)),
        None => at.data_dir(),
    };
    if !dir.join("db").is_dir() {
        bail!(
            "{} holds no sled store (no db/ in it): --from names a data directory, as \
             `switchboard paths` prints it",
            dir.display()
        );
    }
    let to: PgLocation = to.parse()?;
    // The IDs come from the sled directory: a configuration naming the database
    // already must not make new ones there first.
    let at = Locations {
        data_dir: Some(dir.clone()),
        config: at.config,
        store: Some(switchboard::engine::config::EMBEDDED.into()),
    };
    let settings = at.load()?.settings;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(maintenance::export(&dir, &to, &settings))?;
    super::print(json, &report, |report| {
        let (r, c) = (&report.imported, &report.carried);
        format!(
            "{} → {}: {} requests, {} logs, {} attempts, {} answers, {} queued, {} \
             quarantined, {} generated IDs; {} already there. Carried: {} credential \
             records, {} revocations, {} verifications, {} audit entries, {} composer \
             history entries, {} uploads (access and refresh tokens are not: clients \
             authenticate again)",
            dir.display(),
            to.shown(),
            r.requests,
            r.logs,
            r.attempts,
            r.responses,
            r.queued,
            r.quarantined,
            r.identities,
            r.skipped,
            c.credentials,
            c.revocations,
            c.verifications,
            c.audit,
            c.composer,
            c.uploads
        )
    })
}
