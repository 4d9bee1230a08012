//! Reads of the exchange tree as the journal's expander has applied it so far, without
//! waiting for anything still queued.
//!
//! The store's own read API ([`super::Store::log`] and friends) waits for the
//! expander first (read-your-writes, see [`super::journal`]) and then reads through
//! this. Three readers use it directly, because they must not or need not wait:
//! - a [`super::journal::Journal::ordered`] update, which runs on the expander thread
//!   and sees exactly what was queued before it;
//! - a push dispatcher, which is started by the expander once its queue's entries are
//!   applied, and whose own writes are ordered updates it has waited for; its outcome
//!   is computed again inside the expander, so a stale read costs at most an attempt
//!   an operator had just set aside, never a lost update;
//! - the first count of a destination's queue bound after a start (see
//!   `engine::delivery::bounds`): nothing of that destination is unapplied but what
//!   this process admitted since, which the count then includes or is raised by.

use super::queue::{QueueId, QueueItem};
use super::{Result, Sealer, StoredRequest, decode, key};
use crate::model::LogRecord;
use uuid::Uuid;

/// See the module documentation.
#[derive(Clone, Copy)]
pub struct Applied<'a> {
    tree: &'a sled::Tree,
    sealer: &'a Sealer,
}

impl<'a> Applied<'a> {
    pub(crate) fn new(tree: &'a sled::Tree, sealer: &'a Sealer) -> Applied<'a> {
        Applied { tree, sealer }
    }

    /// The store's keys, for write sets computed in an ordered update.
    pub fn sealer(&self) -> &'a Sealer {
        self.sealer
    }

    /// The tree itself, for an ordered update that walks a range (retention).
    pub(crate) fn tree(&self) -> &'a sled::Tree {
        self.tree
    }

    pub fn log(&self, id: Uuid) -> Result<Option<LogRecord>> {
        let k = key(b'l', &[id.as_bytes()]);
        self.tree.get(&k)?.map(|v| decode(&k, &v)).transpose()
    }

    pub fn request(&self, id: Uuid) -> Result<Option<StoredRequest>> {
        let k = key(b'r', &[id.as_bytes()]);
        self.tree
            .get(&k)?
            .map(|v| self.sealer.decode(&k, &v))
            .transpose()
    }

    /// The oldest item of one queue.
    pub fn queue_head(&self, queue: &QueueId) -> Result<Option<QueueItem>> {
        match self.tree.scan_prefix(queue.prefix()).next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some(QueueItem::parse(&k, &v)?))
            }
            None => Ok(None),
        }
    }

    /// How many items are queued for a destination, counting at most `cap`.
    pub fn queue_depth(&self, destination: Uuid, cap: usize) -> Result<usize> {
        let mut depth = 0;
        for item in self
            .tree
            .scan_prefix(key(b'q', &[destination.as_bytes()]))
            .take(cap)
        {
            item?;
            depth += 1;
        }
        Ok(depth)
    }

    /// All items queued for a destination, oldest first across its sources and lanes.
    pub fn destination_items(&self, destination: Uuid) -> Result<Vec<QueueItem>> {
        let mut items = self
            .tree
            .scan_prefix(key(b'q', &[destination.as_bytes()]))
            .map(|item| {
                let (k, v) = item?;
                QueueItem::parse(&k, &v)
            })
            .collect::<Result<Vec<_>>>()?;
        items.sort_by_key(|i| i.seq);
        Ok(items)
    }

    /// The queue entry of a log at a destination.
    pub fn find_queued(&self, destination: Uuid, log_id: Uuid) -> Result<Option<QueueItem>> {
        Ok(self
            .destination_items(destination)?
            .into_iter()
            .find(|i| i.log_id == log_id))
    }

    /// The queue key a quarantined log came from, if it is in quarantine.
    pub fn quarantined_from(&self, destination: Uuid, log_id: Uuid) -> Result<Option<Vec<u8>>> {
        let zkey = key(b'z', &[destination.as_bytes(), log_id.as_bytes()]);
        Ok(self.tree.get(zkey)?.map(|v| v.to_vec()))
    }

    /// One raw value, for tests of the journal.
    #[cfg(test)]
    pub(crate) fn raw(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.tree.get(k).ok().flatten().map(|v| v.to_vec())
    }
}
