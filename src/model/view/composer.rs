//! The composer's history as the console sees it ([`Sent`] to record one, pages of
//! [`HistoryEntry`]), and the short-lived token the composer sends with. The engine keeps
//! the history (`store::composer_history`, whose records on disk are these types).

use crate::model::Environment;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A request as the composer sent it, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub environment: Environment,
    pub source_id: Uuid,
    pub source_name: String,
    pub destination_id: Uuid,
    pub destination_name: String,
    pub data_model: String,
    pub event_type: String,
    /// The text as sent (after variable substitution).
    pub body: Option<String>,
    /// HTTP status of the engine's answer; `None` when there was none (refused before
    /// sending, connection failed).
    pub status: Option<u16>,
    /// From send to answer.
    pub elapsed_ms: u64,
    /// `Meta.Logs[].ID` of the answer, to follow the request in the feed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_ids: Vec<Uuid>,
    /// What went wrong, when something did (the engine's error text, a network error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer in one line ("1 patient: Abigail Baker, …"), as the composer showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl Sent {
    /// Drops what may name a patient: the body, the answer's summary, and the error text (an engine's or a
    /// destination's error can quote the request). Metadata stays.
    pub fn mask_phi(&mut self) {
        self.body = None;
        // A summary names the patient found.
        self.summary = None;
        if self.error.is_some() {
            self.error = Some("(hidden: needs the PHI permission)".into());
        }
    }
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: Uuid,
    #[serde(with = "crate::model::log::utc_millis")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub sent: Sent,
}

/// A page of entries, newest first, and the cursor to the next (older) page.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` for the next page; `None` when this is the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// A composer's access token for the platform API: no refresh token, no API key
/// behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComposerToken {
    pub access_token: String,
    pub expires: String,
}
