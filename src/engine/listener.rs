//! Figures of the engine's HTTP listener, kept here as plain counters so that the admin
//! API can show them: the server (`api::server`) writes them, nothing here knows HTTP.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub struct ListenerFigures {
    open: AtomicUsize,
    capacity: AtomicUsize,
    evicted: AtomicU64,
    refused: AtomicU64,
}

impl ListenerFigures {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The cap in force; 0 while no server runs.
    pub fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Connections closed to make room for a new one since start.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// New connections closed at once because every open one was busy.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn set_open(&self, n: usize) {
        self.open.store(n, Ordering::Relaxed);
    }

    pub fn set_capacity(&self, n: usize) {
        self.capacity.store(n, Ordering::Relaxed);
    }

    pub fn count_evicted(&self) {
        self.evicted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}
