//! Opening the store, and what happens when it is damaged: every step of an open runs
//! under [`guarded`] (see [`super::db`]), so damage becomes a clear error, not a panic.
//!
//! Then the acknowledged mark ([`super::mark`]) is compared: a store that holds fewer
//! acknowledged requests than were acknowledged refuses to open ([`StoreError::Loss`]),
//! unless the caller accepts the loss.

use super::db::{guarded, is_damage, open_db, sled_detail};
use super::{
    AuditEntry, Gate, Result, SEQ_FLOOR_KEY, Sealer, Store, StoreError, check, format, history,
    journal, mark,
};
use chrono::Utc;
use std::path::Path;

/// How the engine's database is tuned: `[store]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// `cache_mib`: sled's page cache. Most of the engine's resident memory past its
    /// start; a read outside it costs a read of the data file (the OS's page cache
    /// usually has it), not a wrong answer.
    pub cache_bytes: u64,
}

impl Tuning {
    /// The default `cache_mib`: history pages, delivery and the journal stay in it
    /// (see README's configuration reference for the measurement).
    pub const DEFAULT_CACHE_MIB: u64 = 64;
    /// `cache_mib`'s bounds: below 8 MiB sled rereads its index pages constantly;
    /// above 64 GiB is a typo.
    pub const CACHE_MIB_RANGE: std::ops::RangeInclusive<u64> = 8..=65_536;

    pub fn with_cache_mib(mib: u64) -> Tuning {
        Tuning {
            cache_bytes: mib.saturating_mul(1024 * 1024),
        }
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning::with_cache_mib(Self::DEFAULT_CACHE_MIB)
    }
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OpenMode {
    /// For an engine: refuses a store that lost acknowledged requests.
    #[default]
    Serve,
    /// For an engine started with `--accept-loss`: runs on, resetting the mark to what
    /// the store holds (logged loudly and audited).
    AcceptLoss,
    /// For `backup` and other maintenance: neither refuses nor touches the mark file.
    Maintenance,
}

impl Store {
    /// Opens (or creates) the database under `data_dir/db` for an engine: refuses a
    /// damaged store or one that lost acknowledged requests (see [`open`]).
    pub fn open(data_dir: &Path) -> Result<Self> {
        Self::open_with(data_dir, OpenMode::Serve)
    }

    /// [`Store::open`] in the given mode (see [`OpenMode`]), without encryption keys.
    pub fn open_with(data_dir: &Path, mode: OpenMode) -> Result<Self> {
        Self::open_sealed(data_dir, mode, Sealer::default())
    }

    /// [`Store::open_with`], sealing and opening bodies with `sealer`'s keys (see
    /// [`super::seal`]).
    pub fn open_sealed(data_dir: &Path, mode: OpenMode, sealer: Sealer) -> Result<Self> {
        Self::open_tuned(data_dir, mode, sealer, Tuning::default())
    }

    /// [`Store::open_sealed`] with the `[store]` settings of the configuration.
    pub fn open_tuned(
        data_dir: &Path,
        mode: OpenMode,
        sealer: Sealer,
        tuning: Tuning,
    ) -> Result<Self> {
        let path = data_dir.join("db");
        let db = open_db(&path, tuning.cache_bytes)?;
        // Reading a damaged store can panic anywhere in sled: the whole open is guarded.
        guarded(&path, || Self::open_db(data_dir, db, mode, sealer)).map_err(|e| match e {
            StoreError::Sled(source) if is_damage(&source) => StoreError::Damaged {
                path: path.clone(),
                detail: sled_detail(&source),
            },
            StoreError::Corrupt { key, reason } => StoreError::Damaged {
                path: path.clone(),
                detail: format!("record {key} is unreadable ({reason})"),
            },
            other => other,
        })
    }

    fn open_db(data_dir: &Path, db: sled::Db, mode: OpenMode, sealer: Sealer) -> Result<Self> {
        let exchange = db.open_tree("exchange")?;
        let journal_tree = db.open_tree("journal")?;
        let meta = db.open_tree("meta")?;
        // Before anything is written: a newer format is not ours to touch.
        format::refuse_newer(&meta, &data_dir.join("db"), format::CURRENT)?;
        if mode != OpenMode::Maintenance {
            // Backups copy sealed bytes as they are: only an engine needs the key.
            super::seal::check_open(&meta, &data_dir.join("db"), &sealer)?;
        }
        if journal::replay(&journal_tree, &exchange)? > 0 {
            db.flush()?;
        }
        if mode != OpenMode::Maintenance {
            // After the replay: journaled write sets are in the format they were
            // written in. Maintenance (a backup) keeps the store as it found it.
            let at = format::Migrating { db: &db, data_dir };
            format::upgrade(&at, format::MIGRATIONS)?;
        }
        history::upgrade_index(&db, &exchange)?;
        // The mark says how many requests the store holds; this says that the ones
        // still to be delivered are readable (a damaged log file can lose pages that
        // older writes live in, under a mark that survived).
        let unreadable = match mode {
            OpenMode::Maintenance => Vec::new(),
            _ => verify_owed(data_dir, &db, &exchange, &meta, mode)?,
        };
        let held = mark::stored(&meta)?;
        let empty = exchange.is_empty() && journal_tree.is_empty();
        let (mark_state, file) = reconcile(data_dir, held, empty, mode)?;
        if held != Some(mark_state.count) && mode != OpenMode::Maintenance {
            meta.insert(mark::STORE_KEY, &mark_state.count.to_be_bytes())?;
            db.flush()?;
        }
        let seq_floor = meta
            .get(SEQ_FLOOR_KEY)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0);
        let marker = std::sync::Arc::new(mark::Marker::new(meta, mark_state.count, file));
        let gate = Gate::default();
        let journal = journal::Journal::start_with(
            journal_tree,
            exchange.clone(),
            Some(marker.clone()),
            gate.clone(),
            sealer.clone(),
        )?;
        let store = Store {
            journal: std::sync::Arc::new(journal),
            exchange,
            sessions: db.open_tree("sessions")?,
            ended_families: db.open_tree("ended_families")?,
            audit: db.open_tree("audit")?,
            destinations: db.open_tree("destinations")?,
            db,
            marker,
            gate,
            seq_floor,
            mark_state,
            sealer,
        };
        if mark_state.accepted_loss > 0 || !unreadable.is_empty() {
            store.append_audit(&AuditEntry {
                at: Utc::now(),
                actor: "engine start (--accept-loss)".into(),
                action: "accept-loss".into(),
                log_id: None,
                detail: Some(format!(
                    "the store held {} fewer acknowledged messages than were acknowledged, \
                     and {} deliveries still owed were unreadable or missing; the mark was \
                     reset to {}",
                    mark_state.accepted_loss,
                    unreadable.len(),
                    mark_state.count
                )),
                ..AuditEntry::default()
            })?;
            store.db.flush()?;
        }
        Ok(store)
    }
}

/// Every delivery still owed must be readable: refuses to serve when one is not, and
/// with --accept-loss removes the entries that can never be delivered (what cannot be
/// removed, a queue page itself, is remembered, so later plain starts run). Returns
/// the problems this start accepted.
fn verify_owed(
    data_dir: &Path,
    db: &sled::Db,
    exchange: &sled::Tree,
    meta: &sled::Tree,
    mode: OpenMode,
) -> Result<Vec<check::OwedProblem>> {
    let found = check::verify_pending(exchange)?;
    // Damage accepted by an earlier --accept-loss that no removal could clear
    // (a queue page itself unreadable) does not stop later plain starts.
    let accepted = accepted_unreadable(meta)?;
    let (known, unreadable): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|p| p.entry.is_none() && accepted.contains(&p.text));
    if let Some(first) = known.first() {
        tracing::warn!(
            problems = known.len(),
            "still unreadable, accepted by an earlier start with --accept-loss: {first}"
        );
    }
    let Some(first) = unreadable.first() else {
        return Ok(unreadable);
    };
    let more = match unreadable.len() {
        1 => String::new(),
        n => format!(" (and {} more deliveries still owed)", n - 1),
    };
    if mode == OpenMode::Serve {
        return Err(StoreError::Unreadable {
            path: data_dir.join("db"),
            count: unreadable.len(),
            detail: format!("{first}{more}"),
        });
    }
    tracing::error!(
        problems = unreadable.len(),
        "STARTING WITH --accept-loss: {first}{more}"
    );
    // Accepted once: the entries that can never be delivered leave their queues, and
    // what cannot be removed is remembered.
    let mut remembered = accepted;
    for problem in &unreadable {
        match &problem.entry {
            Some(entry) => {
                exchange.remove(entry)?;
            }
            None => remembered.push(problem.text.clone()),
        }
    }
    meta.insert(
        ACCEPTED_UNREADABLE_KEY,
        serde_json::to_vec(&remembered).unwrap_or_default(),
    )?;
    db.flush()?;
    Ok(unreadable)
}

/// The damage that `--accept-loss` accepted and could not remove (JSON, a list of the
/// problems' texts as [`check::verify_pending`] words them).
const ACCEPTED_UNREADABLE_KEY: &[u8] = b"accepted-unreadable";

fn accepted_unreadable(meta: &sled::Tree) -> Result<Vec<String>> {
    Ok(meta
        .get(ACCEPTED_UNREADABLE_KEY)?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default())
}

/// What the open found when comparing the mark; see [`reconcile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkState {
    /// The count the store opened with (and the file now records, unless maintenance).
    pub count: u64,
    /// Acknowledged requests the store did not hold, accepted with `--accept-loss`.
    pub accepted_loss: u64,
}

/// Compares the store's count with the file's, and decides (see [`OpenMode`]).
/// `held` is the store's count, `empty` whether it holds no history at all.
pub(crate) fn reconcile(
    data_dir: &Path,
    held: Option<u64>,
    empty: bool,
    mode: OpenMode,
) -> Result<(MarkState, Option<mark::MarkFile>)> {
    let filed = match mark::read(data_dir) {
        Ok(filed) => filed,
        Err(e @ mark::MarkError::Damaged { .. }) if mode == OpenMode::Serve => {
            return Err(StoreError::Mark(e));
        }
        Err(mark::MarkError::Damaged { path }) => {
            tracing::warn!(file = %path.display(), "the record of acknowledged messages is damaged; going by the store");
            None
        }
        Err(e) => return Err(StoreError::Mark(e)),
    };
    let count = held.unwrap_or(0);
    let missing = filed.map_or(0, |f| f.saturating_sub(count));
    if mode == OpenMode::Maintenance {
        let state = MarkState {
            count,
            accepted_loss: 0,
        };
        return Ok((state, None));
    }
    if missing > 0 && mode == OpenMode::Serve {
        return Err(StoreError::Loss {
            data_dir: data_dir.to_path_buf(),
            missing,
            held: count,
            acknowledged: filed.unwrap_or(0),
        });
    }
    if missing > 0 {
        tracing::error!(
            missing,
            held = count,
            acknowledged = filed.unwrap_or(0),
            "STARTING WITH --accept-loss: the store holds {missing} fewer acknowledged messages \
             than were acknowledged; they are gone. The mark is reset to what the store holds \
             (recorded in the audit trail)"
        );
    }
    match (filed, held) {
        (None, None) if empty => tracing::debug!("new store: acknowledged mark starts at 0"),
        (None, None) => tracing::info!(
            "store from before the acknowledged mark: adopting it as it is (the mark starts at 0)"
        ),
        (None, Some(h)) => tracing::warn!(
            count = h,
            file = %mark::path(data_dir).display(),
            "the record of acknowledged messages was missing: adopting the store's count"
        ),
        _ => {}
    }
    let file = mark::MarkFile::create(data_dir, count).map_err(StoreError::Mark)?;
    Ok((
        MarkState {
            count,
            accepted_loss: missing,
        },
        Some(file),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::check_conf;

    #[test]
    fn a_damaged_conf_is_called_so_and_a_panic_becomes_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        drop(open_db(&db, 1 << 20).expect("fresh"));
        check_conf(&db).expect("sled's own conf passes");
        std::fs::write(db.join("conf"), [0xffu8; 40]).expect("garble");
        let e = open_db(&db, 1 << 20).expect_err("damaged conf");
        assert!(
            e.to_string().contains("configuration file of the store"),
            "{e}"
        );
        assert!(!e.to_string().contains("0.29"), "{e}");

        let e = guarded(&db, || -> Result<()> { panic!("boom") }).expect_err("panic");
        assert!(e.to_string().contains("looks damaged"), "{e}");
        assert!(e.to_string().contains("boom"), "{e}");
    }
}
