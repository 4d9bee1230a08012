//! Delivery queues, quarantine, poll leases and per-destination operator state.
//!
//! A queue is (destination, source, lane); items are ordered by a sequence number from
//! sled's persistent ID generator, so a restart resumes each queue exactly where it was.
//! An item's value is its log ID and, for poll destinations, the end of its lease.

use super::{Result, Store, StoreError, Writes, decode, encode, key};
use crate::model::{Attempt, LogRecord};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId {
    pub destination: Uuid,
    pub source: Uuid,
    /// 0, or a hash of the patient identifier for per-patient child queues.
    pub lane: u64,
}

const QUEUE_PREFIX_LEN: usize = 1 + 16 + 16 + 8;

impl QueueId {
    pub(crate) fn prefix(&self) -> Vec<u8> {
        key(
            b'q',
            &[
                self.destination.as_bytes(),
                self.source.as_bytes(),
                &self.lane.to_be_bytes(),
            ],
        )
    }

    pub(crate) fn key(&self, seq: u64) -> Vec<u8> {
        let mut k = self.prefix();
        k.extend_from_slice(&seq.to_be_bytes());
        k
    }

    pub(crate) fn from_key(k: &[u8]) -> Option<(QueueId, u64)> {
        if k.len() != QUEUE_PREFIX_LEN + 8 || k[0] != b'q' {
            return None;
        }
        let destination = Uuid::from_slice(&k[1..17]).ok()?;
        let source = Uuid::from_slice(&k[17..33]).ok()?;
        let lane = u64::from_be_bytes(k[33..41].try_into().ok()?);
        let seq = u64::from_be_bytes(k[41..49].try_into().ok()?);
        Some((
            QueueId {
                destination,
                source,
                lane,
            },
            seq,
        ))
    }
}

pub(crate) fn item_value(log_id: Uuid, lease_until_ms: u64) -> Vec<u8> {
    let mut v = log_id.as_bytes().to_vec();
    v.extend_from_slice(&lease_until_ms.to_be_bytes());
    v
}

/// One queued delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub queue: QueueId,
    pub seq: u64,
    pub log_id: Uuid,
    /// Poll destinations: the item is handed out until then (Unix ms); 0 = not leased.
    pub lease_until_ms: u64,
}

impl QueueItem {
    pub(crate) fn parse(k: &[u8], v: &[u8]) -> Result<QueueItem> {
        let corrupt = || StoreError::Corrupt {
            key: "queue item".into(),
            reason: format!("{} byte key, {} byte value", k.len(), v.len()),
        };
        let (queue, seq) = QueueId::from_key(k).ok_or_else(corrupt)?;
        let log_id = v
            .get(..16)
            .and_then(|b| Uuid::from_slice(b).ok())
            .ok_or_else(corrupt)?;
        let lease_until_ms = v
            .get(16..24)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        Ok(QueueItem {
            queue,
            seq,
            log_id,
            lease_until_ms,
        })
    }

    pub fn key(&self) -> Vec<u8> {
        self.queue.key(self.seq)
    }
}

/// Operator state of a destination, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationState {
    #[serde(default)]
    pub paused: bool,
}

impl Store {
    /// The oldest item of one queue.
    pub fn queue_head(&self, queue: &QueueId) -> Result<Option<QueueItem>> {
        self.caught_up().queue_head(queue)
    }

    /// Every queue that has at least one item, without reading every item: after the
    /// first item of a queue the scan jumps past that queue's key range.
    pub fn nonempty_queues(&self) -> Result<Vec<QueueId>> {
        self.caught_up();
        let mut out = Vec::new();
        let mut from = vec![b'q'];
        loop {
            let Some(item) = self.exchange.range(from.clone()..vec![b'r']).next() else {
                break;
            };
            let (k, _) = item?;
            let Some((queue, _)) = QueueId::from_key(&k) else {
                break;
            };
            out.push(queue);
            from = queue.key(u64::MAX);
            from.push(0);
        }
        Ok(out)
    }

    /// All items queued for a destination, oldest first across its sources and lanes.
    pub fn destination_items(&self, destination: Uuid) -> Result<Vec<QueueItem>> {
        self.caught_up().destination_items(destination)
    }

    /// How many items a destination has queued (counting stops at `cap`), and its
    /// oldest one.
    pub fn queue_summary(
        &self,
        destination: Uuid,
        cap: usize,
    ) -> Result<(usize, Option<QueueItem>)> {
        self.caught_up();
        let mut depth = 0;
        let mut oldest: Option<QueueItem> = None;
        for item in self
            .exchange
            .scan_prefix(key(b'q', &[destination.as_bytes()]))
            .take(cap)
        {
            let (k, v) = item?;
            let item = QueueItem::parse(&k, &v)?;
            depth += 1;
            if oldest.as_ref().is_none_or(|o| item.seq < o.seq) {
                oldest = Some(item);
            }
        }
        Ok((depth, oldest))
    }

    /// Queued log IDs for one destination, oldest first.
    pub fn queued(&self, destination: Uuid) -> Result<Vec<Uuid>> {
        Ok(self
            .destination_items(destination)?
            .into_iter()
            .map(|i| i.log_id)
            .collect())
    }

    /// The writes that store a new log for an existing request and queue it at the
    /// tail (resend).
    pub fn resend_writes(&self, log: &LogRecord, queue: &QueueId) -> Result<Writes> {
        let mut writes = Writes::default();
        writes.insert(key(b'l', &[log.id.as_bytes()]), encode(log));
        for (index, value) in super::history::index_entries(log) {
            writes.insert(index, value);
        }
        let seq = self.next_seq()?;
        writes.insert(queue.key(seq), item_value(log.id, 0));
        Ok(writes)
    }

    /// The writes that record an attempt and the log's new state; with `done`, also
    /// remove the item from its queue (and from quarantine). `old` must be the log as
    /// stored, so compute them inside a [`super::journal::Journal::ordered`] update.
    pub fn delivery_writes(
        sealer: &super::Sealer,
        item: &QueueItem,
        old: &LogRecord,
        new: &LogRecord,
        attempt: Option<&Attempt>,
        done: bool,
    ) -> Writes {
        let mut writes = Self::update_writes(sealer, old, new, attempt, None);
        if done {
            writes.remove(item.key());
            // Settled while an operator had set it aside: it leaves quarantine too.
            writes.remove(key(
                b'z',
                &[item.queue.destination.as_bytes(), item.log_id.as_bytes()],
            ));
        }
        writes
    }

    /// Leases a poll item until `until_ms`, unless it changed meanwhile. A single
    /// compare-and-swap: no update of the journal's can be lost to it, nor it to one.
    pub fn lease(&self, item: &QueueItem, until_ms: u64) -> Result<bool> {
        let old = item_value(item.log_id, item.lease_until_ms);
        let new = item_value(item.log_id, until_ms);
        let _writing = self.writing();
        Ok(self
            .exchange
            .compare_and_swap(item.key(), Some(old), Some(new))?
            .is_ok())
    }

    /// The writes that move a queued item to its destination's quarantine, so the
    /// queue goes on.
    pub fn quarantine_writes(item: &QueueItem, old: &LogRecord, new: &LogRecord) -> Writes {
        let mut writes = Writes::default();
        Self::log_update_writes(&mut writes, old, new);
        writes.remove(item.key());
        writes.insert(
            key(
                b'z',
                &[item.queue.destination.as_bytes(), item.log_id.as_bytes()],
            ),
            item.key(),
        );
        writes
    }

    /// Log IDs in a destination's quarantine, with the queue each came from.
    pub fn quarantined(&self, destination: Uuid) -> Result<Vec<(Uuid, QueueId)>> {
        self.caught_up();
        self.exchange
            .scan_prefix(key(b'z', &[destination.as_bytes()]))
            .map(|item| {
                let (k, v) = item?;
                let log = Uuid::from_slice(&k[17..]).map_err(|e| StoreError::Corrupt {
                    key: "quarantine".into(),
                    reason: e.to_string(),
                })?;
                let (queue, _) = QueueId::from_key(&v).ok_or_else(|| StoreError::Corrupt {
                    key: "quarantine".into(),
                    reason: "bad queue key".into(),
                })?;
                Ok((log, queue))
            })
            .collect()
    }

    /// The writes that take a log out of quarantine (`original` is the queue key it
    /// came from, see [`super::applied::Applied::quarantined_from`]). With `requeue`, it
    /// goes back to its original place, which is the head of its queue (everything
    /// behind it came later). Also returns the queue.
    pub fn release_writes(
        original: &[u8],
        requeue: bool,
        old: &LogRecord,
        new: &LogRecord,
    ) -> (Writes, Option<QueueId>) {
        let mut writes = Writes::default();
        writes.remove(key(
            b'z',
            &[old.destination_id.as_bytes(), old.id.as_bytes()],
        ));
        if requeue {
            writes.insert(original.to_vec(), item_value(old.id, 0));
        }
        Self::log_update_writes(&mut writes, old, new);
        (writes, QueueId::from_key(original).map(|(q, _)| q))
    }

    /// The write that drops a queue entry whose log is settled or gone.
    pub fn unqueue_writes(item: &QueueItem) -> Writes {
        let mut writes = Writes::default();
        writes.remove(item.key());
        writes
    }

    /// Finds the queue entry of a log at a destination.
    pub fn find_queued(&self, destination: Uuid, log_id: Uuid) -> Result<Option<QueueItem>> {
        self.caught_up().find_queued(destination, log_id)
    }

    pub fn destination_state(&self, destination: Uuid) -> Result<DestinationState> {
        Ok(self
            .destinations
            .get(destination.as_bytes())?
            .map(|v| decode(b"destination state", &v))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn set_destination_state(&self, destination: Uuid, state: &DestinationState) -> Result<()> {
        self.destinations
            .insert(destination.as_bytes(), encode(state))?;
        Ok(())
    }
}
