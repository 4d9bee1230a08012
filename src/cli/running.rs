//! Running things: the engine (`serve`) and the console on an embedded or a remote
//! engine, each with its runtime and logging (the traffic generator is in
//! [`super::simulate`]).

use crate::{ConsoleArgs, Locations};
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use switchboard::client::{Engine as _, Local, Remote, setup};
use switchboard::console::{self, run::ConsoleOptions, theme::Theme};
use switchboard::engine::Engine;
use switchboard::store::OpenMode;

/// An engine started, its listener and address, and the plain loopback listener beside
/// it when it serves HTTPS.
type Started = (
    Arc<Engine>,
    tokio::net::TcpListener,
    SocketAddr,
    Option<tokio::net::TcpListener>,
);

/// Binds the listener (the sandbox EHR is served on it too) and starts the engine.
/// With `fallback`, a taken address gives way to an ephemeral port on the same host.
/// `tls`: `serve`'s flags (the console's embedded engine serves loopback, in plain HTTP).
async fn start_engine(
    listen: SocketAddr,
    at: &Locations,
    fallback: bool,
    accept_loss: bool,
    tls: Option<&super::tls::TlsArgs>,
) -> Result<Started> {
    let mut config = at.load()?;
    config.settings.tls = tls.and_then(|t| t.files().or(config.settings.tls.take()));
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
    let local = match config.settings.tls {
        Some(_) => {
            let local = super::tls::local_listener().await?;
            config.attach_tls_listener(addr, local.local_addr()?);
            Some(local)
        }
        None => {
            config.attach_sandbox(addr);
            None
        }
    };
    let mode = if accept_loss {
        OpenMode::AcceptLoss
    } else {
        OpenMode::Serve
    };
    let shared = switchboard::engine::cluster::open(&config.settings).await?;
    let engine = Engine::start_on(&at.data_dir(), config, mode, shared)?;
    switchboard::engine::cluster::register(&engine, addr).await;
    Ok((engine, listener, addr, local))
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn serve(
    listen: SocketAddr,
    accept_loss: bool,
    tls: super::tls::TlsArgs,
    at: Locations,
) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let data_dir = at.data_dir();
    runtime()?.block_on(async move {
        let (engine, listener, addr, local) =
            start_engine(listen, &at, false, accept_loss, Some(&tls)).await?;
        let stop = shutdown_signal();
        let tls = match (engine.tls(), local) {
            (Some(certs), Some(local)) => Some(switchboard::api::server::Tls {
                config: certs.server_config().context("cannot set up TLS")?,
                local,
            }),
            _ => None,
        };
        // Commands on this machine use the plain loopback listener when there is one.
        let (scheme, local_url) = match &tls {
            Some(t) => ("https", format!("http://{}", t.local.local_addr()?)),
            None => ("http", format!("http://{addr}")),
        };
        engine.announce(&local_url);
        super::tls::warn_if_in_clear(addr, tls.is_some());
        // Actions not over HTTP (a SIGHUP reload) are audited as the engine's own.
        engine.set_local_origin("engine");
        hangup_reloads(&engine);
        // One line on stdout for scripts and tests; everything else goes to the log.
        // Printed last: whoever reads it may at once run a command that finds this
        // engine through its run file, or send SIGHUP.
        println!("switchboard listening on {scheme}://{addr}");
        tracing::info!(%addr, data_dir = %at.data_dir().display(), "engine started");
        let closing = engine.clone();
        switchboard::api::server::serve_on(listener, tls, engine.clone(), async move {
            stop.await;
            // Live event streams never end by themselves.
            closing.close_streams();
        })
        .await;
        engine.shutdown().await;
        tracing::info!("engine stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    // The runtime is gone and with it the engine's last handle on the database.
    let started = std::time::Instant::now();
    match switchboard::store::checkpoint(&data_dir) {
        Ok(true) => tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "checkpoint written: the next start reads it instead of the whole log"
        ),
        Ok(false) => tracing::debug!("no checkpoint: the database is still held"),
        Err(e) => tracing::warn!(error = %e, "no checkpoint; the next start scans the log"),
    }
    Ok(())
}

/// SIGHUP re-reads the configuration file; without it the engine still runs.
fn hangup_reloads(engine: &Arc<Engine>) {
    #[cfg(unix)]
    if let Err(e) = switchboard::engine::reload::reload_on_hangup(engine) {
        tracing::warn!(error = %e, "cannot listen for SIGHUP; use `switchboard reload`");
    }
}

/// `switchboard reload`.
pub fn reload(json: bool, at: &Locations) -> Result<()> {
    let report = runtime()?.block_on(switchboard::engine::reload::command(&at.data_dir()))?;
    super::print(json, &report, |r| format!("reloaded: {}", r.summary()))
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

/// The console draws on a terminal and reads keys from it: without one it would fail
/// with the bare OS error ("No such device or address").
fn needs_a_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        bail!(
            "the console needs a terminal, and standard input or output is not one; from scripts, use the commands (`switchboard --help`)"
        );
    }
    Ok(())
}

pub fn console(args: ConsoleArgs) -> Result<()> {
    let themes_dir = args.at.themes_dir();
    let collection = args
        .collection
        .clone()
        .unwrap_or_else(|| switchboard::console::collection::default_dir(&args.at.data_dir()));
    let no_color = std::env::var_os("NO_COLOR");
    // A wrong theme is said before the terminal is taken.
    let theme = Theme::choose(args.theme.as_deref(), no_color.as_deref(), &themes_dir)?;
    let prompt_history = args
        .at
        .data_dir()
        .join(switchboard::console::recall::HISTORY_FILE);
    let options = |role| ConsoleOptions {
        role,
        theme: theme.clone(),
        themes_dir: themes_dir.clone(),
        feed_capacity: args.feed_capacity,
        read_only: args.read_only,
        collection: collection.clone(),
        mouse: !args.no_mouse,
        prompt_history: Some(prompt_history.clone()),
        ca: args
            .ca
            .as_deref()
            .map(setup::ca_file)
            .transpose()
            .ok()
            .flatten(),
    };
    if let Some(url) = &args.engine {
        // Each mistake is named before anything is sent (setup's checks).
        let token = match (&args.token, &args.token_file) {
            (Some(t), _) => setup::admin_token(t, "given with --token (or SWITCHBOARD_TOKEN)")?,
            (None, Some(file)) => setup::token_file(file)?,
            (None, None) => bail!(
                "attaching to an engine needs --token or --token-file (from `switchboard tokens create`)"
            ),
        };
        let url = setup::engine_url(url)?;
        let ca = args.ca.as_deref().map(setup::ca_file).transpose()?;
        log_to_file(&args.at.data_dir())?;
        return runtime()?.block_on(async move {
            let client = Remote::with_ca(&url, &token, ca.as_ref())?;
            // Ask once before taking the terminal: a wrong URL or token is said plainly.
            let status = client
                .status()
                .await
                .map_err(|e| setup::explain_first_contact(&url, e))?;
            needs_a_terminal()?;
            console::run::terminal::in_terminal(Arc::new(client), options(status.role)).await?;
            Ok(())
        });
    }
    needs_a_terminal()?;
    let log = log_to_file(&args.at.data_dir())?;
    runtime()?.block_on(async move {
        let (engine, listener, addr, _) =
            start_engine(args.listen, &args.at, true, args.accept_loss, None).await?;
        tracing::info!(%addr, log = %log.display(), "console with an embedded engine");
        engine.announce(&format!("http://{addr}"));
        hangup_reloads(&engine);
        let server = tokio::spawn(switchboard::api::server::serve(
            listener,
            engine.clone(),
            engine.closing(),
        ));
        // Actions taken in the console (not over HTTP) are audited as from here.
        engine.set_local_origin("console-embedded");
        let client = Local::new(
            engine.clone(),
            args.role,
            "console (local)",
            &format!("http://{addr}"),
        );
        let result =
            console::run::terminal::in_terminal(Arc::new(client), options(args.role)).await;
        engine.close_streams();
        let _ = server.await;
        engine.shutdown().await;
        result.map_err(Into::into)
    })
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when it is first polled: a SIGTERM that arrives right after the listening line must
/// stop the engine gracefully, not kill it.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    let received = |handler: Option<Signal>| async move {
        match handler {
            Some(mut handler) => {
                handler.recv().await;
            }
            // Without a handler, the signal's default action applies.
            None => std::future::pending().await,
        }
    };
    async move {
        tokio::select! {
            _ = received(term) => {}
            _ = received(interrupt) => {}
        }
    }
}

#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
