//! The PostgreSQL store: several engine nodes on one database, for installations
//! where one machine is not enough or must not be the only one (README "Several
//! nodes"). sled stays the embedded default.
//!
//! What is here so far: where the database is ([`PgLocation`], parsed from a
//! `postgres://` URL and shown without its password), connecting, the versioned
//! schema ([`migrate`]) that every node applies at start under an advisory lock, the
//! history's day partitions ([`partitions`]), and [`PgStore`]: accepted requests
//! committed in groups ([`accept`]) and history read and searched ([`history`]).

mod accept;
mod audit;
pub mod blocking;
pub mod carry;
mod composer;
pub mod dump;
mod history;
pub mod import;
pub mod migrate;
pub mod nodes;
pub mod operator;
pub mod partitions;
pub mod queues;
pub mod records;
pub mod search;
mod sessions;
pub mod shared;
mod store;
mod tls;
mod uploads;

pub use store::PgStore;

use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PgError {
    #[error(
        "{given:?} is not a PostgreSQL URL: {reason}. Write it as \
         postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
    )]
    BadUrl { given: String, reason: String },
    #[error(
        "cannot connect to PostgreSQL at {at}: {detail}. Check that the server runs and \
         listens there and that this user may connect to this database (`psql` with the \
         same URL says the same)"
    )]
    Connect { at: String, detail: String },
    #[error(
        "TLS to PostgreSQL at {at} failed: {detail}. With sslmode=require the server's \
         certificate must verify against sslrootcert=FILE in the URL (or the system's CA \
         bundle); without sslmode the connection is plain"
    )]
    TlsRequired { at: String, detail: String },
    #[error("PostgreSQL at {at}: {detail}")]
    Query { at: String, detail: String },
    /// The database refused what was written (a constraint, a value out of range):
    /// the data's fault, not the connection's.
    #[error("PostgreSQL at {at} refused the write: {detail}")]
    Rejected { at: String, detail: String },
    #[error(
        "the database at {at} has Switchboard schema version {found}, and this switchboard \
         ({}) knows versions up to {known}: a newer switchboard migrated it. Nothing was \
         changed. Run the newer switchboard on this node too",
        env!("CARGO_PKG_VERSION")
    )]
    NewerSchema { at: String, found: i32, known: i32 },
}

pub type Result<T> = std::result::Result<T, PgError>;

/// Where a PostgreSQL store is: the connection settings, and how to name them in
/// messages and logs (never with the password).
#[derive(Clone)]
pub struct PgLocation {
    config: tokio_postgres::Config,
    shown: String,
    /// TLS, used when the URL asks for it (see [`tls`]).
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

/// How long a connection attempt may take before it is an error that says so.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PgLocation {
    /// The location as `postgres://USER@HOST:PORT/DATABASE`, without the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    pub(crate) fn tls(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        self.tls.clone()
    }

    /// Whether `text` names a PostgreSQL store rather than a directory.
    pub fn is_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// One connection of its own (not from a pool): what `migrate` holds its advisory
    /// lock on, so that the lock ends with the connection whatever happens.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.connect_error(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> PgError {
        let detail = describe(e);
        if detail.contains("TLS") || detail.contains("SSL") || detail.contains("ssl") {
            return PgError::TlsRequired {
                at: self.shown.clone(),
                detail,
            };
        }
        PgError::Connect {
            at: self.shown.clone(),
            detail,
        }
    }

    /// An error of a statement, naming this store.
    pub(crate) fn query_error(&self, e: &tokio_postgres::Error) -> PgError {
        let (at, detail) = (self.shown.clone(), describe(e));
        // SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
        match e.code().map(|c| c.code()) {
            Some(code) if code.starts_with("22") || code.starts_with("23") => {
                PgError::Rejected { at, detail }
            }
            _ => PgError::Query { at, detail },
        }
    }
}

impl std::fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Two locations are the same store when they name the same user, hosts and database.
impl PartialEq for PgLocation {
    fn eq(&self, other: &Self) -> bool {
        self.shown == other.shown
    }
}

impl std::fmt::Display for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl FromStr for PgLocation {
    type Err = PgError;

    fn from_str(given: &str) -> Result<Self> {
        let bad = |reason: &str| PgError::BadUrl {
            given: redact(given),
            reason: reason.to_string(),
        };
        if !Self::is_url(given) {
            return Err(bad("it does not start with postgres:// or postgresql://"));
        }
        let (url, root_file) = tls::split_root_cert(given);
        let asks_tls = url.contains("sslmode=");
        let mut config = tokio_postgres::Config::from_str(&url)
            .map_err(|e| bad(&describe(&e).replace(given, "the URL")))?;
        if !asks_tls {
            // Plain unless asked: libpq would try TLS without verifying it.
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        let tls = tls::connector(root_file.as_deref()).map_err(|reason| bad(&reason))?;
        if config.get_hosts().is_empty() {
            return Err(bad(
                "it names no host (a host name, an address or a socket directory)",
            ));
        }
        if config.get_user().is_none() {
            return Err(bad("it names no user"));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name(concat!("switchboard ", env!("CARGO_PKG_VERSION")));
        let shown = show(&config);
        Ok(PgLocation { config, shown, tls })
    }
}

/// `postgres://USER@HOST:PORT/DATABASE`, the password left out.
fn show(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string().replace('/', "%2F"),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let database = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{database}", hosts.join(","))
}

/// `given` with whatever stands between `://user:` and `@` replaced: for the message
/// about a URL that did not parse (it may still hold a password).
fn redact(given: &str) -> String {
    let Some((scheme, rest)) = given.split_once("://") else {
        return given.to_string();
    };
    let Some((userinfo, after)) = rest.split_once('@') else {
        return given.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{after}"),
        None => given.to_string(),
    }
}

/// A client error as one line: the server's message and detail when it sent one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        };
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_shown_without_its_password() {
        let at: PgLocation = "postgres://app:s3cret@db.example:5433/switchboard"
            .parse()
            .expect("parses");
        assert_eq!(at.shown(), "postgres://app@db.example:5433/switchboard");
        assert!(!format!("{at:?} {at}").contains("s3cret"));
        let at: PgLocation = "postgresql://app@127.0.0.1/sb".parse().expect("parses");
        assert_eq!(at.shown(), "postgres://app@127.0.0.1:5432/sb");
    }

    #[test]
    fn a_bad_url_says_what_is_wrong_without_the_password() {
        for (given, says) in [
            ("/var/lib/switchboard", "does not start with postgres://"),
            ("postgres://app:s3cret@/sb", "names no host"),
            ("postgres://app:s3cret@db:notaport/sb", "option `port`"),
            ("postgres://db.example/sb", "names no user"),
        ] {
            let e = given.parse::<PgLocation>().expect_err(given).to_string();
            assert!(e.contains(says), "{given}: {e}");
            assert!(!e.contains("s3cret"), "{given}: {e}");
            assert!(e.contains("postgres://USER"), "{given}: {e}");
        }
    }
}
