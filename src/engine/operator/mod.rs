//! Operator actions on delivery, each written to the audit trail: pause and resume a
//! destination, retry now, quarantine and release, mark failed, resend.

mod shared;

use super::{Engine, read_failure, write_failure};
use crate::model::{ApiError, LogRecord, LogStatus};
use crate::store::queue::DestinationState;
use crate::store::{Applied, AuditEntry, QueueId, QueueItem, Store, Writes};
use uuid::Uuid;

/// Why a log was not moved to quarantine (at its turn in the journal's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotQuarantined {
    #[error("There is no log {0}.")]
    NoLog(Uuid),
    #[error("Log {0} is not queued, so it cannot be quarantined.")]
    NotQueued(Uuid),
}

fn conflict(text: String) -> ApiError {
    ApiError::new(409, "state", "Delivery", text)
}

impl Engine {
    pub(crate) fn audit(
        &self,
        actor: &str,
        action: &str,
        log_id: Option<Uuid>,
        detail: Option<String>,
    ) {
        let entry = AuditEntry {
            actor: actor.to_string(),
            action: action.to_string(),
            log_id,
            detail,
            ..AuditEntry::default()
        };
        if let Err(e) = self.record_audit(entry) {
            tracing::error!(error = %e, action, "cannot write the audit trail");
        }
    }

    /// Operator changes are acknowledged only once on disk, like everything else (the
    /// **durable** wait).
    pub(crate) async fn durable(&self) -> Result<(), ApiError> {
        self.commit
            .durable()
            .await
            .map_err(write_failure("the operator action"))
    }

    fn known_destination(&self, id: Uuid) -> Result<super::Destination, ApiError> {
        self.registry()
            .destination(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("There is no destination {id}.")))
    }

    async fn known_log(&self, id: Uuid) -> Result<LogRecord, ApiError> {
        self.log_record(id)
            .await
            .map_err(read_failure)?
            .ok_or_else(|| ApiError::not_found(format!("There is no log {id}.")))
    }

    /// Runs an operator's change in the journal's order (the **ordered** wait): `change`
    /// reads the log and its queue as they are at its turn, after every delivery
    /// outcome queued before it, and its writes apply before anything queued after, so
    /// neither an operator nor a dispatcher loses the other's update.
    async fn change<T: Send + 'static>(
        &self,
        what: &'static str,
        change: impl FnOnce(&Applied<'_>) -> Result<(Writes, T), ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.store
            .journal()
            .ordered(move |applied| match change(applied) {
                Ok((writes, value)) => (writes, Ok(value)),
                Err(e) => (Writes::default(), Err(e)),
            })
            .await
            .map_err(write_failure(what))?
    }

    /// Pauses or resumes push delivery to a destination; kept across restarts.
    pub async fn set_paused(
        &self,
        destination: Uuid,
        paused: bool,
        actor: &str,
    ) -> Result<(), ApiError> {
        self.ensure_writable()?;
        let d = self.known_destination(destination)?;
        let state = DestinationState { paused };
        match &self.shared {
            Some(shared) => shared
                .set_destination_state(destination, &state)
                .await
                .map_err(|e| write_failure("the destination's new state")(e)),
            None => self
                .store
                .set_destination_state(destination, &state)
                .map_err(write_failure("the destination's new state")),
        }?;
        self.delivery.set_paused(destination, paused);
        self.delivery.kick(destination);
        let action = if paused { "pause" } else { "resume" };
        self.audit(actor, action, None, Some(d.name.clone()));
        self.durable().await
    }

    /// Ends the current retry waits of a destination's queues.
    pub fn retry_now(&self, destination: Uuid, actor: &str) -> Result<(), ApiError> {
        self.ensure_writable()?;
        let d = self.known_destination(destination)?;
        self.delivery.kick(destination);
        self.audit(actor, "retry-now", None, Some(d.name.clone()));
        Ok(())
    }

    /// Moves a queued log to quarantine, in the journal's order: only if, at its turn,
    /// it is still PENDING, not quarantined, and queued. The inner error says why it was
    /// not (for the operator); the updated log when it was.
    pub(crate) async fn quarantine_log(
        &self,
        log_id: Uuid,
        actor: &str,
        reason: &str,
    ) -> Result<Result<LogRecord, NotQuarantined>, ApiError> {
        let moved = match &self.shared {
            Some(shared) => shared::quarantine(shared, log_id).await?,
            None => self.quarantine_embedded(log_id).await?,
        };
        if let Ok(updated) = &moved {
            self.publish(updated);
            self.audit(actor, "quarantine", Some(log_id), Some(reason.to_string()));
            self.count_quarantined(updated.destination_id);
            self.delivery.kick(updated.destination_id);
        }
        Ok(moved)
    }

    async fn quarantine_embedded(
        &self,
        log_id: Uuid,
    ) -> Result<Result<LogRecord, NotQuarantined>, ApiError> {
        self.change("the quarantine", move |now| {
            let Some(log) = now.log(log_id).map_err(read_failure)? else {
                return Ok((Writes::default(), Err(NotQuarantined::NoLog(log_id))));
            };
            let queued = now
                .find_queued(log.destination_id, log_id)
                .map_err(read_failure)?;
            let item = match queued {
                Some(item) if log.status == LogStatus::Pending && !log.quarantined => item,
                _ => {
                    return Ok((Writes::default(), Err(NotQuarantined::NotQueued(log_id))));
                }
            };
            let updated = shared::quarantined(&log);
            let writes = Store::quarantine_writes(&item, &log, &updated);
            Ok((writes, Ok(updated)))
        })
        .await
    }

    /// Drops a queue entry whose log is gone or no longer PENDING (checked again at
    /// its turn in the journal's order). A failure is only logged: the entry is looked
    /// at again on the next pass.
    pub(crate) async fn unqueue_settled(&self, item: QueueItem) {
        let dropped = self
            .store
            .journal()
            .ordered(move |now| {
                let settled = match now.log(item.log_id) {
                    Ok(log) => log.is_none_or(|l| l.status != LogStatus::Pending),
                    Err(_) => false,
                };
                let writes = if settled {
                    Store::unqueue_writes(&item)
                } else {
                    Writes::default()
                };
                (writes, ())
            })
            .await;
        if let Err(e) = dropped {
            tracing::error!(error = %e, "cannot drop a settled queue entry");
        }
    }

    pub async fn quarantine(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        // A 404 for a log that never existed, before anything is queued.
        self.known_log(log_id).await?;
        let updated = self
            .quarantine_log(log_id, actor, "operator")
            .await?
            .map_err(|e| conflict(e.to_string()))?;
        self.durable().await?;
        Ok(updated)
    }

    /// Puts a quarantined log back at the head of its queue.
    pub async fn release(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        self.known_log(log_id).await?;
        let (updated, queue) = match &self.shared {
            Some(shared) => shared::release(shared, log_id).await?,
            None => self.release_embedded(log_id).await?,
        };
        self.publish(&updated);
        self.audit(actor, "release", Some(log_id), None);
        if let Some(queue) = queue {
            self.delivery.wake(queue);
        }
        self.delivery.kick(updated.destination_id);
        self.durable().await?;
        Ok(updated)
    }

    async fn release_embedded(
        &self,
        log_id: Uuid,
    ) -> Result<(LogRecord, Option<QueueId>), ApiError> {
        self.change("the release", move |now| {
            let log = now
                .log(log_id)
                .map_err(read_failure)?
                .ok_or_else(|| ApiError::not_found(format!("There is no log {log_id}.")))?;
            let original = now
                .quarantined_from(log.destination_id, log_id)
                .map_err(read_failure)?
                .ok_or_else(|| conflict(format!("Log {log_id} is not in quarantine.")))?;
            let updated = shared::released(&log);
            let (writes, queue) = Store::release_writes(&original, true, &log, &updated);
            Ok((writes, (updated, queue)))
        })
        .await
    }

    /// Gives up on a log: FAILED, and out of its queue or quarantine.
    pub async fn mark_failed(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        self.known_log(log_id).await?;
        let updated = match &self.shared {
            Some(shared) => shared::mark_failed(shared, log_id).await?,
            None => self.mark_failed_embedded(log_id).await?,
        };
        self.publish(&updated);
        self.audit(actor, "mark-failed", Some(log_id), None);
        self.delivery.kick(updated.destination_id);
        self.durable().await?;
        Ok(updated)
    }

    async fn mark_failed_embedded(&self, log_id: Uuid) -> Result<LogRecord, ApiError> {
        self.change("the change", move |now| {
            let log = now
                .log(log_id)
                .map_err(read_failure)?
                .ok_or_else(|| ApiError::not_found(format!("There is no log {log_id}.")))?;
            if log.status != LogStatus::Pending {
                return Err(shared::not_pending(&log));
            }
            let updated = shared::failed(&log);
            let destination = log.destination_id;
            let writes = match now
                .quarantined_from(destination, log_id)
                .map_err(read_failure)?
            {
                Some(original) => Store::release_writes(&original, false, &log, &updated).0,
                None => match now.find_queued(destination, log_id).map_err(read_failure)? {
                    Some(item) => {
                        Store::delivery_writes(now.sealer(), &item, &log, &updated, None, true)
                    }
                    None => Store::update_writes(now.sealer(), &log, &updated, None, None),
                },
            };
            Ok((writes, updated))
        })
        .await
    }

    /// Queues the same request to the same destination again, as a new log that
    /// points to the original.
    pub async fn resend(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        let original = self.known_log(log_id).await?;
        if original.exchange.is_sync() {
            return Err(conflict(format!(
                "Log {log_id} is a query; queries are answered at once and cannot be resent. \
                 Send the query again instead."
            )));
        }
        if original.destination_id == super::upload::UPLOAD_DESTINATION_ID {
            return Err(conflict(format!(
                "Log {log_id} records an upload, which is stored, not delivered: there is \
                 nothing to resend. Upload the file again instead."
            )));
        }
        let destination = self.known_destination(original.destination_id)?;
        let (id, now) = crate::model::log::new_log_id();
        let log = LogRecord {
            id,
            attempt_id: Uuid::now_v7(),
            status: LogStatus::Pending,
            created_at: now,
            updated_at: now,
            attempts: 0,
            latency_ms: None,
            quarantined: false,
            released_at_attempt: 0,
            resend_of: Some(original.id),
            ..original.clone()
        };
        let queue = QueueId {
            destination: destination.id,
            source: log.source_id,
            lane: super::delivery::lane(&destination, &log),
        };
        // A new log and a new queue entry: nothing stored is read to write them, but
        // they still go in the journal's order, behind everything queued before.
        if let Some(shared) = &self.shared {
            shared
                .enqueue_log(&log, &queue)
                .await
                .map_err(write_failure("the resent request"))?;
        } else {
            let writes = self
                .store
                .resend_writes(&log, &queue)
                .map_err(write_failure("the resent request"))?;
            self.change("the resent request", move |_| Ok((writes, ())))
                .await?;
        }
        self.publish(&log);
        let entry = AuditEntry {
            actor: actor.to_string(),
            action: "resend".into(),
            logs: vec![original.id, log.id],
            detail: Some(format!("new log {}", log.id)),
            ..AuditEntry::default()
        };
        if let Err(e) = self.record_audit(entry) {
            tracing::error!(error = %e, "cannot write the audit trail");
        }
        self.delivery.wake(queue);
        self.durable().await?;
        Ok(log)
    }
}
