//! Accepting notifications and writebacks: routed (`engine::routing`), then persisted
//! with one log and queue entry per destination, flushed, and only then acknowledged.

use super::answer::{Answer, acceptance};
use super::routing::{self, Rejection};
use super::{Engine, Source, store_failure};
use crate::model::meta::Envelope;
use crate::model::{ApiError, LogType};
use crate::store::QueueId;

impl Engine {
    /// Accepts a notification or writeback: routed, stored, flushed, then answered.
    pub(crate) async fn accept(
        &self,
        source: &Source,
        envelope: Envelope,
    ) -> Result<Answer, Rejection> {
        let started = std::time::Instant::now();
        let destinations = routing::route(&self.registry(), source, &envelope)
            .map_err(|e| Rejection::new(e, &envelope))?;
        // Before any write: a refused message leaves nothing half stored.
        let room = self
            .admit(&destinations)
            .await
            .map_err(|e| Rejection::new(e, &envelope))?;
        let mut prepared = routing::prepare(source, envelope, &destinations, LogType::Send);
        routing::legacy::assign(self, &mut prepared, source.legacy_ids)
            .await
            .map_err(|e| Rejection::bare(store_failure(e)))?;
        // The 200 echoes the Meta as filled in; written now, before the payload is stored.
        let answer = acceptance(&prepared.request.payload);
        self.persist_accepted(prepared, &destinations).await?;
        room.keep();
        self.stats.request(source.id);
        self.metrics.ingested(started.elapsed());
        Ok(answer)
    }

    /// Stores an accepted request with one log and queue entry per destination, waits
    /// for the flush, then hands the logs to delivery: the durable half of [`accept`],
    /// shared with FHIR messages (`engine::fhir`). Capacity is reserved by the caller.
    ///
    /// [`accept`]: Engine::accept
    pub(crate) async fn persist_accepted(
        &self,
        prepared: routing::Prepared,
        destinations: &[super::Destination],
    ) -> Result<(), Rejection> {
        let lanes: Vec<u64> = prepared
            .logs
            .iter()
            .zip(destinations)
            .map(|(log, d)| routing::lane(d, log))
            .collect();
        if let Some(shared) = &self.shared {
            return self.persist_shared(shared, prepared, lanes).await;
        }
        let writes = self
            .store
            .accepted_writes(&prepared.request, &prepared.logs, Some(&lanes))
            .map_err(|e| Rejection {
                error: store_failure(e),
                meta: None,
            })?;
        // Persist before acknowledging: the 200 promises the request survives a crash.
        // The whole write set is one journal record (one sled key), flushed with the
        // other requests waiting; it is applied to history and the queues right after.
        let journal = self.store.journal();
        let record = journal
            .record_within(writes, crate::store::journal::BACKLOG_PATIENCE)
            .await
            .map_err(|e| Rejection {
                error: match e {
                    crate::store::StoreError::Backlog { .. } => self.overloaded(e),
                    e => store_failure(e),
                },
                meta: None,
            })?;
        if let Err(e) = self.commit.durable().await {
            journal.discard(record);
            tracing::error!(error = %e, "a request's flush failed");
            return Err(Rejection {
                error: not_committed(&e),
                meta: None,
            });
        }
        let queues = queues_of(&prepared.logs, lanes);
        // The logs are announced once applied (see `Delivery::after_accept`).
        journal.apply(
            record,
            Some(self.delivery.after_accept(queues, prepared.logs)),
        );
        Ok(())
    }

    /// [`Engine::persist_accepted`] on the shared store: one commit (grouped with the
    /// other requests waiting) before the 200, then the logs announced and their push
    /// queues woken here (other nodes hear of them through the commit's change notes).
    async fn persist_shared(
        &self,
        shared: &crate::store::postgres::PgStore,
        prepared: routing::Prepared,
        lanes: Vec<u64>,
    ) -> Result<(), Rejection> {
        if let Err(e) = shared
            .accept(&prepared.request, &prepared.logs, Some(&lanes))
            .await
        {
            tracing::error!(error = %e, "a request's commit failed");
            return Err(Rejection {
                error: not_committed(&e),
                meta: None,
            });
        }
        let queues = queues_of(&prepared.logs, lanes);
        (self.delivery.after_accept(queues, prepared.logs))();
        Ok(())
    }

    /// The journal's backlog stayed full: 503, counted, with when to come back.
    pub(crate) fn overloaded(&self, e: crate::store::StoreError) -> ApiError {
        self.stats.note_overloaded();
        tracing::warn!(error = %e, "refused: journal backlog full");
        ApiError::unavailable(format!(
            "The engine is overloaded ({e}); the request was not accepted. Retry after the \
             Retry-After delay."
        ))
        .with_header("Retry-After", "1".into())
    }
}

/// The queue of each log, by its lane.
fn queues_of(logs: &[crate::model::LogRecord], lanes: Vec<u64>) -> Vec<QueueId> {
    logs.iter()
        .zip(lanes)
        .map(|(log, lane)| QueueId {
            destination: log.destination_id,
            source: log.source_id,
            lane,
        })
        .collect()
}

/// The store did not confirm a request: 503, not acknowledged, to be sent again.
fn not_committed(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(
        503,
        "storage",
        "Storage",
        format!(
            "The store did not confirm the request ({e}); it was not acknowledged. Retry \
             shortly (a retried request may arrive twice); if it persists, check the \
             engine's store and logs."
        ),
    )
    .with_header("Retry-After", "5".into())
}
