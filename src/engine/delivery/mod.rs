//! Push delivery: one dispatcher task per non-empty (source, destination, lane) queue.
//!
//! A dispatcher delivers its queue's head, and only on a 2xx moves to the next item, so
//! order holds per queue. On failure it waits (retry schedule, `Retry-After`), and
//! other queues are untouched: each has its own task. A dispatcher whose queue is empty
//! retires; accepting a request wakes (or starts) the dispatcher of each queue it
//! touched. Pause state survives restarts; at start-up every non-empty queue gets a
//! dispatcher, so nothing accepted before a crash is left behind.

mod attempt;
mod dispatch;
pub mod retry;

use super::Engine;
use super::config::{DeliveryMode, Destination, QueueKey};
use crate::model::LogRecord;
use crate::store::QueueId;
use crate::store::credentials::sha256;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

/// How long a graceful stop waits for attempts in flight.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue lane of a log at a destination: 0, or the patient's child queue.
pub fn lane(destination: &Destination, log: &LogRecord) -> u64 {
    match (destination.delivery.queue_key, &log.patient_id) {
        (QueueKey::Patient, Some(patient)) => {
            let h = sha256(patient.as_bytes());
            // Never 0, so a patient lane is told apart from the pair's own queue.
            u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]).max(1)
        }
        _ => 0,
    }
}

/// A running dispatcher's handle.
struct Dispatcher {
    /// Cuts a wait short: retry now, resume, verified, released.
    kick: Notify,
}

pub struct Delivery {
    engine: Weak<Engine>,
    dispatchers: Mutex<HashMap<QueueId, Arc<Dispatcher>>>,
    paused: Mutex<HashSet<Uuid>>,
    stop: watch::Sender<bool>,
    running: AtomicUsize,
    idle: Notify,
    clients: HashMap<Uuid, reqwest::Client>,
}

/// An HTTP client per push destination: its own connection pool, so one slow peer
/// cannot hold another's connections, and its own attempt timeout.
pub(crate) fn build_clients(
    destinations: &[Destination],
    connect_timeout: Duration,
) -> Result<HashMap<Uuid, reqwest::Client>, String> {
    let mut clients = HashMap::new();
    for d in destinations.iter().filter(|d| d.mode == DeliveryMode::Push) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(d.delivery.timeout)
            .pool_max_idle_per_host(8)
            .pool_idle_timeout(super::OUTGOING_IDLE)
            .build()
            .map_err(|e| e.to_string())?;
        clients.insert(d.id, client);
    }
    Ok(clients)
}

impl Delivery {
    pub(crate) fn new(
        engine: Weak<Engine>,
        clients: HashMap<Uuid, reqwest::Client>,
        paused: HashSet<Uuid>,
    ) -> Delivery {
        Delivery {
            engine,
            dispatchers: Mutex::new(HashMap::new()),
            paused: Mutex::new(paused),
            stop: watch::channel(false).0,
            running: AtomicUsize::new(0),
            idle: Notify::new(),
            clients,
        }
    }

    fn lock_dispatchers(&self) -> std::sync::MutexGuard<'_, HashMap<QueueId, Arc<Dispatcher>>> {
        self.dispatchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure a dispatcher runs for `queue` (after something was queued on it).
    pub fn wake(&self, queue: QueueId) {
        if *self.stop.borrow() {
            return;
        }
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        let mut dispatchers = self.lock_dispatchers();
        if dispatchers.contains_key(&queue) {
            return;
        }
        let Some(destination) = engine.registry.destination(queue.destination) else {
            return;
        };
        if destination.mode != DeliveryMode::Push {
            return;
        }
        let handle = Arc::new(Dispatcher {
            kick: Notify::new(),
        });
        dispatchers.insert(queue, handle.clone());
        self.running.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(dispatch::run(engine, queue, handle));
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
                        .registry
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

    fn finished(&self) {
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
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

    pub fn active_dispatchers(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    pub(crate) fn client(&self, destination: Uuid) -> Option<&reqwest::Client> {
        self.clients.get(&destination)
    }

    fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Stops dispatching: no new attempts; waits (bounded) for attempts in flight.
    pub async fn drain(&self, timeout: Duration) {
        let _ = self.stop.send(true);
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!(
                running = self.running.load(Ordering::SeqCst),
                "delivery did not drain in time; unfinished attempts will be retried at start-up"
            );
        }
    }
}
