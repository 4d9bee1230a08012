//! History search: pages of logs, newest first, through secondary indexes.
//!
//! Every log has index keys `x <field> <value> <log_id>` (see [`index_entries`]). A
//! search walks the most selective index its filter allows, backwards from the upper
//! time bound (log IDs are UUIDv7, so the ID orders by creation time), checks the
//! remaining filters on each log (or on the summary the environment index carries),
//! and stops at a page or at a scan budget, returning a cursor to go on from.

use super::{Result, Store, decode, key};
use crate::model::{Environment, LogRecord, LogStatus};
use chrono::{DateTime, Utc};
use uuid::Uuid;

// The console's query and page are the store's own: searched by and filled in here.
pub use crate::model::view::{LogPage, LogQuery};

/// Largest page a caller may ask for.
pub const MAX_PAGE: usize = 500;
/// Logs examined per call before giving back a cursor, so one search cannot hold a
/// thread for long; the caller pages on with `next`.
pub const SCAN_BUDGET: usize = 20_000;

const F_ENV: u8 = b'e';
const F_SOURCE: u8 = b's';
const F_DEST: u8 = b'd';
const F_STATUS: u8 = b'u';
const F_PATIENT: u8 = b'i';

/// The version of the index layout below; an older database is re-indexed at open.
pub(crate) const INDEX_VERSION: &[u8] = b"2";

fn text_value(s: &str) -> Vec<u8> {
    // Names never hold NUL; it ends the value so "Notes" cannot match "NotesX".
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// The environment index of `environment`: its logs oldest first (retention walks it).
pub(crate) fn env_index_prefix(environment: Environment) -> Vec<u8> {
    key(b'x', &[&[F_ENV, environment.code()]])
}

/// Statuses worth their own index: rare, and what people look for at 3 a.m.
fn sparse_status(status: LogStatus) -> bool {
    matches!(status, LogStatus::Failed | LogStatus::Filtered)
}

/// A log's index entries, `(key, value)`. Every index key costs a sled write per
/// accepted request, so there are few: the environment index carries a summary of the
/// log as its value and answers every other filter without reading the log; source,
/// destination and patient are selective enough for their own; failed and filtered
/// logs (rare) have a status index.
pub(crate) fn index_entries(log: &LogRecord) -> Vec<(Vec<u8>, Vec<u8>)> {
    let id = log.id.as_bytes();
    let mut entries = vec![
        (
            key(b'x', &[&[F_ENV, log.environment.code()], id]),
            summary(log),
        ),
        (
            key(b'x', &[&[F_SOURCE], log.source_id.as_bytes(), id]),
            Vec::new(),
        ),
        (
            key(b'x', &[&[F_DEST], log.destination_id.as_bytes(), id]),
            Vec::new(),
        ),
    ];
    if sparse_status(log.status) {
        entries.push((key(b'x', &[&[F_STATUS, log.status.code()], id]), Vec::new()));
    }
    if let Some(patient) = &log.patient_id {
        entries.push((
            key(b'x', &[&[F_PATIENT], &text_value(patient), id]),
            Vec::new(),
        ));
    }
    entries
}

// Summary layout: type, status (codes), source and destination IDs, then
// `model NUL event NUL`, then `1 patient` or `0`.
fn summary(log: &LogRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + log.data_model.len() + log.event_type.len());
    v.push(log.log_type.code());
    v.push(log.status.code());
    v.extend_from_slice(log.source_id.as_bytes());
    v.extend_from_slice(log.destination_id.as_bytes());
    v.extend(text_value(&log.data_model));
    v.extend(text_value(&log.event_type));
    match &log.patient_id {
        Some(p) => {
            v.push(1);
            v.extend_from_slice(p.as_bytes());
        }
        None => v.push(0),
    }
    v
}

/// A log's summary as stored in the environment index (borrowed, not decoded).
struct Summary<'a> {
    log_type: u8,
    status: u8,
    source: &'a [u8],
    destination: &'a [u8],
    data_model: &'a [u8],
    event_type: &'a [u8],
    patient: Option<&'a [u8]>,
}

impl<'a> Summary<'a> {
    fn parse(v: &'a [u8]) -> Option<Summary<'a>> {
        let (log_type, status) = (*v.first()?, *v.get(1)?);
        let source = v.get(2..18)?;
        let destination = v.get(18..34)?;
        let rest = v.get(34..)?;
        let model_end = rest.iter().position(|b| *b == 0)?;
        let (data_model, rest) = (&rest[..model_end], &rest[model_end + 1..]);
        let event_end = rest.iter().position(|b| *b == 0)?;
        let (event_type, rest) = (&rest[..event_end], &rest[event_end + 1..]);
        let patient = match rest.split_first()? {
            (1, p) => Some(p),
            _ => None,
        };
        Some(Summary {
            log_type,
            status,
            source,
            destination,
            data_model,
            event_type,
            patient,
        })
    }
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

    fn matches_summary(&self, s: &Summary) -> bool {
        self.source.is_none_or(|id| s.source == id.as_bytes())
            && self
                .destination
                .is_none_or(|id| s.destination == id.as_bytes())
            && self
                .data_model
                .as_deref()
                .is_none_or(|m| s.data_model == m.as_bytes())
            && self
                .event_type
                .as_deref()
                .is_none_or(|e| s.event_type == e.as_bytes())
            && self.log_type.is_none_or(|t| s.log_type == t.code())
            && self.status.is_none_or(|st| s.status == st.code())
            && self
                .patient_id
                .as_deref()
                .is_none_or(|p| s.patient == Some(p.as_bytes()))
    }

    /// The index a search walks: the most selective one its filters allow.
    fn plan(&self) -> Plan {
        if let Some(p) = &self.patient_id {
            return Plan::Index(key(b'x', &[&[F_PATIENT], &text_value(p)]));
        }
        if let Some(d) = self.destination {
            return Plan::Index(key(b'x', &[&[F_DEST], d.as_bytes()]));
        }
        if let Some(s) = self.source {
            return Plan::Index(key(b'x', &[&[F_SOURCE], s.as_bytes()]));
        }
        if let Some(status) = self.status.filter(|s| sparse_status(*s)) {
            return Plan::Index(key(b'x', &[&[F_STATUS, status.code()]]));
        }
        let envs: Vec<Environment> = match self.environment {
            Some(e) => vec![e],
            None if self.filters_summary() => Environment::ALL.to_vec(),
            None => return Plan::Logs,
        };
        Plan::Summaries(
            envs.iter()
                .map(|e| key(b'x', &[&[F_ENV, e.code()]]))
                .collect(),
        )
    }

    fn filters_summary(&self) -> bool {
        self.data_model.is_some()
            || self.event_type.is_some()
            || self.log_type.is_some()
            || self.status.is_some()
    }
}

enum Plan {
    /// Entries `prefix log_id → ()`: read each log and check it.
    Index(Vec<u8>),
    /// Environment indexes (merged newest first): check the summary, read only matches.
    Summaries(Vec<Vec<u8>>),
    /// Every log, newest first.
    Logs,
}

/// The smallest UUIDv7 at or after `t` (first 48 bits are Unix milliseconds).
pub(crate) fn v7_floor(t: DateTime<Utc>) -> [u8; 16] {
    let ms = t.timestamp_millis().max(0) as u64;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b
}

impl Store {
    pub fn search(&self, query: &LogQuery) -> Result<LogPage> {
        // One wait for the whole page; the reads below see what it waited for.
        let applied = self.caught_up();
        let limit = query.limit.clamp(1, MAX_PAGE);
        let lower_id = query.since.map(v7_floor).unwrap_or([0u8; 16]);
        let mut upper_id = [0xffu8; 16];
        if let Some(until) = query.until {
            upper_id = v7_floor(until + chrono::Duration::milliseconds(1));
        }
        if let Some(before) = query.before {
            upper_id = upper_id.min(*before.as_bytes());
        }
        let (prefixes, summaries, via_index) = match query.plan() {
            Plan::Index(p) => (vec![p], false, true),
            Plan::Summaries(ps) => (ps, true, false),
            Plan::Logs => (vec![vec![b'l']], false, false),
        };
        let mut ranges: Vec<_> = prefixes
            .iter()
            .map(|p| {
                let lower = [p.as_slice(), &lower_id].concat();
                let upper = [p.as_slice(), &upper_id].concat();
                self.exchange.range(lower..upper).rev().peekable()
            })
            .collect();

        let mut page = LogPage::default();
        let mut scanned = 0usize;
        loop {
            // The newest head among the ranges (one range unless merging environments).
            let mut newest: Option<(usize, [u8; 16])> = None;
            for (i, range) in ranges.iter_mut().enumerate() {
                let Some(head) = range.peek() else { continue };
                let id = match head {
                    Ok((k, _)) => tail_id(k),
                    Err(_) => [0xff; 16],
                };
                if newest.is_none_or(|(_, best)| id > best) {
                    newest = Some((i, id));
                }
            }
            let Some((i, id_bytes)) = newest else { break };
            let (k, v) = ranges[i].next().expect("peeked")?;
            let id = Uuid::from_bytes(id_bytes);
            if page.logs.len() == limit {
                // A cursor only when something older is left to look at.
                page.next = page.logs.last().map(|l| l.id);
                break;
            }
            scanned += 1;
            let log = if summaries {
                match Summary::parse(&v) {
                    Some(s) if query.matches_summary(&s) => applied.log(id)?,
                    Some(_) => None,
                    // An unreadable summary: read the log (checked below).
                    None => applied.log(id)?,
                }
            } else if via_index {
                applied.log(id)?
            } else {
                Some(decode(&k, &v)?)
            };
            if let Some(log) = log.filter(|l| query.matches(l)) {
                page.logs.push(log);
            }
            if scanned >= SCAN_BUDGET && page.logs.len() < limit {
                page.next = Some(id);
                break;
            }
        }
        Ok(page)
    }
}

/// Re-indexes history written with an older index layout (once, at open).
pub(crate) fn upgrade_index(db: &sled::Db, exchange: &sled::Tree) -> Result<()> {
    const VERSION_KEY: &[u8] = b"history-index";
    let meta = db.open_tree("meta")?;
    if meta.get(VERSION_KEY)?.as_deref() == Some(INDEX_VERSION) {
        return Ok(());
    }
    // Plain writes, no batch: a run cut short leaves the version unset and is redone.
    let started = std::time::Instant::now();
    if exchange.scan_prefix([b'l']).next().is_some() {
        tracing::warn!(
            "history index from an older version: re-indexing every log before serving \
             (about a minute per million logs)"
        );
    }
    let mut removed = 0usize;
    for entry in exchange.scan_prefix([b'x']) {
        exchange.remove(entry?.0)?;
        removed += 1;
    }
    let mut indexed = 0usize;
    for entry in exchange.scan_prefix([b'l']) {
        let (k, v) = entry?;
        let log: LogRecord = decode(&k, &v)?;
        for (index, value) in index_entries(&log) {
            exchange.insert(index, value)?;
        }
        indexed += 1;
    }
    meta.insert(VERSION_KEY, INDEX_VERSION)?;
    db.flush()?;
    if indexed > 0 {
        tracing::info!(
            logs = indexed,
            old_entries = removed,
            seconds = started.elapsed().as_secs_f64(),
            "history re-indexed for this version"
        );
    }
    Ok(())
}

/// The log ID at the end of an index or log key.
pub(crate) fn tail_id(k: &[u8]) -> [u8; 16] {
    let mut id = [0u8; 16];
    if let Some(tail) = k.get(k.len().saturating_sub(16)..)
        && tail.len() == 16
    {
        id.copy_from_slice(tail);
    }
    id
}

#[cfg(test)]
mod tests;
