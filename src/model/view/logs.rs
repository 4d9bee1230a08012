//! History as the console pages through it: the search ([`LogQuery`], sent as the
//! query string of `GET /admin/v1/logs`), a page of logs, and one log's detail.

use crate::model::{Attempt, Environment, LogRecord, LogStatus, LogType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A history search. Every filter given must hold (AND). The store searches by it
/// directly (`store::history`), so a filter added here is one the store must honour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub environment: Option<Environment>,
    pub source: Option<Uuid>,
    pub destination: Option<Uuid>,
    pub data_model: Option<String>,
    pub event_type: Option<String>,
    pub log_type: Option<LogType>,
    pub status: Option<LogStatus>,
    pub patient_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Cursor: only logs older than this one.
    pub before: Option<Uuid>,
    pub limit: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    pub logs: Vec<LogRecord>,
    /// Pass as `before` to get the next (older) page; absent when history is exhausted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// A log with everything recorded about it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogDetail {
    pub log: LogRecord,
    pub attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// When a failed delivery is tried again, while it waits out its back-off (absent
    /// when nothing is scheduled: delivered, settled, paused, or trying now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A log's detail as a role may see it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisibleDetail {
    #[serde(flatten)]
    pub detail: LogDetail,
    /// Bodies and patient fields were withheld.
    pub masked: bool,
}
