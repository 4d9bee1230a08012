//! The TOML configuration: sources, destinations, subscriptions and engine settings,
//! checked into a [`Registry`]. Every problem names the file, the line and what to fix.
//!
//! ```toml
//! [engine]
//! max_body_bytes = 10485760
//! query_timeout_seconds = 120
//! admin_token_days = 90          # lifetime of new admin tokens
//! min_free_disk_mb = 64          # below this much free disk, new work gets 507
//! header_timeout_seconds = 30   # see `connections`
//! body_timeout_seconds = 60
//! idle_timeout_seconds = 60
//! max_connections = 10000       # default: derived from the open-file limit
//! journal_backlog = 4096        # accepted requests not yet applied; past it, 503
//! public_url = "https://switchboard.example.org"   # as clients reach it; default http(s)://<listen>
//! max_upload_bytes = 41943040   # the largest file POST /upload takes (40 MiB)
//! tls_cert = "/etc/switchboard/cert.pem"   # serve HTTPS (both PEM; re-read on reload);
//! tls_key = "/etc/switchboard/key.pem"     # `serve --tls-cert/--tls-key` override them
//! auth_failures_per_key = 20     # failed logins per key in a window; then 429 (`throttle`)
//! auth_failures_per_address = 100  # the same per client address (IPv6: per /64)
//! auth_failure_window_seconds = 60
//! metrics_token_file = "metrics.token"   # GET /metrics then needs it as a bearer
//!                                        # (or metrics_token = "…", metrics_token_env)
//! encryption_key_file = "store.key"          # seal stored bodies (see `store::seal`, SECURITY.md)
//! encryption_old_key_files = ["old.key"]     # earlier keys, still readable after a rotation
//!
//! [store]
//! cache_mib = 64                 # sled's page cache; most of the engine's memory
//! url = "postgres://switchboard@db/switchboard"  # several nodes on one PostgreSQL
//!
//! [[sources]]
//! name = "Lab"
//! environment = "staging"
//! timezone = "America/Chicago"
//! requests_per_second = 50       # beyond it, 429; a burst of one second's worth
//!
//! [[destinations]]
//! name = "Acme EHR"
//! environment = "staging"
//! url = "https://ehr.example/redox"
//! verification_token = "…"
//! quarantine_after = 3              # permanent (4xx) failures set aside after 3 attempts; 0 = never
//! max_concurrent_deliveries = 8     # attempts in flight across its queues
//! max_queue_items = 1000000         # past it, new messages for it get 429
//!
//! [destinations.auth]               # optional: see `outbound`
//! bearer_file = "acme.token"
//!
//! [[subscriptions]]
//! source = "Lab"
//! destination = "Acme EHR"
//! data_models = ["Results", "PatientAdmin"]   # or ["*"]
//!
//! # Organizations (`organizations`): each record's `organization = "…"`, the time
//! # zone it inherits, and a destination's `render_time_zone`.
//! [[organizations]]
//! name = "Acme Health"
//! time_zone = "America/Chicago"
//! own = true
//!
//! # The composer's variables, per environment: `{{mrn}}` in a composed request.
//! # Development has built-in values (the sandbox panel's first patient); these
//! # override them. See `model::variables`.
//! [environments.staging.variables]
//! mrn = "E1234567"
//! facility = "STG"
//! ```

use crate::model::variables::{self, Variables};
use crate::model::{Environment, catalog};
use crate::sandbox;
use crate::store::identities;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

pub mod connections;
pub mod organizations;
pub mod outbound;
mod parse;
pub use parse::EMBEDDED;
pub mod reach;

pub use connections::ConnectionSettings;
pub use organizations::{
    OWN_ORGANIZATION_ID, Organization, SANDBOX_ORGANIZATION_ID, builtin_organizations,
};
pub use outbound::OutboundAuth;

pub use reach::{Blocked, Candidate, ComposeError, ResolveError, Resolved, SavedNames};

// The console's source and the composer's rule are pure model facts; the engine
// names them from here as it always did.
pub use crate::model::reach::{CONSOLE_SOURCE_ID, CONSOLE_SOURCE_NAME, DeliveryMode, Subscription};

/// The built-in Sandbox EHR's name under `/fhir/R4/`.
pub const SANDBOX_FHIR_SLUG: &str = "sandbox-ehr";

pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// The platform's bound on an uploaded file.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 40 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationMethod {
    Post,
    Get,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub timezone: Tz,
    /// The organization it belongs to (yours unless `organization = "…"`).
    #[serde(default)]
    pub organization: Uuid,
    /// Whether its requests get the platform's deprecated numeric `Meta.Message.ID`
    /// and `Meta.Transmission.ID` (`legacy_ids`, on unless set to false). Not part of
    /// the connections view (`SourceInfo`), which serializes as this record does.
    #[serde(skip_serializing, default = "legacy_ids_default")]
    pub legacy_ids: bool,
    /// `requests_per_second`: its requests beyond this rate get 429 (see
    /// `engine::throttle`); `None`: not limited. Not part of the connections view.
    #[serde(skip_serializing, default)]
    pub requests_per_second: Option<f64>,
}

fn legacy_ids_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub url: Option<String>,
    #[serde(skip)]
    pub verification_token: String,
    pub verification_method: VerificationMethod,
    pub mode: DeliveryMode,
    pub timezone: Tz,
    pub verified: bool,
    pub delivery: DeliveryPolicy,
    /// How the engine authenticates to it (`[destinations.auth]`); serialized as its
    /// kind only, never the secret.
    #[serde(
        serialize_with = "outbound::serialize_kind",
        skip_deserializing,
        default
    )]
    pub outbound_auth: Option<OutboundAuth>,
    /// Its name under `/fhir/R4/{slug}/…` (`fhir_slug`), when sources reach it by FHIR.
    #[serde(default)]
    pub fhir_slug: Option<String>,
    /// The base URL of its FHIR server (`fhir_url`): reads and searches are forwarded
    /// under it, FHIR messages delivered to `{fhir_url}/$process-message`.
    #[serde(default)]
    pub fhir_url: Option<String>,
    /// The organization it belongs to (yours unless `organization = "…"`).
    #[serde(default)]
    pub organization: Uuid,
    /// `render_time_zone`: timestamps in what is delivered to it are written with
    /// this zone's offset instead of UTC. Not part of the connections view.
    #[serde(skip)]
    pub render_time_zone: Option<Tz>,
}

/// How one destination is delivered to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPolicy {
    /// Wait before retry n (1-based) is `retry_schedule[n-1]`; the last repeats.
    #[serde(
        rename = "retryScheduleSeconds",
        with = "crate::model::wire::seconds_list"
    )]
    pub retry_schedule: Vec<Duration>,
    /// Quarantine the head item once it has failed this many attempts and its last
    /// answer was permanent (a 4xx other than 408, 425 and 429; see
    /// `engine::http::classify`); `None` = never (`quarantine_after = 0`: the
    /// platform's behaviour, the queue waits for an operator). Transient failures are
    /// retried on the schedule forever.
    pub quarantine_after: Option<u32>,
    pub queue_key: QueueKey,
    /// Bound on one delivery attempt, connect to last byte.
    #[serde(rename = "timeoutSeconds", with = "crate::model::wire::seconds")]
    pub timeout: Duration,
    /// Attempts in flight at once across all of the destination's queues (its
    /// per-patient lanes each have a dispatcher).
    #[serde(default = "default_max_concurrent_deliveries")]
    pub max_concurrent_deliveries: usize,
    /// Items the destination may have queued; a new message for it past this is
    /// refused with 429 (see `engine::delivery::bounds`).
    #[serde(default = "default_max_queue_items")]
    pub max_queue_items: usize,
}

pub const DEFAULT_QUARANTINE_AFTER: u32 = 3;
pub const DEFAULT_MAX_CONCURRENT_DELIVERIES: usize = 8;
pub const DEFAULT_MAX_QUEUE_ITEMS: usize = 1_000_000;

fn default_max_concurrent_deliveries() -> usize {
    DEFAULT_MAX_CONCURRENT_DELIVERIES
}

fn default_max_queue_items() -> usize {
    DEFAULT_MAX_QUEUE_ITEMS
}

/// The platform's schedule: immediately, +10 s, +10 s, 20, 30, 50, 80, 120 s, then every 120 s.
pub const DEFAULT_RETRY_SCHEDULE: [u64; 8] = [0, 10, 10, 20, 30, 50, 80, 120];
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            retry_schedule: DEFAULT_RETRY_SCHEDULE
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            quarantine_after: Some(DEFAULT_QUARANTINE_AFTER),
            queue_key: QueueKey::Pair,
            timeout: DEFAULT_DELIVERY_TIMEOUT,
            max_concurrent_deliveries: DEFAULT_MAX_CONCURRENT_DELIVERIES,
            max_queue_items: DEFAULT_MAX_QUEUE_ITEMS,
        }
    }
}

/// What a destination's queues are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKey {
    /// One queue per (source, destination): the platform's behaviour.
    Pair,
    /// A child queue per patient (first patient identifier) within each pair.
    Patient,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_body_bytes: usize,
    pub query_timeout: Duration,
    pub connect_timeout: Duration,
    /// `admin_token_days`: the lifetime `tokens create` gives without `--expires-in`.
    pub admin_token_lifetime: chrono::Duration,
    /// `min_free_disk_mb`: the free space kept below new work (see `store::space`).
    pub min_free_disk_bytes: u64,
    /// Timeouts and the cap of the engine's own HTTP connections.
    pub connections: ConnectionSettings,
    /// `journal_backlog`: acknowledged requests that may wait to be written to history
    /// and the queues; past it new requests get 503 (see `store::journal`).
    pub journal_backlog: usize,
    /// `public_url`: the base URL clients reach the engine at, without a trailing
    /// slash; the JWT flow's `aud` is the token URL under it. Default (set when the
    /// engine listens, see [`Config::attach_sandbox`]): `http://<listen address>`.
    pub public_url: Option<String>,
    /// `max_upload_bytes`: the largest file `POST /upload` takes.
    pub max_upload_bytes: usize,
    /// `tls_cert` and `tls_key` (or `serve --tls-cert/--tls-key`): serve HTTPS.
    pub tls: Option<crate::engine::tls::TlsFiles>,
    /// `[environments.<env>] retention_days`: history kept per environment (see
    /// `engine::retention`); empty keeps everything.
    pub retention: crate::engine::retention::Policy,
    /// `auth_failures_per_key`, `auth_failures_per_address`,
    /// `auth_failure_window_seconds` (see `engine::throttle`).
    pub auth_limits: crate::engine::throttle::AuthLimits,
    /// `metrics_token` (or `_file`, `_env`): the bearer `GET /metrics` asks for; none:
    /// it answers anyone (it carries no PHI).
    pub metrics_token: Option<outbound::Secret>,
    /// `encryption_key_file`: stored bodies are sealed with this key (`store::seal`);
    /// relative to the configuration file's directory.
    pub encryption_key_file: Option<std::path::PathBuf>,
    /// `encryption_old_key_files`: earlier keys, for reading records sealed with them.
    pub encryption_old_key_files: Vec<std::path::PathBuf>,
    /// `[store]`: how the database is tuned (`cache_mib`).
    pub store: crate::store::Tuning,
    /// `[store] url` (or `--store`, `SWITCHBOARD_STORE`): the PostgreSQL store this node
    /// shares with others; `None`: the embedded store under the data directory.
    pub shared_store: Option<crate::store::postgres::PgLocation>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            admin_token_lifetime: crate::store::credentials::DEFAULT_ADMIN_TOKEN_LIFETIME,
            min_free_disk_bytes: crate::store::space::DEFAULT_RESERVE_BYTES,
            connections: ConnectionSettings::default(),
            journal_backlog: crate::store::journal::MAX_BACKLOG,
            public_url: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            tls: None,
            retention: Default::default(),
            auth_limits: crate::engine::throttle::AuthLimits::default(),
            metrics_token: None,
            encryption_key_file: None,
            encryption_old_key_files: Vec::new(),
            store: crate::store::Tuning::default(),
            shared_store: None,
        }
    }
}

/// Everything the engine routes by, checked and with IDs resolved.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub sources: Vec<Source>,
    pub destinations: Vec<Destination>,
    pub subscriptions: Vec<Subscription>,
    /// Yours (exactly one has `own`), the sandbox's, and the configured ones.
    pub organizations: Vec<Organization>,
    source_index: HashMap<Uuid, usize>,
    destination_index: HashMap<Uuid, usize>,
}

impl Registry {
    pub fn new(
        sources: Vec<Source>,
        destinations: Vec<Destination>,
        subscriptions: Vec<Subscription>,
    ) -> Self {
        let source_index = sources.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let destination_index = destinations
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id, i))
            .collect();
        Registry {
            sources,
            destinations,
            subscriptions,
            organizations: builtin_organizations(),
            source_index,
            destination_index,
        }
    }

    /// The same records with these organizations.
    pub fn with_organizations(mut self, organizations: Vec<Organization>) -> Self {
        self.organizations = organizations;
        self
    }

    /// Your organization: the one declared with `own = true`, else the built-in
    /// "Switchboard".
    pub fn own_organization(&self) -> &Organization {
        self.organizations
            .iter()
            .find(|o| o.own)
            .unwrap_or(&organizations::BUILTIN_OWN)
    }

    pub fn organization(&self, id: Uuid) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.id == id)
    }

    pub fn source(&self, id: Uuid) -> Option<&Source> {
        self.source_index.get(&id).map(|&i| &self.sources[i])
    }

    pub fn source_named(&self, name: &str) -> Option<&Source> {
        self.sources
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name) || s.id.to_string() == name)
    }

    pub fn destination(&self, id: Uuid) -> Option<&Destination> {
        self.destination_index
            .get(&id)
            .map(|&i| &self.destinations[i])
    }

    pub fn destination_named(&self, name: &str) -> Option<&Destination> {
        self.destinations
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name) || d.id.to_string() == name)
    }

    /// For every data model, the destinations `source` may send it to.
    pub fn routes_from(&self, source: Uuid) -> Vec<(String, Vec<String>)> {
        catalog::data_models()
            .map(|model| {
                let destinations = self
                    .destinations
                    .iter()
                    .filter(|d| self.subscribed(source, d.id, model))
                    .map(|d| d.id.to_string())
                    .collect();
                (model.to_string(), destinations)
            })
            .collect()
    }

    pub fn subscribed(&self, source: Uuid, destination: Uuid, data_model: &str) -> bool {
        self.subscriptions.iter().any(|s| {
            s.source_id == source && s.destination_id == destination && s.covers(data_model)
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot read config {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(transparent)]
    Identity(#[from] identities::IdentityError),
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub registry: Registry,
    pub settings: Settings,
    /// The file it came from; `None` when running with no configuration.
    pub path: Option<PathBuf>,
    /// The composer's `{{variable}}` values per environment (`[environments.<env>.variables]`).
    pub profiles: BTreeMap<Environment, Variables>,
    /// The rate limits' time (see `engine::throttle`): the system clock, unless a test
    /// injects a movable one. Never read from the file.
    pub throttle_clock: crate::engine::throttle::Clock,
}

impl Config {
    /// Points the sandbox EHR at the engine's own listener, and makes that listener the
    /// public URL unless `public_url` is configured. An unspecified listen address
    /// (0.0.0.0) is reached through loopback.
    pub fn attach_sandbox(&mut self, listen: std::net::SocketAddr) {
        let addr = reachable(listen);
        self.settings
            .public_url
            .get_or_insert_with(|| format!("http://{addr}"));
        let url = format!("http://{addr}{}", sandbox::PATH);
        if let Some(d) = self
            .registry
            .destinations
            .iter_mut()
            .find(|d| d.id == sandbox::DESTINATION_ID)
        {
            d.fhir_url = Some(format!("{url}/fhir"));
            d.url = Some(url);
        }
    }

    /// [`Config::attach_sandbox`] for an engine serving HTTPS on `public`: the public
    /// URL defaults to `https://<public>`, and the sandbox (and the command line on this
    /// machine) reach the engine over the plain loopback listener `local` (see
    /// `api::server::serve_on`), as its certificate need not name an address.
    pub fn attach_tls_listener(
        &mut self,
        public: std::net::SocketAddr,
        local: std::net::SocketAddr,
    ) {
        self.settings
            .public_url
            .get_or_insert_with(|| format!("https://{}", reachable(public)));
        self.attach_sandbox(local);
    }

    /// No configuration: the built-in Development setup.
    pub fn builtin() -> Config {
        let (sources, destinations, subscriptions) = builtins();
        Config {
            registry: Registry::new(sources, destinations, subscriptions),
            settings: Settings::default(),
            path: None,
            profiles: builtin_profiles(),
            throttle_clock: Default::default(),
        }
    }

    /// The variables of `environment` (empty when it has no profile).
    pub fn variables(&self, environment: Environment) -> Variables {
        self.profiles.get(&environment).cloned().unwrap_or_default()
    }

    /// Reads `path` (if it exists, or if `required`), or falls back to [`Config::builtin`].
    pub fn load(path: &Path, required: bool, data_dir: &Path) -> Result<Config, ConfigError> {
        Config::load_on(path, required, data_dir, None)
    }

    /// [`Config::load`] with `store` (`--store`, `SWITCHBOARD_STORE`) in place of the
    /// file's `[store] url`.
    pub fn load_on(
        path: &Path,
        required: bool,
        data_dir: &Path,
        store: Option<&str>,
    ) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse_on(&text, path, data_dir, store),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                let mut config = Config::builtin();
                if let Some(given) = store.filter(|g| !g.is_empty() && *g != parse::EMBEDDED) {
                    let at = given.parse().map_err(|e| ConfigError::Invalid {
                        path: "--store".into(),
                        message: format!("{e}"),
                    })?;
                    config.settings.shared_store = Some(at);
                }
                Ok(config)
            }
            Err(e) => Err(ConfigError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }
}

/// `listen` as a client reaches it: an unspecified address (0.0.0.0) through loopback.
fn reachable(listen: std::net::SocketAddr) -> std::net::SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// The built-in Development organization, present with or without a config file: the
/// console's own source, and the sandbox connection (a mock EHR and a mock sender),
/// subscribed for every data model.
fn builtins() -> (Vec<Source>, Vec<Destination>, Vec<Subscription>) {
    let source = |id, name: &str, organization| Source {
        id,
        name: name.to_string(),
        environment: Environment::Development,
        timezone: Tz::UTC,
        organization,
        legacy_ids: true,
        requests_per_second: None,
    };
    // The console speaks for you; the sandbox is another organization's system.
    let sources = vec![
        source(CONSOLE_SOURCE_ID, CONSOLE_SOURCE_NAME, OWN_ORGANIZATION_ID),
        source(
            sandbox::SOURCE_ID,
            sandbox::SOURCE_NAME,
            SANDBOX_ORGANIZATION_ID,
        ),
    ];
    let ehr = Destination {
        id: sandbox::DESTINATION_ID,
        name: sandbox::DESTINATION_NAME.to_string(),
        environment: Environment::Development,
        // Known once the engine listens: see `Config::attach_sandbox`.
        url: None,
        verification_token: sandbox::VERIFICATION_TOKEN.to_string(),
        verification_method: VerificationMethod::Post,
        mode: DeliveryMode::Push,
        timezone: Tz::UTC,
        verified: true,
        delivery: DeliveryPolicy::default(),
        outbound_auth: None,
        fhir_slug: Some(SANDBOX_FHIR_SLUG.to_string()),
        // Known once the engine listens, like `url`.
        fhir_url: None,
        organization: SANDBOX_ORGANIZATION_ID,
        render_time_zone: None,
    };
    let subscriptions = sources
        .iter()
        .map(|s| Subscription {
            source_id: s.id,
            destination_id: ehr.id,
            data_models: Vec::new(),
        })
        .collect();
    (sources, vec![ehr], subscriptions)
}

/// The built-in profiles: Development names the sandbox panel's first patient, so a
/// template's `{{mrn}}` works with no configuration.
fn builtin_profiles() -> BTreeMap<Environment, Variables> {
    BTreeMap::from([(
        Environment::Development,
        sandbox::panel::samples::default_profile(),
    )])
}

/// Names the built-in records use; configured ones must differ.
const BUILTIN_NAMES: [&str; 3] = [
    CONSOLE_SOURCE_NAME,
    sandbox::SOURCE_NAME,
    sandbox::DESTINATION_NAME,
];

/// Configurations that unit tests across the engine share.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::Config;

    /// Staging: `source` subscribed to "Acme EHR" (push, PatientAdmin and PatientSearch)
    /// and "Billing" (poll, every data model); "Prod EHR" in Production, unsubscribed.
    pub fn staging(source: &str) -> Config {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!(
            r#"
[[sources]]
name = "{source}"
environment = "staging"

[[destinations]]
name = "Acme EHR"
environment = "staging"
url = "http://127.0.0.1:9/"
verification_token = "t"

[[destinations]]
name = "Billing"
environment = "staging"
mode = "poll"
verification_token = "t"

[[destinations]]
name = "Prod EHR"
environment = "production"
url = "http://127.0.0.1:9/"
verification_token = "t"

[[subscriptions]]
source = "{source}"
destination = "Acme EHR"
data_models = ["PatientAdmin", "PatientSearch"]

[[subscriptions]]
source = "{source}"
destination = "Billing"
data_models = ["*"]
"#
        );
        Config::parse(&text, std::path::Path::new("config.toml"), dir.path()).expect("valid config")
    }
}
