//! What `switchboard export` reads from a sled store: history (requests, logs,
//! attempts, query answers) in key order, and the delivery queues with their items in
//! order and what is quarantined. The store is opened for maintenance (nothing in it
//! changes) and must be at this version's format.

use super::queue::{QueueId, QueueItem};
use super::{Result, Store, StoreError, StoredRequest, format};
use crate::model::{Attempt, LogRecord};
use uuid::Uuid;

/// One record of a sled store, for [`super::postgres`]'s import.
#[derive(Debug)]
pub enum Exported {
    Request(Box<StoredRequest>),
    Log(Box<LogRecord>),
    Attempt(Box<Attempt>),
    /// A query log's full answer (plain bytes).
    Response {
        log_id: Uuid,
        body: Vec<u8>,
    },
    /// A queue entry, in its queue's order.
    Queued(QueueItem),
    /// A quarantined delivery and the queue place it came from.
    Quarantined {
        log_id: Uuid,
        item: QueueItem,
    },
}

impl Store {
    /// Refuses a store of an older format: its records would need the upgrade a
    /// start of the engine makes.
    pub fn ensure_current_format(&self) -> Result<()> {
        let meta = self.db.open_tree("meta")?;
        match format::stored(&meta)? {
            Some(v) if v == format::CURRENT => Ok(()),
            found => Err(StoreError::Io(format!(
                "the store has format version {}, this switchboard exports version {}: start \
                 the engine on it once (it upgrades the store), stop it, and export again",
                found.unwrap_or(format::FIRST),
                format::CURRENT
            ))),
        }
    }

    /// Every record of the exchange tree that an export carries, in key order:
    /// requests, then logs, attempts, answers, queue entries and quarantine.
    pub fn export_records(&self) -> impl Iterator<Item = Result<Exported>> + '_ {
        self.journal.wait_applied();
        let sealer = self.sealer.clone();
        [b'r', b'l', b'a', b'p', b'q', b'z']
            .into_iter()
            .flat_map(move |prefix| self.exchange.scan_prefix([prefix]))
            .map(move |item| {
                let (k, v) = item?;
                let corrupt = |reason: &str| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&k[..1]).into_owned(),
                    reason: reason.to_string(),
                };
                Ok(match k.first() {
                    Some(b'r') => Exported::Request(Box::new(sealer.decode(&k, &v)?)),
                    Some(b'l') => Exported::Log(Box::new(super::decode(&k, &v)?)),
                    Some(b'a') => Exported::Attempt(Box::new(sealer.decode(&k, &v)?)),
                    Some(b'p') => {
                        let log_id =
                            Uuid::from_slice(&k[1..]).map_err(|_| corrupt("bad answer key"))?;
                        let opened = sealer.open(&v).map_err(|e| corrupt(&e))?;
                        let body = super::codec::unpack(&opened).map_err(|e| corrupt(&e))?;
                        Exported::Response {
                            log_id,
                            body: body.into_owned(),
                        }
                    }
                    Some(b'q') => Exported::Queued(QueueItem::parse(&k, &v)?),
                    _ => {
                        let log_id = Uuid::from_slice(k.get(17..33).unwrap_or_default())
                            .map_err(|_| corrupt("bad quarantine key"))?;
                        let (queue, seq) =
                            QueueId::from_key(&v).ok_or_else(|| corrupt("bad queue key"))?;
                        Exported::Quarantined {
                            log_id,
                            item: QueueItem {
                                queue,
                                seq,
                                log_id,
                                lease_until_ms: 0,
                            },
                        }
                    }
                })
            })
    }
}
