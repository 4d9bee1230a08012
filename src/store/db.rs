//! The sled database on disk: where its data file is, opening it, and damage turned
//! into clear errors.
//!
//! sled 0.34 answers some damage with an error and some with a panic (a truncated log
//! file can panic deep in recovery). Every read of a store that may be damaged runs
//! under [`guarded`], which catches a panic, keeps its backtrace off the terminal and
//! turns it into [`StoreError::Damaged`], which says which store, that it looks damaged
//! and what to do. The configuration file `db/conf` is checked before sled reads it,
//! since sled blames a damaged one on "a sled version earlier than 0.29". Used by
//! opening ([`super::open`]), `check` and `backup`.

use super::{Result, StoreError};
use std::any::Any;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The data file sled locks and writes its log to.
pub(crate) fn data_file(db_path: &Path) -> PathBuf {
    db_path.join("db")
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}
/// Opens in progress: while one runs, panics (sled's own threads' too) stay off the
/// terminal; the caller reports them as damage.
static OPENING: AtomicUsize = AtomicUsize::new(0);

fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) || OPENING.load(Ordering::SeqCst) > 0 {
                tracing::debug!(panic = %info, "panic while reading the store");
                return;
            }
            previous(info);
        }));
    });
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `f` (which reads the store at `db_path`); a panic in it becomes
/// [`StoreError::Damaged`], without a backtrace on the terminal.
pub(crate) fn guarded<T>(db_path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    quiet_panics();
    struct Quiet(bool);
    impl Drop for Quiet {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(self.0));
            OPENING.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _quiet = Quiet(QUIET.with(|q| q.replace(true)));
    OPENING.fetch_add(1, Ordering::SeqCst);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(StoreError::Damaged {
            path: db_path.to_path_buf(),
            detail: format!("reading it failed inside sled ({})", panic_text(&*payload)),
        }),
    }
}

/// Whether a sled error met while reading means the files are damaged (rather than,
/// say, a permission problem).
pub(crate) fn is_damage(e: &sled::Error) -> bool {
    match e {
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => true,
        sled::Error::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

/// A sled error in words (sled's own text for corruption ends in "backtrace ()").
pub(crate) fn sled_detail(e: &sled::Error) -> String {
    match e {
        sled::Error::Corruption { at: Some(at), .. } => format!("corrupted data at {at:?}"),
        sled::Error::Corruption { at: None, .. } => "corrupted data".into(),
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "its data file ends before the data it records (truncated?)".into()
        }
        other => other.to_string(),
    }
}

/// Fails with [`StoreError::Locked`] when another process (an engine) holds the store.
pub(crate) fn ensure_unlocked(db_path: &Path) -> Result<()> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .open(data_file(db_path))
    {
        Ok(f) => f,
        // No data file: nobody holds it.
        Err(_) => return Ok(()),
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: db_path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io(format!(
            "cannot check whether {} is in use: {e}",
            data_file(db_path).display()
        ))),
    }
}

/// [`ensure_unlocked`], waiting up to [`RELEASE_WAIT`]: sled's own threads let go of
/// the file a moment after the last handle in this process is dropped (a restart in
/// one process, a checkpoint after a stop), which is not another process holding it.
fn wait_unlocked(db_path: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + RELEASE_WAIT;
    loop {
        match ensure_unlocked(db_path) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Checks `db/conf` the way sled reads it (lines `key: value` and a 4-byte checksum),
/// so that a damaged one is called what it is. A missing or near-empty one is fine:
/// sled writes a new one.
pub(crate) fn check_conf(db_path: &Path) -> Result<()> {
    let path = db_path.join("conf");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    if bytes.len() <= 8 {
        return Ok(());
    }
    let damaged = |detail: &str| StoreError::ConfDamaged {
        path: path.clone(),
        detail: detail.to_string(),
    };
    let text = std::str::from_utf8(&bytes[..bytes.len() - 4])
        .map_err(|_| damaged("it is not the text sled writes there"))?;
    for wanted in ["segment_size", "use_compression", "version"] {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(wanted).and_then(|r| r.strip_prefix(": ")));
        let ok = match (wanted, line) {
            (_, None) => false,
            ("segment_size", Some(v)) => v.parse::<u64>().is_ok(),
            ("use_compression", Some(v)) => v.parse::<bool>().is_ok(),
            (_, Some(v)) => v.split('.').all(|n| n.parse::<u32>().is_ok()),
        };
        if !ok {
            return Err(damaged(&format!(
                "its \"{wanted}\" setting is missing or unreadable"
            )));
        }
    }
    Ok(())
}

/// Opens sled at `db_path` (creating it if absent), with damage turned into clear errors.
pub(crate) fn open_db(db_path: &Path, cache_bytes: u64) -> Result<sled::Db> {
    std::fs::create_dir_all(db_path).map_err(|e| {
        StoreError::Io(format!("cannot create data dir {}: {e}", db_path.display()))
    })?;
    wait_unlocked(db_path)?;
    check_conf(db_path)?;
    let result = guarded(db_path, || {
        sled::Config::new()
            .path(db_path)
            .cache_capacity(cache_bytes)
            // The group-commit flusher decides when to flush; no background timer.
            .flush_every_ms(None)
            .open()
            .map_err(|source| StoreError::Open {
                path: db_path.to_path_buf(),
                source,
            })
    });
    result.map_err(|e| match e {
        StoreError::Open {
            source: sled::Error::Unsupported(text),
            ..
        } if text.contains("0.29") => StoreError::ConfDamaged {
            path: db_path.join("conf"),
            detail: "sled cannot read it".into(),
        },
        StoreError::Open { source, .. } if is_damage(&source) => StoreError::Damaged {
            path: db_path.to_path_buf(),
            detail: sled_detail(&source),
        },
        StoreError::Open {
            source: sled::Error::Io(io),
            ..
        } if io.to_string().contains("could not acquire lock") => StoreError::Locked {
            path: db_path.to_path_buf(),
        },
        other => other,
    })
}

/// How long [`checkpoint`] waits for the database's lock to be released.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Page cache for [`checkpoint`]'s open: it reads no values, only the log's headers.
const CHECKPOINT_CACHE_BYTES: u64 = 8 << 20;

/// Opens and closes the database once, after a clean stop, so that sled writes a
/// snapshot of its page table: sled 0.34 writes one only when it opens, and without
/// it the next start reads every log segment written since this process started (on
/// a million logs, seconds). Crash recovery is unchanged: it scans from the last
/// snapshot, as before. Returns whether a snapshot was written; a database still held
/// after [`RELEASE_WAIT`] (another process's) is left alone.
pub fn checkpoint(data_dir: &Path) -> Result<bool> {
    let db_path = data_dir.join("db");
    if !data_file(&db_path).exists() {
        return Ok(false);
    }
    if let Err(StoreError::Locked { .. }) = wait_unlocked(&db_path) {
        return Ok(false);
    }
    let db = open_db(&db_path, CHECKPOINT_CACHE_BYTES)?;
    drop(db);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest snapshot's log sequence number (sled names them `snap.<lsn in hex>`).
    fn newest_snapshot(db_path: &Path) -> Option<u64> {
        std::fs::read_dir(db_path)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
            })
            .max()
    }

    #[test]
    fn a_checkpoint_snapshots_what_the_last_run_wrote_and_leaves_a_held_database_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("db");
        assert!(
            !checkpoint(dir.path()).expect("no database"),
            "nothing to do"
        );
        let db = open_db(&db_path, 1 << 20).expect("open");
        let before = newest_snapshot(&db_path);
        for i in 0u32..5_000 {
            db.insert(i.to_be_bytes(), vec![7u8; 200]).expect("insert");
        }
        db.flush().expect("flush");
        assert!(
            !checkpoint(dir.path()).expect("held"),
            "a database still open is not reopened"
        );
        drop(db);
        assert!(checkpoint(dir.path()).expect("checkpoint"));
        let after = newest_snapshot(&db_path).expect("a snapshot");
        assert!(before.is_none_or(|b| after > b), "{before:?} → {after}");
        let db = open_db(&db_path, 1 << 20).expect("reopen");
        assert_eq!(db.len(), 5_000);
    }
}
