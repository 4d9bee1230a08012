//! Free space on the data directory's disk, and the reserve kept below new work.
//!
//! sled 0.34 cannot recover from a failed write: after `ENOSPC` every later operation
//! of that database fails and a flush may wait forever, until the process restarts. So
//! the engine never lets sled reach the end of the disk: new work (requests, tokens,
//! operator actions) is refused with 507 while free space is below a reserve, and is
//! taken again by itself once space is freed. Delivery of what was already accepted
//! goes on inside the reserve.
//!
//! Free space is read with `statvfs` at most every [`SAMPLE_EVERY_MS`] by whichever
//! request comes, so an idle engine makes no calls and a busy one about 20 a second.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How often free space is read under load.
pub const SAMPLE_EVERY_MS: u64 = 50;
/// Below this much free space, new work is refused (config `min_free_disk_mb`).
pub const DEFAULT_RESERVE_BYTES: u64 = 64 * 1024 * 1024;

/// A refusal: how much is free and the reserve it is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Low {
    pub free: u64,
    pub reserve: u64,
}

pub struct DiskSpace {
    dir: PathBuf,
    reserve: u64,
    started: Instant,
    /// Milliseconds since `started` of the last reading, plus one (0: never read).
    sampled_at: AtomicU64,
    free: AtomicU64,
}

impl DiskSpace {
    pub fn new(dir: &Path, reserve: u64) -> Self {
        let space = DiskSpace {
            dir: dir.to_path_buf(),
            reserve,
            started: Instant::now(),
            sampled_at: AtomicU64::new(0),
            free: AtomicU64::new(u64::MAX),
        };
        space.sample();
        space
    }

    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Free bytes at the last reading (`u64::MAX` when the disk cannot be read).
    pub fn free(&self) -> u64 {
        self.free.load(Ordering::Relaxed)
    }

    fn sample(&self) {
        // A disk that cannot be asked is not refused for it: sled will say what is wrong.
        let free = free_bytes(&self.dir).unwrap_or(u64::MAX);
        self.free.store(free, Ordering::Relaxed);
    }

    /// `Err` while free space is below the reserve. Reads the disk when the last
    /// reading is older than [`SAMPLE_EVERY_MS`] (one caller at a time does).
    pub fn check(&self) -> Result<(), Low> {
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.sampled_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= SAMPLE_EVERY_MS
            && self
                .sampled_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.sample();
        }
        let free = self.free();
        if free < self.reserve {
            Err(Low {
                free,
                reserve: self.reserve,
            })
        } else {
            Ok(())
        }
    }
}

/// Writes, syncs and removes a small file in `dir`: the readiness probe's proof that
/// the data directory takes writes now (a read-only remount or a dead disk fails it,
/// where the free-space reading alone would not notice). Each probe has its own name,
/// so probes at the same time do not meet.
pub fn probe_write(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(format!(".ready-probe-{}", uuid::Uuid::new_v4().simple()));
    let written = std::fs::File::create_new(&path).and_then(|mut file| {
        file.write_all(b"ready\n")?;
        file.sync_all()
    });
    // Removed whatever happened: a failed write may still have created it.
    let removed = std::fs::remove_file(&path);
    written?;
    removed
}

/// Bytes an unprivileged process may still write on the disk holding `dir`.
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `stat` is a writable
    // statvfs; the struct is read only when the call reports success.
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_reserve_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let free = free_bytes(dir.path()).expect("statvfs works here");
        assert!(free > 0);
        assert!(DiskSpace::new(dir.path(), 0).check().is_ok());
        let low = DiskSpace::new(dir.path(), u64::MAX)
            .check()
            .expect_err("low");
        assert_eq!(low.reserve, u64::MAX);
        assert!(low.free <= free.saturating_mul(2));
    }

    #[test]
    fn a_probe_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        probe_write(dir.path()).expect("a temp dir takes writes");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
        assert!(probe_write(&dir.path().join("missing")).is_err());
    }
}
