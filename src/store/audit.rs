//! The audit trail: its entries, appended, and read back in filtered pages, newest
//! first, each entry with its key as the cursor. Nothing here changes or removes an
//! entry: the trail is append-only.

use super::{Result, Store, decode, encode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One line of the audit trail: who did what to which log, from where, and how it
/// ended. The later fields are optional so that entries written before them still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[serde(with = "crate::model::log::utc_millis")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The actor's role, when the action was taken with a token that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Where it came from: the client's address over HTTP, else `cli` or
    /// `console-embedded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Every log the action touched or showed (`log_id` names the first, for old
    /// readers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<Uuid>,
    /// `ok`, `refused` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// Which entries to read. Every field left empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub action: Option<String>,
    /// Matched as a substring of the actor, so a key, a token id or a name all work.
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub log: Option<Uuid>,
    /// Only entries older than this one (the previous page's `next`).
    pub before: Option<Uuid>,
}

impl AuditFilter {
    fn matches(&self, e: &AuditEntry) -> bool {
        self.action.as_deref().is_none_or(|a| e.action == a)
            && self.actor.as_deref().is_none_or(|a| e.actor.contains(a))
            && self.since.is_none_or(|t| e.at >= t)
            && self.until.is_none_or(|t| e.at < t)
            && self
                .log
                .is_none_or(|l| e.log_id == Some(l) || e.logs.contains(&l))
    }
}

/// One entry with its ID (the key it is stored under, a UUIDv7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: Uuid,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// A page of the trail, newest first; `next` continues it as `before`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

impl Store {
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        self.audit
            .insert(Uuid::now_v7().as_bytes(), encode(entry))?;
        Ok(())
    }

    /// Audit entries, newest first.
    pub fn audit_trail(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.audit
            .iter()
            .rev()
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                decode(&k, &v)
            })
            .collect()
    }

    /// Up to `limit` entries matching `filter`, newest first.
    pub fn audit_page(&self, filter: &AuditFilter, limit: usize) -> Result<AuditPage> {
        let range = match filter.before {
            Some(before) => self.audit.range(..before.as_bytes().to_vec()),
            None => self.audit.range::<Vec<u8>, _>(..),
        };
        let mut page = AuditPage::default();
        for item in range.rev() {
            let (k, v) = item?;
            let entry: AuditEntry = decode(&k, &v)?;
            // Keys are UUIDv7, so once past `since` nothing older can match.
            if filter.since.is_some_and(|t| entry.at < t) {
                break;
            }
            if !filter.matches(&entry) {
                continue;
            }
            if page.entries.len() == limit {
                page.next = page.entries.last().map(|r| r.id);
                break;
            }
            let id = Uuid::from_slice(&k).unwrap_or_default();
            page.entries.push(AuditRecord { id, entry });
        }
        Ok(page)
    }
}
