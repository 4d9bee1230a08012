//! A dispatcher's hold on its queue when nodes share a store: the queue's lease
//! (`store::postgres::queues`), taken before the first attempt and renewed every third
//! of its time by a task of its own, so a long attempt does not lose it. The holder
//! trusts the lease only while it is sure the database still counts it as held: from
//! the moment a renewal was *sent* (the database's expiry is later than that), less a
//! margin; past that it stops before delivering again, and every outcome is checked
//! against the lease where it is written anyway.

use crate::store::QueueId;
use crate::store::postgres::PgStore;
use crate::store::postgres::queues::{LEASE_TTL, Lease};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Kept back from the lease's time: a renewal that is late by this much already
/// counts as lost here.
const MARGIN: Duration = Duration::from_secs(1);

struct State {
    lease: Option<Lease>,
    /// When the renewal that gave `lease` was sent.
    sent: Instant,
}

pub(super) struct Held {
    store: PgStore,
    state: Arc<Mutex<State>>,
    renewing: CancellationToken,
}

impl Held {
    /// Takes `queue`'s lease for this node, or `None` while another node holds it.
    pub(super) async fn take(
        store: &PgStore,
        queue: &QueueId,
        stop: &CancellationToken,
    ) -> Result<Option<Held>, crate::store::postgres::PgError> {
        let sent = Instant::now();
        let Some(lease) = store.try_lease(queue, store.node(), LEASE_TTL).await? else {
            return Ok(None);
        };
        let state = Arc::new(Mutex::new(State {
            lease: Some(lease),
            sent,
        }));
        let renewing = stop.child_token();
        tokio::spawn(renew(
            store.clone(),
            *queue,
            state.clone(),
            renewing.clone(),
        ));
        Ok(Some(Held {
            store: store.clone(),
            state,
            renewing,
        }))
    }

    /// The lease, while it surely holds.
    pub(super) fn lease(&self) -> Option<Lease> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = state.sent.elapsed() + MARGIN < LEASE_TTL;
        state.lease.clone().filter(|_| fresh)
    }

    /// Gives the queue back at once (its dispatcher retires), so another node need
    /// not wait for it to lapse.
    pub(super) async fn give_back(self) {
        self.renewing.cancel();
        let lease = self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lease
            .take();
        if let Some(lease) = lease
            && let Err(e) = self.store.release_lease(&lease).await
        {
            tracing::warn!(error = %e, "cannot give a queue's lease back; it lapses by itself");
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewing.cancel();
    }
}

async fn renew(store: PgStore, queue: QueueId, state: Arc<Mutex<State>>, stop: CancellationToken) {
    let node: Uuid = store.node();
    loop {
        tokio::select! {
            () = tokio::time::sleep(LEASE_TTL / 3) => {}
            () = stop.cancelled() => return,
        }
        let sent = Instant::now();
        match store.try_lease(&queue, node, LEASE_TTL).await {
            Ok(Some(lease)) => {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                *s = State {
                    lease: Some(lease),
                    sent,
                };
            }
            Ok(None) => {
                tracing::warn!(destination = %queue.destination, "lost a queue's lease to another node");
                state.lock().unwrap_or_else(|e| e.into_inner()).lease = None;
                return;
            }
            // Kept as it was: it lapses here when its time is up.
            Err(e) => tracing::warn!(error = %e, "cannot renew a queue's lease"),
        }
    }
}
