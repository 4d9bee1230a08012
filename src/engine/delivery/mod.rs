//! Push delivery: one dispatcher task per non-empty (source, destination, lane) queue.
//!
//! A dispatcher delivers its queue's head, and only on a 2xx moves to the next item, so
//! order holds per queue. On failure it waits (retry schedule, `Retry-After`), and
//! other queues are untouched: each has its own task. A dispatcher whose queue is empty
//! retires; accepting a request wakes (or starts) the dispatcher of each queue it
//! touched. Pause state survives restarts; at start-up every non-empty queue gets a
//! dispatcher, so nothing accepted before a crash is left behind.
//!
//! Dispatchers are tasks on the engine's tracker and end on its stop token. However
//! many queues a destination has (per-patient lanes), at most its
//! `max_concurrent_deliveries` attempts are in flight at once ([`Delivery::slot`]).
//! Its queued items are bounded by `max_queue_items` ([`bounds`]).

mod attempt;
pub mod bounds;
mod dispatch;
mod lease;
pub mod retry;

use super::Engine;
use super::config::{DeliveryMode, Destination};
use crate::model::LogRecord;
use crate::store::QueueId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// How long a graceful stop waits for attempts in flight.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

// Lanes are decided where requests are routed; re-exported for the operator's moves.
pub use super::routing::lane;

/// A running dispatcher's handle.
struct Dispatcher {
    /// Cuts a wait short: retry now, resume, verified, released.
    kick: Notify,
}

pub struct Delivery {
    engine: Weak<Engine>,
    dispatchers: Mutex<HashMap<QueueId, Arc<Dispatcher>>>,
    paused: Mutex<HashSet<Uuid>>,
    /// Replaced per destination by a configuration reload ([`Delivery::adopt`]).
    clients: RwLock<HashMap<Uuid, reqwest::Client>>,
    /// Per push destination, its `max_concurrent_deliveries` attempt slots.
    slots: RwLock<HashMap<Uuid, Arc<Semaphore>>>,
    /// Per destination, its queued items against `max_queue_items`.
    pub(crate) bounds: bounds::QueueBounds,
    /// When each log waiting out a retry back-off is tried next, so the console can
    /// say it; only heads of queues are here, so it is bounded by the queues.
    retry_due: Mutex<HashMap<Uuid, RetryDue>>,
}

#[derive(Debug, Clone, Copy)]
struct RetryDue {
    destination: Uuid,
    at: chrono::DateTime<chrono::Utc>,
}

/// An HTTP client per push destination: its own connection pool, so one slow peer
/// cannot hold another's connections, and its own attempt timeout.
pub(crate) fn build_clients(
    destinations: &[Destination],
    connect_timeout: Duration,
) -> Result<HashMap<Uuid, reqwest::Client>, reqwest::Error> {
    let mut clients = HashMap::new();
    for d in destinations.iter().filter(|d| d.mode == DeliveryMode::Push) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(d.delivery.timeout)
            .pool_max_idle_per_host(8)
            .pool_idle_timeout(super::OUTGOING_IDLE)
            .build()?;
        clients.insert(d.id, client);
    }
    Ok(clients)
}

impl Delivery {
    pub(crate) fn new(
        engine: Weak<Engine>,
        destinations: &[Destination],
        clients: HashMap<Uuid, reqwest::Client>,
        paused: HashSet<Uuid>,
    ) -> Delivery {
        let slots = destinations
            .iter()
            .filter(|d| d.mode == DeliveryMode::Push)
            .map(|d| (d.id, slots_of(d)))
            .collect();
        Delivery {
            engine,
            dispatchers: Mutex::new(HashMap::new()),
            paused: Mutex::new(paused),
            clients: RwLock::new(clients),
            slots: RwLock::new(slots),
            bounds: bounds::QueueBounds::new(destinations),
            retry_due: Mutex::new(HashMap::new()),
        }
    }

    fn lock_dispatchers(&self) -> std::sync::MutexGuard<'_, HashMap<QueueId, Arc<Dispatcher>>> {
        self.dispatchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure a dispatcher runs for `queue` (after something was queued on it).
    pub fn wake(&self, queue: QueueId) {
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        if engine.stop.is_cancelled() {
            return;
        }
        let mut dispatchers = self.lock_dispatchers();
        if dispatchers.contains_key(&queue) {
            return;
        }
        let registry = engine.registry();
        let Some(destination) = registry.destination(queue.destination) else {
            return;
        };
        if destination.mode != DeliveryMode::Push {
            return;
        }
        let handle = Arc::new(Dispatcher {
            kick: Notify::new(),
        });
        dispatchers.insert(queue, handle.clone());
        let tasks = engine.tasks.clone();
        tasks.spawn(dispatch::run(engine, queue, handle));
    }

    /// Waits for one of the destination's attempt slots; `None` when it has none (not a
    /// push destination) or the engine stops first.
    async fn slot(
        &self,
        destination: Uuid,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Option<OwnedSemaphorePermit> {
        let slots = read(&self.slots).get(&destination)?.clone();
        tokio::select! {
            permit = slots.acquire_owned() => permit.ok(),
            () = stop.cancelled() => None,
        }
    }

    /// What runs once an accepted request's write set is applied (on the journal's
    /// expander thread): its logs are announced on the event bus, now that history has
    /// them, and then the push queues among `queues` are woken (so a log's PENDING event
    /// comes before its delivery's).
    pub(crate) fn after_accept(
        &self,
        queues: Vec<QueueId>,
        logs: Vec<LogRecord>,
    ) -> crate::store::journal::AfterApply {
        let push: Vec<QueueId> = match self.engine.upgrade() {
            Some(engine) => queues
                .into_iter()
                .filter(|q| {
                    engine
                        .registry()
                        .destination(q.destination)
                        .is_some_and(|d| d.mode == DeliveryMode::Push)
                })
                .collect(),
            None => Vec::new(),
        };
        let runtime = (!push.is_empty())
            .then(tokio::runtime::Handle::try_current)
            .and_then(Result::ok);
        let weak = self.engine.clone();
        Box::new(move || {
            let Some(engine) = weak.upgrade() else {
                return;
            };
            for log in &logs {
                engine.publish(log);
            }
            if let Some(runtime) = runtime {
                let _entered = runtime.enter();
                for queue in push {
                    engine.delivery.wake(queue);
                }
            }
        })
    }

    /// Cuts every wait of a destination's dispatchers short.
    pub fn kick(&self, destination: Uuid) {
        // Whatever was due is due now (or never, if paused): the times no longer hold.
        self.lock_retry_due()
            .retain(|_, due| due.destination != destination);
        for (queue, d) in self.lock_dispatchers().iter() {
            if queue.destination == destination {
                // Only waits in progress (or armed): a kick never carries over to a
                // later wait, such as the one a peer's Retry-After asks for.
                d.kick.notify_waiters();
            }
        }
    }

    /// Called by a dispatcher that found its queue empty: retires it unless something
    /// was queued meanwhile (checked under the same lock `wake` takes).
    fn retire(&self, queue: &QueueId, still_empty: impl FnOnce() -> bool) -> bool {
        let mut dispatchers = self.lock_dispatchers();
        if still_empty() {
            dispatchers.remove(queue);
            true
        } else {
            false
        }
    }

    fn lock_retry_due(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, RetryDue>> {
        self.retry_due.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the failed log `log` is tried again, if it is waiting out a back-off.
    pub fn retry_due(&self, log: Uuid) -> Option<chrono::DateTime<chrono::Utc>> {
        self.lock_retry_due().get(&log).map(|due| due.at)
    }

    /// A dispatcher waits `wait` before trying `log` again (`None`: it tries now).
    fn set_retry_due(&self, log: &LogRecord, wait: Option<Duration>) {
        let mut due = self.lock_retry_due();
        match wait.and_then(|w| chrono::Duration::from_std(w).ok()) {
            Some(w) => {
                let at = chrono::Utc::now() + w;
                let destination = log.destination_id;
                due.insert(log.id, RetryDue { destination, at });
            }
            None => {
                due.remove(&log.id);
            }
        }
    }

    pub fn is_paused(&self, destination: Uuid) -> bool {
        self.paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&destination)
    }

    pub(crate) fn set_paused(&self, destination: Uuid, paused: bool) {
        let mut set = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        if paused {
            set.insert(destination);
        } else {
            set.remove(&destination);
        }
    }

    /// Queues with a running dispatcher.
    pub fn active_dispatchers(&self) -> usize {
        self.lock_dispatchers().len()
    }

    pub(crate) fn client(&self, destination: Uuid) -> Option<reqwest::Client> {
        read(&self.clients).get(&destination).cloned()
    }

    /// After a configuration reload: `changed` destinations (new, or with a new
    /// definition) get fresh clients, slots and bounds; `removed` ones lose theirs.
    /// Unchanged ones keep theirs, so their pooled connections and counts carry on.
    pub(crate) fn adopt(
        &self,
        changed: &[Destination],
        removed: &[Uuid],
        connect_timeout: Duration,
    ) -> Result<(), reqwest::Error> {
        let mut fresh = build_clients(changed, connect_timeout)?;
        let mut clients = write(&self.clients);
        let mut slots = write(&self.slots);
        for d in changed {
            clients.remove(&d.id);
            if let Some(client) = fresh.remove(&d.id) {
                clients.insert(d.id, client);
            }
            // Permits held on a replaced semaphore are released to it, harmlessly.
            match d.mode {
                DeliveryMode::Push => slots.insert(d.id, slots_of(d)),
                DeliveryMode::Poll => slots.remove(&d.id),
            };
        }
        for id in removed {
            clients.remove(id);
            slots.remove(id);
        }
        self.bounds.adopt(changed, removed);
        Ok(())
    }
}

fn slots_of(d: &Destination) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(d.delivery.max_concurrent_deliveries.max(1)))
}

/// The maps hold no invariant a panicking writer could break half-way.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
