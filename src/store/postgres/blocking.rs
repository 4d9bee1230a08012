//! PostgreSQL from synchronous code: reading a configuration resolves the generated IDs
//! of its sources and destinations in the shared store, and that parse is synchronous
//! (a reload, a CLI command, a test). Each call runs on a thread of its own with a
//! runtime of its own, so it works inside or outside an async runtime alike.

use super::{PgLocation, Result, migrate};
use crate::store::identities::Kind;
use uuid::Uuid;

/// Waits for `work` from synchronous code inside the engine's (multi-thread) runtime:
/// on an async worker the worker hands its other tasks on while this one waits; on a
/// blocking task it simply waits. Outside any runtime, a fresh one runs it.
pub fn wait<T: Send>(work: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(work)),
        Err(_) => run(work),
    }
}

/// Runs `work` to completion on a fresh thread and runtime.
pub fn run<T: Send>(work: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| super::PgError::Query {
                        at: String::new(),
                        detail: format!("cannot start a runtime: {e}"),
                    })?;
                runtime.block_on(work)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The shared IDs of `wanted` (see [`super::PgStore::resolve_identities`]), the schema
/// brought up to date first: a configuration may be read before any node has started.
pub fn resolve_identities(at: &PgLocation, wanted: &[(Kind, &str)]) -> Result<Vec<Uuid>> {
    run(async {
        migrate::migrate(at, "configuration").await?;
        let client = at.connect().await?;
        let mut ids = Vec::with_capacity(wanted.len());
        for (kind, name) in wanted {
            let id = super::shared::identity(&client, *kind, name, Uuid::new_v4())
                .await
                .map_err(|e| at.query_error(&e))?;
            ids.push(id);
        }
        Ok(ids)
    })
}
