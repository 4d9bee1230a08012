//! Logs and attempts: what the engine records about every (request, destination).

use crate::model::catalog::Exchange;
use crate::model::environment::Environment;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// Which side of an exchange a log describes. Async exchanges are SEND/RECEIVE,
/// sync ones REQUEST/RESPOND. The engine records the initiating side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogType {
    Send,
    Receive,
    Request,
    Respond,
}

impl LogType {
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::Send => "SEND",
            LogType::Receive => "RECEIVE",
            LogType::Request => "REQUEST",
            LogType::Respond => "RESPOND",
        }
    }
    pub fn code(self) -> u8 {
        match self {
            LogType::Send => b'S',
            LogType::Receive => b'V',
            LogType::Request => b'Q',
            LogType::Respond => b'R',
        }
    }
}

impl FromStr for LogType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "SEND" => Ok(LogType::Send),
            "RECEIVE" => Ok(LogType::Receive),
            "REQUEST" => Ok(LogType::Request),
            "RESPOND" => Ok(LogType::Respond),
            _ => Err(format!(
                "unknown log type \"{s}\": use SEND, RECEIVE, REQUEST or RESPOND"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogStatus {
    Pending,
    Succeeded,
    Failed,
    Filtered,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Pending => "PENDING",
            LogStatus::Succeeded => "SUCCEEDED",
            LogStatus::Failed => "FAILED",
            LogStatus::Filtered => "FILTERED",
        }
    }
    pub fn code(self) -> u8 {
        match self {
            LogStatus::Pending => b'P',
            LogStatus::Succeeded => b'S',
            LogStatus::Failed => b'F',
            LogStatus::Filtered => b'X',
        }
    }
}

impl FromStr for LogStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "PENDING" => Ok(LogStatus::Pending),
            "SUCCEEDED" => Ok(LogStatus::Succeeded),
            "FAILED" => Ok(LogStatus::Failed),
            "FILTERED" => Ok(LogStatus::Filtered),
            _ => Err(format!(
                "unknown status \"{s}\": use PENDING, SUCCEEDED, FAILED or FILTERED"
            )),
        }
    }
}

/// Engine timestamps leave as `YYYY-MM-DDThh:mm:ss.sssZ` everywhere, stored records too.
pub mod utc_millis {
    use crate::model::time::{format_utc, parse_instant};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_utc(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse_instant(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a UTC instant: {text}")))
    }
}

/// A new log ID and the instant it names. History is searched by time through the ID
/// (UUIDv7 leads with Unix milliseconds), so a log's `created_at` is taken from its ID,
/// never from a separate clock reading that could fall in another millisecond.
pub fn new_log_id() -> (Uuid, DateTime<Utc>) {
    let id = Uuid::now_v7();
    let at = id
        .get_timestamp()
        .map(|t| t.to_unix())
        .and_then(|(secs, nanos)| DateTime::from_timestamp(secs as i64, nanos))
        .unwrap_or_else(Utc::now);
    (id, at)
}

/// One log: one request as it concerns one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    pub id: Uuid,
    pub request_id: Uuid,
    /// The ID handed out in `Meta.Logs[].AttemptID` for the first attempt.
    pub attempt_id: Uuid,
    #[serde(rename = "type")]
    pub log_type: LogType,
    pub status: LogStatus,
    pub exchange: Exchange,
    pub environment: Environment,
    pub source_id: Uuid,
    pub source_name: String,
    pub destination_id: Uuid,
    pub destination_name: String,
    pub data_model: String,
    pub event_type: String,
    pub test: bool,
    #[serde(with = "utc_millis")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "utc_millis")]
    pub updated_at: DateTime<Utc>,
    pub attempts: u32,
    /// Latency of the last attempt, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// First patient identifier of the payload, for search by MRN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// Set aside by quarantine: still PENDING, but its queue has moved on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quarantined: bool,
    /// Attempts made before the last release from quarantine: the retry schedule and
    /// `quarantine_after` count from there.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub released_at_attempt: u32,
    /// For a resend: the log it repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend_of: Option<Uuid>,
    /// The platform's deprecated numeric `Meta.Message.ID` and `Meta.Transmission.ID`
    /// this log was given; `None` when its source turned them off (`legacy_ids = false`)
    /// or it was stored before they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_ids: Option<LegacyIds>,
}

/// A log's numbers in the platform's deprecated numeric IDs: `message` is its request's
/// (`Meta.Message.ID`, shared by every log of one request), `transmission` its own
/// delivery's (`Meta.Transmission.ID`, one per log). Both below 2^53, so a JavaScript
/// client reads them exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LegacyIds {
    pub message: u64,
    pub transmission: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AttemptOutcome {
    Succeeded,
    Failed,
}

/// One try at delivering a log (or forwarding a query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: Uuid,
    pub log_id: Uuid,
    /// 1-based.
    pub number: u32,
    #[serde(with = "utc_millis")]
    pub started_at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub latency_ms: f64,
    /// The destination's answer, cut at a bound (see `response_truncated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(default)]
    pub response_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_id_names_its_creation_millisecond() {
        for _ in 0..1000 {
            let (id, at) = new_log_id();
            let (secs, nanos) = id.get_timestamp().expect("v7").to_unix();
            assert_eq!(at.timestamp(), secs as i64);
            assert_eq!(at.timestamp_subsec_millis(), nanos / 1_000_000);
        }
    }
}
