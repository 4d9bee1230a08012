//! Classifying a delivery attempt's answer, after Vector's HTTP retry logic
//! (`src/sinks/util/retries.rs`, `HttpRetryLogic`): a failure that may pass by itself is
//! transient and retried on the schedule for as long as it takes; one that will be the
//! same answer every time is permanent, and the message is quarantined after
//! `quarantine_after` attempts so that its queue moves on.

/// What an attempt's answer means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: delivered.
    Delivered,
    /// No answer (connect error, reset, timeout), or an answer saying "not now".
    Transient,
    /// Any other answer: the destination refuses this message as it is.
    Permanent,
}

/// Statuses that say "not now" rather than "never": 408 Request Timeout, 425 Too Early,
/// 429 Too Many Requests; and every 5xx (see [`classify`]).
pub const TRANSIENT_4XX: [u16; 3] = [408, 425, 429];

/// Classifies an attempt by its HTTP status; `None` is no answer at all.
pub fn classify(status: Option<u16>) -> Class {
    match status {
        None => Class::Transient,
        Some(200..=299) => Class::Delivered,
        Some(s) if TRANSIENT_4XX.contains(&s) || (500..=599).contains(&s) => Class::Transient,
        // Other 4xx, and anything else unexpected (1xx, 3xx: redirects are not
        // followed), repeats on every attempt.
        Some(_) => Class::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_permanent_answers() {
        assert_eq!(classify(None), Class::Transient);
        assert_eq!(classify(Some(200)), Class::Delivered);
        assert_eq!(classify(Some(204)), Class::Delivered);
        for s in [408, 425, 429, 500, 502, 503, 504, 599] {
            assert_eq!(classify(Some(s)), Class::Transient, "{s}");
        }
        for s in [400, 401, 403, 404, 409, 410, 413, 422, 301, 302] {
            assert_eq!(classify(Some(s)), Class::Permanent, "{s}");
        }
    }
}
