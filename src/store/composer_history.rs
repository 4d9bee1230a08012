//! The composer's history of sent requests, in its own sled tree (`composer_history`)
//! of the engine's database, or in the PostgreSQL store several nodes share (its
//! `composer_history` table, bounded the same way).
//!
//! - Key: the entry's UUIDv7 (16 bytes, big-endian), so key order is time order and
//!   pages come newest first by iterating backwards.
//! - Value: the [`HistoryEntry`] as JSON.
//! - Bounded: after each append only the newest [`DEFAULT_LIMIT`] entries (or the limit
//!   given to [`ComposerHistory::with_limit`]) are kept; older ones are removed in the
//!   same call. Sends are human-paced, so trimming a ~1,000-key tree per append is cheap.
//! - PHI: in Production a body is only kept when the sender's role has the PHI
//!   permission ([`ComposerHistory::append`] takes that flag); otherwise the entry
//!   keeps everything but the body. Development and Staging hold no PHI by rule, so
//!   their bodies are always kept.
//!
//! ```no_run
//! # fn demo(store: &switchboard::store::Store, sent: switchboard::store::composer_history::Sent)
//! # -> Result<(), switchboard::store::StoreError> {
//! use switchboard::store::composer_history::ComposerHistory;
//! let history = ComposerHistory::open(store)?;
//! let entry = history.append(sent, /* role sees PHI */ false)?;
//! let page = history.list(None, None, 50)?; // newest first, every environment
//! let more = history.list(None, page.next, 50)?; // the next, older page
//! assert_eq!(history.get(entry.id)?.map(|e| e.id), Some(entry.id));
//! # Ok(()) }
//! ```

use super::postgres::{PgStore, blocking};
use super::{Result, Sealer, Store};
use crate::model::Environment;
use crate::model::log::new_log_id;
use uuid::Uuid;

// The record on disk is the wire type the console reads: one shape, kept in `model`.
pub use crate::model::view::composer::{HistoryEntry, HistoryPage, Sent};

/// Name of the sled tree.
pub const TREE: &str = "composer_history";
/// Entries kept by default: the newest 1,000.
pub const DEFAULT_LIMIT: usize = 1_000;
/// Largest page [`ComposerHistory::list`] returns.
pub const MAX_PAGE: usize = 500;

/// A stored entry: its key (the ID's bytes) and its encoded value.
type Record = (Vec<u8>, Vec<u8>);

#[derive(Clone)]
pub struct ComposerHistory {
    tree: sled::Tree,
    sealer: Sealer,
    limit: usize,
    /// On nodes sharing a PostgreSQL store: the list is kept there (the tree unused).
    shared: Option<PgStore>,
}

impl ComposerHistory {
    /// The history in `store`, keeping [`DEFAULT_LIMIT`] entries.
    pub fn open(store: &Store) -> Result<ComposerHistory> {
        ComposerHistory::with_limit(store, DEFAULT_LIMIT)
    }

    /// The history in `store`, keeping the newest `limit` entries (at least one); bodies
    /// sealed with the store's keys.
    pub fn with_limit(store: &Store, limit: usize) -> Result<ComposerHistory> {
        Ok(ComposerHistory {
            tree: store.db().open_tree(TREE)?,
            sealer: store.sealer().clone(),
            limit: limit.max(1),
            shared: None,
        })
    }

    /// The history every node sharing `shared` sees; bodies sealed with `store`'s keys.
    pub fn shared(store: &Store, shared: PgStore) -> Result<ComposerHistory> {
        Ok(ComposerHistory {
            shared: Some(shared),
            ..ComposerHistory::open(store)?
        })
    }

    /// Records a sent request. In Production the body is dropped unless `sees_phi`
    /// (the sender's role has the PHI permission); see the module docs.
    pub fn append(&self, mut sent: Sent, sees_phi: bool) -> Result<HistoryEntry> {
        if sent.environment.may_hold_phi() && !sees_phi {
            sent.mask_phi();
        }
        let (id, at) = new_log_id();
        let entry = HistoryEntry { id, at, sent };
        let record = self.sealer.encode(&entry);
        if let Some(shared) = &self.shared {
            blocking::wait(shared.composer_append(id, &record, self.limit))?;
            return Ok(entry);
        }
        self.tree.insert(id.as_bytes(), record)?;
        self.trim()?;
        Ok(entry)
    }

    /// Removes all but the newest `limit` entries.
    fn trim(&self) -> Result<()> {
        let stale: Vec<sled::IVec> = self
            .tree
            .iter()
            .keys()
            .rev()
            .skip(self.limit)
            .collect::<std::result::Result<_, _>>()?;
        for key in stale {
            self.tree.remove(key)?;
        }
        Ok(())
    }

    /// Up to `limit` entries (at most [`MAX_PAGE`]) older than `before` (all when
    /// `None`), of `environment` when one is given, newest first. The history is
    /// bounded, so filtering by scanning it stays cheap.
    pub fn list(
        &self,
        environment: Option<Environment>,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<HistoryPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let records: Box<dyn Iterator<Item = Result<Record>>> = match &self.shared {
            Some(shared) => Box::new(
                blocking::wait(shared.composer_entries(before))?
                    .into_iter()
                    .map(|(id, record)| Ok((id.as_bytes().to_vec(), record))),
            ),
            None => {
                let range = match before {
                    Some(id) => self.tree.range(..id.as_bytes().to_vec()),
                    None => self.tree.range::<Vec<u8>, _>(..),
                };
                Box::new(range.rev().map(|item| {
                    let (k, v) = item?;
                    Ok((k.to_vec(), v.to_vec()))
                }))
            }
        };
        let mut entries = Vec::with_capacity(limit);
        let mut more = false;
        for item in records {
            let (key, value) = item?;
            let entry = self.sealer.decode::<HistoryEntry>(&key, &value)?;
            if environment.is_some_and(|e| e != entry.sent.environment) {
                continue;
            }
            if entries.len() == limit {
                more = true;
                break;
            }
            entries.push(entry);
        }
        let next = if more {
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(HistoryPage { entries, next })
    }

    pub fn get(&self, id: Uuid) -> Result<Option<HistoryEntry>> {
        let key = id.as_bytes();
        let record = match &self.shared {
            Some(shared) => blocking::wait(shared.composer_entry(id))?,
            None => self.tree.get(key)?.map(|v| v.to_vec()),
        };
        record.map(|v| self.sealer.decode(key, &v)).transpose()
    }

    /// Every entry of the embedded tree as stored (ID, record), oldest first: what
    /// `export` moves to a shared store.
    pub fn stored(&self) -> Result<Vec<(Uuid, Vec<u8>)>> {
        self.tree
            .iter()
            .map(|item| {
                let (k, v) = item?;
                Ok((Uuid::from_slice(&k).unwrap_or_default(), v.to_vec()))
            })
            .collect()
    }

    /// Entries held (counts them: O(n), n ≤ the limit).
    pub fn len(&self) -> usize {
        match &self.shared {
            Some(shared) => blocking::wait(shared.composer_count()).unwrap_or(0),
            None => self.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn sent(environment: Environment, n: usize) -> Sent {
        Sent {
            environment,
            source_id: Uuid::from_u128(1),
            source_name: "Switchboard Console".into(),
            destination_id: Uuid::from_u128(2),
            destination_name: "Sandbox EHR".into(),
            data_model: "PatientAdmin".into(),
            event_type: "Arrival".into(),
            body: Some(format!("{{\"n\": {n}}}")),
            status: Some(200),
            elapsed_ms: 12,
            log_ids: vec![Uuid::from_u128(3)],
            error: None,
            summary: None,
        }
    }

    #[test]
    fn append_list_get_and_page_newest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let history = ComposerHistory::open(&store).expect("history");
        assert!(history.is_empty());
        let ids: Vec<Uuid> = (0..7)
            .map(|n| {
                history
                    .append(sent(Environment::Development, n), false)
                    .expect("append")
                    .id
            })
            .collect();
        let first = history.list(None, None, 3).expect("page");
        let got: Vec<Uuid> = first.entries.iter().map(|e| e.id).collect();
        assert_eq!(got, vec![ids[6], ids[5], ids[4]]);
        let second = history.list(None, first.next, 3).expect("page");
        assert_eq!(second.entries[0].id, ids[3]);
        let last = history.list(None, second.next, 3).expect("page");
        assert_eq!(last.entries.len(), 1);
        assert_eq!(last.next, None);
        let entry = history.get(ids[2]).expect("get").expect("present");
        assert_eq!(entry.sent.body.as_deref(), Some("{\"n\": 2}"));
        assert_eq!(entry.sent.log_ids, vec![Uuid::from_u128(3)]);
        assert_eq!(history.get(Uuid::nil()).expect("get"), None);
        // An exact page leaves no cursor behind.
        assert_eq!(history.list(None, None, 7).expect("page").next, None);
    }

    #[test]
    fn production_bodies_need_the_phi_permission() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let history = ComposerHistory::open(&store).expect("history");
        let hidden = history
            .append(sent(Environment::Production, 1), false)
            .expect("append");
        let kept = history
            .append(sent(Environment::Production, 2), true)
            .expect("append");
        let staging = history
            .append(sent(Environment::Staging, 3), false)
            .expect("append");
        assert_eq!(
            history
                .get(hidden.id)
                .expect("get")
                .expect("entry")
                .sent
                .body,
            None
        );
        assert!(
            history
                .get(kept.id)
                .expect("get")
                .expect("entry")
                .sent
                .body
                .is_some()
        );
        assert!(
            history
                .get(staging.id)
                .expect("get")
                .expect("entry")
                .sent
                .body
                .is_some()
        );
        assert_eq!(hidden.sent.status, Some(200));
        let production = history
            .list(Some(Environment::Production), None, 1)
            .expect("page");
        assert_eq!(production.entries[0].id, kept.id);
        let older = history
            .list(Some(Environment::Production), production.next, 10)
            .expect("page");
        let ids: Vec<Uuid> = older.entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![hidden.id]);
        assert_eq!(older.next, None);
    }

    #[test]
    fn only_the_newest_are_kept_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ids: Vec<Uuid> = {
            let store = Store::open(dir.path()).expect("store");
            let history = ComposerHistory::with_limit(&store, 5).expect("history");
            let ids = (0..12)
                .map(|n| {
                    history
                        .append(sent(Environment::Development, n), false)
                        .expect("append")
                        .id
                })
                .collect();
            assert_eq!(history.len(), 5);
            store.db().flush().expect("flush");
            ids
        };
        let store = Store::open(dir.path()).expect("reopen");
        let history = ComposerHistory::with_limit(&store, 5).expect("history");
        let page = history.list(None, None, 100).expect("page");
        let got: Vec<Uuid> = page.entries.iter().map(|e| e.id).collect();
        let want: Vec<Uuid> = ids.iter().rev().take(5).copied().collect();
        assert_eq!(got, want);
        assert_eq!(history.get(ids[0]).expect("get"), None);
    }
}
