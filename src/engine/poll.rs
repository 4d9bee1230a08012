//! Poll delivery: a destination with `mode = "poll"` fetches its queue instead of being
//! pushed to. Items are leased, not removed; an acknowledgement settles them, and an
//! item whose lease runs out is handed out again (at least once).

use super::config::DeliveryMode;
use super::{Destination, Engine, read_failure, write_failure};
use crate::model::{ApiError, Attempt, AttemptOutcome, LogStatus};
use crate::store::{Store, Writes};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub const DEFAULT_POLL_ITEMS: usize = 10;
pub const MAX_POLL_ITEMS: usize = 100;
pub const DEFAULT_LEASE_SECONDS: u64 = 60;
pub const MAX_LEASE_SECONDS: u64 = 3600;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollItem {
    pub log_id: Uuid,
    pub payload: Value,
}

impl Engine {
    fn poller(&self, destination: &str, token: &str) -> Result<Destination, ApiError> {
        let d = Uuid::parse_str(destination.trim())
            .ok()
            .and_then(|id| self.registry().destination(id).cloned())
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "\"{destination}\" is not a destination of this engine; poll with your destination ID."
                ))
            })?;
        if !bool::from(d.verification_token.as_bytes().ct_eq(token.as_bytes())) {
            return Err(ApiError::unauthorized(
                "The verification-token header does not match this destination's token.",
            ));
        }
        if d.mode != DeliveryMode::Poll {
            return Err(ApiError::bad_request(format!(
                "Destination \"{}\" is a push destination: the engine POSTs to its URL. Set \
                 mode = \"poll\" to fetch instead.",
                d.name
            )));
        }
        Ok(d)
    }

    /// Leases up to `max` of the destination's oldest unleased items.
    pub async fn poll(
        &self,
        destination: &str,
        token: &str,
        max: Option<usize>,
        lease_seconds: Option<u64>,
    ) -> Result<Vec<PollItem>, ApiError> {
        let d = self.poller(destination, token)?;
        let max = max.unwrap_or(DEFAULT_POLL_ITEMS).clamp(1, MAX_POLL_ITEMS);
        let lease = lease_seconds
            .unwrap_or(DEFAULT_LEASE_SECONDS)
            .clamp(1, MAX_LEASE_SECONDS);
        let now_ms = Utc::now().timestamp_millis().max(0) as u64;
        let until = now_ms + lease * 1000;
        if let Some(shared) = &self.shared {
            return self.poll_shared(shared, &d, max, now_ms, until).await;
        }
        let mut out = Vec::new();
        for item in self.store.destination_items(d.id).map_err(read_failure)? {
            if out.len() == max {
                break;
            }
            if item.lease_until_ms > now_ms {
                continue;
            }
            let log = self.store.log(item.log_id).map_err(read_failure)?;
            let Some(log) = log.filter(|l| l.status == LogStatus::Pending) else {
                self.unqueue_settled(item).await;
                continue;
            };
            let Some(request) = self.store.request(log.request_id).map_err(read_failure)? else {
                continue;
            };
            // Another poller may have taken it meanwhile; then it is theirs.
            if !self
                .store
                .lease(&item, until)
                .map_err(write_failure("the lease"))?
            {
                continue;
            }
            out.push(polled(&d, &log, request.payload));
        }
        Ok(out)
    }

    /// [`Engine::poll`] on the shared store: the batch leased in one statement (two
    /// nodes polling at once never hand out an item twice).
    async fn poll_shared(
        &self,
        shared: &crate::store::postgres::PgStore,
        d: &Destination,
        max: usize,
        now_ms: u64,
        until: u64,
    ) -> Result<Vec<PollItem>, ApiError> {
        let items = shared
            .poll_lease(d.id, max, now_ms, until)
            .await
            .map_err(read_failure)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let log = shared.log(item.log_id).await.map_err(read_failure)?;
            let Some(log) = log.filter(|l| l.status == LogStatus::Pending) else {
                shared
                    .drop_polled_settled(&item)
                    .await
                    .map_err(write_failure("the removal of a settled item"))?;
                continue;
            };
            let Some(request) = shared.request(log.request_id).await.map_err(read_failure)? else {
                continue;
            };
            out.push(polled(d, &log, request.payload));
        }
        Ok(out)
    }

    /// Settles polled items as SUCCEEDED. All IDs are checked before any is settled.
    pub async fn ack(
        &self,
        destination: &str,
        token: &str,
        log_ids: &[String],
    ) -> Result<usize, ApiError> {
        let d = self.poller(destination, token)?;
        let mut ids = Vec::with_capacity(log_ids.len());
        for raw in log_ids {
            let log = match Uuid::parse_str(raw.trim()) {
                Ok(id) => self.log_record(id).await.map_err(read_failure)?,
                Err(_) => None,
            }
            .ok_or_else(|| ApiError::not_found(format!("There is no log {raw}.")))?;
            if log.destination_id != d.id {
                return Err(ApiError::forbidden(format!(
                    "Log {raw} belongs to another destination; acknowledge only your own logs."
                )));
            }
            if !ids.contains(&log.id) {
                ids.push(log.id);
            }
        }
        // Settled in the journal's order (or under the log's lock on a shared store),
        // each from its log and queue entry as they are then: one that left the queue
        // meanwhile is not settled twice.
        let settled = match &self.shared {
            Some(shared) => shared
                .ack_polled(d.id, &ids, acknowledged)
                .await
                .map_err(write_failure("the acknowledgement"))?,
            None => self.ack_embedded(d.id, ids).await?,
        };
        for updated in &settled {
            self.publish(updated);
            self.stats.attempt(d.id, true, None);
            self.metrics.attempt(&d.name, true, None);
        }
        // The poller may delete its copy once acknowledged: make it stick.
        self.commit
            .durable()
            .await
            .map_err(write_failure("the acknowledgement"))?;
        Ok(settled.len())
    }

    async fn ack_embedded(
        &self,
        destination: Uuid,
        ids: Vec<Uuid>,
    ) -> Result<Vec<crate::model::LogRecord>, ApiError> {
        self.store
            .journal()
            .ordered(move |now| {
                let mut writes = Writes::default();
                let mut settled = Vec::new();
                for id in ids {
                    let Ok(Some(log)) = now.log(id) else { continue };
                    let Ok(Some(item)) = now.find_queued(destination, id) else {
                        continue; // already acknowledged
                    };
                    let (updated, attempt) = acknowledged(&log);
                    let change = Store::delivery_writes(
                        now.sealer(),
                        &item,
                        &log,
                        &updated,
                        Some(&attempt),
                        true,
                    );
                    writes.ops.extend(change.ops);
                    settled.push(updated);
                }
                (writes, settled)
            })
            .await
            .map_err(write_failure("the acknowledgement"))
    }
}

/// A polled log as it is acknowledged: SUCCEEDED, with its attempt.
fn acknowledged(log: &crate::model::LogRecord) -> (crate::model::LogRecord, Attempt) {
    let at = Utc::now();
    let number = log.attempts + 1;
    let attempt = Attempt {
        id: if number == 1 {
            log.attempt_id
        } else {
            Uuid::now_v7()
        },
        log_id: log.id,
        number,
        started_at: at,
        outcome: AttemptOutcome::Succeeded,
        http_status: None,
        latency_ms: 0.0,
        response_body: None,
        response_truncated: false,
        error: None,
    };
    let mut updated = log.clone();
    updated.status = LogStatus::Succeeded;
    updated.attempts = number;
    updated.updated_at = at;
    (updated, attempt)
}

/// A leased item as the poller receives it: `Meta.Logs` names its log.
fn polled(d: &Destination, log: &crate::model::LogRecord, mut payload: Value) -> PollItem {
    // As pushed deliveries: UTC unless it asked for its own zone.
    if let Some(zone) = d.render_time_zone {
        crate::model::time::render_payload(&mut payload, zone);
    }
    if let Some(meta) = payload.get_mut("Meta").and_then(Value::as_object_mut) {
        meta.insert(
            "Logs".into(),
            serde_json::json!([{"ID": log.id, "AttemptID": log.attempt_id}]),
        );
        super::routing::legacy::stamp(meta, Some(log));
    }
    PollItem {
        log_id: log.id,
        payload,
    }
}
