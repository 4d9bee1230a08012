//! The environments and connections panes: each environment with its counts and the
//! composer's values, and each source and destination with its live figures. A
//! destination here is what may be shown of one: never its verification token.

use super::super::reach::{DeliveryMode, Subscription};
use crate::model::Environment;
use crate::model::template::Samples;
use crate::model::variables::Variables;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentView {
    pub name: Environment,
    pub sources: usize,
    pub destinations: usize,
    pub requests_per_minute: f64,
    pub failures_5m: u64,
    /// The composer's `{{variable}}` profile for this environment.
    #[serde(default)]
    pub variables: Variables,
    /// The values the composer's templates are filled with (Development: the sandbox's
    /// first patient), so a console elsewhere uses the engine's, not its own build's.
    /// Absent from an older engine's answer, and where there is no test patient to name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Samples>,
}

/// A source as the console sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub timezone: Tz,
    /// The organization it belongs to (nil from an older engine).
    #[serde(default)]
    pub organization: Uuid,
}

/// An organization record: yours (`own`) or a connection's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub time_zone: Option<Tz>,
    #[serde(default)]
    pub npi: Option<String>,
    #[serde(default)]
    pub own: bool,
}

/// A destination as the console sees it: its settings, never its verification token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationInfo {
    pub id: Uuid,
    pub name: String,
    pub environment: Environment,
    pub url: Option<String>,
    pub verification_method: VerificationMethodView,
    pub mode: DeliveryMode,
    pub timezone: Tz,
    pub verified: bool,
    pub delivery: DeliveryView,
    /// How the engine authenticates to it: `"bearer"`, `"oauth-client-credentials"`,
    /// or none. The kind only, never a secret (absent from an older engine).
    #[serde(default)]
    pub outbound_auth: Option<String>,
    /// Its name under `/fhir/R4/{slug}/…`, when it is reached by FHIR (absent from an
    /// older engine).
    #[serde(default)]
    pub fhir_slug: Option<String>,
    /// The base URL of its FHIR server (absent from an older engine).
    #[serde(default)]
    pub fhir_url: Option<String>,
    /// The organization it belongs to (nil from an older engine).
    #[serde(default)]
    pub organization: Uuid,
}

/// How the engine verifies a destination's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationMethodView {
    Post,
    Get,
}

/// How one destination is delivered to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Wait before retry n (1-based) is `retry_schedule[n-1]`; the last repeats.
    #[serde(
        rename = "retryScheduleSeconds",
        with = "crate::model::wire::seconds_list"
    )]
    pub retry_schedule: Vec<Duration>,
    /// Quarantine the head item after this many failed attempts with a permanent
    /// last answer; `None` = never.
    pub quarantine_after: Option<u32>,
    pub queue_key: QueueKeyView,
    /// Bound on one delivery attempt, connect to last byte.
    #[serde(rename = "timeoutSeconds", with = "crate::model::wire::seconds")]
    pub timeout: Duration,
    /// Attempts in flight at once across the destination's queues (absent from an
    /// older engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_deliveries: Option<usize>,
    /// Items it may have queued before new messages for it get 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue_items: Option<usize>,
}

/// What a destination's queues are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKeyView {
    /// One queue per (source, destination).
    Pair,
    /// A child queue per patient within each pair.
    Patient,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    #[serde(flatten)]
    pub source: SourceInfo,
    pub health: SourceHealth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationView {
    #[serde(flatten)]
    pub destination: DestinationInfo,
    pub paused: bool,
    /// Verified by config or by a recorded challenge.
    pub delivery_allowed: bool,
    pub queue_depth: usize,
    /// The depth hit the engine's count cap: there are at least that many.
    pub queue_depth_capped: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::model::wire::optional_utc_millis"
    )]
    pub oldest_queued_at: Option<DateTime<Utc>>,
    pub quarantined: usize,
    pub health: DestinationHealth,
    /// On several nodes sharing a store: the node delivering it now (`host listen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionsView {
    pub sources: Vec<SourceView>,
    pub destinations: Vec<DestinationView>,
    pub subscriptions: Vec<Subscription>,
    /// Yours first, then the others (absent from an older engine).
    #[serde(default)]
    pub organizations: Vec<OrganizationView>,
}

/// The most recent attempt at a destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastAttempt {
    #[serde(with = "crate::model::log::utc_millis")]
    pub at: DateTime<Utc>,
    pub succeeded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub http_status: Option<u16>,
}

/// A source's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceHealth {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::model::wire::optional_utc_millis"
    )]
    pub last_request: Option<DateTime<Utc>>,
    pub requests_per_minute: f64,
}

/// A destination's attempt figures (queue figures come from the store).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationHealth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<LastAttempt>,
    pub attempts_5m: u64,
    pub failures_5m: u64,
    /// Successful attempts / all attempts over 5 minutes; absent with no attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate_5m: Option<f64>,
}

impl DestinationHealth {
    /// The 5-minute success rate as a person reads it ("98%", "99.8%"), or `None`
    /// without attempts. Never "100%" while an attempt failed, nor "0%" while one
    /// succeeded: whole percents round 3 failures in 1,500 up to "100%", which hid
    /// them (issue 18, point 5), so near either end it gives tenths, rounded inwards.
    pub fn success_percent(&self) -> Option<String> {
        self.success_rate_5m?;
        let attempts = self.attempts_5m;
        let ok = attempts.checked_sub(self.failures_5m)?;
        if attempts == 0 {
            return None;
        }
        if self.failures_5m == 0 {
            return Some("100%".into());
        }
        if ok == 0 {
            return Some("0%".into());
        }
        // Tenths of a percent, rounded down, and at least 0.1.
        let tenths = (ok.saturating_mul(1000) / attempts).max(1);
        if !(10..990).contains(&tenths) {
            return Some(format!("{}.{}%", tenths / 10, tenths % 10));
        }
        let whole = (ok.saturating_mul(100) + attempts / 2) / attempts;
        Some(format!("{}%", whole.clamp(1, 99)))
    }
}

#[cfg(test)]
mod tests {
    use super::DestinationHealth;

    fn percent(attempts: u64, failures: u64) -> Option<String> {
        DestinationHealth {
            last_attempt: None,
            attempts_5m: attempts,
            failures_5m: failures,
            success_rate_5m: (attempts > 0).then(|| (attempts - failures) as f64 / attempts as f64),
        }
        .success_percent()
    }

    #[test]
    fn a_failure_never_reads_as_100_percent() {
        assert_eq!(percent(0, 0), None);
        assert_eq!(percent(40, 0).as_deref(), Some("100%"));
        assert_eq!(percent(1_503, 3).as_deref(), Some("99.8%"));
        assert_eq!(percent(4_000_001, 1).as_deref(), Some("99.9%"));
        assert_eq!(percent(200, 1).as_deref(), Some("99.5%"));
        assert_eq!(percent(20, 9).as_deref(), Some("55%"));
        assert_eq!(percent(100, 2).as_deref(), Some("98%"));
        assert_eq!(percent(1_000, 999).as_deref(), Some("0.1%"));
        assert_eq!(percent(100_000, 99_999).as_deref(), Some("0.1%"));
        assert_eq!(percent(3, 3).as_deref(), Some("0%"));
    }
}
