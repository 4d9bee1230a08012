//! The exchange engine: authentication of sources, ingest and routing of notifications
//! and writebacks, synchronous query forwarding, history reads, and the event bus; and
//! file upload (`upload`: the platform's `POST /upload`, stored and logged).
//! `outbound_auth` puts a destination's own `Authorization` on what is sent to it.
//! No HTTP types in here: the `api` module adapts requests to these calls.
//! [`oauth`] is the OAuth client-credentials flow with signed JWT assertions.
//! [`reload`] holds the registry in force, swapped whole by a configuration reload.
//! [`audit`] records who did what from where, and reads the trail back (page, export).
//! [`fhir`] holds the FHIR R4 API's rules: parties, supported searches, forwarding, messages.
//! [`tls`] holds the HTTPS certificate and key, read again on a reload.
//! [`retention`] removes history past each environment's `retention_days`.
//! [`throttle`] limits failed logins per key and address, and requests per source.
//! [`metrics`] keeps the Prometheus metrics; [`ready`] says whether the engine can take work.

pub mod access;
pub mod answer;
pub mod audit;
pub mod auth;
pub mod capacity;
pub mod cluster;
pub mod composer;
pub mod config;
pub mod delivery;
pub mod doors;
pub mod fhir;
pub mod health;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod listener;
pub mod maintenance;
pub mod metrics;
pub mod oauth;
pub mod operator;
pub mod outbound_auth;
pub mod paths;
pub mod poll;
pub mod query;
pub mod ready;
pub mod reload;
pub mod retention;
pub mod revocation;
pub mod routing;
pub mod runfile;
pub mod stats;
pub mod stores;
pub mod throttle;
pub mod tls;
pub mod upload;
pub mod verify;
mod views;

pub use config::{Config, Destination, Registry, Settings, Source};

use crate::model::{ApiError, LogRecord};
use crate::store::credentials::Credentials;
use crate::store::{GroupCommit, Sealer, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many log events the bus holds for a slow subscriber before it starts missing
/// them (it is told how many it missed).
pub const EVENT_BUS_CAPACITY: usize = 4096;

/// How long outgoing connections to destinations stay pooled while idle: shorter than
/// the usual server idle timeouts (ours is 60 s; the sandbox is reached through it), so a
/// pooled connection is rarely one the far side has just closed.
pub const OUTGOING_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// Starting without them would honour revoked tokens.
    #[error("cannot read the revocation records: {0}. Fix or restore the file, then start again")]
    Revocations(crate::store::credentials::CredentialError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Seal(#[from] crate::store::seal::SealError),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A change to a log, published for live views.
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub log: LogRecord,
}

pub struct Engine {
    pub(crate) store: Store,
    /// The PostgreSQL store shared with other nodes (`[store] url`): history, queues
    /// and IDs live there instead of in `store` (see [`cluster`]).
    pub(crate) shared: Option<crate::store::postgres::PgStore>,
    /// Access and refresh tokens: in `shared` when there is one.
    pub(crate) sessions: crate::store::sessions::Sessions,
    pub(crate) commit: GroupCommit,
    pub(crate) credentials: Credentials,
    /// Revoked keys and admin tokens, kept current from the records on disk.
    pub(crate) revocations: Arc<revocation::View>,
    /// The JWT flow's replay records and fetched JWKS documents.
    pub(crate) oauth: oauth::OAuth,
    /// When each key last had a token issued, throttled to one note a minute.
    pub(crate) key_use: keys::LastUsed,
    /// Swapped whole by a configuration reload (see [`reload`]).
    pub(crate) registry: reload::Current,
    /// The file a reload reads (`None`: the built-in configuration).
    config_path: Option<PathBuf>,
    /// Reloads one at a time: each diffs against the registry the previous one left.
    reloading: tokio::sync::Mutex<()>,
    pub(crate) settings: Settings,
    /// The composer's `{{variable}}` profiles, per environment.
    pub(crate) profiles:
        std::collections::BTreeMap<crate::model::Environment, crate::model::variables::Variables>,
    pub(crate) http: reqwest::Client,
    pub(crate) events: broadcast::Sender<LogEvent>,
    pub(crate) delivery: delivery::Delivery,
    /// Outgoing authentication to destinations, with the OAuth token caches.
    pub(crate) outbound: outbound_auth::Tokens,
    pub(crate) stats: stats::Stats,
    /// The HTTPS certificate and key, when the engine serves TLS.
    tls: Option<Arc<tls::Certs>>,
    /// Failed logins per key and address, requests per source (see [`throttle`]).
    pub(crate) throttle: throttle::Throttle,
    pub(crate) metrics: metrics::Metrics,
    /// Connections of the HTTP server in front of this engine.
    listener: listener::ListenerFigures,
    /// Every task the engine spawns (dispatchers, live-event followers, the revocation
    /// watcher, the server's connections): shutdown waits on it, and tests wait on it
    /// (see [`Engine::closed`]) before reopening the store.
    tasks: TaskTracker,
    /// Cancelled when the engine stops: every tracked task ends on it.
    stop: CancellationToken,
    /// A child of `stop`, cancelled earlier by [`Engine::close_streams`]: long-lived
    /// streams end then, so a graceful shutdown does not wait on them forever.
    streams: CancellationToken,
    data_dir: PathBuf,
    started: Instant,
    /// Destinations found verified on disk (see [`verify`]).
    pub(crate) verified: verify::Verified,
    /// Free space under the data directory (see [`capacity`]).
    pub(crate) space: crate::store::space::DiskSpace,
    /// The admin secret of this process, for the command line on this machine (see
    /// [`runfile`]).
    local_secret: String,
    /// The retention sweep's clock and lock (see [`retention`]).
    pub(crate) retention: retention::Retention,
    /// What audit entries of actions outside any HTTP request name as their origin
    /// (see [`audit`]); per engine, so two engines in one process keep theirs.
    pub(crate) local_origin: std::sync::OnceLock<&'static str>,
}

impl Engine {
    /// Opens the store under `data_dir` and starts the group-commit flusher. Must be
    /// called inside a tokio runtime.
    pub fn start(data_dir: &Path, config: Config) -> Result<Arc<Engine>, EngineError> {
        Self::start_with(data_dir, config, crate::store::OpenMode::Serve)
    }

    /// [`Engine::start`]; `mode` says whether a store that lost acknowledged requests is
    /// refused (`Serve`) or run on (`AcceptLoss`, for `--accept-loss`).
    pub fn start_with(
        data_dir: &Path,
        config: Config,
        mode: crate::store::OpenMode,
    ) -> Result<Arc<Engine>, EngineError> {
        Self::start_on(data_dir, config, mode, None)
    }

    /// [`Engine::start_with`] on `shared`, the store of several nodes opened with
    /// [`cluster::open`] (`None`: the embedded store only).
    pub fn start_on(
        data_dir: &Path,
        config: Config,
        mode: crate::store::OpenMode,
        shared: Option<crate::store::postgres::PgStore>,
    ) -> Result<Arc<Engine>, EngineError> {
        // A TLS setup that does not load stops the start before anything is opened.
        let tls = config
            .settings
            .tls
            .clone()
            .map(tls::Certs::open)
            .transpose()?;
        let sealer = at_rest(data_dir, &config.settings)?;
        let store = Store::open_tuned(data_dir, mode, sealer, config.settings.store)?;
        // Uploads cut short by a crash left only temporary files.
        crate::store::uploads::clean_temp(data_dir);
        let commit = GroupCommit::for_store(&store);
        store
            .journal()
            .set_capacity(config.settings.journal_backlog);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.settings.connect_timeout)
            .pool_idle_timeout(OUTGOING_IDLE)
            .build()
            .map_err(EngineError::Http)?;
        let (events, _) = broadcast::channel(EVENT_BUS_CAPACITY);
        let (credentials, revocations, sessions) = trust_records(data_dir, &store, &shared)?;
        let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
        revocation::View::watch(&revocations, &tasks, stop.clone());
        let paused = paused_at_start(&store, shared.as_ref(), &config.registry.destinations)?;
        let clients = delivery::build_clients(
            &config.registry.destinations,
            config.settings.connect_timeout,
        )
        .map_err(EngineError::Http)?;
        let space =
            crate::store::space::DiskSpace::new(data_dir, config.settings.min_free_disk_bytes);
        let outbound = outbound_auth::Tokens::new(&config.registry.destinations, http.clone());
        let oauth = oauth::OAuth::open_on(&store, shared.clone())?;
        let engine = Arc::new_cyclic(|weak| {
            let delivery = delivery::Delivery::new(
                weak.clone(),
                &config.registry.destinations,
                clients,
                paused,
            );
            Engine {
                store,
                shared: shared.clone(),
                sessions,
                commit,
                credentials,
                revocations,
                oauth,
                key_use: keys::LastUsed::default(),
                registry: reload::Current::new(config.registry),
                config_path: config.path,
                reloading: tokio::sync::Mutex::new(()),
                throttle: throttle::Throttle::new(
                    config.settings.auth_limits,
                    config.throttle_clock,
                ),
                settings: config.settings,
                profiles: config.profiles,
                http,
                events,
                delivery,
                outbound,
                stats: stats::Stats::default(),
                metrics: metrics::Metrics::default(),
                tls,
                listener: listener::ListenerFigures::default(),
                streams: stop.child_token(),
                tasks,
                stop,
                data_dir: data_dir.to_path_buf(),
                started: Instant::now(),
                local_secret: runfile::new_secret(),
                verified: verify::Verified::default(),
                space,
                retention: retention::Retention::default(),
                local_origin: std::sync::OnceLock::new(),
            }
        });
        engine.resume_delivery()?;
        retention::spawn(&engine);
        Ok(engine)
    }

    /// Everything accepted before a stop or crash is delivered again, in order. On a
    /// shared store queues are taken through their leases: the cluster's scan finds
    /// them.
    fn resume_delivery(self: &Arc<Self>) -> Result<(), EngineError> {
        if let Some(shared) = &self.shared {
            cluster::spawn(self, shared);
            return Ok(());
        }
        let queues = self.store.nonempty_queues()?;
        tracing::info!(queues = queues.len(), "resuming delivery");
        let owed = queues.iter().map(|q| q.destination).collect();
        self.delivery.bounds.start_empty_except(&owed);
        for queue in queues {
            self.delivery.wake(queue);
        }
        Ok(())
    }

    pub fn stats(&self) -> &stats::Stats {
        &self.stats
    }

    pub fn listener(&self) -> &listener::ListenerFigures {
        &self.listener
    }

    /// The HTTPS certificate and key, when the engine serves TLS.
    pub fn tls(&self) -> Option<&Arc<tls::Certs>> {
        self.tls.as_ref()
    }

    pub fn delivery(&self) -> &delivery::Delivery {
        &self.delivery
    }

    /// The registry in force now: one consistent snapshot, kept for a whole request.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where access and refresh tokens are kept (the shared store's, on one).
    pub fn sessions(&self) -> &crate::store::sessions::Sessions {
        &self.sessions
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Tells commands on this machine where this engine listens (see [`runfile`]);
    /// call once the listener accepts. Failing to write it only costs them the
    /// online path, so it is logged, not fatal.
    pub fn announce(&self, url: &str) {
        if let Err(e) = runfile::write(&self.data_dir, url, &self.local_secret) {
            tracing::warn!(error = %e, "cannot write the run file; online backup and token listing from the command line will not find this engine");
        }
    }

    /// True when `token` is this process's own admin secret.
    pub fn is_local_secret(&self, token: &str) -> bool {
        runfile::secret_matches(&self.local_secret, token)
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LogEvent> {
        self.events.subscribe()
    }

    /// Ends live streams (server-sent events): call when a stop begins.
    pub fn close_streams(&self) {
        self.streams.cancel();
    }

    /// Resolves when [`Engine::close_streams`] (or [`Engine::shutdown`]) has been called.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.streams.clone().cancelled_owned()
    }

    /// The token every engine task stops on; cancelled by [`Engine::shutdown`].
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The tracker of the engine's tasks: a task spawned on it is waited for at
    /// shutdown, and should end when [`Engine::stopping`] is cancelled.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Resolves once the engine has stopped and every task it spawned has ended (and
    /// let go of the engine): after [`Engine::shutdown`], what a caller waits on before
    /// opening the same data directory again.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let tasks = self.tasks.clone();
        async move { tasks.wait().await }
    }

    /// Tells live views about a log's change. Called once history has it (accepted
    /// requests, deliveries, poll acks, operator actions) or, for a query's log, once it
    /// is queued (it is applied after the answer, see [`query`]): a read waits for what
    /// was queued before it, so a viewer that reads the log on its event finds it.
    pub(crate) fn publish(&self, log: &LogRecord) {
        // No subscriber is not an error.
        let _ = self.events.send(LogEvent { log: log.clone() });
    }

    /// Stops every engine task (attempts in flight get a bounded time to finish), then
    /// flushes everything to disk; call before exit.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(delivery::DRAIN_TIMEOUT, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.tasks.len(),
                "engine tasks did not end in time; unfinished attempts will be retried at start-up"
            );
        }
        // Everything queued is applied before the last flush.
        self.store.journal().applied().await;
        if let Err(e) = self.commit.durable().await {
            tracing::error!(error = %e, "final flush failed");
        }
        runfile::remove(&self.data_dir);
    }
}

/// The destinations paused when the engine stopped: they stay paused.
/// The destinations paused when the engine starts: on a shared store, paused through
/// any node (read before any dispatcher starts, so none delivers in the meantime).
fn paused_at_start(
    store: &Store,
    shared: Option<&crate::store::postgres::PgStore>,
    destinations: &[Destination],
) -> Result<std::collections::HashSet<uuid::Uuid>, EngineError> {
    if let Some(shared) = shared {
        let paused = crate::store::postgres::blocking::wait(shared.paused_destinations())
            .map_err(crate::store::StoreError::from)?;
        return Ok(paused);
    }
    let mut paused = std::collections::HashSet::new();
    for d in destinations {
        if store.destination_state(d.id)?.paused {
            paused.insert(d.id);
        }
    }
    Ok(paused)
}

/// Where keys, admin tokens, revocations and sessions are kept: beside the embedded
/// store, or in the store shared by several nodes (so each holds on every node).
fn trust_records(
    data_dir: &Path,
    store: &Store,
    shared: &Option<crate::store::postgres::PgStore>,
) -> Result<
    (
        Credentials,
        Arc<revocation::View>,
        crate::store::sessions::Sessions,
    ),
    EngineError,
> {
    use crate::store::sessions::Sessions;
    let (credentials, sessions) = match shared {
        Some(shared) => (
            Credentials::shared(
                data_dir,
                crate::store::postgres::records::Reach::Pool(shared.clone()),
            ),
            Sessions::Shared(shared.clone()),
        ),
        None => (
            Credentials::new(data_dir),
            Sessions::Embedded(store.clone()),
        ),
    };
    let log = crate::store::revocations::RevocationLog::of(data_dir, &credentials);
    let revocations = revocation::View::open_log(log).map_err(EngineError::Revocations)?;
    Ok((credentials, revocations, sessions))
}

/// Data at rest before the store opens: the data directory made private (see
/// `store::perms`) and the keys of `encryption_key_file` read ([`keys`]), for the
/// store to be opened with.
pub(crate) fn at_rest(data_dir: &Path, settings: &Settings) -> Result<Sealer, EngineError> {
    crate::store::perms::secure(data_dir).map_err(|source| EngineError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    Ok(keys(settings)?)
}

/// The keys of `encryption_key_file` and `encryption_old_key_files` (`store::seal`),
/// for every command that opens a store and reads its bodies; without that setting,
/// none, so a store with sealed records refuses to open.
pub fn keys(settings: &Settings) -> Result<Sealer, crate::store::seal::SealError> {
    let keyring = match &settings.encryption_key_file {
        Some(primary) => Some(crate::store::seal::Keyring::load(
            primary,
            &settings.encryption_old_key_files,
        )?),
        None => None,
    };
    Ok(Sealer::new(keyring))
}

/// A read of the store failed: nothing was changed by the request.
pub(crate) fn read_failure(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store read failure");
    ApiError::internal(format!(
        "The engine could not read its store ({e}); nothing was changed. Retry shortly; if \
         it persists, stop the engine and run `switchboard check` on its data directory."
    ))
}

/// A write other than accepting a request failed; `what` names what was not recorded.
pub(crate) fn write_failure<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ApiError {
    move |e| {
        tracing::error!(error = %e, what, "store write failure");
        ApiError::internal(format!(
            "The engine could not record {what} ({e}). Retry shortly; if it persists, check \
             the engine's disk and logs."
        ))
    }
}

/// The system's random source failed: no secret could be made.
pub(crate) fn random_failure(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "random source failure");
    ApiError::internal(format!(
        "The system's random source failed ({e}); no token was issued. Retry shortly."
    ))
}

/// Accepting a request failed: it was not acknowledged.
pub(crate) fn store_failure(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store failure");
    ApiError::internal(
        "The engine could not store the request; nothing was accepted. Retry shortly; \
         if it persists, check the engine's disk and logs.",
    )
}
