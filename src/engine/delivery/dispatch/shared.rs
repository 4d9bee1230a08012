//! A dispatcher's queue on a store shared by several nodes: taken through its lease
//! before anything is delivered, read from the database, given back when it empties.

use super::{Next, QueueState, STORE_ERROR_WAIT};
use crate::engine::delivery::lease::Held;
use crate::model::{LogRecord, LogStatus};
use crate::store::QueueItem;
use crate::store::postgres::PgStore;

impl QueueState<'_> {
    /// Makes sure this node holds the queue's lease. `Ok(false)`: another node does;
    /// this dispatcher has retired (that node delivers, or the scan wakes it again
    /// once its lease lapses).
    pub(super) async fn hold(&mut self, shared: &PgStore) -> Result<bool, Next> {
        if self.held.as_ref().is_some_and(|h| h.lease().is_some()) {
            return Ok(true);
        }
        self.held = None;
        match Held::take(shared, self.queue, self.stop).await {
            Ok(Some(held)) => {
                self.held = Some(held);
                Ok(true)
            }
            Ok(None) => {
                self.engine.delivery.retire(self.queue, || true);
                Ok(false)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot take a queue's lease");
                Err(Next::Wait(Some(STORE_ERROR_WAIT)))
            }
        }
    }

    /// The head item and its PENDING log, dropping items whose logs an operator
    /// settled; `Ok(None)` when the queue is empty.
    pub(super) async fn shared_head(
        &self,
        shared: &PgStore,
    ) -> Result<Option<(QueueItem, LogRecord)>, Next> {
        let failed = |e: crate::store::postgres::PgError| {
            tracing::error!(error = %e, "cannot read queue");
            Next::Wait(Some(STORE_ERROR_WAIT))
        };
        loop {
            let Some(item) = shared.head(self.queue).await.map_err(failed)? else {
                return Ok(None);
            };
            match shared.log(item.log_id).await.map_err(failed)? {
                Some(log) if log.status == LogStatus::Pending => return Ok(Some((item, log))),
                Some(_) => {}
                None => {
                    tracing::warn!(log = %item.log_id, "queued log has no record; dropping the entry")
                }
            }
            let Some(lease) = self.held.as_ref().and_then(Held::lease) else {
                return Err(Next::Again);
            };
            if shared.drop_settled(&lease, &item).await.map_err(failed)? {
                self.engine.delivery.bounds.left(self.destination.id);
            } else {
                return Err(Next::Again);
            }
        }
    }

    /// The queue is empty: the lease goes back and the dispatcher retires; if an item
    /// arrived meanwhile (its wake found this dispatcher still registered), a new one
    /// starts for it.
    pub(super) async fn retire_shared(&mut self) -> Next {
        self.give_back().await;
        self.engine.delivery.retire(self.queue, || true);
        if let Some(shared) = &self.engine.shared
            && !matches!(shared.head(self.queue).await, Ok(None))
        {
            self.engine.delivery.wake(*self.queue);
        }
        Next::Done
    }

    /// Gives the lease back (a retiring dispatcher, a stop) so another node need not
    /// wait for it to lapse.
    pub(super) async fn give_back(&mut self) {
        if let Some(held) = self.held.take() {
            held.give_back().await;
        }
    }
}
