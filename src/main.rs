//! The `switchboard` command line: subcommands only; the work is in the library.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use switchboard::client::{Engine as _, Local, Remote};
use switchboard::console::{self, run::ConsoleOptions, theme::Theme};
use switchboard::engine::{Config, Engine, maintenance, paths, revocation, verify};
use switchboard::model::{Environment, Role};
use switchboard::sandbox;
use switchboard::store::OpenMode;
use switchboard::store::credentials::Credentials;

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

    fn load(&self) -> Result<Config> {
        let (path, required) = match &self.config {
            Some(p) => (p.clone(), true),
            None => (paths::default_config_file(), false),
        };
        Ok(Config::load(&path, required, &self.data_dir())?)
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
    /// Copy the store and the files beside it into DIR (new or empty), consistently;
    /// through the running engine when one holds the store.
    Backup {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
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
        /// The running engine's base URL.
        #[arg(
            long,
            env = "SWITCHBOARD_ENGINE",
            default_value = "http://127.0.0.1:8443"
        )]
        engine: String,
        /// Print the final figures as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Measure the engine and the console against baselines run alongside (see
    /// BENCHMARKS.md): `bench all --quick --json` is the CI smoke run.
    Bench(switchboard::bench::BenchArgs),
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
    /// Create an API key and secret for a source; the secret is shown once.
    Create {
        /// Source name or ID.
        #[arg(long)]
        source: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Locations,
    },
    /// Revoke an API key (or with --source, every key of a source): no new logins, and
    /// every access and refresh token made from it ends at once.
    Revoke {
        /// The API key (UUID).
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
    /// List API keys: source, environment, created, revoked or live.
    List {
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
enum TokensAction {
    /// Create an admin API token; it is shown once.
    Create {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
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

/// Prints `value` as JSON, or `text` for people.
fn print_either<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl Fn(&T) -> String,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", text(value));
    }
    Ok(())
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
    let Some(command) = cli.command else {
        return console(cli.console);
    };
    match command {
        Command::Serve {
            listen,
            accept_loss,
            at,
        } => serve(listen, accept_loss, at),
        Command::Check { json, at } => {
            let report = maintenance::check(&at.data_dir())?;
            print_report(json, &report, report.text())?;
            if !report.healthy {
                bail!("the data directory has problems (listed above)");
            }
            Ok(())
        }
        Command::Backup { dir, json, at } => {
            let report = maintenance::backup(&at.data_dir(), &dir)?;
            print_report(json, &report, report.text())
        }
        Command::Restore { dir, json, at } => {
            let report = maintenance::restore(&at.data_dir(), &dir)?;
            print_report(json, &report, report.text())
        }
        Command::Bench(args) => Ok(switchboard::bench::run(args)?),
        Command::Console { args } => console(args),
        Command::Paths { at } => {
            let config = at.config.clone().unwrap_or_else(paths::default_config_file);
            println!(
                "config  {}{}",
                config.display(),
                if config.exists() {
                    ""
                } else {
                    "  (absent: built-in Development setup)"
                }
            );
            println!("data    {}", at.data_dir().display());
            println!("logs    {}", at.data_dir().join("logs").display());
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Create { source, json, at },
        } => {
            let config = at.load()?;
            let Some(source) = config.registry.source_named(&source) else {
                let names: Vec<_> = config
                    .registry
                    .sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                bail!(
                    "no source named \"{source}\"; configured sources: {}",
                    names.join(", ")
                );
            };
            let (record, secret) = Credentials::new(&at.data_dir()).create_key(
                source.id,
                &source.name,
                source.environment,
            )?;
            if json {
                println!(
                    "{}",
                    json!({"apiKey": record.api_key, "secret": secret, "sourceId": source.id, "environment": source.environment})
                );
            } else {
                println!(
                    "API key for source \"{}\" ({})",
                    source.name, source.environment
                );
                println!("  apiKey  {}", record.api_key);
                println!("  secret  {secret}");
                println!("The secret is shown only now; store it safely.");
            }
            Ok(())
        }
        Command::Tokens {
            action:
                TokensAction::Create {
                    role,
                    name,
                    expires_in,
                    json,
                    at,
                },
        } => {
            let lifetime = match expires_in {
                Some(lifetime) => lifetime,
                None => at.load()?.settings.admin_token_lifetime,
            };
            let (record, token) =
                Credentials::new(&at.data_dir()).create_token_for(role, &name, lifetime)?;
            let expires = switchboard::model::time::format_utc(record.expires());
            if json {
                println!(
                    "{}",
                    json!({"token": token, "role": record.role, "name": record.name, "id": record.id, "expires": expires})
                );
            } else {
                println!(
                    "Admin token \"{}\" with role {}",
                    record.name,
                    record.role.as_str()
                );
                println!("  {token}");
                println!("It expires {expires}. The token is shown only now; store it safely.");
            }
            Ok(())
        }
        Command::Keys {
            action:
                KeysAction::Revoke {
                    api_key,
                    source,
                    json,
                    at,
                },
        } => {
            let report = runtime()?.block_on(revocation::command::keys_revoke(
                &at.data_dir(),
                api_key.as_deref(),
                source.as_deref(),
            ))?;
            print_either(json, &report, |r| r.text())
        }
        Command::Keys {
            action: KeysAction::List { json, at },
        } => {
            let keys = revocation::command::keys_list(&at.data_dir())?;
            print_either(json, &keys, |k| revocation::command::keys_text(k))
        }
        Command::Tokens {
            action: TokensAction::Revoke { name, json, at },
        } => {
            let report =
                runtime()?.block_on(revocation::command::tokens_revoke(&at.data_dir(), &name))?;
            print_either(json, &report, |r| r.text())
        }
        Command::Tokens {
            action: TokensAction::List { json, at },
        } => {
            let listing = runtime()?.block_on(revocation::command::tokens_list(&at.data_dir()))?;
            print_either(json, &listing, revocation::command::tokens_text)
        }
        Command::Destinations {
            action: DestinationsAction::Verify { name, at },
        } => {
            let config = at.load()?;
            let Some(destination) = config.registry.destination_named(&name).cloned() else {
                let names: Vec<_> = config
                    .registry
                    .destinations
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect();
                bail!(
                    "no destination named \"{name}\"; configured destinations: {}",
                    names.join(", ")
                );
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let data_dir = at.data_dir();
            match runtime.block_on(verify::verify_endpoint(&data_dir, &destination)) {
                Ok(v) => {
                    println!(
                        "verified \"{}\" at {} ({})",
                        destination.name,
                        v.url,
                        switchboard::model::time::format_utc(v.verified_at)
                    );
                    Ok(())
                }
                Err(e) => bail!("\"{}\" is not verified: {e}", destination.name),
            }
        }
        Command::Simulate {
            rate,
            env,
            duration,
            engine,
            json,
            at,
        } => simulate(rate, env, duration, engine, json, at),
        Command::Connections { json, at } => {
            let config = at.load()?;
            let r = &config.registry;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "sources": r.sources,
                        "destinations": r.destinations,
                        "subscriptions": r.subscriptions,
                    }))?
                );
                return Ok(());
            }
            println!("Sources");
            for s in &r.sources {
                println!(
                    "  {}  {:<12} {}  (tz {})",
                    s.id, s.environment, s.name, s.timezone
                );
            }
            println!("Destinations");
            for d in &r.destinations {
                println!(
                    "  {}  {:<12} {}  {:?} {}{}",
                    d.id,
                    d.environment,
                    d.name,
                    d.mode,
                    d.url
                        .as_deref()
                        .unwrap_or(if d.id == sandbox::DESTINATION_ID {
                            "<the engine's own address>/sandbox/ehr"
                        } else {
                            "-"
                        }),
                    if d.verified { "" } else { "  (unverified)" }
                );
            }
            println!("Subscriptions");
            for s in &r.subscriptions {
                let name = |id| {
                    r.source(id)
                        .map(|s| s.name.clone())
                        .or_else(|| r.destination(id).map(|d| d.name.clone()))
                        .unwrap_or_default()
                };
                let models = if s.data_models.is_empty() {
                    "*".to_string()
                } else {
                    s.data_models.join(", ")
                };
                println!(
                    "  {} → {}: {}",
                    name(s.source_id),
                    name(s.destination_id),
                    models
                );
            }
            Ok(())
        }
    }
}

/// A maintenance report: JSON for scripts, or its text.
fn print_report<T: serde::Serialize>(json: bool, report: &T, text: String) -> Result<()> {
    use std::io::Write;
    let text = if json {
        serde_json::to_string_pretty(report)?
    } else {
        text.trim_end().to_string()
    };
    // A closed pipe (`| head`) is not worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    Ok(())
}

fn simulate(
    rate: f64,
    env: Environment,
    duration: Option<std::time::Duration>,
    engine: String,
    json: bool,
    at: Locations,
) -> Result<()> {
    if env != Environment::Development {
        bail!("the sandbox lives in Development; there is no {env} sandbox to simulate");
    }
    let config = at.load()?;
    let routes = config.registry.routes_from(sandbox::SOURCE_ID);
    // A key for this run only, revoked when it ends.
    let credentials = Credentials::new(&at.data_dir());
    let (key, secret) = credentials.create_key(
        sandbox::SOURCE_ID,
        sandbox::SOURCE_NAME,
        Environment::Development,
    )?;
    let options = sandbox::simulate::SimulateOptions {
        engine: engine.trim_end_matches('/').to_string(),
        api_key: key.api_key.clone(),
        secret,
        routes,
        rate,
        duration,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    eprintln!(
        "simulating {rate:.1} notifications/s to {} (Ctrl-C stops)",
        options.engine
    );
    let result = runtime.block_on(sandbox::simulate::run(options, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    // Revoked, not just deleted: the run's tokens end with it.
    if let Err(e) = runtime.block_on(revocation::command::keys_revoke(
        &at.data_dir(),
        Some(&key.api_key),
        None,
    )) {
        eprintln!(
            "warning: could not revoke this run's key {}: {e}",
            key.api_key
        );
    }
    let report = result?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "sent {} · accepted {} · refused {} · skipped {} in {:.1} s: {:.1}/s",
            report.sent,
            report.accepted,
            report.refused,
            report.skipped,
            report.seconds,
            report.rate
        );
    }
    Ok(())
}

/// Binds the listener (the sandbox EHR is served on it too) and starts the engine.
/// With `fallback`, a taken address gives way to an ephemeral port on the same host.
async fn start_engine(
    listen: SocketAddr,
    at: &Locations,
    fallback: bool,
    accept_loss: bool,
) -> Result<(Arc<Engine>, tokio::net::TcpListener, SocketAddr)> {
    let mut config = at.load()?;
    switchboard::api::server::raise_fd_limit();
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) if fallback && e.kind() == std::io::ErrorKind::AddrInUse => {
            tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot listen on {listen}; is another engine running there? use --listen")
            });
        }
    };
    let addr = listener.local_addr()?;
    config.attach_sandbox(addr);
    let mode = if accept_loss {
        OpenMode::AcceptLoss
    } else {
        OpenMode::Serve
    };
    let engine = Engine::start_with(&at.data_dir(), config, mode)?;
    Ok((engine, listener, addr))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve(listen: SocketAddr, accept_loss: bool, at: Locations) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    runtime()?.block_on(async move {
        let (engine, listener, addr) = start_engine(listen, &at, false, accept_loss).await?;
        // One line on stdout for scripts and tests; everything else goes to the log.
        println!("switchboard listening on http://{addr}");
        engine.announce(&format!("http://{addr}"));
        tracing::info!(%addr, data_dir = %at.data_dir().display(), "engine started");
        let closing = engine.clone();
        switchboard::api::server::serve(listener, engine.clone(), async move {
            shutdown_signal().await;
            // Live event streams never end by themselves.
            closing.close_streams();
        })
        .await;
        engine.shutdown().await;
        tracing::info!("engine stopped");
        Ok(())
    })
}

/// The console owns the terminal: its log goes to a file under the data dir.
fn log_to_file(data_dir: &std::path::Path) -> Result<PathBuf> {
    let dir = data_dir.join("logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("console.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .init();
    Ok(path)
}

fn console(args: ConsoleArgs) -> Result<()> {
    let themes_dir = args.at.themes_dir();
    let collection = args
        .collection
        .clone()
        .unwrap_or_else(|| switchboard::store::saved_requests::default_dir(&args.at.data_dir()));
    let no_color = std::env::var_os("NO_COLOR");
    // A wrong theme is said before the terminal is taken.
    let theme = Theme::choose(args.theme.as_deref(), no_color.as_deref(), &themes_dir)?;
    let options = |role| ConsoleOptions {
        role,
        theme: theme.clone(),
        themes_dir: themes_dir.clone(),
        feed_capacity: args.feed_capacity,
        read_only: args.read_only,
        collection: collection.clone(),
    };
    if let Some(url) = &args.engine {
        let token = match (&args.token, &args.token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?,
            (None, None) => bail!(
                "attaching to an engine needs --token or --token-file (from `switchboard tokens create`)"
            ),
        };
        log_to_file(&args.at.data_dir())?;
        return runtime()?.block_on(async move {
            let client = Remote::new(url, &token)?;
            // Ask once before taking the terminal: a wrong URL or token is said plainly.
            let status = client.status().await?;
            console::run::run(Arc::new(client), options(status.role)).await?;
            Ok(())
        });
    }
    let log = log_to_file(&args.at.data_dir())?;
    runtime()?.block_on(async move {
        let (engine, listener, addr) =
            start_engine(args.listen, &args.at, true, args.accept_loss).await?;
        tracing::info!(%addr, log = %log.display(), "console with an embedded engine");
        engine.announce(&format!("http://{addr}"));
        let server = tokio::spawn(switchboard::api::server::serve(
            listener,
            engine.clone(),
            engine.closing(),
        ));
        let client = Local::new(
            engine.clone(),
            args.role,
            "console (local)",
            &format!("http://{addr}"),
        );
        let result = console::run::run(Arc::new(client), options(args.role)).await;
        engine.close_streams();
        let _ = server.await;
        engine.shutdown().await;
        result.map_err(Into::into)
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
