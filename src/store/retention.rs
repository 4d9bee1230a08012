//! Deleting history past its retention (the policy and its schedule are the engine's,
//! `engine::retention`).
//!
//! A sweep walks one environment's index (`x e <env> log_id`, oldest first because log
//! IDs are UUIDv7) up to the cutoff, in passes of at most [`PASS_BUDGET`] logs. Each
//! pass is one [`super::journal::Journal::ordered`] update: it reads the tree as
//! applied so far and removes, in the journal's single order, a log, its index
//! entries, attempts and response body; its request once no other log of it is left
//! (its `Meta.Logs` siblings, and any queued resend); and an upload's index entry.
//! Between passes ingest goes on, so a long sweep never holds the write path.
//!
//! What is still owed delivery is never deleted: a PENDING log (queued, or set aside in
//! quarantine) is skipped and counted, and stays deliverable; a later sweep takes it
//! once it is settled. Upload files are shared by identical bytes, so a file goes only
//! once no index entry names its hash ([`Store::remove_upload_files`]), after the
//! entries' removal is on disk.
//!
//! sled reuses the space of removed keys: segments whose live data falls low are
//! rewritten and their room reused for new writes, so a store that keeps a retention
//! stays about the size of what it keeps rather than growing (measured in
//! `tests/suite/retention.rs`).

use super::uploads::{UploadRecord, file_path, index_key};
use super::{Result, Store, StoredRequest, Writes, decode, key};
use crate::model::{Environment, LogRecord, LogStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use uuid::Uuid;

/// Logs examined per pass (one ordered update): small enough that the expander is
/// back to ingest within milliseconds.
pub const PASS_BUDGET: usize = 256;

/// What one sweep of one environment removed.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    pub logs: u64,
    pub requests: u64,
    pub uploads: u64,
    /// Past the cutoff but still owed delivery (PENDING or quarantined): kept.
    pub kept_owed: u64,
    /// Keys and values removed from the store (not counting files).
    pub bytes: u64,
}

/// An upload file whose index entry a sweep removed: deleted if nothing else names it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredFile {
    pub environment: Environment,
    pub sha256: String,
    pub size: u64,
}

/// Tells the sweep which upload a log records, if any (the upload's ID from its
/// request): the engine's format, handed in so the store need not know it.
pub type UploadOf = fn(&LogRecord, &StoredRequest) -> Option<Uuid>;

struct Pass {
    swept: Swept,
    files: Vec<ExpiredFile>,
    /// The last log examined: the next pass starts after it.
    last: Option<[u8; 16]>,
}

impl Store {
    /// Removes `environment`'s logs created before `cutoff` (see the module docs), pass
    /// after pass until none is left; returns what was removed and the upload files to
    /// remove once that is on disk.
    pub async fn sweep_expired(
        &self,
        environment: Environment,
        cutoff: DateTime<Utc>,
        upload_of: UploadOf,
    ) -> Result<(Swept, Vec<ExpiredFile>)> {
        let mut total = Swept::default();
        let mut files = Vec::new();
        let mut after = None;
        // Read once per sweep, off the expander: reading every queued log inside a pass
        // would hold ingest up for as long as the queues are deep.
        let store = self.clone();
        let owed = tokio::task::spawn_blocking(move || owed_request_ids(store.caught_up().tree()))
            .await
            .map_err(|e| super::StoreError::Io(format!("the retention sweep stopped: {e}")))??;
        let owed = std::sync::Arc::new(owed);
        loop {
            let owed = owed.clone();
            let pass = self
                .journal()
                .ordered(move |applied| {
                    match one_pass(applied, environment, cutoff, after, upload_of, &owed) {
                        Ok((writes, pass)) => (writes, Ok(pass)),
                        Err(e) => (Writes::default(), Err(e)),
                    }
                })
                .await??;
            total.logs += pass.swept.logs;
            total.requests += pass.swept.requests;
            total.uploads += pass.swept.uploads;
            total.kept_owed += pass.swept.kept_owed;
            total.bytes += pass.swept.bytes;
            files.extend(pass.files);
            match pass.last {
                Some(last) => after = Some(last),
                None => return Ok((total, files)),
            }
        }
    }

    /// Removes the composer history's entries older than their environment's cutoff
    /// (environments without one keep theirs); returns how many. The history is its
    /// own small tree (at most a thousand entries), written directly, not journaled.
    pub fn sweep_composer_history(
        &self,
        cutoffs: &BTreeMap<Environment, DateTime<Utc>>,
    ) -> Result<u64> {
        if cutoffs.is_empty() {
            return Ok(0);
        }
        let tree = self.db.open_tree(super::composer_history::TREE)?;
        let mut removed = 0;
        for item in tree.iter() {
            let (k, v) = item?;
            let Ok(entry) = self
                .sealer
                .decode::<super::composer_history::HistoryEntry>(&k, &v)
            else {
                continue;
            };
            if cutoffs
                .get(&entry.sent.environment)
                .is_some_and(|cutoff| entry.at < *cutoff)
            {
                tree.remove(k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes the files of `expired` that no upload index entry names any more;
    /// returns how many and their bytes. Call once the sweep's removals are on disk.
    pub fn remove_upload_files(&self, data_dir: &Path, expired: &[ExpiredFile]) -> (u64, u64) {
        let mut named: HashSet<(Environment, String)> = HashSet::new();
        let applied = self.caught_up();
        for environment in expired
            .iter()
            .map(|f| f.environment)
            .collect::<HashSet<_>>()
        {
            let prefix = key(b'u', &[&[environment.code()]]);
            for item in applied.tree().scan_prefix(prefix) {
                let Ok((k, v)) = item else { continue };
                if let Ok(record) = decode::<UploadRecord>(&k, &v) {
                    named.insert((environment, record.sha256));
                }
            }
        }
        let (mut files, mut bytes) = (0, 0);
        for file in expired {
            if named.contains(&(file.environment, file.sha256.clone())) {
                continue;
            }
            let path = file_path(data_dir, file.environment, &file.sha256);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    files += 1;
                    bytes += file.size;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove an expired upload")
                }
            }
        }
        (files, bytes)
    }
}

/// One pass: at most [`PASS_BUDGET`] logs after `after`, older than `cutoff`.
fn one_pass(
    applied: &super::Applied<'_>,
    environment: Environment,
    cutoff: DateTime<Utc>,
    after: Option<[u8; 16]>,
    upload_of: UploadOf,
    owed_requests: &HashSet<Uuid>,
) -> Result<(Writes, Pass)> {
    let tree = applied.tree();
    let prefix = super::history::env_index_prefix(environment);
    let lower = match after {
        Some(id) => Bound::Excluded([prefix.as_slice(), &id].concat()),
        None => Bound::Included(prefix.clone()),
    };
    let upper = [prefix.as_slice(), &super::history::v7_floor(cutoff)].concat();
    let mut writes = Writes::default();
    let mut pass = Pass {
        swept: Swept::default(),
        files: Vec::new(),
        last: None,
    };
    // Request → its logs removed in this pass.
    let mut requests: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    let mut removed: HashSet<Uuid> = HashSet::new();
    for item in tree
        .range::<Vec<u8>, _>((lower, Bound::Excluded(upper)))
        .take(PASS_BUDGET)
    {
        let (index_key_bytes, _) = item?;
        let id = super::history::tail_id(&index_key_bytes);
        pass.last = Some(id);
        let log_key = key(b'l', &[&id]);
        let Some(value) = tree.get(&log_key)? else {
            // An index entry left without its log: nothing to keep it for.
            writes.remove(index_key_bytes.to_vec());
            continue;
        };
        let log: LogRecord = decode(&log_key, &value)?;
        if owed(tree, &log)? {
            pass.swept.kept_owed += 1;
            continue;
        }
        pass.swept.bytes += (log_key.len() + value.len()) as u64;
        writes.remove(log_key);
        for (k, _) in super::history::index_entries(&log) {
            pass.swept.bytes += k.len() as u64;
            writes.remove(k);
        }
        for attempt in tree.scan_prefix(key(b'a', &[&id])) {
            let (k, v) = attempt?;
            pass.swept.bytes += (k.len() + v.len()) as u64;
            writes.remove(k.to_vec());
        }
        let body = key(b'p', &[&id]);
        if let Some(v) = tree.get(&body)? {
            pass.swept.bytes += (body.len() + v.len()) as u64;
            writes.remove(body);
        }
        pass.swept.logs += 1;
        removed.insert(log.id);
        requests.entry(log.request_id).or_default().push(log.id);
    }
    for (request_id, logs) in requests {
        let request_key = key(b'r', &[request_id.as_bytes()]);
        let Some(value) = tree.get(&request_key)? else {
            continue;
        };
        let request: StoredRequest = applied.sealer().decode(&request_key, &value)?;
        for log_id in &logs {
            let Some(upload) = tree
                .get(key(b'l', &[log_id.as_bytes()]))?
                .and_then(|v| decode::<LogRecord>(b"l", &v).ok())
                .and_then(|log| upload_of(&log, &request))
            else {
                continue;
            };
            let k = index_key(environment, upload);
            if let Some(v) = tree.get(&k)? {
                let record: UploadRecord = decode(&k, &v)?;
                pass.swept.bytes += (k.len() + v.len()) as u64;
                writes.remove(k);
                pass.swept.uploads += 1;
                pass.files.push(ExpiredFile {
                    environment,
                    sha256: record.sha256,
                    size: record.size,
                });
            }
        }
        if siblings_left(tree, &request, &removed)? {
            continue;
        }
        if owed_requests.contains(&request_id) {
            continue;
        }
        pass.swept.bytes += (request_key.len() + value.len()) as u64;
        writes.remove(request_key);
        pass.swept.requests += 1;
    }
    Ok((writes, pass))
}

/// Whether a log is still owed delivery: PENDING (queued, or set aside in quarantine).
fn owed(tree: &sled::Tree, log: &LogRecord) -> Result<bool> {
    if log.status == LogStatus::Pending || log.quarantined {
        return Ok(true);
    }
    let quarantine = key(b'z', &[log.destination_id.as_bytes(), log.id.as_bytes()]);
    Ok(tree.contains_key(quarantine)?)
}

/// Whether another log of `request` (one of its `Meta.Logs`) is still stored.
fn siblings_left(
    tree: &sled::Tree,
    request: &StoredRequest,
    removed: &HashSet<Uuid>,
) -> Result<bool> {
    let logs = request.payload["Meta"]["Logs"].as_array();
    for entry in logs.into_iter().flatten() {
        let Some(id) = entry["ID"].as_str().and_then(|s| Uuid::try_parse(s).ok()) else {
            continue;
        };
        if !removed.contains(&id) && tree.contains_key(key(b'l', &[id.as_bytes()]))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The requests of every queued or quarantined log: a resend shares its original's
/// request, so that request stays while the resend is owed. Taken at the start of a
/// sweep; a resend made during the sweep of an original already past retention is the
/// one case it can miss (that request would be deleted under the resend).
fn owed_request_ids(tree: &sled::Tree) -> Result<HashSet<Uuid>> {
    let mut logs = Vec::new();
    for item in tree.scan_prefix([b'q']) {
        let (_, v) = item?;
        if let Some(id) = v.get(..16).and_then(|b| Uuid::from_slice(b).ok()) {
            logs.push(id);
        }
    }
    for item in tree.scan_prefix([b'z']) {
        let (k, _) = item?;
        logs.push(Uuid::from_bytes(super::history::tail_id(&k)));
    }
    let mut requests = HashSet::new();
    for id in logs {
        let k = key(b'l', &[id.as_bytes()]);
        if let Some(v) = tree.get(&k)? {
            requests.insert(decode::<LogRecord>(&k, &v)?.request_id);
        }
    }
    Ok(requests)
}
