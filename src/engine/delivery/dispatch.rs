//! The dispatcher loop of one queue.

mod shared;

use super::retry::{jitter, random_unit, scheduled_wait};
use super::{Dispatcher, attempt};
use crate::engine::Engine;
use crate::engine::config::Destination;
use crate::engine::http::classify::{Class, classify};
use crate::model::{AttemptOutcome, LogRecord, LogStatus};
use crate::store::postgres::queues::Lease;
use crate::store::{QueueId, QueueItem, Store, Writes};
use chrono::Utc;
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::futures::Notified;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often a queue blocked on an unverified destination looks again.
const BLOCKED_RECHECK: Duration = Duration::from_secs(5);
/// Back-off after a store error, so a failing disk is not spun on.
const STORE_ERROR_WAIT: Duration = Duration::from_secs(1);

/// Waits for the timer, a kick, or the stop signal. `kicked` must be enabled before
/// the state it guards was read, so a kick in between is not missed; kicks before that
/// (e.g. during an attempt) do not cut the wait short.
async fn wait(
    kicked: Pin<&mut Notified<'_>>,
    stop: &CancellationToken,
    duration: Option<Duration>,
) {
    if stop.is_cancelled() {
        return;
    }
    let timer = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = timer => {}
        _ = kicked => {}
        () = stop.cancelled() => {}
    }
}

/// The payload as this destination receives it: `Meta.Logs` names its own log and
/// this attempt, `Meta.Transmission.ID` its own delivery (the same on every attempt).
fn payload_for(
    mut payload: Value,
    log: &LogRecord,
    attempt_id: Uuid,
    render: Option<chrono_tz::Tz>,
) -> Vec<u8> {
    // Stored in UTC; a destination with `render_time_zone` gets its own offsets.
    if let Some(zone) = render {
        crate::model::time::render_payload(&mut payload, zone);
    }
    if let Some(meta) = payload.get_mut("Meta").and_then(Value::as_object_mut) {
        meta.insert(
            "Logs".into(),
            json!([{"ID": log.id, "AttemptID": attempt_id}]),
        );
        crate::engine::routing::legacy::stamp(meta, Some(log));
    }
    serde_json::to_vec(&payload).unwrap_or_default()
}

pub(super) async fn run(engine: Arc<Engine>, queue: QueueId, dispatcher: Arc<Dispatcher>) {
    let stop = engine.stopping();
    let result = deliver_queue(&engine, &queue, &dispatcher, &stop).await;
    if let Err(e) = result {
        tracing::error!(error = %e, destination = %queue.destination, "dispatcher stopped");
        engine.delivery.retire(&queue, || true);
    }
}

/// What a dispatcher does after one step.
enum Next {
    /// Look at the queue again at once.
    Again,
    /// Wait (for a kick, or this long) then look again.
    Wait(Option<Duration>),
    /// Wait this long after a failed attempt; only kicks from now on cut it short.
    Backoff(Duration),
    /// The queue is empty, or the engine stops: the dispatcher retires.
    Done,
}

/// One queue's dispatcher: steps until its queue is empty or the engine stops.
async fn deliver_queue(
    engine: &Arc<Engine>,
    queue: &QueueId,
    dispatcher: &Dispatcher,
    stop: &CancellationToken,
) -> Result<(), Stopped> {
    // Each pass runs under one definition of the destination; a reload that changes it
    // starts a new pass (its URL, client, schedule), between attempts, never during one.
    loop {
        let Some(destination) = engine.registry().destination(queue.destination).cloned() else {
            return Err(Stopped::Unconfigured);
        };
        let Some(client) = engine.delivery.client(destination.id) else {
            return Err(Stopped::NotPush);
        };
        let mut queue_state = QueueState {
            engine,
            queue,
            destination: &destination,
            client: &client,
            stop,
            blocked_reported: false,
            held: None,
        };
        loop {
            let kicked = dispatcher.kick.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            if stop.is_cancelled() {
                queue_state.give_back().await;
                engine.delivery.retire(queue, || true);
                return Ok(());
            }
            let registry = engine.registry();
            if registry.destination(queue.destination) != Some(&destination) {
                break;
            }
            drop(registry);
            match queue_state.step().await {
                Next::Again => {}
                Next::Done => return Ok(()),
                Next::Wait(duration) => wait(kicked.as_mut(), stop, duration).await,
                Next::Backoff(duration) => {
                    // Enabled only now: a kick during the attempt must not skip the peer's wait.
                    let fresh = dispatcher.kick.notified();
                    tokio::pin!(fresh);
                    fresh.as_mut().enable();
                    wait(fresh.as_mut(), stop, Some(duration)).await;
                }
            }
        }
    }
}

/// A dispatcher's view of its queue.
struct QueueState<'a> {
    engine: &'a Arc<Engine>,
    queue: &'a QueueId,
    destination: &'a Destination,
    client: &'a reqwest::Client,
    stop: &'a CancellationToken,
    blocked_reported: bool,
    /// On a shared store, this node's lease on the queue (see [`super::lease`]).
    held: Option<crate::engine::delivery::lease::Held>,
}

impl QueueState<'_> {
    /// Delivers the head once, if the destination may be delivered to now.
    async fn step(&mut self) -> Next {
        let (engine, destination) = (self.engine, self.destination);
        if engine.delivery.is_paused(destination.id) {
            // Resume kicks; stopping is checked at the top.
            return Next::Wait(None);
        }
        if let Err(reason) = engine.delivery_allowed(destination) {
            if !self.blocked_reported {
                tracing::error!(destination = %destination.name, "{reason}");
                self.blocked_reported = true;
            }
            return Next::Wait(Some(BLOCKED_RECHECK));
        }
        self.blocked_reported = false;
        // One of the destination's attempt slots, whichever lane this is; taken before
        // the head is read, so what is sent is the head as it is once a slot is free.
        let Some(_slot) = engine.delivery.slot(destination.id, self.stop).await else {
            return Next::Again;
        };
        if let Some(shared) = &engine.shared {
            match self.hold(shared).await {
                Ok(true) => {}
                Ok(false) => return Next::Done,
                Err(next) => return next,
            }
        }
        let (item, log) = match self.head().await {
            Ok(Some(head)) => head,
            Ok(None) if engine.shared.is_some() => return self.retire_shared().await,
            Ok(None) => {
                let (applied, queue) = (engine.store.as_applied(), self.queue);
                if engine
                    .delivery
                    .retire(queue, || matches!(applied.queue_head(queue), Ok(None)))
                {
                    return Next::Done;
                }
                return Next::Again;
            }
            Err(next) => return next,
        };
        engine.delivery.set_retry_due(&log, None);
        let lease = self
            .held
            .as_ref()
            .and_then(crate::engine::delivery::lease::Held::lease);
        match attempt_once(engine, destination, self.client, &item, &log, lease).await {
            Ok(None) => {
                engine.delivery.bounds.left(destination.id);
                Next::Again
            }
            Ok(Some(failed)) => self.after_failure(&log, failed).await,
            Err(Bookkeeping::LeaseLost) => {
                tracing::warn!(destination = %destination.name, "stopped delivering a queue whose lease another node took");
                self.held = None;
                engine.delivery.retire(self.queue, || true);
                Next::Done
            }
            Err(e) => {
                // A store problem, not the peer's: keep the item and look again shortly.
                tracing::error!(error = %e, log = %log.id, "delivery bookkeeping failed");
                Next::Wait(Some(STORE_ERROR_WAIT))
            }
        }
    }

    /// The head item and its log, once entries whose log is gone or settled are
    /// dropped; `Ok(None)` when the queue is empty. Reads what is applied without
    /// waiting for the journal (see `store::applied`): this dispatcher was started once
    /// its queue's entries were applied, and each of its writes is an ordered update it
    /// waits for.
    async fn head(&self) -> Result<Option<(QueueItem, LogRecord)>, Next> {
        if let Some(shared) = &self.engine.shared {
            return self.shared_head(shared).await;
        }
        loop {
            let applied = self.engine.store.as_applied();
            let item = match applied.queue_head(self.queue) {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(None),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read queue");
                    return Err(Next::Wait(Some(STORE_ERROR_WAIT)));
                }
            };
            match applied.log(item.log_id) {
                Ok(Some(log)) if log.status == LogStatus::Pending => return Ok(Some((item, log))),
                // An operator settled it (marked FAILED) while it was queued.
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::warn!(log = %item.log_id, "queued log has no record; dropping the entry");
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read a queued log");
                    return Err(Next::Wait(Some(STORE_ERROR_WAIT)));
                }
            }
            // Dropped only if, at its turn in the journal's order, it is still settled.
            self.engine.unqueue_settled(item).await;
            self.engine.delivery.bounds.left(self.destination.id);
        }
    }

    /// After a failed attempt: quarantine a message refused for good often enough,
    /// otherwise wait before the next attempt.
    async fn after_failure(&self, log: &LogRecord, failed: Failed) -> Next {
        let (engine, destination) = (self.engine, self.destination);
        let poison = failed.class == Class::Permanent
            && destination
                .delivery
                .quarantine_after
                .is_some_and(|n| failed.failures >= n);
        if poison {
            // Only if, at its turn, it is still PENDING and queued (an operator may have
            // marked it FAILED meanwhile).
            let reason = "a permanent failure after quarantine_after attempts";
            match engine.quarantine_log(log.id, "engine", reason).await {
                Ok(Ok(_)) => engine.delivery.bounds.left(destination.id),
                Ok(Err(_)) => {}
                Err(e) => {
                    tracing::error!(error = %e, log = %log.id, "cannot quarantine");
                    return Next::Wait(Some(STORE_ERROR_WAIT));
                }
            }
            return Next::Again;
        }
        // The peer's own Retry-After wins; the schedule gets jitter.
        let wait_for = failed.retry_after.unwrap_or_else(|| {
            jitter(
                scheduled_wait(&destination.delivery.retry_schedule, failed.failures),
                random_unit(),
            )
        });
        if wait_for.is_zero() {
            Next::Again
        } else {
            engine.delivery.set_retry_due(log, Some(wait_for));
            Next::Backoff(wait_for)
        }
    }
}

/// Why a dispatcher stops for good.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    #[error("destination is no longer configured")]
    Unconfigured,
    #[error("destination is not a push destination")]
    NotPush,
}

/// Why an attempt could not be recorded: the store's problem, not the peer's.
#[derive(Debug, thiserror::Error)]
enum Bookkeeping {
    #[error("log {0} has no stored request")]
    NoRequest(Uuid),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Another node holds the queue now: this one writes nothing and stops.
    #[error("the queue's lease was lost")]
    LeaseLost,
}

struct Failed {
    /// Failed attempts of this log so far (since it was last released).
    failures: u32,
    /// Whether the last one may pass by itself.
    class: Class,
    retry_after: Option<Duration>,
}

/// Delivers the head once; `None` when it was acknowledged.
async fn attempt_once(
    engine: &Arc<Engine>,
    destination: &Destination,
    client: &reqwest::Client,
    item: &QueueItem,
    log: &LogRecord,
    lease: Option<Lease>,
) -> Result<Option<Failed>, Bookkeeping> {
    if engine.shared.is_some() && lease.is_none() {
        return Err(Bookkeeping::LeaseLost);
    }
    let request = match engine.shared {
        Some(_) => engine.stored_request(log.request_id).await?,
        None => engine.store.as_applied().request(log.request_id)?,
    }
    .ok_or(Bookkeeping::NoRequest(log.id))?;
    let number = log.attempts + 1;
    let attempt_id = if number == 1 {
        log.attempt_id
    } else {
        Uuid::now_v7()
    };
    let body = payload_for(
        request.payload,
        log,
        attempt_id,
        destination.render_time_zone,
    );
    let (url, content_type) = attempt::target(destination, &log.data_model);
    let started = std::time::Instant::now();
    let outcome = attempt::deliver(
        client,
        &engine.outbound,
        destination,
        &url,
        content_type,
        log.id,
        attempt_id,
        number,
        body,
    )
    .await;
    let took = started.elapsed();
    let succeeded = outcome.attempt.outcome == AttemptOutcome::Succeeded;

    // An operator may have acted during the attempt, so the outcome is computed from
    // the log as it is when written (in the journal's order, or under the log's row
    // lock on a shared store): a 2xx settles it whatever they did (the destination has
    // the message); a failure keeps their decision. The attempt is recorded either
    // way. Waited for, since the next attempt reads it.
    let (fallback, latency_ms) = (log.clone(), outcome.attempt.latency_ms);
    let (http_status, error) = (outcome.attempt.http_status, outcome.attempt.error.clone());
    let attempt = outcome.attempt;
    let update = move |current: LogRecord| {
        let mut updated = current;
        updated.attempts = number;
        updated.latency_ms = Some(latency_ms);
        updated.updated_at = Utc::now();
        if succeeded {
            updated.status = LogStatus::Succeeded;
            updated.quarantined = false;
        }
        updated
    };
    let updated = record_outcome(engine, lease, item, fallback, attempt, succeeded, update).await?;
    engine.publish(&updated);
    engine.stats.attempt(destination.id, succeeded, http_status);
    engine
        .metrics
        .attempt(&destination.name, succeeded, Some(took));
    if succeeded {
        return Ok(None);
    }
    tracing::debug!(
        destination = %destination.name, log = %log.id, attempt = number,
        error = error.as_deref().unwrap_or(""), "delivery attempt failed"
    );
    Ok(Some(Failed {
        failures: number - updated.released_at_attempt.min(number),
        class: classify(http_status),
        retry_after: outcome.retry_after,
    }))
}

/// Writes an attempt's outcome with `update` applied to the log as it is then (see
/// `attempt_once`); on a shared store only under `lease`.
async fn record_outcome(
    engine: &Engine,
    lease: Option<Lease>,
    item: &QueueItem,
    fallback: LogRecord,
    attempt: crate::model::Attempt,
    succeeded: bool,
    update: impl FnOnce(LogRecord) -> LogRecord + Send + 'static,
) -> Result<LogRecord, Bookkeeping> {
    Ok(match (&engine.shared, lease) {
        (Some(shared), Some(lease)) => shared
            .settle(&lease, item, &fallback, update, Some(&attempt), succeeded)
            .await
            .map_err(crate::store::StoreError::from)?
            .ok_or(Bookkeeping::LeaseLost)?,
        _ => {
            let item = item.clone();
            engine
                .store
                .journal()
                .ordered(move |now| {
                    let current = match now.log(fallback.id) {
                        Ok(Some(current)) => current,
                        Ok(None) => fallback,
                        Err(e) => return (Writes::default(), Err(e)),
                    };
                    let updated = update(current.clone());
                    let writes = Store::delivery_writes(
                        now.sealer(),
                        &item,
                        &current,
                        &updated,
                        Some(&attempt),
                        succeeded,
                    );
                    (writes, Ok(updated))
                })
                .await??
        }
    })
}
