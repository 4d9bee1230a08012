//! The platform's deprecated numeric IDs, which older clients still read:
//! `Meta.Message.ID` names an accepted request (one per request), `Meta.Transmission.ID`
//! one delivery of it to one destination (one per log). `Meta.Logs` stays the primary
//! field; these ride along unless the source sets `legacy_ids = false`.
//!
//! The numbers come from the store's durable counter (`Store::durable_number`; on a
//! shared store, its sequence): unique,
//! increasing, and never handed out twice, also after a restart or a crash, without a
//! write of their own (they are stored with the logs, in the request's one write set).
//! A sender's own `Message`/`Transmission` are dropped by `prepare` and replaced here.

use super::Prepared;
use crate::model::{LegacyIds, LogRecord};
use crate::store::StoreError;
use serde_json::{Map, Value, json};

/// The largest integer a JavaScript client reads exactly (2^53 - 1).
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Gives a prepared request its numbers (when `enabled`): one Message.ID, one
/// Transmission.ID per log, kept on the logs; the payload's Meta (the 200's) shows the
/// first log's Transmission.ID, as the platform's single `Transmission` block can hold
/// only one (each destination receives its own).
pub(crate) async fn assign(
    engine: &crate::engine::Engine,
    prepared: &mut Prepared,
    enabled: bool,
) -> Result<(), StoreError> {
    if !enabled {
        return Ok(());
    }
    let numbers = engine.legacy_numbers(1 + prepared.logs.len()).await?;
    let Some((&message, transmissions)) = numbers.split_first() else {
        return Ok(());
    };
    let transmissions = transmissions.to_vec();
    // Out of reach in practice (the counter grows by about 2 million a restart); should
    // it happen, the numbers are left out rather than sent wrong or traffic refused.
    if transmissions.last().copied().unwrap_or(message) > MAX_SAFE_INTEGER {
        tracing::warn!(
            message,
            "legacy Message/Transmission IDs passed 2^53 and are no longer sent"
        );
        return Ok(());
    }
    for (log, transmission) in prepared.logs.iter_mut().zip(transmissions) {
        log.legacy_ids = Some(LegacyIds {
            message,
            transmission,
        });
    }
    if let Some(meta) = prepared
        .request
        .payload
        .get_mut("Meta")
        .and_then(Value::as_object_mut)
    {
        stamp(meta, prepared.logs.first());
    }
    Ok(())
}

/// Puts `log`'s numbers in `meta` (a delivery, a polled item, a query's answer), or takes
/// any there away when it has none (its source turned them off, or it predates them).
pub(crate) fn stamp(meta: &mut Map<String, Value>, log: Option<&LogRecord>) {
    match log.and_then(|l| l.legacy_ids) {
        Some(ids) => {
            meta.insert("Message".into(), json!({ "ID": ids.message }));
            meta.insert("Transmission".into(), json!({ "ID": ids.transmission }));
        }
        None => {
            meta.remove("Message");
            meta.remove("Transmission");
        }
    }
}
