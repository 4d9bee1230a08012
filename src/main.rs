//! The `switchboard` command line: the subcommands and where each goes; the work is in
//! the library, and the wiring of the runtime, engine and terminal is in [`cli`].

mod cli;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use cli::{maintenance, records, revoke, running};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::engine::{Config, paths, revocation};
use switchboard::model::{Environment, Role};
use switchboard::sandbox;

/// sled and serde allocate small buffers per request; mimalloc measured +50% ingest
/// throughput on this machine kind (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Healthcare data-exchange engine and console",
    after_help = "With no command, the console opens on an embedded engine (Development sandbox included)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    console: ConsoleArgs,
}

#[derive(Args, Clone)]
struct ConsoleArgs {
    /// Attach to a running `switchboard serve` at this URL instead of embedding an engine.
    #[arg(long, env = "SWITCHBOARD_ENGINE")]
    engine: Option<String>,
    /// Admin token for --engine.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the admin token for --engine.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// PEM file of a CA to trust for an https:// --engine (a private CA's).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Role of a console on an embedded engine.
    #[arg(long, default_value = "admin")]
    role: Role,
    /// Where the embedded engine listens (an ephemeral port if this one is taken).
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Rows the live feed keeps in memory.
    #[arg(long, default_value_t = switchboard::console::DEFAULT_FEED_CAPACITY)]
    feed_capacity: usize,
    /// Colour theme: dark, light, high-contrast, mono, a name from the config directory's
    /// themes/ or a path to a .toml file. Without it, NO_COLOR chooses mono.
    #[arg(long, env = "SWITCHBOARD_THEME")]
    theme: Option<String>,
    /// Never send from the composer (it still composes, validates and copies).
    #[arg(long)]
    read_only: bool,
    /// Leave the mouse to the terminal (its own text selection) instead of clicks and
    /// the wheel in the console; `:mouse on|off` switches at run time.
    #[arg(long)]
    no_mouse: bool,
    /// Where the composer saves requests (one JSON file each, for git); default
    /// <data dir>/requests.
    #[arg(long, env = "SWITCHBOARD_COLLECTION")]
    collection: Option<PathBuf>,
    /// Start the embedded engine even if its store lost acknowledged messages (see
    /// `serve --accept-loss`).
    #[arg(long)]
    accept_loss: bool,
    #[command(flatten)]
    at: Locations,
}

#[derive(Args, Clone)]
struct Locations {
    /// Data directory (database, credentials, generated IDs).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Configuration file (TOML). Without it, the XDG path is read if it exists,
    /// else the built-in Development setup is used.
    #[arg(long, env = "SWITCHBOARD_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// A PostgreSQL store shared by several nodes (postgres://USER@HOST/DATABASE), in
    /// place of the configuration's `[store] url`; without either, the embedded store
    /// under the data directory (`--store sled` chooses it whatever the file says).
    #[arg(
        long,
        value_name = "URL",
        env = "SWITCHBOARD_STORE",
        hide_env_values = true
    )]
    store: Option<String>,
}

impl Locations {
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(paths::default_data_dir)
    }

    /// Users' own console themes: `themes/` beside the configuration file.
    fn themes_dir(&self) -> PathBuf {
        let config = self
            .config
            .clone()
            .unwrap_or_else(paths::default_config_file);
        config
            .parent()
            .map_or_else(|| PathBuf::from("themes"), |dir| dir.join("themes"))
    }

    /// Where keys and admin tokens are: beside the data directory, or in the shared
    /// store the configuration (or --store) names.
    fn credentials(&self) -> Result<switchboard::store::credentials::Credentials> {
        use switchboard::store::credentials::Credentials;
        Ok(match self.load()?.settings.shared_store {
            Some(at) => Credentials::shared(
                &self.data_dir(),
                switchboard::store::postgres::records::Reach::At(at),
            ),
            None => Credentials::new(&self.data_dir()),
        })
    }

    /// The PostgreSQL store the configuration (or --store) names, if any.
    fn shared_store(&self) -> Result<Option<switchboard::store::postgres::PgLocation>> {
        Ok(self.load()?.settings.shared_store)
    }

    fn load(&self) -> Result<Config> {
        let (path, required) = match &self.config {
            Some(p) => (p.clone(), true),
            None => (paths::default_config_file(), false),
        };
        Ok(Config::load_on(
            &path,
            required,
            &self.data_dir(),
            self.store.as_deref(),
        )?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Open the console (the same as no command), on an embedded engine or attached to
    /// a running one with --engine.
    Console {
        #[command(flatten)]
        args: ConsoleArgs,
    },
    /// Run the engine: platform API and admin API over HTTP.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Start even if the store holds fewer acknowledged messages than were
        /// acknowledged (a damaged store); logged, audited, and the count is reset.
        #[arg(long)]
        accept_loss: bool,
        #[command(flatten)]
        tls: cli::tls::TlsArgs,
        #[command(flatten)]
        at: Locations,
    },
    /// Make the engine running on this data directory re-read its configuration file
    /// (as SIGHUP does): what changed, or why nothing did.
    Reload {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Verify a data directory (or a backup) offline: every record readable, nothing
    /// acknowledged missing. Exits non-zero on any problem.
    Check {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// After a key rotation: seal every stored body with encryption_key_file, so the
    /// old keys can leave encryption_old_key_files (offline; see SECURITY.md).
    Reencrypt {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Copy the store and the files beside it into DIR (new or empty), consistently;
    /// through the running engine when one holds the store.
    Backup {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Delete history past each environment's retention_days now (through the
    /// running engine when one holds the store).
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// Put a backup in place (the engine must be stopped); what was there is moved
    /// aside, never deleted.
    Restore {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Apply the PostgreSQL store's schema versions (each node also applies them at
    /// start); refuses a schema newer than this switchboard knows.
    Migrate {
        /// The PostgreSQL store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
        #[arg(
            long,
            value_name = "URL",
            env = "SWITCHBOARD_STORE",
            hide_env_values = true
        )]
        store: String,
        #[arg(long)]
        json: bool,
    },
    /// Move an installation's history, queues and generated IDs from a sled data
    /// directory into a PostgreSQL store (the engine stopped); run again, it adds only
    /// what is missing.
    Export {
        /// The sled data directory (sled:DIR or DIR); default: --data-dir.
        #[arg(long, value_name = "sled:DIR")]
        from: Option<String>,
        /// The PostgreSQL store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
        #[arg(
            long,
            value_name = "URL",
            env = "SWITCHBOARD_STORE",
            hide_env_values = true
        )]
        to: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Print where configuration, data and logs live.
    Paths {
        #[command(flatten)]
        at: Locations,
    },
    /// Manage source API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Read the audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Manage admin API tokens.
    Tokens {
        #[command(subcommand)]
        action: TokensAction,
    },
    /// Destination endpoints.
    Destinations {
        #[command(subcommand)]
        action: DestinationsAction,
    },
    /// Send a steady stream of realistic notifications from "Sandbox Dev Tools" through a
    /// running engine's platform API.
    Simulate {
        /// Messages per second: 10, 10/s, 600/m.
        #[arg(long, default_value = "5/s", value_parser = sandbox::simulate::parse_rate)]
        rate: f64,
        /// Environment to simulate in (the sandbox lives in Development).
        #[arg(long, default_value = "development")]
        env: Environment,
        /// How long: 30s, 5m, 1h. Without it, until Ctrl-C.
        #[arg(long, value_parser = sandbox::simulate::parse_duration)]
        duration: Option<std::time::Duration>,
        /// The running engine's base URL. Default: the engine running on the data
        /// directory (the key is made there), else http://127.0.0.1:8443.
        #[arg(long, env = "SWITCHBOARD_ENGINE")]
        engine: Option<String>,
        /// PEM file of a CA to trust for an https:// --engine (a private CA's).
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        /// Print the final figures as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Measure the engine and the console against baselines run alongside (see
    /// BENCHMARKS.md): `bench all --quick --json` is the CI smoke run.
    Bench(switchboard::bench::BenchArgs),
    /// A bench baseline as its own process, measured like the engine (used by `bench`).
    #[command(hide = true)]
    BenchBaseline(switchboard::bench::BaselineArgs),
    /// List sources, destinations and subscriptions.
    Connections {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create an API key and secret for a source; the secret is shown once. With
    /// --jwks, --jwks-url or --hs384, register an OAuth client (the JWT flow) instead.
    Create {
        /// Source name or ID.
        #[arg(long)]
        source: String,
        #[command(flatten)]
        client: cli::clients::ClientArgs,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Revoke an API key or OAuth client (or with --source, every key of a source): no
    /// new logins, and every access and refresh token made from it ends at once.
    Revoke {
        /// The API key or client ID (UUID).
        #[arg(required_unless_present = "source", conflicts_with = "source")]
        api_key: Option<String>,
        /// Revoke every key of this source (name or ID).
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// List API keys and OAuth clients: kind, source, environment, created, revoked or
    /// live.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
}

#[derive(Subcommand)]
enum RetentionAction {
    /// Sweep now: what was deleted, per environment.
    Run {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
}

#[derive(Subcommand)]
enum DestinationsAction {
    /// Send the verification challenge; on a correct echo, record the destination as
    /// verified (works while an engine runs; it picks the result up).
    Verify {
        /// Destination name or ID.
        name: String,
        #[command(flatten)]
        at: Locations,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Write the audit trail as JSON lines to stdout, oldest first; through the running
    /// engine when one holds the store.
    Export {
        /// Only entries at or after this instant (ISO 8601 with offset).
        #[arg(long, value_parser = cli::audit::instant)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only entries before this instant.
        #[arg(long, value_parser = cli::audit::instant)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        at: Locations,
    },
}

#[derive(Subcommand)]
enum TokensAction {
    /// Create an admin API token; it is shown once. With --jwks, --jwks-url or --hs384,
    /// register a user key (the JWT flow) for the Platform and admin APIs instead.
    Create {
        /// What the token may see and do.
        #[arg(long, value_parser = cli::records::role_parser(), ignore_case = true)]
        role: Role,
        /// The token's name: `tokens list` shows it, `tokens revoke NAME` ends it.
        #[arg(long)]
        name: String,
        /// Write the token alone (one line) to this new file, readable by you only
        /// (mode 0600), for --token-file; it is not printed.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["jwks", "jwks_url", "hs384"])]
        out: Option<PathBuf>,
        #[command(flatten)]
        client: cli::clients::ClientArgs,
        /// Lifetime: days (90, 90d), or 12h, 30m, 45s. Default: [engine] admin_token_days
        /// of the configuration, else 90 days.
        #[arg(long, value_parser = revocation::command::parse_lifetime)]
        expires_in: Option<chrono::Duration>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Revoke every admin token with this name, and the composer tokens minted with them.
    Revoke {
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// List live admin tokens and live sessions (never their secrets).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
}
fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    // Whatever this run writes under the data directory is private (SECURITY.md).
    switchboard::store::perms::private_umask();
    let Some(command) = cli.command else {
        return running::console(cli.console);
    };
    match command {
        Command::Serve {
            listen,
            accept_loss,
            tls,
            at,
        } => running::serve(listen, accept_loss, tls, at),
        Command::Reload { json, at } => running::reload(json, &at),
        Command::Check { json, at } => maintenance::check(json, &at),
        Command::Backup { dir, json, at } => maintenance::backup(&dir, json, &at),
        Command::Reencrypt { json, at } => maintenance::reencrypt(json, &at),
        Command::Restore { dir, json, at } => maintenance::restore(&dir, json, &at),
        Command::Retention {
            action: RetentionAction::Run { json, at },
        } => maintenance::retention(json, &at),
        Command::Bench(args) => Ok(switchboard::bench::run(args)?),
        Command::BenchBaseline(args) => Ok(switchboard::bench::serve_baseline(args)?),
        Command::Console { args } => running::console(args),
        Command::Migrate { store, json } => maintenance::migrate(&store, json),
        Command::Export { from, to, json, at } => maintenance::export(from, &to, json, at),
        Command::Paths { at } => records::paths(&at),
        Command::Keys { action } => keys(action),
        Command::Tokens { action } => tokens(action),
        Command::Audit {
            action: AuditAction::Export { since, until, at },
        } => cli::audit::export(since, until, &at),
        Command::Destinations {
            action: DestinationsAction::Verify { name, at },
        } => records::destinations_verify(&name, &at),
        Command::Simulate {
            rate,
            env,
            duration,
            engine,
            ca,
            json,
            at,
        } => {
            let target = cli::simulate::Target { engine, ca };
            cli::simulate::run(rate, env, duration, target, json, at)
        }
        Command::Connections { json, at } => records::connections(json, &at),
    }
}

fn keys(action: KeysAction) -> Result<()> {
    match action {
        KeysAction::Create {
            source,
            client,
            json,
            at,
        } => match client.keys() {
            Some(keys) => cli::clients::create(&source, keys, json, &at),
            None => records::keys_create(&source, json, &at),
        },
        KeysAction::Revoke {
            api_key,
            source,
            json,
            at,
        } => revoke::keys_revoke(api_key.as_deref(), source.as_deref(), json, &at),
        KeysAction::List { json, at } => revoke::keys_list(json, &at),
    }
}

fn tokens(action: TokensAction) -> Result<()> {
    match action {
        TokensAction::Create {
            role,
            name,
            out,
            client,
            expires_in,
            json,
            at,
        } => match client.keys() {
            Some(keys) => cli::clients::create_user(role, &name, expires_in, keys, json, &at),
            None => records::tokens_create(role, &name, expires_in, out.as_deref(), json, &at),
        },
        TokensAction::Revoke { name, json, at } => revoke::tokens_revoke(&name, json, &at),
        TokensAction::List { json, at } => revoke::tokens_list(json, &at),
    }
}
