//! Several nodes on one PostgreSQL store (`[store] url`, `--store`): what a node does
//! besides serving its own requests. It registers itself and says it is alive; it looks
//! every [`SCAN_EVERY`] for queues nobody delivers (free, or their node's lease lapsed:
//! a dead node's queues are taken over within the lease's time plus this); and it hears
//! every node's change notes (`LISTEN/NOTIFY`, IDs only), reads those logs and publishes
//! them on its event bus, so a console attached to any node sees all traffic, and
//! wakes the queues other nodes added to.
//!
//! What is shared and what is not is in README "Several nodes".

mod listen;

use super::Engine;
use crate::store::postgres::PgStore;
use std::sync::Arc;
use std::time::Duration;

/// How often a node looks for queues to take over (and notes it is alive).
pub const SCAN_EVERY: Duration = Duration::from_secs(2);

/// How often a node makes the coming days' history partitions (each call makes only
/// the missing ones; rows of a day not made yet wait in the default partition).
const MAKE_DAYS_EVERY: Duration = Duration::from_secs(3600);

/// Opens the shared store named by `settings`, if any, before the engine starts: its
/// schema brought to this version, its pool and group committer started.
pub async fn open(settings: &super::Settings) -> Result<Option<PgStore>, super::EngineError> {
    let Some(at) = &settings.shared_store else {
        return Ok(None);
    };
    let sealer = super::keys(settings)?;
    let store = PgStore::open(at, sealer, "node")
        .await
        .map_err(crate::store::StoreError::from)?;
    Ok(Some(store))
}

/// Puts this node on the shared store's list of nodes (a failure is logged: the node
/// still serves).
pub async fn register(engine: &Engine, listen: std::net::SocketAddr) {
    let Some(shared) = &engine.shared else { return };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "node".into());
    if let Err(e) = shared.register_node(&host, &listen.to_string()).await {
        tracing::warn!(error = %e, "cannot register this node in the shared store");
    }
}

/// Starts this node's part in the cluster: registration, the scan, the listener.
pub(crate) fn spawn(engine: &Arc<Engine>, shared: &PgStore) {
    let stop = engine.stopping();
    let weak = Arc::downgrade(engine);
    let store = shared.clone();
    engine.tasks().spawn(async move {
        let mut tick = tokio::time::interval(SCAN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut days_made = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => break,
            }
            let Some(engine) = weak.upgrade() else { break };
            scan(&engine, &store).await;
            // Tomorrow's history partitions exist before tomorrow, whichever node runs.
            if days_made.elapsed() >= MAKE_DAYS_EVERY {
                days_made = std::time::Instant::now();
                if let Err(e) = store.make_days_ahead().await {
                    tracing::warn!(error = %e, "cannot make the coming days' history partitions");
                }
            }
        }
        if let Err(e) = store.unregister_node().await {
            tracing::warn!(error = %e, "cannot take this node off the store's list");
        }
    });
    listen::spawn(engine, shared.clone());
}

/// Wakes a dispatcher for every queue this node could deliver now; each takes the
/// queue's lease first, so a queue another node holds is left to it.
async fn scan(engine: &Arc<Engine>, store: &PgStore) {
    if let Err(e) = store.node_alive().await {
        tracing::warn!(error = %e, "cannot note this node alive in the store");
    }
    follow_pauses(engine, store).await;
    match store.deliverable_queues(store.node()).await {
        Ok(queues) => {
            for queue in queues {
                engine.delivery.wake(queue);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot look for queues to deliver"),
    }
}

/// Takes up pauses and resumes made through other nodes (within [`SCAN_EVERY`]); a
/// resumed destination's waits are cut short.
async fn follow_pauses(engine: &Engine, store: &PgStore) {
    let paused = match store.paused_destinations().await {
        Ok(paused) => paused,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read which destinations are paused");
            return;
        }
    };
    for d in &engine.registry().destinations {
        let now = paused.contains(&d.id);
        if engine.delivery.is_paused(d.id) != now {
            engine.delivery.set_paused(d.id, now);
            engine.delivery.kick(d.id);
        }
    }
}
