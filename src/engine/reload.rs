//! The engine's current registry behind a swappable handle: each request takes one
//! consistent snapshot (`load`), and a configuration reload replaces it whole.

use super::Registry;
use std::sync::{Arc, PoisonError, RwLock};

/// The registry in force now. Readers hold the lock only to clone an `Arc`, so a swap
/// never waits on a request in progress.
pub struct Current {
    inner: RwLock<Arc<Registry>>,
}

impl Current {
    pub fn new(registry: Registry) -> Self {
        Self {
            inner: RwLock::new(Arc::new(registry)),
        }
    }

    /// The registry as it is now; keep the snapshot for the whole request.
    pub fn load(&self) -> Arc<Registry> {
        // A panic while holding the lock cannot leave a half-written Arc behind.
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `registry` in force; returns the one it replaced.
    pub fn swap(&self, registry: Registry) -> Arc<Registry> {
        let mut slot = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, Arc::new(registry))
    }
}
