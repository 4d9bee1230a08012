//! The accept journal: what makes one accepted request cost one sled key before its 200.
//!
//! An accepted request is a dozen keys (request, logs, index entries, queue entries).
//! Writing them atomically takes a `sled::Batch`, and in sled 0.34 every batch takes a
//! process-wide write lock and rolls the log buffer; a plain insert does neither. So
//! the handler writes the whole write set as ONE journal record with a plain insert,
//! waits for the group-commit flush and answers. The expander thread then applies the
//! write set to the exchange tree (plain inserts, in order: request, logs, indexes,
//! queue entries) and removes the record last. After a crash, [`replay`] applies every
//! record still there before anything reads the store: applying a write set twice
//! writes the same keys and values, so a record half applied is simply applied again.
//!
//! Writes that need no flush (a query's log) go through the same expander without a
//! journal record ([`Journal::write`]), so every write to history is applied in one
//! order and none takes sled's batch lock. A write that depends on what is stored (a
//! delivery's outcome, an operator's action: read the log and the queue, then change
//! them) is an [`Journal::ordered`] update: the expander computes its writes against
//! the tree at its turn and applies them at once, so no other write can come between
//! the read and the write and none is lost.
//!
//! Waking the sleeping expander costs the waking thread about 15 µs on these VMs (a
//! futex wake and an inter-processor interrupt; measured on the query path), so a request
//! never pays it before its answer: the wake is a task on the caller's runtime worker,
//! which runs once the handler's task yields, that is after the answer is written
//! ([`Shared::wake_soon`]). A query's pending log is queued without any wake
//! ([`Journal::write_quiet`]) and applied with its outcome, after the answer.
//!
//! Three waits, three names:
//! - **applied** ([`Journal::wait_applied`], [`Journal::applied`]): the expander has
//!   applied everything queued before the call. The store's read API waits for it
//!   itself (read-your-writes), so no reader has to remember; when nothing is pending
//!   it costs one atomic load.
//! - **durable** ([`super::GroupCommit::durable`]): the group-commit flush has put
//!   everything written so far on disk. An acknowledgement waits for it.
//! - **ordered** ([`Journal::ordered`]): an update has taken its turn in the
//!   expander's order, been computed against what was applied before it, and applied.
//!
//! The backlog of records not yet applied is bounded ([`MAX_BACKLOG`], or `[engine]
//! journal_backlog`): past it, a new request waits at most [`BACKLOG_PATIENCE`] for the
//! expander ([`Journal::record_within`]) and is then refused (503 with `Retry-After`),
//! rather than waiting without limit; internal writes (delivery outcomes) wait.

mod codec;
mod expander;

use codec::encode;
pub(crate) use codec::{decode, hex};
use expander::expand_loop;
pub use expander::replay;

use super::applied::Applied;
use super::{Result, StoreError, Writes};
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Acknowledged requests whose write sets may wait to be applied at once (the default
/// of `[engine] journal_backlog`).
pub const MAX_BACKLOG: usize = 4_096;
/// How long a new request waits for room in a full backlog before it is refused: long
/// enough to ride out a burst, short of a sender's own timeout.
pub const BACKLOG_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);
/// Write sets the expander applies before it reports progress.
const EXPAND_BATCH: usize = 256;

/// Called once a record's write set is applied (e.g. to wake delivery).
pub type AfterApply = Box<dyn FnOnce() + Send>;

/// An [`Journal::ordered`] update: computes its writes from the tree as applied so far,
/// and returns what to do once they are applied (told whether applying failed).
type Update =
    Box<dyn FnOnce(&Applied<'_>) -> (Writes, Box<dyn FnOnce(Option<String>) + Send>) + Send>;

thread_local! {
    /// Set on expander threads: a read there must not wait for the expander itself.
    static EXPANDER: Cell<bool> = const { Cell::new(false) };
}

/// A journaled write set, on the way to being applied.
pub struct Record {
    key: [u8; 8],
    writes: Writes,
    _permit: OwnedSemaphorePermit,
}

enum Work {
    Writes(Writes),
    Update(Update),
}

struct Pending {
    work: Work,
    /// The journal record to remove once applied (none for writes that need no flush).
    key: Option<[u8; 8]>,
    _permit: OwnedSemaphorePermit,
    after: Option<AfterApply>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    enqueued: u64,
    applied: u64,
    stopped: bool,
    /// The expander is waiting for work: queued writes need a wake to be applied.
    idle: bool,
    /// A wake is on its way; more pushes need not schedule another.
    wake_scheduled: bool,
    /// The first failure to apply: sled 0.34 takes no write after one until reopened.
    failed: Option<String>,
}

struct Shared {
    journal: sled::Tree,
    target: sled::Tree,
    /// Counts every journaled request (the acknowledged mark, see [`super::mark`]).
    marker: Option<Arc<super::mark::Marker>>,
    /// Held shared while a batch is applied (see [`super::Store`]'s gate).
    gate: super::Gate,
    /// The store's keys, handed to ordered updates in their [`Applied`].
    sealer: super::Sealer,
    next: AtomicU64,
    state: Mutex<State>,
    work: Condvar,
    progress: Condvar,
    /// The `applied` count, for readers that wait without blocking a thread.
    applied: tokio::sync::watch::Sender<u64>,
    /// Queued and not yet applied: what a reader checks first (one atomic load).
    unapplied: AtomicU64,
    backlog: Arc<Semaphore>,
    /// The backlog's bound (see [`Journal::set_capacity`]).
    capacity: std::sync::atomic::AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a reader must see applied: everything queued so far. Wakes the expander
    /// here and now rather than rely on a scheduled wake, which may be a task that the
    /// waiting thread itself would run only after it returns.
    fn applied_target(&self, state: &State) -> u64 {
        if state.applied < state.enqueued {
            self.work.notify_one();
        }
        state.enqueued
    }

    /// Whether a wake must be scheduled now that something is queued (marks it so).
    fn wake_needed(state: &mut State) -> bool {
        let needed = state.idle && !state.wake_scheduled && !state.queue.is_empty();
        if needed {
            state.wake_scheduled = true;
        }
        needed
    }

    /// Wakes the expander once the calling task yields: on a runtime worker the wake is
    /// a task in the worker's next-to-run slot, so a handler's answer goes out first.
    /// Off a runtime, at once.
    fn wake_soon(self: Arc<Self>) {
        // The wake is in a drop, so a task dropped unrun (its runtime shutting down)
        // still wakes the expander.
        struct Wake(Arc<Shared>);
        impl Drop for Wake {
            fn drop(&mut self) {
                self.0.work.notify_one();
            }
        }
        let wake = Wake(self);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { drop(wake) });
            }
            Err(_) => drop(wake),
        }
    }
}

/// Owns the expander thread; stops (after applying what is queued) when dropped.
pub struct Journal {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
}

impl Journal {
    /// Starts the expander for `journal` → `target`. Call [`replay`] first.
    pub fn start(journal: sled::Tree, target: sled::Tree) -> Result<Journal> {
        Self::start_with(
            journal,
            target,
            None,
            super::Gate::default(),
            super::Sealer::default(),
        )
    }

    /// [`Journal::start`], counting records in `marker` and applying under `gate`.
    pub fn start_with(
        journal: sled::Tree,
        target: sled::Tree,
        marker: Option<Arc<super::mark::Marker>>,
        gate: super::Gate,
        sealer: super::Sealer,
    ) -> Result<Journal> {
        let shared = Arc::new(Shared {
            journal,
            target,
            marker,
            gate,
            sealer,
            next: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            applied: tokio::sync::watch::channel(0).0,
            unapplied: AtomicU64::new(0),
            backlog: Arc::new(Semaphore::new(MAX_BACKLOG)),
            capacity: std::sync::atomic::AtomicUsize::new(MAX_BACKLOG),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("journal-expand".into())
            .spawn(move || expand_loop(&for_thread))
            .map_err(|e| StoreError::Io(format!("cannot start the journal thread: {e}")))?;
        Ok(Journal {
            thread_id: thread.thread().id(),
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The first failure to apply records, if one happened.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// Writes `writes` as one journal record (not yet flushed: wait for the group
    /// commit before acknowledging). Waits while the backlog is full.
    pub async fn record(&self, writes: Writes) -> Result<Record> {
        let permit = self.permit().await?;
        self.record_with(writes, permit)
    }

    fn record_with(&self, writes: Writes, permit: OwnedSemaphorePermit) -> Result<Record> {
        let key = self
            .shared
            .next
            .fetch_add(1, Ordering::Relaxed)
            .to_be_bytes();
        self.shared.journal.insert(key, encode(&writes))?;
        // Counted once written, so the flush that makes it durable carries the count.
        if let Some(marker) = &self.shared.marker {
            marker.note_recorded();
        }
        Ok(Record {
            key,
            writes,
            _permit: permit,
        })
    }

    /// [`Journal::record`], waiting at most `patience` for room in the backlog:
    /// [`StoreError::Backlog`] when there is none by then (nothing was written).
    pub async fn record_within(
        &self,
        writes: Writes,
        patience: std::time::Duration,
    ) -> Result<Record> {
        let capacity = self.capacity();
        let permit = tokio::time::timeout(patience, self.permit())
            .await
            .map_err(|_| StoreError::Backlog { capacity })??;
        self.record_with(writes, permit)
    }

    /// Sets the backlog's bound; call before the first write (the engine does, from
    /// `[engine] journal_backlog`).
    pub fn set_capacity(&self, capacity: usize) {
        let capacity = capacity.max(1);
        let old = self.shared.capacity.swap(capacity, Ordering::SeqCst);
        if capacity > old {
            self.shared.backlog.add_permits(capacity - old);
        } else {
            self.shared.backlog.forget_permits(old - capacity);
        }
    }

    /// The backlog's bound.
    pub fn capacity(&self) -> usize {
        self.shared.capacity.load(Ordering::SeqCst)
    }

    /// Hands a flushed record to the expander; `after` runs once it is applied.
    pub fn apply(&self, record: Record, after: Option<AfterApply>) {
        self.push(
            Pending {
                work: Work::Writes(record.writes),
                key: Some(record.key),
                _permit: record._permit,
                after,
            },
            true,
        );
    }

    /// Queues writes that need no flush (a query's log) behind everything journaled so
    /// far, so they apply in order with it; `after` runs once they are applied. Waits
    /// while the backlog is full.
    pub async fn write(&self, writes: Writes, after: Option<AfterApply>) -> Result<()> {
        self.queue(writes, after, true).await
    }

    /// [`Journal::write`] without waking the expander: the writes wait for the next
    /// wake, which the caller brings with [`Journal::wake_on_drop`] once it has
    /// answered. A query's pending log is queued so, and then applied in one batch with
    /// its outcome (one write of the log instead of two) after the answer.
    pub async fn write_quiet(&self, writes: Writes) -> Result<()> {
        self.queue(writes, None, false).await
    }

    /// [`Journal::write_quiet`], waiting at most `patience` for room in the backlog:
    /// [`StoreError::Backlog`] when there is none by then (nothing was queued).
    pub async fn write_quiet_within(
        &self,
        writes: Writes,
        patience: std::time::Duration,
    ) -> Result<()> {
        let capacity = self.capacity();
        let permit = tokio::time::timeout(patience, self.permit())
            .await
            .map_err(|_| StoreError::Backlog { capacity })??;
        let pending = Pending {
            work: Work::Writes(writes),
            key: None,
            _permit: permit,
            after: None,
        };
        self.push(pending, false);
        Ok(())
    }

    async fn queue(&self, writes: Writes, after: Option<AfterApply>, wake: bool) -> Result<()> {
        let permit = self.permit().await?;
        let pending = Pending {
            work: Work::Writes(writes),
            key: None,
            _permit: permit,
            after,
        };
        self.push(pending, wake);
        Ok(())
    }

    /// Wakes the expander, if it sleeps with writes queued, once the calling task yields.
    fn wake_soon(&self) {
        if Shared::wake_needed(&mut self.shared.lock()) {
            self.shared.clone().wake_soon();
        }
    }

    /// A guard that wakes the expander (once the calling task yields) when dropped,
    /// also when the task holding it is cancelled (a client that hangs up mid-query).
    pub fn wake_on_drop(&self) -> WakeOnDrop<'_> {
        WakeOnDrop(self)
    }

    /// Runs `update` in its turn in the expander's order: it reads the tree as applied
    /// so far (everything queued before it, nothing after) and returns its writes and a
    /// value; the writes are applied before anything queued after it, and the value
    /// comes back once they are (the **ordered** wait). For read-modify-writes that
    /// must not lose a concurrent update (a delivery's outcome, operator actions).
    /// `update` runs on the expander thread: it must be quick and must not block.
    pub async fn ordered<T: Send + 'static>(
        &self,
        update: impl FnOnce(&Applied<'_>) -> (Writes, T) + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let update: Update = Box::new(move |applied| {
            let (writes, value) = update(applied);
            let done = Box::new(move |failed: Option<String>| {
                let _ = tx.send(match failed {
                    None => Ok(value),
                    Some(e) => Err(StoreError::Io(e)),
                });
            });
            (writes, done)
        });
        let permit = self.permit().await?;
        self.push(
            Pending {
                work: Work::Update(update),
                key: None,
                _permit: permit,
                after: None,
            },
            true,
        );
        rx.await
            .map_err(|_| StoreError::Io("the journal has stopped".into()))?
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit> {
        self.shared
            .backlog
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Io("the journal has stopped".into()))
    }

    fn push(&self, pending: Pending, wake: bool) {
        let mut state = self.shared.lock();
        state.queue.push_back(pending);
        state.enqueued += 1;
        // Under the lock, so it never reads 0 while `enqueued` is ahead of `applied`.
        self.shared.unapplied.fetch_add(1, Ordering::SeqCst);
        let wake = wake && Shared::wake_needed(&mut state);
        drop(state);
        if wake {
            self.shared.clone().wake_soon();
        }
    }

    /// Drops a record whose flush failed, so a restart does not apply a request that
    /// was answered with an error.
    pub fn discard(&self, record: Record) {
        if let Err(e) = self.shared.journal.remove(record.key) {
            tracing::error!(error = %e, "cannot discard a journal record");
        }
    }

    /// Whether everything queued so far is applied (one atomic load).
    fn caught_up(&self) -> bool {
        self.shared.unapplied.load(Ordering::SeqCst) == 0
            // The expander's own reads (inside an update) see the tree as it is: it
            // would otherwise wait for itself.
            || EXPANDER.with(Cell::get)
    }

    /// The **applied** wait, blocking: returns once everything queued before this call
    /// (journaled requests, writes, updates) is applied; at once, for the cost of one
    /// atomic load, when nothing is pending. On a multi-threaded runtime's worker it
    /// waits in `block_in_place`, so the worker's other tasks move on meanwhile.
    pub fn wait_applied(&self) {
        if self.caught_up() {
            return;
        }
        let wait = || {
            let mut state = self.shared.lock();
            let target = self.shared.applied_target(&state);
            while state.applied < target && !state.stopped {
                state = self
                    .shared
                    .progress
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    /// The **applied** wait without blocking the thread (for a stop, which flushes
    /// what is applied).
    pub async fn applied(&self) {
        if self.caught_up() {
            return;
        }
        let target = self.shared.applied_target(&self.shared.lock());
        let mut applied = self.shared.applied.subscribe();
        let _ = applied.wait_for(|n| *n >= target).await;
    }

    /// Records applied and records waiting, for health views.
    pub fn backlog(&self) -> usize {
        let state = self.shared.lock();
        (state.enqueued - state.applied) as usize
    }
}

/// See [`Journal::wake_on_drop`].
pub struct WakeOnDrop<'a>(&'a Journal);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wake_soon();
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.work.notify_all();
        // The last owner may be the expander itself (an `after` callback held it).
        if std::thread::current().id() == self.thread_id {
            return;
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
