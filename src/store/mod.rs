//! Persistence. sled holds history (requests, logs, attempts, query responses), the
//! delivery queues, sessions and the audit trail. Credentials and generated IDs live in
//! small plain files beside the database, so that `keys create` and friends work while
//! an engine holds the sled lock (sled allows one process per database). Uploaded files
//! are files too, under `uploads/` ([`uploads`]), indexed in the `exchange` tree.
//!
//! Layout of the `exchange` tree (all IDs are UUIDv7, big-endian, so ranges come out
//! in time order):
//! - `r` request_id            → [`StoredRequest`] (JSON, packed: [`codec`])
//! - `l` log_id                → [`LogRecord`] (JSON, packed)
//! - `a` log_id attempt_no:u32 → [`Attempt`] (JSON, packed)
//! - `p` log_id                → the destination's response body (query logs; packed)
//! - `q` dest_id source_id lane:u64 seq:u64 → log_id lease_until_ms:u64 (delivery
//!   queues, FIFO per (source, destination, lane); the lane is 0 unless the destination
//!   keeps per-patient child queues)
//! - `z` dest_id log_id        → the item's queue key (quarantine)
//! - `x` field value… log_id   → () (secondary indexes for history search)
//! - `u` env_code upload_id    → an uploaded file's index entry ([`uploads`]; the
//!   bytes are files under the data directory)
//!
//! The `audit` tree is append-only: UUIDv7 key → [`AuditEntry`], read by [`audit`].
//! Logs past their environment's retention are removed through the same expander
//! ([`retention`]).
//!
//! The `oauth_jti` tree holds the JWT flow's spent `jti`s until they expire ([`replay`]).
//!
//! The `meta` tree holds the format version ([`format`]), the history index version,
//! the acknowledged count ([`mark`]) and the queue sequence floor of a restored store
//! ([`backup`]).
//!
//! A request, its logs, their index entries and queue entries are one write set: the
//! engine journals it as one record before acknowledging and applies it right after
//! ([`journal`]); [`Store::insert_accepted`] writes it as one atomic batch (bulk loads
//! and tests). Every other write the engine makes to this tree goes through the
//! journal's expander too, in one order: the `*_writes` functions build write sets,
//! and changes that depend on what is stored are computed inside the expander
//! ([`journal::Journal::ordered`]).
//!
//! Reads of this tree wait for the expander first (read-your-writes: a read sees
//! everything queued before it started; one atomic load when nothing is pending), so
//! no caller has to remember to; [`Store::as_applied`] reads without waiting.
//!
//! At rest: [`perms`] keeps the data directory private to the engine's user, and
//! [`seal`] encrypts the records that hold payloads and the uploaded files when a key
//! is configured (each opened store carries its own keys, [`Sealer`]); [`reseal`]
//! seals them again with the primary key after a rotation.

pub mod applied;
pub mod atomic;
pub mod audit;
pub mod backup;
pub mod check;
mod codec;
pub mod composer_history;
pub mod credentials;
mod db;
pub mod export;
pub use db::checkpoint;
pub mod flush;
pub mod format;
pub mod history;
pub mod identities;
pub mod journal;
pub mod mark;
pub mod open;
pub mod perms;
pub mod postgres;
pub mod queue;
pub mod replay;
pub mod reseal;
pub mod retention;
pub mod revocations;
pub mod seal;
pub mod sessions;
pub mod space;
pub mod uploads;

pub use applied::Applied;
pub use audit::AuditEntry;
pub use flush::{GroupCommit, Writes};
pub use history::{LogPage, LogQuery};
pub use open::{MarkState, OpenMode, Tuning};
pub use queue::{QueueId, QueueItem};
pub use seal::Sealer;

pub(crate) use codec::{encode, key};
pub(crate) use seal::decode;

use crate::model::{Attempt, Environment, Exchange, LogRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The PostgreSQL store of several nodes (`[store] url`).
    #[error(transparent)]
    Shared(#[from] postgres::PgError),
    #[error(
        "cannot open the database at {path}: {source}. If another switchboard is running on this \
         data dir, stop it or pass a different --data-dir."
    )]
    Open { path: PathBuf, source: sled::Error },
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{0}")]
    Io(String),
    /// The journal's backlog stayed full (see [`journal::Journal::record_within`]).
    #[error("its backlog of {capacity} accepted requests not yet written to history stayed full")]
    Backlog { capacity: usize },
    #[error(
        "the store at {path} looks damaged: {detail}. Run `switchboard check` (with the same \
         --data-dir) to see what is readable, and restore from a backup (`switchboard restore \
         DIR`); to start over without its data, move {path} aside and start with --accept-loss"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the store at {path} cannot give back {count} deliveries it still owes: {detail} — \
         restore from backup (`switchboard restore DIR`), or start with --accept-loss to run \
         on without them; `switchboard check` lists what is unreadable"
    )]
    Unreadable {
        path: PathBuf,
        count: usize,
        detail: String,
    },
    #[error(
        "the configuration file of the store ({path}) is damaged: {detail}. It holds sled's \
         format settings, not yours; restore the data directory from a backup (`switchboard \
         restore DIR`), and run `switchboard check` to see whether the data is readable"
    )]
    ConfDamaged { path: PathBuf, detail: String },
    #[error(
        "the store at {path} is in use by another process (a running engine?). Stop it first; \
         to back up a running engine use `switchboard backup DIR`"
    )]
    Locked { path: PathBuf },
    #[error(
        "the store holds {missing} fewer acknowledged messages than were acknowledged ({held} \
         held, {acknowledged} acknowledged, per {data_dir}/acknowledged) — restore from backup \
         (`switchboard restore DIR`), or start with --accept-loss"
    )]
    Loss {
        data_dir: PathBuf,
        missing: u64,
        held: u64,
        acknowledged: u64,
    },
    #[error(transparent)]
    Mark(#[from] mark::MarkError),
    #[error(
        "the store at {path} has format version {found}, and this switchboard ({}) knows \
         formats up to {known}: a newer switchboard wrote it. Nothing was changed. Run the \
         newer switchboard again, or, to go back to this one, restore the backup taken \
         before the upgrade (`switchboard restore DIR`)",
        env!("CARGO_PKG_VERSION")
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        known: u32,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An accepted request as received (after timestamp normalization).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRequest {
    pub id: Uuid,
    #[serde(with = "crate::model::log::utc_millis")]
    pub received_at: DateTime<Utc>,
    pub environment: Environment,
    pub source_id: Uuid,
    pub exchange: Exchange,
    pub payload: serde_json::Value,
}

/// A source's session token, stored by hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub source_id: Uuid,
    pub api_key: String,
    pub refresh: bool,
    pub expires: DateTime<Utc>,
    /// Every access and refresh token descended from one authentication shares this;
    /// a refresh token used twice ends the whole family. `None` in sessions written
    /// before refresh tokens rotated, and for composer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Uuid>,
    /// A refresh token already exchanged for a new one: presenting it again is a
    /// replay (or a client that lost the answer) and ends the family.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotated: bool,
}

/// What [`Store::rotate_refresh`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// No such session.
    Unknown,
    /// This call rotated it: the session as it was, with its family set.
    Rotated(Session),
    /// It had been rotated before: a reuse.
    Reused(Session),
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    exchange: sled::Tree,
    sessions: sled::Tree,
    /// Refresh-token families ended by a reuse (family UUID → ()), so that a refresh
    /// racing with the reuse cannot keep the tokens it was just given.
    ended_families: sled::Tree,
    audit: sled::Tree,
    destinations: sled::Tree,
    journal: std::sync::Arc<journal::Journal>,
    marker: std::sync::Arc<mark::Marker>,
    /// Writers of the `exchange` tree hold it shared; an online backup holds it
    /// exclusively while it copies the tree, so no write set is copied half-applied.
    gate: Gate,
    /// Added to sled's generated IDs for queue sequence numbers: a restored store's sled
    /// counts from 0 again, and its new items must still queue behind the restored ones.
    seq_floor: u64,
    mark_state: MarkState,
    /// The keys this store's bodies are sealed with ([`seal`]).
    sealer: Sealer,
}

/// See [`Store`]'s `gate`.
pub type Gate = std::sync::Arc<std::sync::RwLock<()>>;

/// The `meta` key of the queue sequence floor (u64, big-endian).
pub(crate) const SEQ_FLOOR_KEY: &[u8] = b"queue-seq-floor";

impl Store {
    /// What the open found when comparing the acknowledged mark.
    pub fn mark_state(&self) -> MarkState {
        self.mark_state
    }

    /// The acknowledged count and its copies (see [`mark`]).
    pub fn marker(&self) -> &std::sync::Arc<mark::Marker> {
        &self.marker
    }

    /// The keys this store seals and opens its bodies with.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// See [`Store`]'s `gate`.
    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Holds every write to the exchange tree until the guard is dropped, as an online
    /// backup does while it copies: requests are still journaled and acknowledged, but
    /// none is applied, so the journal's backlog fills (and, once full, new requests
    /// get 503). For tools and tests of that condition; do not hold it across a call
    /// that settles the journal, which would wait for the guard.
    pub fn hold_writes(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the journal's expander has applied everything queued so far (the
    /// **applied** wait, see [`journal`]), then reads what is applied.
    fn caught_up(&self) -> Applied<'_> {
        self.journal.wait_applied();
        Applied::new(&self.exchange, &self.sealer)
    }

    /// Reads of what is applied right now, without waiting for the expander (see
    /// [`applied`] for who may).
    pub fn as_applied(&self) -> Applied<'_> {
        Applied::new(&self.exchange, &self.sealer)
    }

    /// Applies a batch to the exchange tree (under the backup gate).
    fn apply_exchange(&self, batch: sled::Batch) -> Result<()> {
        let _writing = self.writing();
        self.exchange.apply_batch(batch)?;
        Ok(())
    }

    /// The gate, held shared for a write to the exchange tree. While a backup holds it,
    /// a caller on a runtime worker (a poll, an operator action) waits with
    /// `block_in_place`, so the worker's other tasks (accepts) move on meanwhile.
    pub(crate) fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        if let Ok(guard) = self.gate.try_read() {
            return guard;
        }
        let wait = || self.gate.read().unwrap_or_else(|e| e.into_inner());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    /// The next queue sequence number (see `seq_floor`).
    pub(crate) fn next_seq(&self) -> Result<u64> {
        Ok(self.db.generate_id()?.saturating_add(self.seq_floor))
    }

    /// A number never handed out before by this store, larger than every earlier one,
    /// also across restarts and crashes: sled's durable ID generator, which the queue
    /// sequence numbers draw from too (so numbers have gaps), plus the floor a restore
    /// sets. For the platform's numeric legacy IDs (`engine::routing::legacy`).
    pub fn durable_number(&self) -> Result<u64> {
        // Never 0, which a client may read as "absent".
        Ok(self.next_seq()?.saturating_add(1))
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// The accept journal in front of the exchange tree (requests, logs, queues).
    pub fn journal(&self) -> &journal::Journal {
        &self.journal
    }

    /// Writes an accepted request with its logs in one atomic batch; with `lanes`
    /// (one per log), also one delivery-queue entry per log. For bulk loads and tests:
    /// the engine journals [`Store::accepted_writes`] instead ([`journal`]).
    pub fn insert_accepted(
        &self,
        request: &StoredRequest,
        logs: &[LogRecord],
        lanes: Option<&[u64]>,
    ) -> Result<()> {
        let writes = self.accepted_writes(request, logs, lanes)?;
        self.apply_exchange(writes.into_batch())
    }

    /// The writes of [`Store::insert_accepted`], for the journal (see [`journal`]).
    pub fn accepted_writes(
        &self,
        request: &StoredRequest,
        logs: &[LogRecord],
        lanes: Option<&[u64]>,
    ) -> Result<Writes> {
        let mut writes = Writes::default();
        writes.insert(
            key(b'r', &[request.id.as_bytes()]),
            self.sealer.encode(request),
        );
        for (i, log) in logs.iter().enumerate() {
            writes.insert(key(b'l', &[log.id.as_bytes()]), encode(log));
            for (index, value) in history::index_entries(log) {
                writes.insert(index, value);
            }
            if let Some(lanes) = lanes {
                let queue = queue::QueueId {
                    destination: log.destination_id,
                    source: log.source_id,
                    lane: lanes.get(i).copied().unwrap_or(0),
                };
                let seq = self.next_seq()?;
                writes.insert(queue.key(seq), queue::item_value(log.id, 0));
            }
        }
        Ok(writes)
    }

    /// Only the index entries that change are written: a delivery or a query's answer
    /// changes the status (in the environment index's summary, and the sparse status
    /// index), and rewriting the others would cost more sled writes per update. `old`
    /// must be the record as stored (its entries are there).
    pub(crate) fn log_update_writes(writes: &mut Writes, old: &LogRecord, new: &LogRecord) {
        let new_index = history::index_entries(new);
        let old_index = history::index_entries(old);
        for (stale, _) in &old_index {
            if !new_index.iter().any(|(k, _)| k == stale) {
                writes.remove(stale.clone());
            }
        }
        for entry in new_index {
            if !old_index.contains(&entry) {
                writes.insert(entry.0, entry.1);
            }
        }
        writes.insert(key(b'l', &[new.id.as_bytes()]), encode(new));
    }

    fn attempt_writes(sealer: &Sealer, writes: &mut Writes, attempt: &Attempt) {
        writes.insert(
            key(
                b'a',
                &[attempt.log_id.as_bytes(), &attempt.number.to_be_bytes()],
            ),
            sealer.encode(attempt),
        );
    }

    /// The writes that replace a log (keeping its indexes right) and, if given, record
    /// an attempt and the destination's full response body (sealed by `sealer`, the
    /// store's). `old` must be the log as stored.
    pub fn update_writes(
        sealer: &Sealer,
        old: &LogRecord,
        new: &LogRecord,
        attempt: Option<&Attempt>,
        response: Option<&[u8]>,
    ) -> Writes {
        let mut writes = Writes::default();
        Self::log_update_writes(&mut writes, old, new);
        if let Some(attempt) = attempt {
            Self::attempt_writes(sealer, &mut writes, attempt);
        }
        if let Some(body) = response {
            writes.insert(
                key(b'p', &[new.id.as_bytes()]),
                sealer.seal(codec::pack(body)),
            );
        }
        writes
    }

    /// [`Store::update_writes`] applied as one atomic batch, bypassing the journal: for
    /// tests of the indexes only (the engine writes through the journal).
    #[cfg(test)]
    pub(crate) fn update_log(
        &self,
        old: &LogRecord,
        new: &LogRecord,
        attempt: Option<&Attempt>,
        response: Option<&[u8]>,
    ) -> Result<()> {
        let writes = Self::update_writes(&self.sealer, old, new, attempt, response);
        self.apply_exchange(writes.into_batch())
    }

    pub fn log(&self, id: Uuid) -> Result<Option<LogRecord>> {
        self.caught_up().log(id)
    }

    pub fn request(&self, id: Uuid) -> Result<Option<StoredRequest>> {
        self.caught_up().request(id)
    }

    pub fn attempts(&self, log_id: Uuid) -> Result<Vec<Attempt>> {
        self.caught_up();
        self.exchange
            .scan_prefix(key(b'a', &[log_id.as_bytes()]))
            .map(|item| {
                let (k, v) = item?;
                self.sealer.decode(&k, &v)
            })
            .collect()
    }

    /// The destination's full response body for a query log.
    pub fn response_body(&self, log_id: Uuid) -> Result<Option<Vec<u8>>> {
        self.caught_up();
        let k = key(b'p', &[log_id.as_bytes()]);
        let Some(stored) = self.exchange.get(&k)? else {
            return Ok(None);
        };
        let corrupt = |reason| StoreError::Corrupt {
            key: String::from_utf8_lossy(&k).into_owned(),
            reason,
        };
        let opened = self.sealer.open(&stored).map_err(corrupt)?;
        let body = codec::unpack(&opened).map_err(corrupt)?;
        Ok(Some(body.into_owned()))
    }

    pub fn put_session(&self, token_hash: &[u8; 32], session: &Session) -> Result<()> {
        self.sessions.insert(token_hash, encode(session))?;
        Ok(())
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        self.sessions
            .get(token_hash)?
            .map(|v| decode(b"session", &v))
            .transpose()
    }

    pub fn remove_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.sessions.remove(token_hash)?;
        Ok(())
    }

    /// Marks a refresh token as used, atomically: of two concurrent calls with one
    /// token only one rotates it, the other sees a reuse. A session without a family
    /// (written before rotation existed) joins `new_family`.
    pub fn rotate_refresh(&self, token_hash: &[u8; 32], new_family: Uuid) -> Result<Rotation> {
        let mut corrupt = None;
        let previous = self.sessions.fetch_and_update(token_hash, |old| {
            let old = old?;
            match codec::parse::<Session>(b"session", old) {
                Ok(mut s) if s.refresh && !s.rotated => {
                    s.rotated = true;
                    s.family = Some(s.family.unwrap_or(new_family));
                    Some(encode(&s))
                }
                Ok(_) => Some(old.to_vec()),
                Err(e) => {
                    corrupt = Some(e);
                    Some(old.to_vec())
                }
            }
        })?;
        if let Some(e) = corrupt {
            return Err(e);
        }
        let Some(previous) = previous else {
            return Ok(Rotation::Unknown);
        };
        let mut session: Session = decode(b"session", &previous)?;
        if session.rotated || !session.refresh {
            return Ok(Rotation::Reused(session));
        }
        session.family = Some(session.family.unwrap_or(new_family));
        Ok(Rotation::Rotated(session))
    }

    /// Ends a refresh-token family: marks it ended, then removes its sessions. Returns
    /// how many sessions it removed.
    pub fn end_family(&self, family: Uuid) -> Result<usize> {
        // The mark first: a refresh that rotated just before checks it after storing
        // its new tokens (see [`Store::family_ended`]), so one of the two removes them.
        self.ended_families.insert(family.as_bytes(), &[])?;
        self.remove_sessions(|s| s.family == Some(family))
    }

    pub fn family_ended(&self, family: Uuid) -> Result<bool> {
        Ok(self.ended_families.contains_key(family.as_bytes())?)
    }

    /// Every session (token hash and record), for listings and revocation.
    pub fn sessions(&self) -> impl Iterator<Item = Result<([u8; 32], Session)>> + '_ {
        self.sessions.iter().map(|item| {
            let (k, v) = item?;
            let session = decode(b"session", &v)?;
            let mut hash = [0u8; 32];
            if k.len() == 32 {
                hash.copy_from_slice(&k);
            }
            Ok((hash, session))
        })
    }

    /// Removes every session `revoke` picks, and every expired one while at it (they
    /// would be refused anyway and only take room). Returns how many `revoke` picked.
    pub fn remove_sessions(&self, revoke: impl Fn(&Session) -> bool) -> Result<usize> {
        let now = Utc::now();
        let mut picked = 0;
        let mut batch = sled::Batch::default();
        for item in self.sessions.iter() {
            let (k, v) = item?;
            let Ok(session) = decode::<Session>(&k, &v) else {
                continue;
            };
            if revoke(&session) {
                picked += 1;
                batch.remove(k);
            } else if session.expires <= now {
                batch.remove(k);
            }
        }
        self.sessions.apply_batch(batch)?;
        Ok(picked)
    }
}
