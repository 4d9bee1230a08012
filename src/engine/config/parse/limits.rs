//! The rate-limit settings: `[engine]`'s limits on failed logins and a source's
//! `requests_per_second` (see `engine::throttle`).

use super::Checker;
use crate::engine::throttle::AuthLimits;
use std::time::Duration;
use toml::Spanned;

/// The highest `requests_per_second`: beyond it a limit is no limit.
const MAX_RATE: f64 = 1_000_000.0;

/// `[engine]`'s `auth_failures_per_key`, `auth_failures_per_address` and
/// `auth_failure_window_seconds`, as written.
pub(super) struct RawAuthLimits<'a> {
    pub(super) per_key: Option<&'a Spanned<u64>>,
    pub(super) per_address: Option<&'a Spanned<u64>>,
    pub(super) window_seconds: Option<&'a Spanned<u64>>,
}

/// The limits on failed logins, checked, with the defaults filled in.
pub(super) fn auth_limits(raw: RawAuthLimits, check: &mut Checker) -> AuthLimits {
    let defaults = AuthLimits::default();
    let count = |check: &mut Checker, value: Option<&Spanned<u64>>, name: &str, default: u32| {
        check
            .within(value, name, 1..=1_000_000)
            .map_or(default, |n| n as u32)
    };
    AuthLimits {
        per_key: count(
            check,
            raw.per_key,
            "auth_failures_per_key",
            defaults.per_key,
        ),
        per_address: count(
            check,
            raw.per_address,
            "auth_failures_per_address",
            defaults.per_address,
        ),
        window: check
            .within(
                raw.window_seconds,
                "auth_failure_window_seconds",
                1..=86_400,
            )
            .map_or(defaults.window, Duration::from_secs),
    }
}

/// A source's `requests_per_second`: a positive number (whole or not).
pub(super) fn requests_per_second(
    value: Option<&Spanned<toml::Value>>,
    check: &mut Checker,
) -> Option<f64> {
    let value = value?;
    let rate = match value.get_ref() {
        toml::Value::Integer(n) => Some(*n as f64),
        toml::Value::Float(x) => Some(*x),
        _ => None,
    };
    match rate {
        Some(rate) if rate > 0.0 && rate <= MAX_RATE => Some(rate),
        _ => {
            check.at(
                value.span(),
                format!(
                    "requests_per_second = {} is not a rate: write a number of requests a \
                     second above 0 and up to {MAX_RATE} (such as 50, or 0.5 for one every \
                     two seconds), without quotes; leave it out for no limit",
                    value.get_ref()
                ),
            );
            None
        }
    }
}
