//! The acknowledged high-water mark: how many requests this engine has acknowledged,
//! kept twice, so that a start can tell when the store lost some of them.
//!
//! - In the store: key `acknowledged` of the `meta` tree (u64, big-endian). It travels
//!   with the data: a store that lost the end of its log lost the later marks too.
//! - Outside the store: `<data dir>/acknowledged`, a tiny file of two checksummed slots
//!   written alternately, so a torn write leaves the previous value readable; synced at
//!   most every [`SYNC_EVERY`] and when the engine stops.
//!
//! What it counts: every request accepted through the journal (notifications and
//! writebacks, answered 200 by `POST /endpoint`, FHIR writes and the composer alike).
//! Queries are not counted: their answer is the destination's, and nothing is queued.
//! A request is counted when its journal record is written, before its flush; a flush
//! that then fails answers an error, so the count can run ahead of what was answered,
//! never behind.
//!
//! Both copies are written by the group commit ([`super::flush`]), once per flush and not
//! per request: the count goes into the store before the flush, the file after it and
//! before anyone waiting is answered. So the file never claims more than the flushed
//! store holds, and a start that finds the store below the file knows it lost data.

use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file beside the database.
pub const FILE: &str = "acknowledged";
/// The key in the store's `meta` tree.
pub const STORE_KEY: &[u8] = b"acknowledged";

const MAGIC: &[u8; 8] = b"SBMARK01";
/// Bytes per slot: magic, generation, count, checksum (16 bytes of SHA-256), padding.
const SLOT: usize = 64;
const BODY: usize = 24;
const SUM: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error(
        "the record of acknowledged messages ({path}) is damaged: neither of its two copies \
         is readable. Run `switchboard check` to see whether the store is complete; restore \
         from backup (`switchboard restore DIR`), or start with --accept-loss to trust the \
         store as it is"
    )]
    Damaged { path: PathBuf },
    #[error("cannot {action} the record of acknowledged messages ({path}): {reason}")]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },
}

fn slot_bytes(generation: u64, count: u64) -> [u8; SLOT] {
    let mut slot = [0u8; SLOT];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&generation.to_be_bytes());
    slot[16..24].copy_from_slice(&count.to_be_bytes());
    let sum = Sha256::digest(&slot[..BODY]);
    slot[BODY..BODY + SUM].copy_from_slice(&sum[..SUM]);
    slot
}

/// `(generation, count)` of a slot whose checksum holds.
fn parse_slot(slot: &[u8]) -> Option<(u64, u64)> {
    if slot.len() < BODY + SUM || &slot[..8] != MAGIC {
        return None;
    }
    let sum = Sha256::digest(&slot[..BODY]);
    if slot[BODY..BODY + SUM] != sum[..SUM] {
        return None;
    }
    let generation = u64::from_be_bytes(slot[8..16].try_into().ok()?);
    let count = u64::from_be_bytes(slot[16..24].try_into().ok()?);
    Some((generation, count))
}

/// The newest readable `(generation, count)` of a mark file's bytes.
fn parse(bytes: &[u8]) -> Option<(u64, u64)> {
    bytes
        .chunks(SLOT)
        .take(2)
        .filter_map(parse_slot)
        .max_by_key(|(generation, _)| *generation)
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The count recorded in `data_dir`, `None` when there is no file.
pub fn read(data_dir: &Path) -> Result<Option<u64>, MarkError> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => parse(&bytes)
            .map(|(_, count)| Some(count))
            .ok_or(MarkError::Damaged { path }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MarkError::Io {
            action: "read",
            path,
            reason: e.to_string(),
        }),
    }
}

/// The open mark file; each [`MarkFile::write`] overwrites the older slot and syncs.
pub struct MarkFile {
    path: PathBuf,
    file: std::fs::File,
    generation: u64,
}

impl MarkFile {
    /// Opens (or creates) the file in `data_dir` and records `count` in it.
    pub fn create(data_dir: &Path, count: u64) -> Result<MarkFile, MarkError> {
        let path = path(data_dir);
        let io = |action, e: std::io::Error| MarkError::Io {
            action,
            path: path.clone(),
            reason: e.to_string(),
        };
        let existed = path.exists();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io("read", e))?;
        let generation = parse(&bytes).map_or(0, |(g, _)| g);
        let mut mark = MarkFile {
            path: path.clone(),
            file,
            generation,
        };
        mark.write(count)?;
        if !existed {
            // A new file's name must survive a crash too.
            sync_dir(data_dir).map_err(|e| io("sync the directory of", e))?;
        }
        Ok(mark)
    }

    /// Records `count` in the older slot and waits for the disk.
    pub fn write(&mut self, count: u64) -> Result<(), MarkError> {
        self.write_unsynced(count)?;
        self.sync()
    }

    /// Records `count` in the older slot, in the page cache only: a crash of the process
    /// keeps it, a crash of the machine may lose it until [`MarkFile::sync`].
    pub fn write_unsynced(&mut self, count: u64) -> Result<(), MarkError> {
        let generation = self.generation + 1;
        let offset = (generation % 2) * SLOT as u64;
        let slot = slot_bytes(generation, count);
        let io = |e: std::io::Error| MarkError::Io {
            action: "write",
            path: self.path.clone(),
            reason: e.to_string(),
        };
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        self.file.write_all(&slot).map_err(io)?;
        self.generation = generation;
        Ok(())
    }

    /// Waits for the disk to hold what was written.
    pub fn sync(&mut self) -> Result<(), MarkError> {
        self.file.sync_data().map_err(|e| MarkError::Io {
            action: "sync",
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }
}

#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The running count and both of its copies, for the journal (which counts) and the
/// group commit (which writes).
pub struct Marker {
    /// Requests journaled so far (absolute, continuing the stored count).
    recorded: AtomicU64,
    /// The last count put in the store and in the file.
    stored: AtomicU64,
    filed: Mutex<Filed>,
    meta: sled::Tree,
}

/// How long the file may hold a count the disk has not confirmed. The file is written
/// after every flush but synced at most this often (and when the engine stops): an
/// `fsync` per flush cost a lone client a quarter of its rate, and the file only has to
/// witness the store, whose own flush is what a 200 waits for. A machine crash can
/// leave the file behind by this much, never ahead of the store.
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

struct Filed {
    count: u64,
    file: Option<MarkFile>,
    /// Written since the last sync.
    dirty: bool,
    synced_at: std::time::Instant,
}

impl Filed {
    fn sync(&mut self) -> Result<(), MarkError> {
        if let (true, Some(file)) = (self.dirty, &mut self.file) {
            file.sync()?;
        }
        self.dirty = false;
        self.synced_at = std::time::Instant::now();
        Ok(())
    }
}

impl Marker {
    /// Starts at `count`; `file` is `None` for a store opened for maintenance, whose
    /// file is left alone.
    pub fn new(meta: sled::Tree, count: u64, file: Option<MarkFile>) -> Marker {
        Marker {
            recorded: AtomicU64::new(count),
            stored: AtomicU64::new(count),
            filed: Mutex::new(Filed {
                count,
                file,
                dirty: false,
                synced_at: std::time::Instant::now(),
            }),
            meta,
        }
    }

    /// Counts one journaled request; call after its record is written.
    pub fn note_recorded(&self) {
        self.recorded.fetch_add(1, Ordering::SeqCst);
    }

    /// Requests journaled so far.
    pub fn current(&self) -> u64 {
        self.recorded.load(Ordering::SeqCst)
    }

    /// Before a flush: puts the current count in the store (when it changed), so that
    /// the flush carries it. Returns the count the flush will make durable.
    pub fn before_flush(&self) -> Result<u64, sled::Error> {
        let count = self.current();
        if self.stored.load(Ordering::SeqCst) < count {
            self.meta.insert(STORE_KEY, &count.to_be_bytes())?;
            self.stored.fetch_max(count, Ordering::SeqCst);
        }
        Ok(count)
    }

    /// After a flush that made `count` durable in the store: records it in the file
    /// (synced when the last sync is [`SYNC_EVERY`] old).
    pub fn after_flush(&self, count: u64) -> Result<(), MarkError> {
        let mut filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
        if count > filed.count {
            if let Some(file) = &mut filed.file {
                file.write_unsynced(count)?;
                filed.dirty = true;
            }
            filed.count = count;
        }
        if filed.dirty && filed.synced_at.elapsed() >= SYNC_EVERY {
            filed.sync()?;
        }
        Ok(())
    }

    /// Whether the file holds a count not yet synced.
    pub fn unsynced(&self) -> bool {
        self.filed.lock().unwrap_or_else(|e| e.into_inner()).dirty
    }

    /// Syncs the file if it holds an unsynced count (the flusher calls this when idle
    /// and when it stops).
    pub fn sync(&self) -> Result<(), MarkError> {
        self.filed.lock().unwrap_or_else(|e| e.into_inner()).sync()
    }
}

/// The count the store holds (its `meta` key), `None` when it has none.
pub fn stored(meta: &sled::Tree) -> Result<Option<u64>, sled::Error> {
    Ok(meta
        .get(STORE_KEY)?
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_readable_slot_wins_and_a_torn_write_keeps_the_previous() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()).expect("absent"), None);
        let mut file = MarkFile::create(dir.path(), 7).expect("create");
        file.write(9).expect("write");
        file.write(12).expect("write");
        assert_eq!(read(dir.path()).expect("read"), Some(12));

        // Tear the newest slot (generation 3, slot 1): the previous value is read.
        let p = path(dir.path());
        let mut bytes = std::fs::read(&p).expect("bytes");
        bytes[SLOT + 20] ^= 0xff;
        std::fs::write(&p, &bytes).expect("tear");
        assert_eq!(read(dir.path()).expect("read"), Some(9));

        // Reopened, the next write goes over the torn slot, not the good one.
        let mut file = MarkFile::create(dir.path(), 10).expect("reopen");
        assert_eq!(read(dir.path()).expect("read"), Some(10));
        file.write(11).expect("write");
        assert_eq!(read(dir.path()).expect("read"), Some(11));

        std::fs::write(&p, b"garbage").expect("garbage");
        assert!(matches!(read(dir.path()), Err(MarkError::Damaged { .. })));
    }
}
