//! Whether the store can take new work: the free-space reserve and a failed store.
//!
//! New work (a request to accept, a query, a token, an operator's change) is refused
//! at once while the store could not keep it, instead of hanging on a disk that cannot
//! confirm: 507 while the data directory's disk is below its reserve (taken again by
//! itself once space is freed), 503 once sled reported a failed write (sled 0.34 takes
//! no write after that until the engine restarts). Reads and the delivery of what was
//! already accepted go on.

use super::Engine;
use crate::model::ApiError;

/// Seconds a client is asked to wait before trying again.
const RETRY_AFTER_SECONDS: u64 = 30;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl Engine {
    /// `Ok` when the store can take new work; else the error to answer with.
    pub fn ensure_writable(&self) -> Result<(), ApiError> {
        if let Some(failure) = self.store_failure_state() {
            return Err(ApiError::new(
                503,
                "storage",
                "Storage",
                format!(
                    "The engine's store failed a write ({failure}) and takes no new work until \
                     the engine restarts: the request was refused and nothing was stored. Free \
                     disk space under {}, run \
                     `switchboard check`, then restart the engine.",
                    self.data_dir().display()
                ),
            )
            .with_header("Retry-After", RETRY_AFTER_SECONDS.to_string()));
        }
        if let Err(low) = self.space.check() {
            return Err(ApiError::new(
                507,
                "storage",
                "Storage",
                format!(
                    "The engine's disk is nearly full: {} free under {}, below the reserve of \
                     {} (min_free_disk_mb): the request was refused and nothing was stored. \
                     Free space on that disk; the engine takes requests again by itself.",
                    mib(low.free),
                    self.data_dir().display(),
                    mib(low.reserve)
                ),
            )
            .with_header("Retry-After", RETRY_AFTER_SECONDS.to_string()));
        }
        Ok(())
    }

    /// Why the store takes no more writes, if it failed one.
    pub fn store_failure_state(&self) -> Option<String> {
        self.commit
            .failure()
            .or_else(|| self.store.journal().failure())
    }

    /// Free bytes on the data directory's disk at the last reading, and the reserve.
    pub fn disk_space(&self) -> (u64, u64) {
        (self.space.free(), self.space.reserve())
    }
}
