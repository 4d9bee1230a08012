//! Failed logins counted per subject (a key or an address) in fixed windows: a window
//! starts at a subject's first failure and lasts the configured length; once it holds
//! `limit` failures, the subject is refused until the window ends, then starts afresh.
//! Pure: the time is passed in, so tests need no clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Subjects tracked at most per table (keys and addresses each have one). At ~150
/// bytes an entry that is under 8 MB each, whatever a flood of made-up keys or
/// addresses sends.
pub const MAX_TRACKED: usize = 50_000;

struct Window {
    start: Instant,
    failures: u32,
    /// Whether a refusal in this window has been reported (see [`Refused::first`]).
    refusal_reported: bool,
}

/// A subject refused at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Until the window ends.
    pub wait: Duration,
    /// The window's first refusal: the one audited, so a subject hammering on adds
    /// one audit entry a window, not one a request.
    pub first: bool,
}

/// Failure windows by subject, at most `cap` of them.
pub(crate) struct Windows<K> {
    entries: HashMap<K, Window>,
    length: Duration,
    cap: usize,
}

impl<K: Hash + Eq> Windows<K> {
    pub(crate) fn new(length: Duration, cap: usize) -> Self {
        Windows {
            entries: HashMap::new(),
            length,
            cap: cap.max(1),
        }
    }

    /// Whether `subject` is refused now (its window holds `limit` failures), and for
    /// how long; marks the window's refusal as reported.
    pub(crate) fn blocked(&mut self, subject: &K, limit: u32, now: Instant) -> Option<Refused> {
        let w = self.entries.get_mut(subject)?;
        let end = w.start + self.length;
        if w.failures < limit || now >= end {
            return None;
        }
        let first = !std::mem::replace(&mut w.refusal_reported, true);
        Some(Refused {
            wait: end - now,
            first,
        })
    }

    /// Counts one failure; returns the failures in the subject's window, this one
    /// included.
    pub(crate) fn fail(&mut self, subject: K, now: Instant) -> u32 {
        let length = self.length;
        if let Some(w) = self.entries.get_mut(&subject)
            && now < w.start + length
        {
            w.failures = w.failures.saturating_add(1);
            return w.failures;
        }
        if !self.entries.contains_key(&subject) && self.entries.len() >= self.cap {
            self.evict(now);
        }
        self.entries.insert(
            subject,
            Window {
                start: now,
                failures: 1,
                refusal_reported: false,
            },
        );
        1
    }

    /// Forgets a subject (a key that has just logged in).
    pub(crate) fn clear(&mut self, subject: &K) {
        self.entries.remove(subject);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Makes room: ended windows go first; if that frees nothing, the oldest tenth by
    /// start. One pass per tenth of the cap, so a flood costs O(1) per failure on
    /// average.
    fn evict(&mut self, now: Instant) {
        let length = self.length;
        self.entries.retain(|_, w| now < w.start + length);
        if self.entries.len() < self.cap {
            return;
        }
        let mut starts: Vec<Instant> = self.entries.values().map(|w| w.start).collect();
        // At least one: the table holds `cap` (>= 1) entries here.
        let tenth = (self.cap / 10).clamp(1, starts.len());
        let (_, threshold, _) = starts.select_nth_unstable(tenth - 1);
        let threshold = *threshold;
        self.entries.retain(|_, w| w.start > threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn refused_at_the_limit_until_the_window_ends() {
        let t0 = Instant::now();
        let mut w = Windows::new(MINUTE, 10);
        for n in 1..=3 {
            assert_eq!(w.blocked(&"k", 3, t0), None);
            assert_eq!(w.fail("k", t0 + Duration::from_secs(n)), n as u32);
        }
        let at = t0 + Duration::from_secs(10);
        // The window began at the first failure (t0 + 1 s). Only its first refusal
        // is to be reported.
        let wait = |first| {
            Some(Refused {
                wait: Duration::from_secs(51),
                first,
            })
        };
        assert_eq!(w.blocked(&"k", 3, at), wait(true));
        assert_eq!(w.blocked(&"k", 3, at), wait(false));
        assert_eq!(w.blocked(&"other", 3, at), None);
        let end = t0 + Duration::from_secs(61);
        assert_eq!(w.blocked(&"k", 3, end), None);
        // A failure after the window starts a new one, whose refusal is reported anew.
        assert_eq!(w.fail("k", end), 1);
        w.fail("k", end);
        w.fail("k", end);
        assert!(w.blocked(&"k", 3, end).is_some_and(|r| r.first));
    }

    #[test]
    fn clear_forgets() {
        let t0 = Instant::now();
        let mut w = Windows::new(MINUTE, 10);
        w.fail("k", t0);
        w.clear(&"k");
        assert_eq!(w.fail("k", t0), 1);
    }

    #[test]
    fn the_table_stays_within_its_cap_and_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut w = Windows::new(MINUTE, 100);
        for i in 0..1000u64 {
            w.fail(i, t0 + Duration::from_millis(i));
            assert!(w.len() <= 100);
        }
        // The newest subject is still tracked; the first ones are gone.
        w.fail(999, t0 + Duration::from_millis(1000));
        assert!(
            w.blocked(&999, 2, t0 + Duration::from_millis(1000))
                .is_some()
        );
        assert_eq!(w.fail(0, t0 + Duration::from_millis(1001)), 1);
    }

    #[test]
    fn ended_windows_are_evicted_first() {
        let t0 = Instant::now();
        let mut w = Windows::new(MINUTE, 3);
        w.fail("old", t0);
        w.fail("a", t0 + Duration::from_secs(50));
        w.fail("b", t0 + Duration::from_secs(50));
        w.fail("c", t0 + Duration::from_secs(61));
        assert_eq!(w.len(), 3);
        assert_eq!(w.fail("a", t0 + Duration::from_secs(62)), 2);
    }
}
