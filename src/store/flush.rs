//! Group commit: one thread flushes sled for every writer waiting.
//!
//! A writer makes its writes (plain inserts, or a journal record) and awaits
//! [`GroupCommit::durable`]. The flusher thread takes every waiter queued so far, runs
//! one `flush()` and releases them all; waiters that arrive during a flush go in the
//! next one. A waiter is only released by a flush that began after it queued, so its
//! writes are on disk.
//!
//! A thread of its own rather than a task per flush: each request's path to disk is
//! one wake-up of this thread and one back, which matters on 2 cores. (Calling
//! `flush_async` per request instead deadlocks sled 0.34 under concurrency: sled issue
//! #1412.)

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};
use tokio::sync::{Semaphore, oneshot};

/// How many writers may wait for the next flush before new ones wait to queue.
pub const MAX_WAITERS: usize = 65_536;
/// How long a writer waits for the disk before it is told the write is unconfirmed
/// (a failing disk can hold sled's flush forever).
pub const DURABLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type Waiter = oneshot::Sender<Result<(), FlushError>>;

/// Why a write is not confirmed on disk. Cloned to every writer a flush released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlushError {
    /// This flush failed; the text is the disk's (or the mark file's) own error.
    #[error("{0}")]
    Disk(String),
    /// A flush failed before: the store takes no more writes.
    #[error("an earlier flush to disk failed ({0})")]
    EarlierFailure(String),
    #[error("the disk did not confirm the write within {} s", .0.as_secs())]
    Unconfirmed(std::time::Duration),
    #[error("the flusher has stopped")]
    Stopped,
}

/// Writes for one tree, in order: `(key, Some(value))` inserts, `(key, None)` removes.
/// Applied atomically as a `sled::Batch` ([`Writes::into_batch`]) or in order by the
/// journal's expander.
#[derive(Debug, Default, Clone)]
pub struct Writes {
    pub ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Writes {
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), Some(value.into())));
    }

    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), None));
    }

    /// The same writes as one sled batch (later writes to a key win, as applied in order).
    pub fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        self.append_to(&mut batch);
        batch
    }

    pub(crate) fn append_to(self, batch: &mut sled::Batch) {
        for (key, value) in self.ops {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
        }
    }
}

#[derive(Default)]
struct Waiting {
    waiters: Vec<Waiter>,
    stopped: bool,
    /// The first flush error: sled 0.34 takes no write after one until it is reopened.
    failed: Option<String>,
}

struct Shared {
    waiting: Mutex<Waiting>,
    wake: Condvar,
    slots: Semaphore,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops and joins the flusher when the last [`GroupCommit`] clone is dropped.
struct Flusher {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Option<ThreadId>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_all();
        if Some(std::thread::current().id()) == self.thread_id {
            return;
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

#[derive(Clone)]
pub struct GroupCommit {
    shared: Arc<Shared>,
    _flusher: Arc<Flusher>,
}

/// One flush; with a marker, the acknowledged count goes into the store before it and
/// into the mark file after it (see [`super::mark`]), once for every waiter released.
fn flush_once(db: &sled::Db, marker: Option<&super::mark::Marker>) -> Result<(), FlushError> {
    let disk = |e: &dyn std::fmt::Display| FlushError::Disk(e.to_string());
    let count = marker
        .map(|m| m.before_flush())
        .transpose()
        .map_err(|e| disk(&e))?;
    db.flush().map_err(|e| disk(&e))?;
    if let (Some(marker), Some(count)) = (marker, count) {
        marker.after_flush(count).map_err(|e| disk(&e))?;
    }
    Ok(())
}

fn flush_loop(shared: &Shared, db: &sled::Db, marker: Option<&super::mark::Marker>) {
    loop {
        let waiters = {
            let mut waiting = shared.lock();
            while waiting.waiters.is_empty() && !waiting.stopped {
                // An unsynced mark is synced once things are quiet for a moment; an
                // idle engine with nothing to sync sleeps until it is woken.
                if marker.is_some_and(|m| m.unsynced()) {
                    let (guard, timeout) = shared
                        .wake
                        .wait_timeout(waiting, super::mark::SYNC_EVERY)
                        .unwrap_or_else(|e| e.into_inner());
                    waiting = guard;
                    if timeout.timed_out()
                        && waiting.waiters.is_empty()
                        && let Some(Err(e)) = marker.map(|m| m.sync())
                    {
                        tracing::error!(error = %e, "syncing the acknowledged mark failed");
                    }
                } else {
                    waiting = shared.wake.wait(waiting).unwrap_or_else(|e| e.into_inner());
                }
            }
            if waiting.waiters.is_empty() {
                if let Some(Err(e)) = marker.map(|m| m.sync()) {
                    tracing::error!(error = %e, "syncing the acknowledged mark failed");
                }
                return;
            }
            std::mem::take(&mut waiting.waiters)
        };
        let result = flush_once(db, marker);
        if let Err(e) = &result {
            tracing::error!(error = %e, "flush to disk failed");
            shared.lock().failed.get_or_insert_with(|| e.to_string());
        }
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}

impl GroupCommit {
    /// Starts the flusher thread for `db`.
    pub fn start(db: sled::Db) -> Self {
        Self::start_marked(db, None)
    }

    /// Starts the flusher for a store: every flush also records its acknowledged count.
    pub fn for_store(store: &super::Store) -> Self {
        Self::start_marked(store.db().clone(), Some(store.marker().clone()))
    }

    fn start_marked(db: sled::Db, marker: Option<Arc<super::mark::Marker>>) -> Self {
        let shared = Arc::new(Shared {
            waiting: Mutex::new(Waiting::default()),
            wake: Condvar::new(),
            slots: Semaphore::new(MAX_WAITERS),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flush_loop(&for_thread, &db, marker.as_deref()));
        let (thread, thread_id) = match thread {
            Ok(t) => {
                let id = t.thread().id();
                (Some(t), Some(id))
            }
            Err(e) => {
                // Without a flusher every durable() answers with this error.
                tracing::error!(error = %e, "cannot start the flusher thread");
                shared.lock().stopped = true;
                (None, None)
            }
        };
        GroupCommit {
            _flusher: Arc::new(Flusher {
                shared: shared.clone(),
                thread: Mutex::new(thread),
                thread_id,
            }),
            shared,
        }
    }

    /// Returns once everything written before this call is on disk; an error when the
    /// disk failed before, or did not confirm within [`DURABLE_TIMEOUT`].
    pub async fn durable(&self) -> Result<(), FlushError> {
        let stopped = || FlushError::Stopped;
        let wait = async {
            let _slot = self.shared.slots.acquire().await.map_err(|_| stopped())?;
            let (tx, rx) = oneshot::channel();
            {
                let mut waiting = self.shared.lock();
                if let Some(e) = &waiting.failed {
                    return Err(FlushError::EarlierFailure(e.clone()));
                }
                if waiting.stopped {
                    return Err(stopped());
                }
                waiting.waiters.push(tx);
            }
            self.shared.wake.notify_one();
            rx.await.map_err(|_| stopped())?
        };
        tokio::time::timeout(DURABLE_TIMEOUT, wait)
            .await
            .unwrap_or(Err(FlushError::Unconfirmed(DURABLE_TIMEOUT)))
    }

    /// The first flush error, if one happened: the store takes no more writes.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_waiter_is_released_and_the_database_closes_with_the_last_clone() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let commit = GroupCommit::start(db.clone());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200u32 {
            let (db, commit) = (db.clone(), commit.clone());
            tasks.spawn(async move {
                db.insert(i.to_be_bytes(), vec![1; 100]).unwrap();
                commit.durable().await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        drop((db, commit));
        // The flusher thread held the database; once it is gone (and sled's own I/O
        // threads let go, which takes a moment), sled's lock is free.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let reopened = loop {
            match sled::open(dir.path()) {
                Ok(db) => break db,
                Err(e) if std::time::Instant::now() > deadline => panic!("still locked: {e}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        assert_eq!(reopened.len(), 200);
    }
}
