//! The bound on a destination's queued items (`max_queue_items`): a new message whose
//! route includes a destination at its bound is refused (429) before anything of it is
//! written, instead of letting one dead destination grow the store without limit.
//!
//! Counting a destination's items means scanning its keys: too slow per request for a
//! deep queue. So each destination keeps an estimate, raised by every message admitted
//! and lowered by every item its dispatchers settle (delivered or quarantined), and
//! recounted from the store when it is unknown (the first message after a start, for
//! a destination that had items then; the others start from zero) or
//! would pass the bound (at most once per [`RECOUNT_EVERY`] while it stays there).
//! Items that leave a queue another way (poll acknowledgements, operator actions) keep
//! the estimate high until that recount, which is the safe side; items an operator puts
//! back are counted at the next recount.

use crate::engine::config::Destination;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often a destination at its bound is counted again from the store.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(1);

struct Estimate {
    bound: usize,
    /// Items queued, as far as this process knows; `None` until first counted.
    queued: Option<usize>,
    recounted: Option<Instant>,
}

pub struct QueueBounds {
    /// Entries come and go with a configuration reload ([`QueueBounds::adopt`]).
    estimates: std::sync::RwLock<HashMap<Uuid, Mutex<Estimate>>>,
}

/// A destination that has no room: what the 429 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Full {
    pub destination: Uuid,
    pub bound: usize,
}

/// Room taken for one message; given back when dropped unless [`Reservation::keep`]
/// was called (the message was refused or failed further on).
pub struct Reservation<'a> {
    bounds: &'a QueueBounds,
    taken: Vec<Uuid>,
}

impl Reservation<'_> {
    /// The message was accepted: its items now count.
    pub fn keep(mut self) {
        self.taken.clear();
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        for destination in &self.taken {
            self.bounds.left(*destination);
        }
    }
}

impl QueueBounds {
    pub fn new(destinations: &[Destination]) -> QueueBounds {
        let estimates = destinations
            .iter()
            .map(|d| {
                let estimate = Estimate {
                    bound: d.delivery.max_queue_items,
                    queued: None,
                    recounted: None,
                };
                (d.id, Mutex::new(estimate))
            })
            .collect();
        QueueBounds {
            estimates: std::sync::RwLock::new(estimates),
        }
    }

    /// At start, once the store is open: every destination without a queued item
    /// starts from an exact zero, so only those with items are counted (on their first
    /// message).
    pub fn start_empty_except(&self, nonempty: &std::collections::HashSet<Uuid>) {
        for (destination, estimate) in self.read().iter() {
            if !nonempty.contains(destination) {
                estimate.lock().unwrap_or_else(|e| e.into_inner()).queued = Some(0);
            }
        }
    }

    fn with<T>(&self, destination: Uuid, f: impl FnOnce(&mut Estimate) -> T) -> Option<T> {
        let estimates = self.read();
        let entry = estimates.get(&destination)?;
        Some(f(&mut entry.lock().unwrap_or_else(|e| e.into_inner())))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Uuid, Mutex<Estimate>>> {
        self.estimates
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// After a configuration reload: a kept destination keeps its count under its
    /// (maybe new) bound; a new one is counted from the store on its first message.
    pub fn adopt(&self, changed: &[Destination], removed: &[Uuid]) {
        let mut estimates = self
            .estimates
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in changed {
            let bound = d.delivery.max_queue_items;
            estimates
                .entry(d.id)
                .or_insert_with(|| {
                    Mutex::new(Estimate {
                        bound,
                        queued: None,
                        recounted: None,
                    })
                })
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .bound = bound;
        }
        for id in removed {
            estimates.remove(id);
        }
    }

    /// Whether admitting one more item for `destination` needs a count from the store
    /// first ([`QueueBounds::recount`]).
    pub fn needs_recount(&self, destination: Uuid) -> bool {
        self.with(destination, |e| match e.queued {
            None => true,
            Some(queued) => {
                queued >= e.bound && e.recounted.is_none_or(|t| t.elapsed() >= RECOUNT_EVERY)
            }
        })
        .unwrap_or(false)
    }

    /// Counts the destination's items in the store (up to its bound). The first count
    /// after a start reads what is applied without waiting for the journal: every item
    /// acknowledged before the start was applied when the store opened, so only
    /// messages admitted since (by this estimate, at most a few racing first messages)
    /// can be missing. A count at the bound waits, so that it is exact.
    pub fn recount(&self, destination: Uuid, store: &Store) -> Result<(), StoreError> {
        let Some((bound, known)) = self.with(destination, |e| (e.bound, e.queued.is_some())) else {
            return Ok(());
        };
        let cap = bound.saturating_add(1);
        let depth = if known {
            store.queue_summary(destination, cap)?.0
        } else {
            store.as_applied().queue_depth(destination, cap)?
        };
        self.with(destination, |e| {
            e.queued = Some(depth);
            e.recounted = Some(Instant::now());
        });
        Ok(())
    }

    /// The bound of `destination` (0 when it has none here).
    pub fn bound_of(&self, destination: Uuid) -> usize {
        self.with(destination, |e| e.bound).unwrap_or(0)
    }

    /// Sets the estimate to a count made elsewhere (the shared store's).
    pub fn counted(&self, destination: Uuid, depth: usize) {
        self.with(destination, |e| {
            e.queued = Some(depth);
            e.recounted = Some(Instant::now());
        });
    }

    /// Takes room for one item at each of `destinations` (a destination listed twice
    /// takes two), all or none.
    pub fn reserve(&self, destinations: &[Uuid]) -> Result<Reservation<'_>, Full> {
        let mut reservation = Reservation {
            bounds: self,
            taken: Vec::with_capacity(destinations.len()),
        };
        for &destination in destinations {
            let taken = self.with(destination, |e| {
                let queued = e.queued.unwrap_or(0);
                if queued >= e.bound {
                    return Err(Full {
                        destination,
                        bound: e.bound,
                    });
                }
                e.queued = Some(queued + 1);
                Ok(())
            });
            match taken {
                Some(Err(full)) => return Err(full),
                Some(Ok(())) => reservation.taken.push(destination),
                None => {}
            }
        }
        Ok(reservation)
    }

    /// One item left the destination's queue.
    pub fn left(&self, destination: Uuid) {
        self.with(destination, |e| {
            if let Some(queued) = e.queued.as_mut() {
                *queued = queued.saturating_sub(1);
            }
        });
    }
}

impl crate::engine::Engine {
    /// Takes room for a message at each of `destinations` before anything of it is
    /// written; a destination at its `max_queue_items` refuses the whole message (429).
    pub(crate) async fn admit(
        &self,
        destinations: &[Destination],
    ) -> Result<Reservation<'_>, crate::model::ApiError> {
        let bounds = &self.delivery.bounds;
        let stale: Vec<Uuid> = destinations
            .iter()
            .map(|d| d.id)
            .filter(|d| bounds.needs_recount(*d))
            .collect();
        if let Some(shared) = &self.shared {
            for d in stale {
                let cap = bounds.bound_of(d).saturating_add(1);
                let depth = shared
                    .queue_depth(d, cap)
                    .await
                    .map_err(crate::engine::read_failure)?;
                bounds.counted(d, depth);
            }
        } else if !stale.is_empty() {
            for d in stale {
                // A deep queue takes a while to count: let the worker's other tasks move.
                let count = || bounds.recount(d, &self.store);
                let counted = match tokio::runtime::Handle::try_current() {
                    Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                        tokio::task::block_in_place(count)
                    }
                    _ => count(),
                };
                counted.map_err(crate::engine::read_failure)?;
            }
        }
        let ids: Vec<Uuid> = destinations.iter().map(|d| d.id).collect();
        bounds.reserve(&ids).map_err(|full| {
            self.stats.note_queue_full();
            let name = destinations
                .iter()
                .find(|d| d.id == full.destination)
                .map(|d| d.name.as_str())
                .unwrap_or_default();
            tracing::warn!(
                destination = name,
                bound = full.bound,
                "refused: queue full"
            );
            crate::model::ApiError::new(
                429,
                "capacity",
                "Engine",
                format!(
                    "Destination \"{name}\" has {} messages queued, its max_queue_items; \
                     nothing was accepted. It is not taking deliveries (paused, failing or \
                     slow): see it in the console or `switchboard connections`, then retry. \
                     Raise max_queue_items in its [[destinations]] entry if the bound is \
                     too low.",
                    full.bound
                ),
            )
            .with_header("Retry-After", RETRY_AFTER_FULL.as_secs().to_string())
        })
    }
}

/// What a sender refused for a full queue is told to wait.
pub const RETRY_AFTER_FULL: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(bound: usize) -> (QueueBounds, Uuid) {
        let id = Uuid::from_u128(7);
        let estimate = Estimate {
            bound,
            queued: Some(0),
            recounted: None,
        };
        let bounds = QueueBounds {
            estimates: std::sync::RwLock::new(HashMap::from([(id, Mutex::new(estimate))])),
        };
        (bounds, id)
    }

    #[test]
    fn refuses_past_the_bound_and_gives_back_what_was_not_kept() {
        let (b, d) = bounds(2);
        b.reserve(&[d]).expect("first").keep();
        // Dropped without keep: the room comes back.
        drop(b.reserve(&[d]).expect("second"));
        b.reserve(&[d]).expect("second again").keep();
        assert_eq!(
            b.reserve(&[d]).err(),
            Some(Full {
                destination: d,
                bound: 2
            })
        );
        b.left(d);
        assert!(b.reserve(&[d]).is_ok());
    }

    #[test]
    fn all_or_nothing_when_one_destination_is_full() {
        let (b, d) = bounds(1);
        assert!(b.reserve(&[d, d]).is_err());
        // The first of the two was given back.
        b.reserve(&[d]).expect("room").keep();
    }

    #[test]
    fn at_start_only_destinations_with_items_are_counted() {
        let (empty, owed) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let unknown = |bound| {
            Mutex::new(Estimate {
                bound,
                queued: None,
                recounted: None,
            })
        };
        let b = QueueBounds {
            estimates: std::sync::RwLock::new(HashMap::from([
                (empty, unknown(5)),
                (owed, unknown(5)),
            ])),
        };
        assert!(b.needs_recount(empty) && b.needs_recount(owed));
        b.start_empty_except(&std::collections::HashSet::from([owed]));
        assert!(!b.needs_recount(empty), "no items at start: an exact zero");
        assert!(
            b.needs_recount(owed),
            "items at start: counted on its first message"
        );
    }
}
