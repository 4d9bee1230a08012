//! `switchboard backup DIR` and `switchboard restore DIR`.
//!
//! A backup has the layout of a data directory (so `check` verifies it as one): `db/`
//! (a fresh sled database holding a copy of every tree), `acknowledged` (the mark),
//! the small files beside the store (credentials, generated IDs, verifications, saved
//! requests), the uploaded files (`uploads/`), and `backup.json`, written last: a
//! directory without it is a backup cut short, and restore refuses it.
//!
//! Consistency: the `exchange` tree and the journal are copied while the store's gate is
//! held exclusively ([`super::Store`]), so no write set is copied half-applied; requests
//! acknowledged meanwhile wait in the journal (which keeps taking records), and those
//! journaled but not yet applied are copied as journal records, replayed when the
//! restored store first opens. The mark copied is the count read once the gate is
//! held: every request counted in it is in the copy. The queue sequence floor makes a
//! restored store's new items queue behind the restored ones.

use super::check::{self, CheckReport};
use super::credentials::write_atomic;
use super::{OpenMode, Result as StoreResult, SEQ_FLOOR_KEY, Store, StoreError, mark};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest, written last.
pub const MANIFEST: &str = "backup.json";
/// What a backup holds besides the store, as named in a data directory.
pub const FILES: &[&str] = &[
    "credentials",
    "identities.json",
    "verifications",
    "requests",
    super::uploads::DIR,
];
const FORMAT: u32 = 1;
const CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Keys per batch when copying a tree.
const COPY_BATCH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{dir} is not empty: a backup goes into a new or empty directory (it never \
         overwrites one). Choose another DIR"
    )]
    NotEmpty { dir: PathBuf },
    #[error(
        "{dir} is not a complete backup: it has no {MANIFEST} (a backup cut short, or \
         another directory). Choose the directory `switchboard backup` wrote"
    )]
    NotABackup { dir: PathBuf },
    #[error(
        "there is no store in {data_dir} to back up (no db/db there). Check --data-dir, or \
         SWITCHBOARD_DATA_DIR"
    )]
    NoStore { data_dir: PathBuf },
    #[error("the backup in {dir} does not verify; nothing was changed:\n{summary}")]
    Unhealthy { dir: PathBuf, summary: String },
    #[error("cannot {action} {path}: {reason}")]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },
}

type Result<T> = std::result::Result<T, BackupError>;

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Store(StoreError::Sled(e))
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |e| BackupError::Io {
        action,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub created_at: DateTime<Utc>,
    pub engine_version: String,
    /// Taken from a running engine (true) or from a stopped store.
    pub online: bool,
    /// Acknowledged requests the backup holds (at least).
    pub acknowledged: u64,
    /// Records per tree.
    pub trees: BTreeMap<String, u64>,
    /// Files and folders copied from beside the store.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub data_dir: PathBuf,
    pub from: PathBuf,
    pub acknowledged: u64,
    /// What was there before, moved aside (never deleted).
    pub moved_aside: Vec<PathBuf>,
    pub check: CheckReport,
}

impl BackupReport {
    pub fn text(&self) -> String {
        format!(
            "backed up {} acknowledged requests to {} in {:.1} s ({})",
            self.manifest.acknowledged,
            self.dir.display(),
            self.seconds,
            if self.manifest.online {
                "online, through the running engine"
            } else {
                "offline"
            }
        )
    }
}

impl RestoreReport {
    pub fn text(&self) -> String {
        let aside: Vec<String> = self
            .moved_aside
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "restored {} ({} acknowledged requests) into {}\nmoved aside (kept): {}",
            self.from.display(),
            self.acknowledged,
            self.data_dir.display(),
            if aside.is_empty() {
                "nothing".to_string()
            } else {
                aside.join(", ")
            }
        )
    }
}

/// Refuses a non-empty `dir`; creates it if absent.
fn prepare_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::NotEmpty {
                    dir: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io("create", dir))
        }
        Err(e) => Err(io("read", dir)(e)),
    }
}

/// Copies `from` into `to` in batches; `each` sees every key. Returns the count.
fn copy_tree(from: &sled::Tree, to: &sled::Tree, mut each: impl FnMut(&[u8])) -> StoreResult<u64> {
    let mut count = 0u64;
    let mut batch = sled::Batch::default();
    let mut in_batch = 0;
    for item in from.iter() {
        let (k, v) = item?;
        each(&k);
        batch.insert(k, v);
        in_batch += 1;
        count += 1;
        if in_batch == COPY_BATCH {
            to.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    to.apply_batch(batch)?;
    Ok(count)
}

/// Copies a file or a folder (recursively), syncing each file.
fn copy_path(from: &Path, to: &Path) -> Result<()> {
    let meta = std::fs::metadata(from).map_err(io("read", from))?;
    if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(io("create", to))?;
        for entry in std::fs::read_dir(from).map_err(io("read", from))? {
            let entry = entry.map_err(io("read", from))?;
            copy_path(&entry.path(), &to.join(entry.file_name()))?;
        }
        mark::sync_dir(to).map_err(io("sync", to))?;
    } else {
        std::fs::copy(from, to).map_err(io("copy", from))?;
        std::fs::File::open(to)
            .and_then(|f| f.sync_all())
            .map_err(io("sync", to))?;
    }
    Ok(())
}

impl Store {
    /// Copies this store and the files beside it (in `data_dir`) into `dir`, which must
    /// be new or empty. `online`: the store is an engine's, serving meanwhile.
    pub fn backup(&self, data_dir: &Path, dir: &Path, online: bool) -> Result<BackupReport> {
        let started = std::time::Instant::now();
        prepare_dir(dir)?;
        let target = super::db::open_db(&dir.join("db"), CACHE_BYTES)?;
        let mut trees = BTreeMap::new();
        let mut max_seq = 0u64;
        let acknowledged = {
            // Writers of the exchange tree wait meanwhile (accepts keep being journaled).
            let _paused = self.gate().write().unwrap_or_else(|e| e.into_inner());
            let acknowledged = self.marker().current();
            let exchange = copy_tree(&self.exchange, &target.open_tree("exchange")?, |k| {
                if let Some((_, seq)) = super::queue::QueueId::from_key(k) {
                    max_seq = max_seq.max(seq);
                }
            })?;
            trees.insert("exchange".to_string(), exchange);
            let journal = copy_tree(
                &self.db.open_tree("journal")?,
                &target.open_tree("journal")?,
                |_| {},
            )?;
            trees.insert("journal".to_string(), journal);
            acknowledged
        };
        for name in self.db.tree_names() {
            let text = String::from_utf8_lossy(&name).into_owned();
            if text.starts_with("__sled__") || trees.contains_key(&text) {
                continue;
            }
            let count = copy_tree(
                &self.db.open_tree(&name)?,
                &target.open_tree(&name)?,
                |_| {},
            )?;
            trees.insert(text, count);
        }
        let meta = target.open_tree("meta")?;
        meta.insert(mark::STORE_KEY, &acknowledged.to_be_bytes())?;
        let floor = meta
            .get(SEQ_FLOOR_KEY)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0)
            .max(max_seq.saturating_add(1))
            // Above every number handed out so far (the legacy IDs too, which leave no
            // key behind), so that a restored store never hands one out again.
            .max(self.durable_number()?);
        meta.insert(SEQ_FLOOR_KEY, &floor.to_be_bytes())?;
        target.flush()?;
        drop((meta, target));

        let mut files = Vec::new();
        for name in FILES {
            let from = data_dir.join(name);
            if from.exists() {
                copy_path(&from, &dir.join(name))?;
                files.push(name.to_string());
            }
        }
        mark::MarkFile::create(dir, acknowledged).map_err(StoreError::from)?;
        let manifest = Manifest {
            format: FORMAT,
            created_at: Utc::now(),
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
            online,
            acknowledged,
            trees,
            files,
        };
        let bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        let path = dir.join(MANIFEST);
        write_atomic(&path, &bytes).map_err(io("write", &path))?;
        mark::sync_dir(dir).map_err(io("sync", dir))?;
        Ok(BackupReport {
            dir: dir.to_path_buf(),
            manifest,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// A backup of a stopped store: opened for maintenance (a store that lost acknowledged
/// requests can still be copied; the copy's mark is what it holds).
pub fn backup_offline(data_dir: &Path, dir: &Path) -> Result<BackupReport> {
    if !super::db::data_file(&data_dir.join("db")).exists() {
        return Err(BackupError::NoStore {
            data_dir: data_dir.to_path_buf(),
        });
    }
    let store = Store::open_with(data_dir, OpenMode::Maintenance)?;
    store.backup(data_dir, dir, false)
}

/// Reads a backup's manifest.
pub fn manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|_| BackupError::NotABackup {
        dir: dir.to_path_buf(),
    })?;
    serde_json::from_slice(&bytes).map_err(|_| BackupError::NotABackup {
        dir: dir.to_path_buf(),
    })
}

/// Puts the backup in `backup_dir` in place in `data_dir` (whose engine must be
/// stopped): verifies it, moves what is there aside (`<name>.before-restore-<time>`,
/// never deleted), copies the backup in. The backup itself is left as it was. `sealer`
/// holds the keys its sealed bodies are verified with.
pub fn restore(
    data_dir: &Path,
    backup_dir: &Path,
    sealer: &super::Sealer,
) -> Result<RestoreReport> {
    let manifest = manifest(backup_dir)?;
    super::db::ensure_unlocked(&data_dir.join("db"))?;
    let check = check::check(backup_dir, sealer)?;
    if !check.healthy {
        return Err(BackupError::Unhealthy {
            dir: backup_dir.to_path_buf(),
            summary: check.text(),
        });
    }
    std::fs::create_dir_all(data_dir).map_err(io("create", data_dir))?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let mut moved_aside = Vec::new();
    let names = ["db", mark::FILE].into_iter().chain(FILES.iter().copied());
    for name in names.clone() {
        let current = data_dir.join(name);
        if current.exists() {
            let aside = data_dir.join(format!("{name}.before-restore-{stamp}"));
            std::fs::rename(&current, &aside).map_err(io("move aside", &current))?;
            moved_aside.push(aside);
        }
    }
    for name in names {
        let from = backup_dir.join(name);
        if from.exists() {
            copy_path(&from, &data_dir.join(name))?;
        }
    }
    mark::sync_dir(data_dir).map_err(io("sync", data_dir))?;
    Ok(RestoreReport {
        data_dir: data_dir.to_path_buf(),
        from: backup_dir.to_path_buf(),
        acknowledged: manifest.acknowledged,
        moved_aside,
        check,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Environment, Exchange, LogRecord, LogStatus, LogType};
    use crate::store::StoredRequest;
    use uuid::Uuid;

    /// Queues one pending notification for destination 10 and returns its log ID.
    fn queue_one(store: &Store) -> Uuid {
        let (id, created_at) = crate::model::log::new_log_id();
        let log = LogRecord {
            id,
            request_id: Uuid::now_v7(),
            attempt_id: Uuid::now_v7(),
            log_type: LogType::Send,
            status: LogStatus::Pending,
            exchange: Exchange::Notification,
            environment: Environment::Development,
            source_id: Uuid::from_u128(1),
            source_name: "S".into(),
            destination_id: Uuid::from_u128(10),
            destination_name: "D".into(),
            data_model: "PatientAdmin".into(),
            event_type: "Arrival".into(),
            test: false,
            created_at,
            updated_at: created_at,
            attempts: 0,
            latency_ms: None,
            patient_id: None,
            quarantined: false,
            released_at_attempt: 0,
            resend_of: None,
            legacy_ids: None,
        };
        let request = StoredRequest {
            id: log.request_id,
            received_at: created_at,
            environment: log.environment,
            source_id: log.source_id,
            exchange: log.exchange,
            payload: serde_json::json!({}),
        };
        store
            .insert_accepted(&request, std::slice::from_ref(&log), Some(&[0]))
            .expect("insert");
        id
    }

    /// sled's threads let go of a closed database's lock a moment after it is dropped.
    fn open_retrying(data: &Path) -> Store {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open(data) {
                Ok(store) => return store,
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("open: {e}"),
            }
        }
    }

    #[test]
    fn a_restored_store_queues_new_items_behind_the_restored_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, copy, restored) = (
            dir.path().join("data"),
            dir.path().join("backup"),
            dir.path().join("restored"),
        );
        // sled moves its ID counter 2 million on at each open that used it: this store's
        // IDs end up far past those of the restored one, a fresh database opened less.
        for _ in 0..4 {
            open_retrying(&data).next_seq().expect("id");
        }
        let old: Vec<Uuid> = {
            let store = open_retrying(&data);
            (0..3).map(|_| queue_one(&store)).collect()
        };
        let report = backup_offline(&data, &copy).expect("backup");
        assert!(matches!(
            backup_offline(&data, &copy),
            Err(BackupError::NotEmpty { .. })
        ));
        assert_eq!(report.manifest.trees.get("exchange").copied(), Some(3 * 6));
        restore(&restored, &copy, &Default::default()).expect("restore");

        let store = open_retrying(&restored);
        let new = queue_one(&store);
        let queued = store.queued(Uuid::from_u128(10)).expect("queued");
        assert_eq!(queued, [old, vec![new]].concat());
    }
}
