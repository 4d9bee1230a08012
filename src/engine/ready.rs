//! Readiness (`GET /readyz`): whether this engine can take new work now, for load
//! balancers and service managers. Ready when the store takes writes (no failed write,
//! free space above the reserve, and a probe file written and synced in the data
//! directory) and the journal's backlog is below its bound.

use super::Engine;
use crate::model::ApiError;

impl Engine {
    /// `Ok` when ready; otherwise a 503 saying why not, in words an operator can act on.
    pub async fn readiness(&self) -> Result<(), ApiError> {
        self.not_ready().await.map_err(|reason| {
            ApiError::unavailable(format!("Not ready: {reason}"))
                .with_header("Retry-After", "5".to_string())
        })
    }

    async fn not_ready(&self) -> Result<(), String> {
        // The check every request that writes goes through (a failed store, the reserve).
        if let Err(refusal) = self.ensure_writable() {
            let texts: Vec<&str> = refusal.entries.iter().map(|e| e.text.as_str()).collect();
            return Err(texts.join(" "));
        }
        let dir = self.data_dir().to_path_buf();
        let probed = tokio::task::spawn_blocking(move || crate::store::space::probe_write(&dir))
            .await
            .map_err(|e| format!("the write probe did not finish: {e}"))?;
        if let Err(e) = probed {
            return Err(format!(
                "the data directory {} does not take writes ({e}): check that its disk is \
                 mounted read-write and that the engine's user owns the directory",
                self.data_dir().display()
            ));
        }
        let journal = self.store.journal();
        let (backlog, bound) = (journal.backlog(), journal.capacity());
        if backlog >= bound {
            return Err(format!(
                "the journal's backlog is full ({backlog} of {bound} accepted requests not yet \
                 applied): new requests get 503 until it drains; if it stays full, the disk \
                 is too slow for the traffic"
            ));
        }
        Ok(())
    }
}
