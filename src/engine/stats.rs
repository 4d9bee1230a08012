//! Live health figures for the console and the admin API: request rates per source,
//! attempt outcomes per destination, engine-wide accepted/s and delivered/s.
//!
//! Counts live in fixed rings of one-second buckets covering [`WINDOW_SECONDS`], so
//! memory is bounded whatever the traffic, and nothing here touches the disk.

use chrono::{DateTime, Utc};
// The figures travel to the console as they are: the wire types are the records.
pub use crate::model::view::{DestinationHealth, LastAttempt, SourceHealth};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use uuid::Uuid;

/// How far back rates and success ratios look.
pub const WINDOW_SECONDS: usize = 300;

/// Per-second counts over the last [`WINDOW_SECONDS`].
#[derive(Debug, Clone)]
pub struct RateWindow {
    buckets: Box<[u32; WINDOW_SECONDS]>,
    /// The second (since the engine's start) the newest bucket counts.
    newest: u64,
}

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow {
            buckets: Box::new([0; WINDOW_SECONDS]),
            newest: 0,
        }
    }
}

impl RateWindow {
    fn advance(&mut self, now: u64) {
        if now <= self.newest {
            return;
        }
        let gap = (now - self.newest).min(WINDOW_SECONDS as u64);
        for s in 1..=gap {
            self.buckets[((self.newest + s) % WINDOW_SECONDS as u64) as usize] = 0;
        }
        self.newest = now;
    }

    pub fn add(&mut self, now: u64, n: u32) {
        self.advance(now);
        let slot = (now % WINDOW_SECONDS as u64) as usize;
        self.buckets[slot] = self.buckets[slot].saturating_add(n);
    }

    /// Events in the last `seconds` full seconds before `now` (the current, partial
    /// second is left out so a rate does not dip at each second's start).
    pub fn sum(&mut self, now: u64, seconds: usize) -> u64 {
        self.advance(now);
        let seconds = seconds.min(WINDOW_SECONDS - 1) as u64;
        (1..=seconds)
            .filter(|back| *back <= now)
            .map(|back| self.buckets[((now - back) % WINDOW_SECONDS as u64) as usize] as u64)
            .sum()
    }

    /// Events in the last `seconds` seconds, the current one included: for ratios
    /// (both sides counted alike, so nothing dips) that must agree with the last
    /// attempt, which is shown at once.
    pub fn sum_with_current(&mut self, now: u64, seconds: usize) -> u64 {
        self.advance(now);
        let seconds = seconds.min(WINDOW_SECONDS) as u64;
        (0..seconds)
            .filter(|back| *back <= now)
            .map(|back| self.buckets[((now - back) % WINDOW_SECONDS as u64) as usize] as u64)
            .sum()
    }
}

#[derive(Debug, Default)]
struct SourceStats {
    last_request: Option<DateTime<Utc>>,
    requests: RateWindow,
}

#[derive(Debug, Default)]
struct DestinationStats {
    last_attempt: Option<LastAttempt>,
    ok: RateWindow,
    failed: RateWindow,
}

#[derive(Debug, Default)]
struct Inner {
    sources: HashMap<Uuid, SourceStats>,
    destinations: HashMap<Uuid, DestinationStats>,
    accepted: RateWindow,
    delivered: RateWindow,
}

pub struct Stats {
    started: Instant,
    inner: Mutex<Inner>,
    /// Requests refused with 503 because the journal's backlog stayed full.
    overloaded: std::sync::atomic::AtomicU64,
    /// Requests refused with 429 because a destination's queue was at its bound.
    queue_full: std::sync::atomic::AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
            overloaded: Default::default(),
            queue_full: Default::default(),
        }
    }
}

impl Stats {
    pub(crate) fn note_overloaded(&self) {
        self.overloaded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn note_queue_full(&self) {
        self.queue_full
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Requests refused since start: (backlog full → 503, a queue at its bound → 429).
    pub fn refusals(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.overloaded.load(Relaxed), self.queue_full.load(Relaxed))
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A source's request was accepted (or a query answered).
    pub fn request(&self, source: Uuid) {
        let now = self.now();
        let mut inner = self.lock();
        inner.accepted.add(now, 1);
        let s = inner.sources.entry(source).or_default();
        s.last_request = Some(Utc::now());
        s.requests.add(now, 1);
    }

    /// An attempt at a destination ended.
    pub fn attempt(&self, destination: Uuid, succeeded: bool, http_status: Option<u16>) {
        let now = self.now();
        let mut inner = self.lock();
        if succeeded {
            inner.delivered.add(now, 1);
        }
        let d = inner.destinations.entry(destination).or_default();
        d.last_attempt = Some(LastAttempt {
            at: Utc::now(),
            succeeded,
            http_status,
        });
        if succeeded {
            d.ok.add(now, 1);
        } else {
            d.failed.add(now, 1);
        }
    }

    pub fn source(&self, source: Uuid) -> SourceHealth {
        let now = self.now();
        let mut inner = self.lock();
        let Some(s) = inner.sources.get_mut(&source) else {
            return SourceHealth::default();
        };
        SourceHealth {
            last_request: s.last_request,
            requests_per_minute: s.requests.sum(now, 60) as f64,
        }
    }

    pub fn destination(&self, destination: Uuid) -> DestinationHealth {
        let now = self.now();
        let mut inner = self.lock();
        let Some(d) = inner.destinations.get_mut(&destination) else {
            return DestinationHealth::default();
        };
        // With the current second: a failure just recorded as the last attempt must
        // not leave the rate at 100% until its second is over.
        let ok = d.ok.sum_with_current(now, WINDOW_SECONDS);
        let failed = d.failed.sum_with_current(now, WINDOW_SECONDS);
        DestinationHealth {
            last_attempt: d.last_attempt.clone(),
            attempts_5m: ok + failed,
            failures_5m: failed,
            success_rate_5m: (ok + failed > 0).then(|| ok as f64 / (ok + failed) as f64),
        }
    }

    /// Engine-wide (accepted/s, delivered/s) over the last 10 seconds.
    pub fn throughput(&self) -> (f64, f64) {
        let now = self.now();
        let mut inner = self.lock();
        let window = 10usize.min(now as usize).max(1);
        (
            inner.accepted.sum(now, window) as f64 / window as f64,
            inner.delivered.sum(now, window) as f64 / window as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_forget_old_seconds() {
        let mut w = RateWindow::default();
        w.add(10, 5);
        w.add(11, 2);
        assert_eq!(w.sum(12, 60), 7);
        assert_eq!(w.sum(12, 1), 2);
        // The current second is not counted yet.
        w.add(12, 9);
        assert_eq!(w.sum(12, 60), 7);
        assert_eq!(w.sum(13, 60), 16);
        // Five minutes later everything has rolled out, even across a long gap.
        assert_eq!(w.sum(10 + WINDOW_SECONDS as u64 + 5, 60), 0);
        assert_eq!(w.sum(10_000, WINDOW_SECONDS), 0);
    }

    /// Issue 18, point 5: the last attempt shows a 500 at once; the figures beside it
    /// must count it at once too.
    #[test]
    fn a_failure_counts_as_soon_as_it_is_the_last_attempt() {
        let stats = Stats::default();
        let d = Uuid::new_v4();
        for _ in 0..3 {
            stats.attempt(d, true, Some(200));
        }
        stats.attempt(d, false, Some(500));
        let health = stats.destination(d);
        assert_eq!(
            health.last_attempt.as_ref().map(|a| a.http_status),
            Some(Some(500))
        );
        assert_eq!(
            (health.attempts_5m, health.failures_5m),
            (4, 1),
            "{health:?}"
        );
        assert_eq!(health.success_rate_5m, Some(0.75));
    }

    #[test]
    fn the_current_second_counts_for_ratios() {
        let mut w = RateWindow::default();
        w.add(10, 5);
        w.add(11, 2);
        assert_eq!(w.sum_with_current(11, WINDOW_SECONDS), 7);
        assert_eq!(w.sum_with_current(11, 1), 2);
        assert_eq!(
            w.sum_with_current(10 + WINDOW_SECONDS as u64, WINDOW_SECONDS),
            2
        );
        assert_eq!(
            w.sum_with_current(11 + WINDOW_SECONDS as u64, WINDOW_SECONDS),
            0
        );
    }

    #[test]
    fn destination_success_rate() {
        let stats = Stats::default();
        let d = Uuid::new_v4();
        assert_eq!(stats.destination(d).success_rate_5m, None);
        stats.attempt(d, true, Some(200));
        stats.attempt(d, false, Some(500));
        stats.attempt(d, true, Some(200));
        stats.attempt(d, true, Some(200));
        // Counted once their second is complete.
        let inner_now = stats.now() + 1;
        let mut inner = stats.lock();
        let h = inner.destinations.get_mut(&d).expect("stats");
        assert_eq!(h.ok.sum(inner_now, WINDOW_SECONDS), 3);
        assert_eq!(h.failed.sum(inner_now, WINDOW_SECONDS), 1);
        assert_eq!(
            h.last_attempt.as_ref().map(|a| a.http_status),
            Some(Some(200))
        );
    }
}
