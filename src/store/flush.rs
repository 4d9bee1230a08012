//! Group commit: one task writes and one task flushes sled for every writer waiting.
//!
//! Writers either apply their batch themselves and then call [`GroupCommit::durable`],
//! or hand their writes to [`GroupCommit::write_durable`] (or, when they need no flush,
//! [`GroupCommit::write`]). The writer task takes every job queued so far and applies
//! all the handed-over writes as ONE sled batch; the flusher takes every job written so
//! far, runs one `flush()` on a blocking thread, and releases them all, so writing the
//! next group overlaps flushing the last. A waiter is only released by a flush that
//! began after its writes were applied, so they are on disk.
//!
//! Why one batch: sled 0.34 rolls its log buffer before and after every `apply_batch`
//! (a write to the log file each time, under its batch lock), so one batch per request
//! serializes concurrent requests on that log write. Merging the batches of all the
//! requests waiting keeps each request atomic (its writes are all in the merged batch,
//! or none is) and pays that cost once per group instead of once per request. (Calling
//! `flush_async` per request instead deadlocks sled 0.34 under concurrency: sled issue
//! #1412.)

use tokio::sync::{mpsc, oneshot};

/// How many writers may wait for the next flush before new ones wait to queue.
pub const MAX_WAITERS: usize = 65_536;

type Waiter = oneshot::Sender<Result<(), String>>;

/// Writes for one tree, in order: `(key, Some(value))` inserts, `(key, None)` removes.
/// Applied atomically, like a `sled::Batch` (which cannot be merged or read back).
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

struct Job {
    writes: Option<(sled::Tree, Writes)>,
    /// Released after the flush; otherwise as soon as the writes are applied.
    durable: bool,
    waiter: Waiter,
}

#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Job>,
}

/// Applies the writes of the jobs (consecutive writes to one tree in one batch), leaving
/// the jobs to be flushed.
fn apply(jobs: &mut [Job]) -> Result<(), String> {
    let mut current: Option<(sled::Tree, sled::Batch)> = None;
    for job in jobs.iter_mut() {
        let Some((tree, writes)) = job.writes.take() else {
            continue;
        };
        match &mut current {
            Some((t, batch)) if t.name() == tree.name() => writes.append_to(batch),
            _ => {
                if let Some((t, batch)) = current.take() {
                    t.apply_batch(batch).map_err(|e| e.to_string())?;
                }
                let mut batch = sled::Batch::default();
                writes.append_to(&mut batch);
                current = Some((tree, batch));
            }
        }
    }
    if let Some((t, batch)) = current {
        t.apply_batch(batch).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl GroupCommit {
    /// Starts the writer and flusher tasks on the current tokio runtime.
    ///
    /// Two stages, so that writing the next group overlaps flushing the previous one:
    /// the writer applies every group of handed-over writes (one batch) and passes the
    /// jobs on; the flusher takes every job passed on so far, flushes once, and
    /// releases them. A job's flush always starts after its writes were applied.
    pub fn start(db: sled::Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(MAX_WAITERS);
        let (flush_tx, mut flush_rx) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while let Ok(next) = rx.try_recv() {
                    jobs.push(next);
                }
                if jobs.iter().all(|j| j.writes.is_none()) {
                    for job in jobs {
                        let _ = flush_tx.send(job);
                    }
                    continue;
                }
                // Applied on this task, as a handler applying its own batch would:
                // sled's batch lock admits one batch at a time anyway.
                match apply(&mut jobs) {
                    Ok(()) => {
                        for job in jobs {
                            if job.durable {
                                let _ = flush_tx.send(job);
                            } else {
                                let _ = job.waiter.send(Ok(()));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "write to the database failed");
                        for job in jobs {
                            let _ = job.waiter.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        tokio::spawn(async move {
            let mut waiting = Vec::new();
            while let Some(first) = flush_rx.recv().await {
                waiting.push(first);
                while let Ok(next) = flush_rx.try_recv() {
                    waiting.push(next);
                }
                let db = db.clone();
                let result = tokio::task::spawn_blocking(move || db.flush())
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map(|_| ()).map_err(|e| e.to_string()));
                if let Err(e) = &result {
                    tracing::error!(error = %e, "flush to disk failed");
                }
                for job in waiting.drain(..) {
                    let _ = job.waiter.send(result.clone());
                }
            }
        });
        GroupCommit { tx }
    }

    /// Queues a job; the receiver answers once it is done.
    async fn enqueue(
        &self,
        writes: Option<(sled::Tree, Writes)>,
        durable: bool,
    ) -> Result<oneshot::Receiver<Result<(), String>>, String> {
        let (waiter, rx) = oneshot::channel();
        self.tx
            .send(Job {
                writes,
                durable,
                waiter,
            })
            .await
            .map_err(|_| "the flusher has stopped".to_string())?;
        Ok(rx)
    }

    async fn submit(
        &self,
        writes: Option<(sled::Tree, Writes)>,
        durable: bool,
    ) -> Result<(), String> {
        self.enqueue(writes, durable)
            .await?
            .await
            .map_err(|_| "the flusher has stopped".to_string())?
    }

    /// Returns once everything written before this call is on disk.
    pub async fn durable(&self) -> Result<(), String> {
        self.submit(None, true).await
    }

    /// Applies `writes` to `tree` atomically (in one batch with the writes of other
    /// writers waiting) and returns once they are on disk.
    pub async fn write_durable(&self, tree: &sled::Tree, writes: Writes) -> Result<(), String> {
        self.submit(Some((tree.clone(), writes)), true).await
    }

    /// Queues `writes` to `tree` (applied atomically, in one batch with the writes of
    /// other writers waiting, in the order queued) without waiting for a flush; await
    /// the returned [`Applied`] to know they were applied.
    pub async fn write(&self, tree: &sled::Tree, writes: Writes) -> Result<Applied, String> {
        Ok(Applied(
            self.enqueue(Some((tree.clone(), writes)), false).await?,
        ))
    }
}

/// Writes queued by [`GroupCommit::write`]; resolves once applied.
pub struct Applied(oneshot::Receiver<Result<(), String>>);

impl Applied {
    pub async fn done(self) -> Result<(), String> {
        self.0
            .await
            .map_err(|_| "the flusher has stopped".to_string())?
    }
}
