//! A token bucket: `rate` tokens a second, holding at most a second's worth (at least
//! one), so a source may send a burst of one second's allowance and then its rate.
//! Pure: the time is passed in.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What a request found in the bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Take {
    /// Allowed; whole tokens left after it.
    Allowed { remaining: u64 },
    /// Refused; the wait until a token is there.
    Refused { wait: Duration },
}

/// The bucket's size for `rate`: one second's worth, at least one request.
pub(crate) fn burst(rate: f64) -> f64 {
    rate.max(1.0)
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(rate: f64, now: Instant) -> Self {
        Bucket {
            tokens: burst(rate),
            at: now,
        }
    }

    /// Takes one token for a request at `now`. `rate` is read each time, so a reload
    /// that changes it applies at once.
    pub(crate) fn take(&mut self, rate: f64, now: Instant) -> Take {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst(rate));
        self.at = now.max(self.at);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Take::Allowed {
                remaining: self.tokens.floor() as u64,
            };
        }
        let wait = (1.0 - self.tokens) / rate;
        Take::Refused {
            wait: Duration::from_secs_f64(wait.clamp(0.0, 86_400.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(5.0, t0);
        for left in (0..5).rev() {
            assert_eq!(b.take(5.0, t0), Take::Allowed { remaining: left });
        }
        let Take::Refused { wait } = b.take(5.0, t0) else {
            panic!("the sixth request in the same instant must be refused")
        };
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-9, "{wait:?}");
        assert_eq!(
            b.take(5.0, t0 + Duration::from_millis(200)),
            Take::Allowed { remaining: 0 }
        );
    }

    #[test]
    fn a_slow_rate_still_allows_one() {
        let t0 = Instant::now();
        let mut b = Bucket::full(0.5, t0);
        assert_eq!(b.take(0.5, t0), Take::Allowed { remaining: 0 });
        assert!(matches!(
            b.take(0.5, t0 + Duration::from_secs(1)),
            Take::Refused { .. }
        ));
        assert_eq!(
            b.take(0.5, t0 + Duration::from_secs(2)),
            Take::Allowed { remaining: 0 }
        );
    }
}
