//! History search: pages of logs, newest first, through secondary indexes.
//!
//! Every log has index keys `x <field> <value> <log_id>`. A search walks the most
//! selective index its filter allows, backwards from the upper time bound (log IDs are
//! UUIDv7, so the ID orders by creation time), checks the remaining filters on each
//! log, and stops at a page or at a scan budget, returning a cursor to go on from.

use super::{Result, Store, decode, key};
use crate::model::{Environment, LogRecord, LogStatus, LogType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest page a caller may ask for.
pub const MAX_PAGE: usize = 500;
/// Logs examined per call before giving back a cursor, so one search cannot hold a
/// thread for long; the caller pages on with `next`.
pub const SCAN_BUDGET: usize = 20_000;

const F_ENV: u8 = b'e';
const F_SOURCE: u8 = b's';
const F_DEST: u8 = b'd';
const F_MODEL: u8 = b'm';
const F_EVENT: u8 = b'v';
const F_TYPE: u8 = b't';
const F_STATUS: u8 = b'u';
const F_PATIENT: u8 = b'i';

fn text_value(s: &str) -> Vec<u8> {
    // Names never hold NUL; it ends the value so "Notes" cannot match "NotesX".
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn event_value(model: &str, event: &str) -> Vec<u8> {
    let mut v = text_value(model);
    v.extend(text_value(event));
    v
}

pub(crate) fn index_keys(log: &LogRecord) -> Vec<Vec<u8>> {
    let id = log.id.as_bytes();
    let mut keys = vec![
        key(b'x', &[&[F_ENV, log.environment.code()], id]),
        key(b'x', &[&[F_SOURCE], log.source_id.as_bytes(), id]),
        key(b'x', &[&[F_DEST], log.destination_id.as_bytes(), id]),
        key(b'x', &[&[F_MODEL], &text_value(&log.data_model), id]),
        key(
            b'x',
            &[
                &[F_EVENT],
                &event_value(&log.data_model, &log.event_type),
                id,
            ],
        ),
        key(b'x', &[&[F_TYPE, log.log_type.code()], id]),
        key(b'x', &[&[F_STATUS, log.status.code()], id]),
    ];
    if let Some(patient) = &log.patient_id {
        keys.push(key(b'x', &[&[F_PATIENT], &text_value(patient), id]));
    }
    keys
}

/// A history search. Every filter given must hold (AND).
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

impl LogQuery {
    fn matches(&self, log: &LogRecord) -> bool {
        self.environment.is_none_or(|e| log.environment == e)
            && self.source.is_none_or(|s| log.source_id == s)
            && self.destination.is_none_or(|d| log.destination_id == d)
            && self
                .data_model
                .as_deref()
                .is_none_or(|m| log.data_model == m)
            && self
                .event_type
                .as_deref()
                .is_none_or(|e| log.event_type == e)
            && self.log_type.is_none_or(|t| log.log_type == t)
            && self.status.is_none_or(|s| log.status == s)
            && self
                .patient_id
                .as_deref()
                .is_none_or(|p| log.patient_id.as_deref() == Some(p))
    }

    /// The prefix of the most selective index this query can use; `None` = all logs.
    fn index_prefix(&self) -> Option<Vec<u8>> {
        if let Some(p) = &self.patient_id {
            return Some(key(b'x', &[&[F_PATIENT], &text_value(p)]));
        }
        if let Some(d) = self.destination {
            return Some(key(b'x', &[&[F_DEST], d.as_bytes()]));
        }
        if let Some(s) = self.source {
            return Some(key(b'x', &[&[F_SOURCE], s.as_bytes()]));
        }
        if let (Some(m), Some(e)) = (&self.data_model, &self.event_type) {
            return Some(key(b'x', &[&[F_EVENT], &event_value(m, e)]));
        }
        if let Some(m) = &self.data_model {
            return Some(key(b'x', &[&[F_MODEL], &text_value(m)]));
        }
        if let Some(s) = self.status {
            return Some(key(b'x', &[&[F_STATUS, s.code()]]));
        }
        if let Some(t) = self.log_type {
            return Some(key(b'x', &[&[F_TYPE, t.code()]]));
        }
        self.environment.map(|e| key(b'x', &[&[F_ENV, e.code()]]))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    pub logs: Vec<LogRecord>,
    /// Pass as `before` to get the next (older) page; absent when history is exhausted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// The smallest UUIDv7 at or after `t` (first 48 bits are Unix milliseconds).
fn v7_floor(t: DateTime<Utc>) -> [u8; 16] {
    let ms = t.timestamp_millis().max(0) as u64;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b
}

impl Store {
    pub fn search(&self, query: &LogQuery) -> Result<LogPage> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let (prefix, via_index) = match query.index_prefix() {
            Some(p) => (p, true),
            None => (vec![b'l'], false),
        };
        let lower = key(
            0,
            &[&prefix, &query.since.map(v7_floor).unwrap_or([0u8; 16])],
        )[1..]
            .to_vec();
        let mut upper_id = [0xffu8; 16];
        if let Some(until) = query.until {
            upper_id = v7_floor(until + chrono::Duration::milliseconds(1));
        }
        if let Some(before) = query.before {
            upper_id = upper_id.min(*before.as_bytes());
        }
        let upper = key(0, &[&prefix, &upper_id])[1..].to_vec();

        let mut page = LogPage::default();
        let mut scanned = 0usize;
        let mut range = self.exchange.range(lower..upper).rev();
        while let Some(item) = range.next() {
            let (k, v) = item?;
            let Some(id_bytes) = k.get(k.len().saturating_sub(16)..) else {
                continue;
            };
            let id = Uuid::from_slice(id_bytes).unwrap_or_default();
            scanned += 1;
            let log: LogRecord = if via_index {
                match self.log(id)? {
                    Some(log) => log,
                    None => continue,
                }
            } else {
                decode(&k, &v)?
            };
            if query.matches(&log) {
                page.logs.push(log);
                if page.logs.len() == limit {
                    // A cursor only when something older is left to look at.
                    if range.next().is_some() {
                        page.next = Some(id);
                    }
                    break;
                }
            }
            if scanned >= SCAN_BUDGET {
                page.next = Some(id);
                break;
            }
        }
        Ok(page)
    }
}
