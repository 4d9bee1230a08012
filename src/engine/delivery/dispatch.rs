//! The dispatcher loop of one queue.

use super::retry::{jitter, random_unit, scheduled_wait};
use super::{Dispatcher, attempt};
use crate::engine::Engine;
use crate::model::{AttemptOutcome, LogRecord, LogStatus};
use crate::store::{QueueId, QueueItem, Store, Writes};
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
) -> Result<(), String> {
    let delivery = &engine.delivery;
    let Some(destination) = engine.registry.destination(queue.destination).cloned() else {
        return Err("destination is no longer configured".into());
    };
    let Some(client) = delivery.client(destination.id).cloned() else {
        return Err("destination is not a push destination".into());
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

        // Reads of what is applied, without waiting for the journal (see
        // `store::applied`): this dispatcher was started once its queue's entries were
        // applied, and each of its writes below is an ordered update it waits for.
        let applied = engine.store.as_applied();
        let head = match applied.queue_head(queue) {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "cannot read queue");
                wait(kicked.as_mut(), stop, Some(STORE_ERROR_WAIT)).await;
                continue;
            }
        };
        let Some(item) = head else {
            if delivery.retire(queue, || matches!(applied.queue_head(queue), Ok(None))) {
                return Ok(());
            }
            continue;
        };
        let log = match applied.log(item.log_id) {
            Ok(log) => log,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a queued log");
                wait(kicked.as_mut(), stop, Some(STORE_ERROR_WAIT)).await;
                continue;
            }
        };
        let Some(log) = log else {
            tracing::warn!(log = %item.log_id, "queued log has no record; dropping the entry");
            engine.unqueue_settled(item).await;
            continue;
        };
        if log.status != LogStatus::Pending {
            // An operator settled it (marked FAILED) while it was queued.
            engine.unqueue_settled(item).await;
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
            // Only if, at its turn, it is still PENDING and queued (an operator may have
            // marked it FAILED meanwhile).
            if let Err(e) = engine
                .quarantine_log(log.id, "engine", "quarantine_after reached")
                .await
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
) -> Result<Option<Failed>, String> {
    let request = engine
        .store
        .as_applied()
        .request(log.request_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("log {} has no stored request", log.id))?;
    let number = log.attempts + 1;
    let attempt_id = if number == 1 {
        log.attempt_id
    } else {
        Uuid::now_v7()
    };
    let body = payload_for(request.payload, log, attempt_id);
    let outcome = attempt::deliver(client, destination, log.id, attempt_id, number, body).await;
    let succeeded = outcome.attempt.outcome == AttemptOutcome::Succeeded;

    // An operator may have acted during the attempt, so the outcome is computed in
    // the journal's order from the log as it is then: a 2xx settles it whatever they
    // did (the destination has the message); a failure keeps their decision. The
    // attempt is recorded either way. Waited for, since the next attempt reads it.
    let (item, fallback, latency_ms) = (item.clone(), log.clone(), outcome.attempt.latency_ms);
    let (http_status, error) = (outcome.attempt.http_status, outcome.attempt.error.clone());
    let attempt = outcome.attempt;
    let updated = engine
        .store
        .journal()
        .ordered(move |now| {
            let current = match now.log(fallback.id) {
                Ok(Some(current)) => current,
                Ok(None) => fallback,
                Err(e) => return (Writes::default(), Err(e.to_string())),
            };
            let mut updated = current.clone();
            updated.attempts = number;
            updated.latency_ms = Some(latency_ms);
            updated.updated_at = Utc::now();
            if succeeded {
                updated.status = LogStatus::Succeeded;
                updated.quarantined = false;
            }
            let writes =
                Store::delivery_writes(&item, &current, &updated, Some(&attempt), succeeded);
            (writes, Ok(updated))
        })
        .await
        .map_err(|e| e.to_string())??;
    engine.publish(&updated);
    engine.stats.attempt(destination.id, succeeded, http_status);
    if succeeded {
        return Ok(None);
    }
    tracing::debug!(
        destination = %destination.name, log = %log.id, attempt = number,
        error = error.as_deref().unwrap_or(""), "delivery attempt failed"
    );
    Ok(Some(Failed {
        failures: number - updated.released_at_attempt.min(number),
        retry_after: outcome.retry_after,
    }))
}
