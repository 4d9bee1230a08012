//! Rate limits (429 with `Retry-After`, `X-RateLimit-Limit` and `X-RateLimit-Remaining`):
//!
//! - failed logins on the token calls (`/auth/authenticate`, `/auth/refreshToken`,
//!   `/v2/auth/token`, `/oauth/token`), counted per key (API key or client ID) and per
//!   client address ([`window`]: fixed windows from a subject's first failure). Once a
//!   key or address has its limit of failures in the window, every attempt of it is
//!   refused until the window ends, a correct secret too, so guessing cannot go on.
//!   A login that succeeds clears its key's count (not its address's);
//! - requests of a source with `requests_per_second` set ([`bucket`]), checked where a
//!   bearer token is turned into its source, so every call a source makes counts.
//!
//! Failed logins are logged at warn with the key, the address and the reason, never a
//! secret, refresh token or assertion.
//!
//! A refusal at the limit is audited (`login-throttled`) once per window per key or
//! address, not once per request: every 429 after the first in a window would tell
//! the trail nothing new, and a client retrying in a loop would fill it. So the trail
//! gains at most one such entry per subject per window, and a subject reaches the
//! limit only through failed logins, each already audited itself.
//!
//! Times come from a [`Clock`] (the system's, unless a test injects a movable one).

mod bucket;
mod clock;
mod window;

pub use clock::Clock;
pub use window::MAX_TRACKED;

use super::{Engine, Source};
use crate::model::ApiError;
use bucket::{Bucket, Take};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use uuid::Uuid;
use window::Windows;

/// The `[engine]` limits on failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// `auth_failures_per_key`
    pub per_key: u32,
    /// `auth_failures_per_address`
    pub per_address: u32,
    /// `auth_failure_window_seconds`
    pub window: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            per_key: 20,
            per_address: 100,
            window: Duration::from_secs(60),
        }
    }
}

/// Longest key kept or logged: real keys and client IDs are UUIDs (36 characters).
const MAX_KEY_CHARS: usize = 64;

/// One login attempt: the call, the key it names (if any could be read) and the
/// client's address (if the server passed it on).
#[derive(Debug, Clone)]
pub struct AuthAttempt {
    pub route: String,
    key: Option<String>,
    address: Option<IpAddr>,
}

impl AuthAttempt {
    pub fn new(route: &str, key: Option<&str>, address: Option<IpAddr>) -> Self {
        AuthAttempt {
            route: route.to_string(),
            key: key.and_then(key_subject),
            address: address.map(address_subject),
        }
    }
}

/// A key as it is counted: a UUID in its one canonical spelling (the engine reads
/// braced, URN and unhyphenated forms as the same key, so they must count as one),
/// anything else trimmed, lowercased and cut.
fn key_subject(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    Some(match Uuid::parse_str(raw) {
        Ok(id) => id.to_string(),
        Err(_) => raw
            .chars()
            .take(MAX_KEY_CHARS)
            .collect::<String>()
            .to_lowercase(),
    })
}

/// An address as it is counted: IPv4 as is, IPv6 by its /64 (one host usually holds
/// a whole /64, so counting single addresses would be no limit).
fn address_subject(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

/// The engine's rate-limit state.
pub struct Throttle {
    limits: AuthLimits,
    keys: Mutex<Windows<String>>,
    addresses: Mutex<Windows<IpAddr>>,
    /// One bucket per source with a rate; sources come from the configuration, so
    /// this holds at most the sources ever configured with `requests_per_second`.
    sources: Mutex<HashMap<Uuid, Bucket>>,
    clock: Clock,
}

impl Throttle {
    pub fn new(limits: AuthLimits, clock: Clock) -> Self {
        Throttle {
            limits,
            clock,
            keys: Mutex::new(Windows::new(limits.window, MAX_TRACKED)),
            addresses: Mutex::new(Windows::new(limits.window, MAX_TRACKED)),
            sources: Mutex::new(HashMap::new()),
        }
    }
}

/// Whole seconds to wait, rounded up, at least one.
fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}

fn too_many(text: String, module: &str, limit: String, wait: Duration) -> ApiError {
    ApiError::new(429, "rate", module, text)
        .with_header("Retry-After", retry_after(wait).to_string())
        .with_header("X-RateLimit-Limit", limit)
        .with_header("X-RateLimit-Remaining", "0".into())
}

impl Engine {
    /// Refuses (429) a login attempt whose key or address has had its limit of failed
    /// logins in the current window. Call before checking the credentials.
    pub fn auth_admit(&self, attempt: &AuthAttempt) -> Result<(), ApiError> {
        let (limits, now) = (self.throttle.limits, self.throttle.clock.now());
        let window = limits.window.as_secs();
        if let Some(key) = &attempt.key {
            let refused = self
                .throttle
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .blocked(key, limits.per_key, now);
            if let Some(refused) = refused {
                let error = too_many(
                    format!(
                        "Too many failed logins for this key ({} in {window} s). Wait {} s \
                         (Retry-After) before trying again: until then every attempt is \
                         refused, a correct one too. Tokens already issued still work.",
                        limits.per_key,
                        retry_after(refused.wait)
                    ),
                    "Authentication",
                    limits.per_key.to_string(),
                    refused.wait,
                );
                return Err(self.throttled(attempt, format!("key:{key}"), refused, error));
            }
        }
        if let Some(address) = &attempt.address {
            let refused = self
                .throttle
                .addresses
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .blocked(address, limits.per_address, now);
            if let Some(refused) = refused {
                let error = too_many(
                    format!(
                        "Too many failed logins from your address ({} in {window} s). Wait {} \
                         s (Retry-After) before trying again: until then every attempt from \
                         it is refused.",
                        limits.per_address,
                        retry_after(refused.wait)
                    ),
                    "Authentication",
                    limits.per_address.to_string(),
                    refused.wait,
                );
                let subject = format!("address:{address}");
                return Err(self.throttled(attempt, subject, refused, error));
            }
        }
        Ok(())
    }

    /// Audits the window's first refusal of `subject` (see the module docs) and hands
    /// the 429 on.
    fn throttled(
        &self,
        attempt: &AuthAttempt,
        subject: String,
        refused: window::Refused,
        error: ApiError,
    ) -> ApiError {
        if refused.first {
            let detail = format!(
                "{}: 429 at the limit of failed logins; every attempt of {subject} is refused \
                 for {} s (this entry stands for all of them)",
                attempt.route,
                retry_after(refused.wait)
            );
            self.audit_throttled(subject, detail);
        }
        error
    }

    /// Counts a failed login against its key and address, and logs it. `reason` is
    /// the engine's own account of the refusal: never a secret or token.
    pub fn auth_failed(&self, attempt: &AuthAttempt, reason: &str) {
        let now = self.throttle.clock.now();
        let key_failures = attempt.key.as_ref().map(|key| {
            let mut keys = self
                .throttle
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            keys.fail(key.clone(), now)
        });
        let address_failures = attempt.address.map(|address| {
            let mut addresses = self
                .throttle
                .addresses
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            addresses.fail(address, now)
        });
        tracing::warn!(
            route = %attempt.route,
            key = attempt.key.as_deref().unwrap_or("-"),
            address = %attempt.address.map_or_else(|| "-".to_string(), |a| a.to_string()),
            key_failures = key_failures.unwrap_or(0),
            address_failures = address_failures.unwrap_or(0),
            reason,
            "failed login"
        );
    }

    /// A login that succeeded: its key starts counting afresh.
    pub fn auth_succeeded(&self, attempt: &AuthAttempt) {
        if let Some(key) = &attempt.key {
            let mut keys = self
                .throttle
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            keys.clear(key);
        }
    }

    /// Takes one request from `source`'s allowance (`requests_per_second`); 429 when
    /// it has none left. Sources without a rate are not limited.
    pub(crate) fn admit_source(&self, source: &Source) -> Result<(), ApiError> {
        let Some(rate) = source.requests_per_second else {
            return Ok(());
        };
        let now = self.throttle.clock.now();
        let taken = {
            let mut sources = self
                .throttle
                .sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            sources
                .entry(source.id)
                .or_insert_with(|| Bucket::full(rate, now))
                .take(rate, now)
        };
        match taken {
            Take::Allowed { .. } => Ok(()),
            Take::Refused { wait } => {
                tracing::debug!(source = %source.name, rate, "refused: source over its rate");
                Err(too_many(
                    format!(
                        "Source \"{}\" may send {rate} requests a second (its \
                         requests_per_second) and has used them. Wait {} s (Retry-After) and \
                         send again, or raise requests_per_second in its [[sources]] entry.",
                        source.name,
                        retry_after(wait)
                    ),
                    "Engine",
                    rate.to_string(),
                    wait,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spellings_of_one_uuid_count_as_one() {
        let id = Uuid::new_v4();
        let forms = [
            id.to_string(),
            id.to_string().to_uppercase(),
            format!("{{{id}}}"),
            id.simple().to_string(),
            format!(" urn:uuid:{id} "),
        ];
        for form in forms {
            assert_eq!(key_subject(&form), Some(id.to_string()), "{form}");
        }
        assert_eq!(key_subject("  "), None);
        assert_eq!(
            key_subject(&"x".repeat(500)).map(|k| k.len()),
            Some(MAX_KEY_CHARS)
        );
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_subject(a), address_subject(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_subject(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after(Duration::from_millis(1)), 1);
        assert_eq!(retry_after(Duration::from_secs(3)), 3);
        assert_eq!(retry_after(Duration::from_millis(3001)), 4);
        assert_eq!(retry_after(Duration::ZERO), 1);
    }
}
