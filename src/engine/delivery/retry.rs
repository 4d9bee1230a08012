//! When to try again: the retry schedule with jitter, and `Retry-After`.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest `Retry-After` honoured; a peer asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait after the `failures`-th failed attempt in a row (1-based): the schedule's
/// entry, the last one repeating.
pub fn scheduled_wait(schedule: &[Duration], failures: u32) -> Duration {
    let i = (failures.max(1) - 1) as usize;
    schedule
        .get(i)
        .or(schedule.last())
        .copied()
        .unwrap_or(Duration::from_secs(120))
}

/// Spreads waits by up to ±10 % so queues that failed together do not retry in step.
/// `unit` is a random number in [0, 1).
pub fn jitter(wait: Duration, unit: f64) -> Duration {
    let factor = 0.9 + 0.2 * unit.clamp(0.0, 1.0);
    wait.mul_f64(factor)
}

pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses `Retry-After`: delay-seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::DEFAULT_RETRY_SCHEDULE;

    #[test]
    fn platform_schedule_then_every_two_minutes() {
        let schedule: Vec<Duration> = DEFAULT_RETRY_SCHEDULE
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect();
        let waits: Vec<u64> = (1..=10)
            .map(|n| scheduled_wait(&schedule, n).as_secs())
            .collect();
        assert_eq!(waits, vec![0, 10, 10, 20, 30, 50, 80, 120, 120, 120]);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(100);
        assert_eq!(jitter(base, 0.0), Duration::from_secs(90));
        assert!(jitter(base, 0.999_999) <= Duration::from_secs(110));
        for _ in 0..100 {
            let j = jitter(base, random_unit());
            assert!(j >= Duration::from_secs(90) && j <= Duration::from_secs(110));
        }
        assert_eq!(jitter(Duration::ZERO, 0.7), Duration::ZERO);
    }

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
