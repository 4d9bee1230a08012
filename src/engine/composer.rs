//! The composer's history of sent requests, kept by the engine so every console of it
//! (local or attached) sees the same list. The PHI rule holds twice: a Production body
//! or error text (an answer's error may quote the patient) is only stored when the
//! sender may see PHI, and only shown to readers who may.

use super::{Engine, read_failure, write_failure};
use crate::model::{ApiError, Role};
use crate::store::composer_history::{ComposerHistory, HistoryEntry, HistoryPage, Sent};
use uuid::Uuid;

impl Engine {
    fn composer_history(&self) -> Result<ComposerHistory, ApiError> {
        match &self.shared {
            Some(shared) => ComposerHistory::shared(&self.store, shared.clone()),
            None => ComposerHistory::open(&self.store),
        }
        .map_err(read_failure)
    }

    /// Records what a console's composer sent. Viewers send nothing, so record nothing.
    pub fn record_sent(&self, sent: Sent, role: Role) -> Result<HistoryEntry, ApiError> {
        self.ensure_writable()?;
        if role == Role::Viewer {
            return Err(ApiError::new(
                403,
                "permission",
                "Admin",
                "Role viewer may not send, so it has no history to record.",
            ));
        }
        self.composer_history()?
            .append(sent, role.sees_phi())
            .map_err(write_failure("the composer history entry"))
    }

    /// A page of the history, newest first, as `role` may see it.
    pub fn sent_history(
        &self,
        before: Option<Uuid>,
        limit: usize,
        role: Role,
    ) -> Result<HistoryPage, ApiError> {
        let mut page = self
            .composer_history()?
            .list(None, before, limit)
            .map_err(read_failure)?;
        for entry in &mut page.entries {
            if entry.sent.environment.may_hold_phi() && !role.sees_phi() {
                entry.sent.mask_phi();
            }
        }
        Ok(page)
    }
}
