//! Where the throttle reads the time. The engine runs on the system's monotonic clock;
//! a test injects a movable one through [`crate::engine::Config::throttle_clock`] and
//! moves it past a window's end instead of waiting the window out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The system clock, or the system clock plus however far a test has moved it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds ahead of the system clock; `None`: the system clock itself.
    ahead_ms: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// A clock that runs with the system's and that [`Clock::advance`] moves forward.
    /// Clones share their position, so the test keeps one and the engine the other.
    pub fn movable() -> Clock {
        Clock {
            ahead_ms: Some(Arc::default()),
        }
    }

    pub fn now(&self) -> Instant {
        let now = Instant::now();
        match &self.ahead_ms {
            Some(ahead) => now + Duration::from_millis(ahead.load(Ordering::Relaxed)),
            None => now,
        }
    }

    /// Moves a movable clock forward by `by`. The system clock cannot be moved, so
    /// there this does nothing (and a test that relied on it fails).
    pub fn advance(&self, by: Duration) {
        if let Some(ahead) = &self.ahead_ms {
            let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
            ahead.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movable_clock_moves_and_its_clones_with_it() {
        let clock = Clock::movable();
        let engine_side = clock.clone();
        let before = engine_side.now();
        clock.advance(Duration::from_secs(3600));
        assert!(engine_side.now() >= before + Duration::from_secs(3600));
        let system = Clock::default();
        let at = Instant::now();
        system.advance(Duration::from_secs(3600));
        assert!(system.now() < at + Duration::from_secs(3600));
    }
}
