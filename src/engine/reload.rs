//! The engine's current registry behind a swappable handle: each request takes one
//! consistent snapshot (`load`), and a configuration reload replaces it whole.

use super::runfile::{self, AttachError};
use super::{Config, Destination, Engine, Registry, Settings};
use crate::model::ApiError;
pub use crate::model::view::ReloadReport;
use std::sync::{Arc, PoisonError, RwLock};
use uuid::Uuid;

/// The registry in force now. Readers hold the lock only to clone an `Arc`, so a swap
/// never waits on a request in progress.
pub struct Current {
    inner: RwLock<Arc<Registry>>,
}

impl Current {
    pub fn new(registry: Registry) -> Self {
        Self {
            inner: RwLock::new(Arc::new(registry)),
        }
    }

    /// The registry as it is now; keep the snapshot for the whole request.
    pub fn load(&self) -> Arc<Registry> {
        // A panic while holding the lock cannot leave a half-written Arc behind.
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `registry` in force; returns the one it replaced.
    pub fn swap(&self, registry: Registry) -> Arc<Registry> {
        let mut slot = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, Arc::new(registry))
    }
}

/// The destinations of `new` that are new or defined differently, and the IDs of
/// those `old` has and `new` lacks.
fn destination_changes(old: &Registry, new: &Registry) -> (Vec<Destination>, Vec<Uuid>) {
    let changed = new
        .destinations
        .iter()
        .filter(|d| old.destination(d.id) != Some(*d))
        .cloned()
        .collect();
    let removed = old
        .destinations
        .iter()
        .filter(|d| new.destination(d.id).is_none())
        .map(|d| d.id)
        .collect();
    (changed, removed)
}

/// Added, removed and changed records of one kind, by `key`, named by `name`.
fn diff_records<T: PartialEq, K: PartialEq>(
    report: &mut ReloadReport,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> K,
    name: impl Fn(&T) -> String,
) {
    let find = |list: &'_ [T], k: &K| list.iter().position(|x| key(x) == *k);
    for n in new {
        match find(old, &key(n)).map(|i| &old[i]) {
            None => report.added.push(name(n)),
            Some(o) if o != n => report.changed.push(name(n)),
            Some(_) => {}
        }
    }
    for o in old.iter().filter(|o| find(new, &key(o)).is_none()) {
        report.removed.push(name(o));
    }
}

fn diff(old: &Registry, new: &Registry) -> ReloadReport {
    let mut report = ReloadReport::default();
    diff_records(
        &mut report,
        &old.organizations,
        &new.organizations,
        |o| o.id,
        |o| format!("organization \"{}\"", o.name),
    );
    diff_records(
        &mut report,
        &old.sources,
        &new.sources,
        |s| s.id,
        |s| format!("source \"{}\"", s.name),
    );
    diff_records(
        &mut report,
        &old.destinations,
        &new.destinations,
        |d| d.id,
        |d| format!("destination \"{}\"", d.name),
    );
    let source_name = |id| {
        new.source(id)
            .or_else(|| old.source(id))
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    };
    let destination_name = |id| {
        new.destination(id)
            .or_else(|| old.destination(id))
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    };
    diff_records(
        &mut report,
        &old.subscriptions,
        &new.subscriptions,
        |s| (s.source_id, s.destination_id),
        |s| {
            format!(
                "subscription \"{}\" -> \"{}\"",
                source_name(s.source_id),
                destination_name(s.destination_id)
            )
        },
    );
    report
}

/// The settings that differ: they are read once at start, so they wait for a restart.
fn needs_restart(old: &Settings, new: &Settings) -> Vec<String> {
    let mut names = Vec::new();
    let mut check = |name: &str, differs: bool| {
        if differs {
            names.push(format!("[engine] {name}"));
        }
    };
    check("max_body_bytes", old.max_body_bytes != new.max_body_bytes);
    check(
        "query_timeout_seconds",
        old.query_timeout != new.query_timeout,
    );
    check(
        "connect_timeout",
        old.connect_timeout != new.connect_timeout,
    );
    check(
        "admin_token_days",
        old.admin_token_lifetime != new.admin_token_lifetime,
    );
    check(
        "min_free_disk_mb",
        old.min_free_disk_bytes != new.min_free_disk_bytes,
    );
    let (a, b) = (&old.connections, &new.connections);
    check(
        "header_timeout_seconds",
        a.header_timeout != b.header_timeout,
    );
    check("body_timeout_seconds", a.body_timeout != b.body_timeout);
    check("idle_timeout_seconds", a.idle_timeout != b.idle_timeout);
    check("max_connections", a.max_connections != b.max_connections);
    check(
        "journal_backlog",
        old.journal_backlog != new.journal_backlog,
    );
    // Unset means "the listen address", which the running engine already filled in.
    check(
        "public_url",
        new.public_url.is_some() && old.public_url != new.public_url,
    );
    check(
        "max_upload_bytes",
        old.max_upload_bytes != new.max_upload_bytes,
    );
    // The files named at start are read again on a reload; other files wait for a restart
    // (unset: the files given on the command line stay).
    check("tls_cert/tls_key", new.tls.is_some() && old.tls != new.tls);
    check(
        "auth_failures_per_key, auth_failures_per_address or auth_failure_window_seconds",
        old.auth_limits != new.auth_limits,
    );
    if old.store != new.store {
        names.push("[store] cache_mib".into());
    }
    if old.shared_store != new.shared_store {
        names.push("[store] url".into());
    }
    names
}

/// The sandbox's address is known only once the engine listens: the new registry
/// takes the running one's.
fn keep_sandbox_address(old: &Registry, new: &mut Registry) {
    let Some(running) = old.destination(crate::sandbox::DESTINATION_ID) else {
        return;
    };
    let (url, fhir_url) = (running.url.clone(), running.fhir_url.clone());
    if let Some(d) = new
        .destinations
        .iter_mut()
        .find(|d| d.id == crate::sandbox::DESTINATION_ID)
    {
        d.url = url;
        d.fhir_url = fhir_url;
    }
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        422,
        "configuration",
        "Config",
        format!(
            "The configuration was not reloaded: {e}. The running configuration stays; fix \
             the file and reload again."
        ),
    )
}

impl Engine {
    /// Re-reads the configuration file and puts its organizations, sources,
    /// destinations and subscriptions in force, audited as `actor`. An invalid file,
    /// or one that drops a destination with queued items, is refused whole and the
    /// running configuration stays. Queued items are untouched: queues live in the
    /// store, keyed by IDs that stay stable by name.
    pub async fn reload(&self, actor: &str) -> Result<ReloadReport, ApiError> {
        let Some(path) = &self.config_path else {
            if self.tls().is_some() {
                return self.reload_tls_only(actor).await;
            }
            return Err(ApiError::bad_request(
                "This engine runs without a configuration file, so there is nothing to \
                 reload. Start it with --config FILE to reload that file.",
            ));
        };
        let config = Config::load(path, true, &self.data_dir).map_err(invalid)?;
        let mut registry = config.registry;
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.registry();
        keep_sandbox_address(&current, &mut registry);
        let mut report = diff(&current, &registry);
        report.needs_restart = needs_restart(&self.settings, &config.settings);
        if config.profiles != self.profiles {
            report
                .needs_restart
                .push("[environments.*.variables]".into());
        }
        let (changed, removed) = destination_changes(&current, &registry);
        let queued = self.store.nonempty_queues().map_err(super::read_failure)?;
        let blocked: Vec<String> = removed
            .iter()
            .filter(|id| queued.iter().any(|q| q.destination == **id))
            .filter_map(|id| current.destination(*id).map(|d| format!("\"{}\"", d.name)))
            .collect();
        if !blocked.is_empty() {
            return Err(ApiError::new(
                409,
                "state",
                "Config",
                format!(
                    "The configuration was not reloaded: it removes destination {} with items \
                     still queued. Let them deliver, or cancel them, then reload; or keep the \
                     destination in the file. The running configuration stays.",
                    blocked.join(", ")
                ),
            ));
        }
        // New destinations get their machinery before anything can be routed to them;
        // removed ones lose theirs only once nothing routes to them.
        self.delivery
            .adopt(&changed, &[], self.settings.connect_timeout)
            .map_err(|e| invalid(format!("cannot build an HTTP client ({e})")))?;
        self.outbound.adopt(&changed, &[]);
        for d in &changed {
            let paused = self
                .store
                .destination_state(d.id)
                .map_err(super::read_failure)?
                .paused;
            self.delivery.set_paused(d.id, paused);
        }
        self.registry.swap(registry);
        self.delivery
            .adopt(&[], &removed, self.settings.connect_timeout)
            .map_err(|e| invalid(format!("cannot build an HTTP client ({e})")))?;
        self.outbound.adopt(&[], &removed);
        report.warnings = self.orphans(&current, &removed).await?;
        // Dispatchers waiting under an old definition (a retry's wait) take the new one
        // now; items left from an earlier definition of a destination now go out.
        for d in &changed {
            self.delivery.kick(d.id);
        }
        for queue in queued {
            if changed.iter().any(|d| d.id == queue.destination) {
                self.delivery.wake(queue);
            }
        }
        self.reload_tls(&mut report);
        let summary = report.summary();
        tracing::info!(actor, %summary, "configuration reloaded");
        self.audit(actor, "config.reload", None, Some(summary));
        self.durable().await?;
        Ok(report)
    }
}

impl Engine {
    /// Reads the TLS certificate and key again, if the engine serves TLS: the new pair
    /// is in `changed`; a pair that does not load is a warning, and the previous one
    /// stays in force.
    fn reload_tls(&self, report: &mut ReloadReport) {
        let Some(certs) = self.tls() else { return };
        let before = certs.fingerprint();
        match certs.reload() {
            Ok(now) if now == before => {}
            Ok(now) => {
                tracing::info!(sha256 = %now, "TLS certificate reloaded");
                report
                    .changed
                    .push(format!("TLS certificate (SHA-256 {now})"));
            }
            Err(e) => {
                let warning = format!(
                    "TLS certificate not reloaded: {e}; the previous one (SHA-256 {before}) \
                     stays in force"
                );
                tracing::error!(%warning);
                report.warnings.push(warning);
            }
        }
    }

    /// A reload without a configuration file: only the TLS pair is read again.
    async fn reload_tls_only(&self, actor: &str) -> Result<ReloadReport, ApiError> {
        let _one_at_a_time = self.reloading.lock().await;
        let mut report = ReloadReport::default();
        self.reload_tls(&mut report);
        let summary = report.summary();
        tracing::info!(actor, %summary, "TLS reloaded (no configuration file)");
        self.audit(actor, "config.reload", None, Some(summary));
        self.durable().await?;
        Ok(report)
    }

    /// Items queued for `removed` destinations after the check: a request routed on the
    /// previous registry may have raced the swap. They stay in the store; said, not hidden.
    async fn orphans(
        &self,
        previous: &Registry,
        removed: &[Uuid],
    ) -> Result<Vec<String>, ApiError> {
        if removed.is_empty() {
            return Ok(Vec::new());
        }
        self.store.journal().applied().await;
        let queued = self.store.nonempty_queues().map_err(super::read_failure)?;
        Ok(removed
            .iter()
            .filter(|id| queued.iter().any(|q| q.destination == **id))
            .filter_map(|id| previous.destination(*id))
            .map(|d| {
                let warning = format!(
                    "destination \"{}\" was removed while a request for it was being accepted; \
                     its items stay queued: put it back in the file and reload to deliver them",
                    d.name
                );
                tracing::warn!(%warning);
                warning
            })
            .collect())
    }
}

/// Reloads on every `SIGHUP` until the engine stops (`serve` and the console's embedded
/// engine); the outcome goes to the log, as a signal has no one to answer.
#[cfg(unix)]
pub fn reload_on_hangup(engine: &Arc<Engine>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    let (stop, weak) = (engine.stopping(), Arc::downgrade(engine));
    engine.tasks().spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                got = hangups.recv() => if got.is_none() { return },
            }
            // Held only for the reload: the engine's shutdown does not wait on us.
            let Some(engine) = weak.upgrade() else { return };
            if let Err(e) = engine.reload("signal:SIGHUP").await {
                tracing::error!(error = %e, "configuration reload on SIGHUP refused");
            }
        }
    });
    Ok(())
}

/// Why `switchboard reload` did not reload.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(
        "no engine is running on {0}; the configuration is read when it starts \
         (`switchboard serve`)"
    )]
    NotRunning(String),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error("the engine's answer was not a reload report: {0}")]
    Answer(#[from] serde_json::Error),
}

/// `switchboard reload`: asks the engine running on `data_dir` (found through its run
/// file) to re-read its configuration file.
pub async fn command(data_dir: &std::path::Path) -> Result<ReloadReport, CommandError> {
    let engine = runfile::running(data_dir)
        .ok_or_else(|| CommandError::NotRunning(data_dir.display().to_string()))?;
    let answer = engine
        .admin(reqwest::Method::POST, "/config/reload", None)
        .await?;
    Ok(serde_json::from_value(answer)?)
}
