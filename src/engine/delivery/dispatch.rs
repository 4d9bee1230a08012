//! The dispatcher loop of one queue.

use super::retry::{jitter, random_unit, scheduled_wait};
use super::{Dispatcher, attempt};
use crate::engine::Engine;
use crate::model::{AttemptOutcome, LogRecord, LogStatus};
use crate::store::{QueueId, QueueItem};
use chrono::Utc;
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::futures::Notified;
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
    stop: &mut tokio::sync::watch::Receiver<bool>,
    duration: Option<Duration>,
) {
    if *stop.borrow() {
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
        _ = stop.changed() => {}
    }
}

/// The payload as this destination receives it: `Meta.Logs` names its own log and
/// this attempt.
fn payload_for(mut payload: Value, log: &LogRecord, attempt_id: Uuid) -> Vec<u8> {
    if let Some(meta) = payload.get_mut("Meta").and_then(Value::as_object_mut) {
        meta.insert(
            "Logs".into(),
            json!([{"ID": log.id, "AttemptID": attempt_id}]),
        );
    }
    serde_json::to_vec(&payload).unwrap_or_default()
}

pub(super) async fn run(engine: Arc<Engine>, queue: QueueId, dispatcher: Arc<Dispatcher>) {
    let delivery = &engine.delivery;
    let mut stop = delivery.stopping();
    let result = deliver_queue(&engine, &queue, &dispatcher, &mut stop).await;
    if let Err(e) = result {
        tracing::error!(error = %e, destination = %queue.destination, "dispatcher stopped");
        delivery.retire(&queue, || true);
    }
    delivery.finished();
}

async fn deliver_queue(
    engine: &Arc<Engine>,
    queue: &QueueId,
    dispatcher: &Dispatcher,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), Stopped> {
    let delivery = &engine.delivery;
    let Some(destination) = engine.registry.destination(queue.destination).cloned() else {
        return Err(Stopped::Unconfigured);
    };
    let Some(client) = delivery.client(destination.id).cloned() else {
        return Err(Stopped::NotPush);
    };
    let mut blocked_reported = false;
    loop {
        let kicked = dispatcher.kick.notified();
        tokio::pin!(kicked);
        kicked.as_mut().enable();
        if *stop.borrow() {
            delivery.retire(queue, || true);
            return Ok(());
        }
        if delivery.is_paused(destination.id) {
            // Resume kicks; stopping is checked at the top.
            wait(kicked.as_mut(), stop, None).await;
            continue;
        }
        if let Err(reason) = engine.delivery_allowed(&destination) {
            if !blocked_reported {
                tracing::error!(destination = %destination.name, "{reason}");
                blocked_reported = true;
            }
            wait(kicked.as_mut(), stop, Some(BLOCKED_RECHECK)).await;
            continue;
        }
        blocked_reported = false;

        let head = match engine.store.queue_head(queue) {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "cannot read queue");
                wait(kicked.as_mut(), stop, Some(STORE_ERROR_WAIT)).await;
                continue;
            }
        };
        let Some(item) = head else {
            let store = &engine.store;
            if delivery.retire(queue, || matches!(store.queue_head(queue), Ok(None))) {
                return Ok(());
            }
            continue;
        };
        let log = match engine.store.log(item.log_id) {
            Ok(log) => log,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a queued log");
                wait(kicked.as_mut(), stop, Some(STORE_ERROR_WAIT)).await;
                continue;
            }
        };
        let Some(log) = log else {
            tracing::warn!(log = %item.log_id, "queued log has no record; dropping the entry");
            let _ = engine.store.remove_queue_item(&item);
            continue;
        };
        if log.status != LogStatus::Pending {
            // An operator settled it (marked FAILED) while it was queued.
            let _ = engine.store.remove_queue_item(&item);
            continue;
        }

        let Failed {
            failures,
            retry_after,
        } = match attempt_once(engine, &destination, &client, &item, &log).await {
            Ok(Some(failed)) => failed,
            Ok(None) => continue,
            Err(e) => {
                // A store problem, not the peer's: keep the item and look again shortly.
                tracing::error!(error = %e, log = %log.id, "delivery bookkeeping failed");
                wait(kicked.as_mut(), stop, Some(STORE_ERROR_WAIT)).await;
                continue;
            }
        };
        if destination
            .delivery
            .quarantine_after
            .is_some_and(|n| failures >= n)
        {
            if let Ok(Some(current)) = engine.store.log(log.id)
                && current.status == LogStatus::Pending
                && !current.quarantined
                && let Err(e) =
                    engine.quarantine_item(&item, &current, "engine", "quarantine_after reached")
            {
                tracing::error!(error = %e, log = %log.id, "cannot quarantine");
                wait(kicked.as_mut(), stop, Some(STORE_ERROR_WAIT)).await;
            }
            continue;
        }
        // The peer's own Retry-After wins; the schedule gets jitter.
        let wait_for = retry_after.unwrap_or_else(|| {
            jitter(
                scheduled_wait(&destination.delivery.retry_schedule, failures),
                random_unit(),
            )
        });
        if !wait_for.is_zero() {
            // Enabled only now: a kick during the attempt must not skip the peer's wait.
            let fresh = dispatcher.kick.notified();
            tokio::pin!(fresh);
            fresh.as_mut().enable();
            wait(fresh.as_mut(), stop, Some(wait_for)).await;
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
}

struct Failed {
    /// Failed attempts of this log so far.
    failures: u32,
    retry_after: Option<Duration>,
}

/// Delivers the head once; `None` when it was acknowledged.
async fn attempt_once(
    engine: &Arc<Engine>,
    destination: &crate::engine::config::Destination,
    client: &reqwest::Client,
    item: &QueueItem,
    log: &LogRecord,
) -> Result<Option<Failed>, Bookkeeping> {
    let request = engine
        .store
        .request(log.request_id)?
        .ok_or(Bookkeeping::NoRequest(log.id))?;
    let number = log.attempts + 1;
    let attempt_id = if number == 1 {
        log.attempt_id
    } else {
        Uuid::now_v7()
    };
    let body = payload_for(request.payload, log, attempt_id);
    let outcome = attempt::deliver(client, destination, log.id, attempt_id, number, body).await;

    let mut updated = log.clone();
    updated.attempts = number;
    updated.latency_ms = Some(outcome.attempt.latency_ms);
    updated.updated_at = Utc::now();
    let succeeded = outcome.attempt.outcome == AttemptOutcome::Succeeded;
    if succeeded {
        updated.status = LogStatus::Succeeded;
    }
    // The attempt is recorded even if an operator changed the log meanwhile.
    // An operator may have acted during the attempt. A 2xx settles it whatever they
    // did (the destination has the message); a failure keeps their decision.
    let current = engine.store.log(log.id)?.unwrap_or_else(|| log.clone());
    if succeeded {
        updated.quarantined = false;
    } else {
        updated.status = current.status;
        updated.quarantined = current.quarantined;
    }
    // Through the journal's expander, in order with the request's own writes; waited
    // for, since the next attempt reads this log back.
    let writes =
        engine
            .store
            .delivery_writes(item, &current, &updated, Some(&outcome.attempt), succeeded);
    engine.store.journal().write_applied(writes).await?;
    engine.publish(&updated);
    engine
        .stats
        .attempt(destination.id, succeeded, outcome.attempt.http_status);
    if succeeded {
        return Ok(None);
    }
    tracing::debug!(
        destination = %destination.name, log = %log.id, attempt = number,
        error = outcome.attempt.error.as_deref().unwrap_or(""), "delivery attempt failed"
    );
    Ok(Some(Failed {
        failures: number - log.released_at_attempt.min(number),
        retry_after: outcome.retry_after,
    }))
}
