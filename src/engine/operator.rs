//! Operator actions on delivery, each written to the audit trail: pause and resume a
//! destination, retry now, quarantine and release, mark failed, resend.

use super::{Engine, read_failure, write_failure};
use crate::model::{ApiError, LogRecord, LogStatus};
use crate::store::queue::DestinationState;
use crate::store::{AuditEntry, QueueId, QueueItem};
use chrono::Utc;
use uuid::Uuid;

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
            at: Utc::now(),
            actor: actor.to_string(),
            action: action.to_string(),
            log_id,
            detail,
        };
        if let Err(e) = self.store.append_audit(&entry) {
            tracing::error!(error = %e, action, "cannot write the audit trail");
        }
    }

    /// Operator changes are acknowledged only once on disk, like everything else.
    async fn settle(&self) -> Result<(), ApiError> {
        self.commit
            .durable()
            .await
            .map_err(write_failure("the operator action"))
    }

    fn known_destination(&self, id: Uuid) -> Result<&super::Destination, ApiError> {
        self.registry
            .destination(id)
            .ok_or_else(|| ApiError::not_found(format!("There is no destination {id}.")))
    }

    fn known_log(&self, id: Uuid) -> Result<LogRecord, ApiError> {
        self.store
            .log(id)
            .map_err(read_failure)?
            .ok_or_else(|| ApiError::not_found(format!("There is no log {id}.")))
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
        self.store
            .set_destination_state(destination, &DestinationState { paused })
            .map_err(write_failure("the destination's new state"))?;
        self.delivery.set_paused(destination, paused);
        self.delivery.kick(destination);
        let action = if paused { "pause" } else { "resume" };
        self.audit(actor, action, None, Some(d.name.clone()));
        self.settle().await
    }

    /// Ends the current retry waits of a destination's queues.
    pub fn retry_now(&self, destination: Uuid, actor: &str) -> Result<(), ApiError> {
        self.ensure_writable()?;
        self.settled();
        let d = self.known_destination(destination)?;
        self.delivery.kick(destination);
        self.audit(actor, "retry-now", None, Some(d.name.clone()));
        Ok(())
    }

    /// Moves a queued item to quarantine; its queue goes on without it.
    pub(crate) fn quarantine_item(
        &self,
        item: &QueueItem,
        log: &LogRecord,
        actor: &str,
        reason: &str,
    ) -> Result<(), crate::store::StoreError> {
        let mut updated = log.clone();
        updated.quarantined = true;
        updated.updated_at = Utc::now();
        self.store.quarantine(item, log, &updated)?;
        self.publish(&updated);
        self.audit(actor, "quarantine", Some(log.id), Some(reason.to_string()));
        Ok(())
    }

    pub async fn quarantine(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        self.settled_async().await;
        let log = self.known_log(log_id)?;
        let item = self
            .store
            .find_queued(log.destination_id, log_id)
            .map_err(read_failure)?
            .ok_or_else(|| {
                conflict(format!(
                    "Log {log_id} is not queued, so it cannot be quarantined."
                ))
            })?;
        self.quarantine_item(&item, &log, actor, "operator")
            .map_err(write_failure("the quarantine"))?;
        self.delivery.kick(log.destination_id);
        self.settle().await?;
        self.known_log(log_id)
    }

    /// Puts a quarantined log back at the head of its queue.
    pub async fn release(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        self.settled_async().await;
        let log = self.known_log(log_id)?;
        let mut updated = log.clone();
        updated.quarantined = false;
        updated.released_at_attempt = log.attempts;
        updated.updated_at = Utc::now();
        let queue = self
            .store
            .release(log.destination_id, log_id, true, &log, &updated)
            .map_err(write_failure("the release"))?
            .ok_or_else(|| conflict(format!("Log {log_id} is not in quarantine.")))?;
        self.publish(&updated);
        self.audit(actor, "release", Some(log_id), None);
        self.delivery.wake(queue);
        self.delivery.kick(log.destination_id);
        self.settle().await?;
        Ok(updated)
    }

    /// Gives up on a log: FAILED, and out of its queue or quarantine.
    pub async fn mark_failed(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        self.settled_async().await;
        let log = self.known_log(log_id)?;
        if log.status != LogStatus::Pending {
            return Err(conflict(format!(
                "Log {log_id} is already {}; only PENDING logs can be marked FAILED.",
                log.status.as_str()
            )));
        }
        let mut updated = log.clone();
        updated.status = LogStatus::Failed;
        updated.quarantined = false;
        updated.updated_at = Utc::now();
        let released = self
            .store
            .release(log.destination_id, log_id, false, &log, &updated)
            .map_err(write_failure("the change"))?;
        if released.is_none() {
            match self
                .store
                .find_queued(log.destination_id, log_id)
                .map_err(read_failure)?
            {
                Some(item) => self
                    .store
                    .abandon(&item, &log, &updated)
                    .map_err(write_failure("the change"))?,
                None => self
                    .store
                    .update_log(&log, &updated, None, None)
                    .map_err(write_failure("the change"))?,
            }
        }
        self.publish(&updated);
        self.audit(actor, "mark-failed", Some(log_id), None);
        self.delivery.kick(log.destination_id);
        self.settle().await?;
        Ok(updated)
    }

    /// Queues the same request to the same destination again, as a new log that
    /// points to the original.
    pub async fn resend(&self, log_id: Uuid, actor: &str) -> Result<LogRecord, ApiError> {
        self.ensure_writable()?;
        self.settled_async().await;
        let original = self.known_log(log_id)?;
        if original.exchange.is_sync() {
            return Err(conflict(format!(
                "Log {log_id} is a query; queries are answered at once and cannot be resent. \
                 Send the query again instead."
            )));
        }
        let destination = self.known_destination(original.destination_id)?.clone();
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
        self.store
            .insert_resend(&log, &queue)
            .map_err(write_failure("the resent request"))?;
        self.publish(&log);
        self.audit(
            actor,
            "resend",
            Some(original.id),
            Some(format!("new log {}", log.id)),
        );
        self.delivery.wake(queue);
        self.settle().await?;
        Ok(log)
    }
}
