//! Group commit: one task flushes sled for every writer that is waiting.
//!
//! Writers apply their batch, then call [`GroupCommit::durable`]. The flusher takes
//! every waiter queued so far, runs one `flush()` on a blocking thread, and releases
//! them all. A waiter is only released by a flush that began after it was queued, so
//! its writes are on disk. (Calling `flush_async` per request instead deadlocks sled
//! 0.34 under concurrency: sled issue #1412.)

use tokio::sync::{mpsc, oneshot};

/// How many writers may wait for the next flush before new ones wait to queue.
pub const MAX_WAITERS: usize = 65_536;

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Waiter>,
}

impl GroupCommit {
    /// Starts the flusher task on the current tokio runtime.
    pub fn start(db: sled::Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<Waiter>(MAX_WAITERS);
        tokio::spawn(async move {
            let mut waiting = Vec::new();
            while let Some(first) = rx.recv().await {
                waiting.push(first);
                while let Ok(next) = rx.try_recv() {
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
                for waiter in waiting.drain(..) {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        GroupCommit { tx }
    }

    /// Returns once everything written before this call is on disk.
    pub async fn durable(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .await
            .map_err(|_| "the flusher has stopped".to_string())?;
        rx.await
            .map_err(|_| "the flusher has stopped".to_string())?
    }
}
