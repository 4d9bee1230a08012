//! Retention: how long each environment's history is kept (`[environments.<env>]
//! retention_days`, default: forever), the sweep that removes what is past it, run in
//! the background every [`SWEEP_EVERY`] and on demand (`POST /admin/v1/retention/run`,
//! `switchboard retention run`).
//!
//! The removal itself is the store's ([`crate::store::retention`]): bounded passes
//! through the journal's single write path, never touching what is still owed
//! delivery. Here: the cutoffs, the composer history's old entries, upload files once
//! their index entries are gone for good, and the figures in the log.
//!
//! Each sweep writes one audit entry per environment (`retention.sweep`: how many
//! logs went, created before which instant), before the removals are made durable.
//!
//! The sweep reads the time from a [`Clock`] the tests can move forward, so expiry is
//! tested without waiting days or writing old records by hand.

use super::Engine;
use super::runfile::{self, AttachError};
use crate::model::{ApiError, Environment, LogRecord};
use crate::store::retention::Swept;
use crate::store::{AuditEntry, Store, StoreError, StoredRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often the background sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);
/// The first background sweep, after start-up traffic has settled.
const FIRST_SWEEP: Duration = Duration::from_secs(60);
/// Who the trail names for the background sweep.
pub const SCHEDULE_ACTOR: &str = "retention schedule";
/// The largest `retention_days` (about 100 years): beyond it, leave it unset.
pub const MAX_DAYS: u64 = 36_500;

/// Days of history kept per environment; an environment not named keeps everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    days: BTreeMap<Environment, u32>,
}

impl Policy {
    pub fn set(&mut self, environment: Environment, days: u32) {
        self.days.insert(environment, days);
    }

    pub fn days(&self, environment: Environment) -> Option<u32> {
        self.days.get(&environment).copied()
    }

    /// Each environment with a retention, and the instant before which its logs expire.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> BTreeMap<Environment, DateTime<Utc>> {
        self.days
            .iter()
            .map(|(e, d)| (*e, now - chrono::Duration::days(i64::from(*d))))
            .collect()
    }
}

/// The sweep's time: the system clock, unless a test has stopped it at an instant
/// ([`Clock::set`]), so that expiry is tested without waiting and without the clock
/// running on between two sweeps of one test.
#[derive(Debug)]
pub struct Clock {
    /// Milliseconds since the epoch; [`RUNNING`] while the clock follows the system's.
    stopped_ms: AtomicI64,
}

const RUNNING: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Self {
        Clock {
            stopped_ms: AtomicI64::new(RUNNING),
        }
    }
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self.stopped_ms.load(Ordering::Relaxed) {
            RUNNING => Utc::now(),
            ms => DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now),
        }
    }

    /// Stops this clock at `at` (tests: "seven days after the cutoff").
    pub fn set(&self, at: DateTime<Utc>) {
        self.stopped_ms
            .store(at.timestamp_millis(), Ordering::Relaxed);
    }

    /// Moves this clock forward by `by` from what it reads now, stopped there.
    pub fn advance(&self, by: chrono::Duration) {
        self.set(self.now() + by);
    }
}

/// The engine's retention state: its clock, and one sweep at a time.
#[derive(Debug, Default)]
pub struct Retention {
    pub clock: Clock,
    sweeping: tokio::sync::Mutex<()>,
}

/// What one sweep removed, per environment and in all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub environments: BTreeMap<Environment, Swept>,
    pub composer_entries: u64,
    pub files: u64,
    pub file_bytes: u64,
    pub seconds: f64,
}

impl SweepReport {
    pub fn text(&self) -> String {
        if self.environments.is_empty() {
            return "No environment has a retention_days: nothing is ever deleted.".into();
        }
        let mut out = String::new();
        for (env, s) in &self.environments {
            out.push_str(&format!(
                "{}: {} logs, {} requests, {} uploads deleted ({} bytes); {} past retention \
                 kept, still owed delivery\n",
                env.as_str(),
                s.logs,
                s.requests,
                s.uploads,
                s.bytes,
                s.kept_owed
            ));
        }
        out.push_str(&format!(
            "{} composer history entries, {} files ({} bytes) deleted in {:.1} s",
            self.composer_entries, self.files, self.file_bytes, self.seconds
        ));
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error("{0}")]
    Other(String),
}

/// The upload a log records (the file's ID in its request), if it records one.
fn upload_of(log: &LogRecord, request: &StoredRequest) -> Option<Uuid> {
    if log.destination_id != super::upload::UPLOAD_DESTINATION_ID {
        return None;
    }
    Uuid::try_parse(request.payload["File"]["ID"].as_str()?).ok()
}

/// Who a sweep is audited as, and how: `record` appends an entry to the trail.
struct Auditor<'a> {
    actor: &'a str,
    /// An operator asked for it: each environment is recorded even when nothing went.
    /// The background sweep records only what deleted something, every five minutes
    /// of "nothing" being no news.
    asked: bool,
    record: &'a (dyn Fn(AuditEntry) + Sync),
}

impl Auditor<'_> {
    /// One entry per environment per sweep: how many logs went, and which (those
    /// created before the cutoff).
    fn swept(&self, environment: Environment, cutoff: DateTime<Utc>, days: u32, s: &Swept) {
        if !self.asked && s.logs + s.requests + s.uploads == 0 {
            return;
        }
        (self.record)(AuditEntry {
            actor: self.actor.to_string(),
            action: "retention.sweep".into(),
            detail: Some(format!(
                "{}: {} logs, {} requests, {} uploads deleted: those created before {} \
                 (retention_days {days}); {} past it kept, still owed delivery",
                environment.as_str(),
                s.logs,
                s.requests,
                s.uploads,
                crate::model::time::format_utc(cutoff),
                s.kept_owed
            )),
            ..AuditEntry::default()
        });
    }
}

/// One sweep of `store` under `policy` at `now`, each environment's removals audited;
/// `durable` makes the removals and their entries durable before upload files go.
async fn sweep<F: std::future::Future<Output = Result<(), StoreError>>>(
    store: &Store,
    data_dir: &Path,
    (policy, now): (&Policy, DateTime<Utc>),
    auditor: &Auditor<'_>,
    durable: impl FnOnce() -> F,
) -> Result<SweepReport, StoreError> {
    let started = Instant::now();
    let cutoffs = policy.cutoffs(now);
    let mut report = SweepReport::default();
    let mut files = Vec::new();
    for (environment, cutoff) in &cutoffs {
        let (swept, expired) = store
            .sweep_expired(*environment, *cutoff, upload_of)
            .await?;
        if swept.kept_owed > 0 {
            tracing::info!(
                environment = environment.as_str(),
                kept = swept.kept_owed,
                "logs past retention kept: still owed delivery (pending or quarantined); a \
                 later sweep removes them once settled"
            );
        }
        let days = policy.days(*environment).unwrap_or_default();
        auditor.swept(*environment, *cutoff, days, &swept);
        report.environments.insert(*environment, swept);
        files.extend(expired);
    }
    report.composer_entries = store.sweep_composer_history(&cutoffs)?;
    durable().await?;
    (report.files, report.file_bytes) = store.remove_upload_files(data_dir, &files);
    report.seconds = started.elapsed().as_secs_f64();
    let (logs, bytes) = report
        .environments
        .values()
        .fold((0, 0), |(l, b), s| (l + s.logs, b + s.bytes));
    tracing::info!(
        deleted_logs = logs,
        deleted_bytes = bytes,
        files = report.files,
        file_bytes = report.file_bytes,
        composer_entries = report.composer_entries,
        seconds = report.seconds,
        "retention sweep"
    );
    Ok(report)
}

impl Engine {
    /// Sweeps now: removes every log past its environment's retention (see the
    /// module docs), audited as `actor`'s doing; `asked` when an operator asked for
    /// it rather than the schedule. One sweep at a time; a second call waits for the
    /// first.
    pub async fn sweep_retention(&self, actor: &str, asked: bool) -> Result<SweepReport, ApiError> {
        let _one = self.retention.sweeping.lock().await;
        let record = |entry| {
            if let Err(e) = self.record_audit(entry) {
                tracing::error!(error = %e, "cannot write the audit trail");
            }
        };
        let auditor = Auditor {
            actor,
            asked,
            record: &record,
        };
        let now = self.retention.clock.now();
        if let Some(shared) = &self.shared {
            return self.sweep_shared(shared, now, &auditor).await;
        }
        let durable = || async {
            self.commit
                .durable()
                .await
                .map_err(|e| StoreError::Io(e.to_string()))
        };
        sweep(
            &self.store,
            &self.data_dir,
            (&self.settings.retention, now),
            &auditor,
            durable,
        )
        .await
        .map_err(super::write_failure("the retention sweep"))
    }

    /// The sweep on the shared store (see [`sweep_shared`]).
    async fn sweep_shared(
        &self,
        shared: &crate::store::postgres::PgStore,
        now: DateTime<Utc>,
        auditor: &Auditor<'_>,
    ) -> Result<SweepReport, ApiError> {
        sweep_shared(shared, &self.settings.retention, now, auditor)
            .await
            .map_err(super::write_failure("the retention sweep"))
    }

    /// The clock the sweep reads (tests move it forward).
    pub fn retention_clock(&self) -> &Clock {
        &self.retention.clock
    }
}

/// Starts the background sweep (nothing when no environment has a retention).
pub fn spawn(engine: &Arc<Engine>) {
    if engine.settings.retention.days.is_empty() {
        return;
    }
    let weak = Arc::downgrade(engine);
    let stop = engine.stopping();
    engine.tasks().spawn(async move {
        let mut wait = FIRST_SWEEP;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = SWEEP_EVERY;
            let Some(engine) = weak.upgrade() else { return };
            if let Err(e) = engine.sweep_retention(SCHEDULE_ACTOR, false).await {
                tracing::error!(error = ?e, "retention sweep failed; retried at the next one");
            }
        }
    });
}

/// The sweep on the shared store: whole days dropped per environment (see
/// `PgStore::expire`); a day still owed delivery stays whole until settled.
async fn sweep_shared(
    shared: &crate::store::postgres::PgStore,
    policy: &Policy,
    now: DateTime<Utc>,
    auditor: &Auditor<'_>,
) -> Result<SweepReport, crate::store::postgres::PgError> {
    let started = Instant::now();
    let mut report = SweepReport::default();
    for (environment, cutoff) in policy.cutoffs(now) {
        let (dropped, kept_days) = shared.expire(environment, cutoff).await?;
        let rows = |table: &str| dropped.rows.get(table).copied().unwrap_or(0);
        let swept = Swept {
            logs: rows("logs"),
            requests: rows("requests"),
            uploads: 0,
            kept_owed: kept_days as u64,
            bytes: dropped.bytes,
        };
        let days = policy.days(environment).unwrap_or_default();
        auditor.swept(environment, cutoff, days, &swept);
        report.environments.insert(environment, swept);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// `switchboard retention run` on a shared store: straight on the database (every
/// node's sweep and this one drop the same whole days, whichever runs first).
async fn run_shared(
    at: &crate::store::postgres::PgLocation,
    policy: &Policy,
) -> Result<SweepReport, RetentionError> {
    let failed = |e: crate::store::postgres::PgError| RetentionError::Other(e.to_string());
    let actor = super::audit::command::CLI_ACTOR;
    let store = crate::store::postgres::PgStore::open(at, Default::default(), actor)
        .await
        .map_err(failed)?;
    let record = |entry| {
        let entry = super::audit::command::local_entry_of(entry);
        let appended = crate::store::postgres::blocking::wait(store.append_audit(&entry));
        if let Err(e) = appended {
            tracing::error!(error = %e, "cannot write the audit trail");
        }
    };
    let auditor = Auditor {
        actor,
        asked: true,
        record: &record,
    };
    sweep_shared(&store, policy, Utc::now(), &auditor)
        .await
        .map_err(failed)
}

/// `switchboard retention run`: on the shared store's database when the settings name
/// one; else through the running engine when there is one, else on the stopped store
/// with the retention of `settings` (and its encryption key, to read sealed requests).
pub fn run_now(data_dir: &Path, settings: &super::Settings) -> Result<SweepReport, RetentionError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| RetentionError::Other(format!("cannot start the async runtime: {e}")))?;
    if let Some(at) = &settings.shared_store {
        return runtime.block_on(run_shared(at, &settings.retention));
    }
    if let Some(run) = runfile::running(data_dir) {
        let answer = runtime.block_on(run.admin(reqwest::Method::POST, "/retention/run", None))?;
        return serde_json::from_value(answer).map_err(|e| {
            RetentionError::Other(format!(
                "the running engine answered the sweep with something unexpected ({e})"
            ))
        });
    }
    let sealer =
        super::at_rest(data_dir, settings).map_err(|e| RetentionError::Other(e.to_string()))?;
    let policy = &settings.retention;
    runtime.block_on(async {
        let store = Store::open_sealed(data_dir, crate::store::OpenMode::Serve, sealer)?;
        let durable = || async {
            store.journal().applied().await;
            // Nothing else writes offline, so a plain flush is safe here.
            tokio::task::block_in_place(|| store.db().flush())
                .map(|_| ())
                .map_err(StoreError::from)
        };
        let record = |entry| {
            let entry = super::audit::command::local_entry_of(entry);
            if let Err(e) = store.append_audit(&entry) {
                tracing::error!(error = %e, "cannot write the audit trail");
            }
        };
        let auditor = Auditor {
            actor: super::audit::command::CLI_ACTOR,
            asked: true,
            record: &record,
        };
        Ok(sweep(&store, data_dir, (policy, Utc::now()), &auditor, durable).await?)
    })
}
