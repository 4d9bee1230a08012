//! Reading the audit trail: filtered pages, newest first, each entry with its key as
//! the cursor. Nothing here changes or removes an entry: the trail is append-only.

use super::{AuditEntry, Result, Store, decode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
