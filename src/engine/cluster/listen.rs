//! Other nodes' changes, heard through `LISTEN/NOTIFY`: each note names a log; the
//! log is read and published on this node's event bus, and a PENDING push log wakes
//! its queue here (its dispatcher takes the lease, or finds another node holds it).

use crate::engine::Engine;
use crate::engine::config::DeliveryMode;
use crate::model::LogStatus;
use crate::store::QueueId;
use crate::store::postgres::PgStore;
use std::sync::Arc;
use std::time::Duration;

/// Notes read per batch: one query for their logs.
const BATCH: usize = 256;
/// The wait before listening again after the session was lost.
const RECONNECT: Duration = Duration::from_secs(1);

pub(super) fn spawn(engine: &Arc<Engine>, store: PgStore) {
    let stop = engine.stopping();
    let weak = Arc::downgrade(engine);
    engine.tasks().spawn(async move {
        while !stop.is_cancelled() {
            let mut listener = match store.listen().await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other nodes' changes");
                    tokio::select! {
                        () = tokio::time::sleep(RECONNECT) => continue,
                        () = stop.cancelled() => break,
                    }
                }
            };
            let mut notes = Vec::with_capacity(BATCH);
            loop {
                let got = tokio::select! {
                    got = listener.notes.recv_many(&mut notes, BATCH) => got,
                    () = stop.cancelled() => return,
                };
                if got == 0 {
                    break; // the session ended: listen again
                }
                let Some(engine) = weak.upgrade() else { return };
                let ids: Vec<uuid::Uuid> = notes
                    .drain(..)
                    .filter(|n| n.node != store.node())
                    .map(|n| n.log)
                    .collect();
                if !ids.is_empty() {
                    heard(&engine, &store, &ids).await;
                }
            }
        }
    });
}

async fn heard(engine: &Arc<Engine>, store: &PgStore, ids: &[uuid::Uuid]) {
    let logs = match store.logs(ids).await {
        Ok(logs) => logs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the logs other nodes changed");
            return;
        }
    };
    let registry = engine.registry();
    for log in logs {
        engine.publish(&log);
        // New traffic only: other changes to a queue are its holder's business, and
        // the scan finds queues left without one.
        if log.status != LogStatus::Pending || log.attempts > 0 {
            continue;
        }
        let Some(destination) = registry.destination(log.destination_id) else {
            continue;
        };
        if destination.mode == DeliveryMode::Push {
            engine.delivery.wake(QueueId {
                destination: destination.id,
                source: log.source_id,
                lane: crate::engine::routing::lane(destination, &log),
            });
        }
    }
}
