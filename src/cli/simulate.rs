//! `switchboard simulate`: the sandbox's traffic generator, with the key it makes for
//! the run. The key is made in the data directory given, so only the engine running on
//! that directory knows it: without --engine the simulator sends to that engine, and a
//! refused key is explained as the mismatch it nearly always is.

use crate::Locations;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use switchboard::client::{ClientError, setup};
use switchboard::engine::{revocation, runfile};
use switchboard::model::Environment;
use switchboard::sandbox;
use switchboard::sandbox::simulate::SimulateError;

/// Where an engine listens when nothing says otherwise (`serve`'s default).
const DEFAULT_ENGINE: &str = "http://127.0.0.1:8443";

/// Where the simulator sends: the engine's URL, and a CA to trust for it (`--ca`).
pub struct Target {
    pub engine: Option<String>,
    pub ca: Option<PathBuf>,
}

pub fn run(
    rate: f64,
    env: Environment,
    duration: Option<std::time::Duration>,
    target: Target,
    json: bool,
    at: Locations,
) -> Result<()> {
    if env != Environment::Development {
        bail!("the sandbox lives in Development; there is no {env} sandbox to simulate");
    }
    // A wrong CA file is named now, before a key is made for the run.
    let ca = target.ca.as_deref().map(setup::ca_file).transpose()?;
    let engine = target.engine;
    let data_dir = at.data_dir();
    let engine = match engine {
        Some(given) => setup::engine_url(&given)?,
        None => runfile::running(&data_dir).map_or_else(|| DEFAULT_ENGINE.to_string(), |r| r.url),
    };
    let config = at.load()?;
    let routes = config.registry.routes_from(sandbox::SOURCE_ID);
    // A key for this run only, revoked when it ends.
    // The engine's credentials: beside its data directory, or in its shared store.
    let credentials = at.credentials()?;
    let (key, secret) = credentials.create_key(
        sandbox::SOURCE_ID,
        sandbox::SOURCE_NAME,
        Environment::Development,
    )?;
    let options = sandbox::simulate::SimulateOptions {
        engine: engine.clone(),
        api_key: key.api_key.clone(),
        secret,
        routes,
        rate,
        duration,
        roots: ca.map(|ca| ca.certificates().to_vec()).unwrap_or_default(),
    };
    let runtime = super::running::runtime()?;
    eprintln!("simulating {rate:.1} notifications/s to {engine} (Ctrl-C stops)");
    let result = runtime.block_on(sandbox::simulate::run(options, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    // Revoked, not just deleted: the run's tokens end with it.
    let shared = config.settings.shared_store.clone();
    if let Err(e) = runtime.block_on(revocation::command::keys_revoke(
        &data_dir,
        shared.as_ref(),
        Some(&key.api_key),
        None,
    )) {
        eprintln!(
            "warning: could not revoke this run's key {}: {e}",
            key.api_key
        );
    }
    let report = match result {
        Ok(report) => report,
        Err(SimulateError::Auth { status: 401, .. }) if other_engine(&engine, &data_dir) => {
            bail!("{}", unknown_key(&engine, &data_dir))
        }
        // An untrusted certificate or a TLS handshake with plain HTTP: said as the
        // console says it, naming --ca.
        Err(SimulateError::Unreachable(url, reason)) => {
            let error = ClientError::Unreachable { url, reason };
            bail!("{}", setup::explain_first_contact(&engine, error))
        }
        Err(e) => return Err(e.into()),
    };
    super::print(json, &report, |report| {
        format!(
            "sent {} · accepted {} · refused {} · skipped {} in {:.1} s: {:.1}/s",
            report.sent,
            report.accepted,
            report.refused,
            report.skipped,
            report.seconds,
            report.rate
        )
    })
}

/// True when the engine at `engine` is not the one running on `data_dir` (none runs
/// there, or it listens elsewhere): then it cannot know a key made in `data_dir`.
fn other_engine(engine: &str, data_dir: &Path) -> bool {
    runfile::running(data_dir).is_none_or(|run| {
        setup::engine_url(&run.url).is_ok_and(|url| !url.eq_ignore_ascii_case(engine))
    })
}

fn unknown_key(engine: &str, data_dir: &Path) -> String {
    let dir = data_dir.display();
    match runfile::running(data_dir) {
        Some(run) => format!(
            "the engine at {engine} does not know the simulator's key: simulate makes its key \
             in the data directory {dir}, whose engine listens at {}. Use --engine {}, or give \
             --data-dir the data directory of the engine at {engine}",
            run.url, run.url
        ),
        None => format!(
            "the engine at {engine} does not know the simulator's key: simulate makes its key \
             in the data directory {dir}, and no engine is running on it. Give --data-dir (or \
             SWITCHBOARD_DATA_DIR) the data directory the engine at {engine} was started with"
        ),
    }
}
