//! Uploaded files (`POST /upload`): their bytes on disk, content-addressed, and the
//! per-environment index that maps an upload's ID to them.
//!
//! - Bytes: `<data dir>/uploads/<environment>/<sha256>` (files 0600, directories 0700),
//!   named by the hash of the plain bytes and, when a key is configured, sealed in
//!   chunks as they are written ([`super::seal::files`]); files stored before the key
//!   stay plain and readable until `reencrypt` seals them.
//!   A file is streamed to `<data dir>/upload-tmp/` while it arrives (never whole in
//!   memory), fsync'd, renamed into place and its directory fsync'd: a crash leaves
//!   either the whole file or only a temporary one, which the next start removes. The
//!   same bytes uploaded twice in one environment are one file.
//! - Index: `u` env_code id → [`UploadRecord`] in the `exchange` tree, written in the
//!   same journal record as the upload's log, so a log and its index entry exist
//!   together or not at all. The environment is part of the key: an ID looked up with
//!   another environment's code finds nothing.

use super::seal::files::FileWriter;
use super::{Result, Sealer, Store, Writes, decode, encode, key};
use crate::model::Environment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Where uploaded files live under the data directory (copied by `backup`).
pub const DIR: &str = "uploads";
/// Where files are spooled while they arrive; emptied at start.
pub(crate) const TEMP_DIR: &str = "upload-tmp";
/// Bytes gathered before one write to disk: large enough that the blocking write's
/// hand-off costs little, small enough to keep memory per upload bounded.
const WRITE_CHUNK: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the file writer stopped unexpectedly: {0}")]
    Join(String),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> UploadError + 'a {
    move |source| UploadError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What the index keeps about one upload: enough to serve it and to find its log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRecord {
    pub log_id: Uuid,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
}

/// A stored file: its hash and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
}

/// The directory of one environment's files.
pub fn env_dir(data_dir: &Path, environment: Environment) -> PathBuf {
    data_dir
        .join(DIR)
        .join(environment.as_str().to_ascii_lowercase())
}

/// The path of a stored file. `sha256` comes from the index, which only holds hashes
/// the engine computed (64 hex digits), so it cannot name anything outside the directory.
pub fn file_path(data_dir: &Path, environment: Environment, sha256: &str) -> PathBuf {
    env_dir(data_dir, environment).join(sha256)
}

/// Writes a stored file's bytes (as another node stored them) where this node keeps
/// it, whole or not at all.
pub fn keep_copy(
    data_dir: &Path,
    environment: Environment,
    sha256: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    create_dir(&env_dir(data_dir, environment))?;
    super::atomic::write_atomic(&file_path(data_dir, environment, sha256), bytes)
}

#[cfg(unix)]
fn create_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(not(unix))]
fn create_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

fn create_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Removes what an earlier run left half-written (a crash mid-upload).
pub fn clean_temp(data_dir: &Path) {
    let dir = data_dir.join(TEMP_DIR);
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot remove unfinished uploads");
    }
}

/// A file being received: bytes are hashed and written to a temporary file in
/// [`WRITE_CHUNK`] pieces off the async workers. Dropped unfinished, it removes the
/// temporary file, so a refused or broken upload leaves nothing behind.
pub struct Spool {
    file: Option<FileWriter<std::fs::File>>,
    hasher: Option<Sha256>,
    buffer: Vec<u8>,
    size: u64,
    temp: PathBuf,
    data_dir: PathBuf,
    finished: bool,
}

impl Spool {
    /// Opens a new temporary file under `data_dir`, sealed with `sealer`'s primary key
    /// when it has one.
    pub async fn create(
        data_dir: &Path,
        sealer: &Sealer,
    ) -> std::result::Result<Spool, UploadError> {
        let dir = data_dir.join(TEMP_DIR);
        let temp = dir.join(Uuid::new_v4().simple().to_string());
        let path = temp.clone();
        let sealer = sealer.clone();
        let file = blocking(move || {
            create_dir(&dir).map_err(io("create", &dir))?;
            let file = create_file(&path).map_err(io("create", &path))?;
            FileWriter::new(file, sealer.keyring()).map_err(io("write", &path))
        })
        .await?;
        Ok(Spool {
            file: Some(file),
            hasher: Some(Sha256::new()),
            buffer: Vec::with_capacity(WRITE_CHUNK),
            size: 0,
            temp,
            data_dir: data_dir.to_path_buf(),
            finished: false,
        })
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), UploadError> {
        self.size += bytes.len() as u64;
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= WRITE_CHUNK {
            self.drain().await?;
        }
        Ok(())
    }

    /// Writes and hashes the buffered bytes on a blocking thread.
    async fn drain(&mut self) -> std::result::Result<(), UploadError> {
        let (Some(mut file), Some(mut hasher)) = (self.file.take(), self.hasher.take()) else {
            return Err(UploadError::Join("the file was already closed".into()));
        };
        let buffer = std::mem::take(&mut self.buffer);
        let temp = self.temp.clone();
        let (file, hasher, mut buffer) = blocking(move || {
            hasher.update(&buffer);
            file.write(&buffer).map_err(io("write", &temp))?;
            Ok((file, hasher, buffer))
        })
        .await?;
        buffer.clear();
        self.buffer = buffer;
        self.file = Some(file);
        self.hasher = Some(hasher);
        Ok(())
    }

    /// Makes the file durable in its content-addressed place for `environment`: the
    /// rest written, fsync'd, renamed (or dropped, when those bytes are already there),
    /// and the directory fsync'd.
    pub async fn finish(
        mut self,
        environment: Environment,
    ) -> std::result::Result<Stored, UploadError> {
        self.drain().await?;
        let (Some(file), Some(hasher)) = (self.file.take(), self.hasher.take()) else {
            return Err(UploadError::Join("the file was already closed".into()));
        };
        let sha256: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = env_dir(&self.data_dir, environment);
        let target = dir.join(&sha256);
        let temp = self.temp.clone();
        blocking(move || {
            let file = file.finish().map_err(io("write", &temp))?;
            file.sync_all().map_err(io("sync", &temp))?;
            drop(file);
            create_dir(&dir).map_err(io("create", &dir))?;
            if target.exists() {
                // Same hash, same bytes: the stored copy is already durable.
                std::fs::remove_file(&temp).map_err(io("remove", &temp))?;
            } else {
                std::fs::rename(&temp, &target).map_err(io("rename", &temp))?;
            }
            super::mark::sync_dir(&dir).map_err(io("sync", &dir))?;
            if let Some(parent) = dir.parent() {
                super::mark::sync_dir(parent).map_err(io("sync", parent))?;
            }
            Ok(())
        })
        .await?;
        self.finished = true;
        Ok(Stored {
            sha256,
            size: self.size,
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.finished {
            self.file = None;
            // Best effort: a leftover is removed at the next start anyway.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, UploadError> + Send + 'static,
) -> std::result::Result<T, UploadError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| UploadError::Join(e.to_string()))?
}

pub(crate) fn index_key(environment: Environment, id: Uuid) -> Vec<u8> {
    key(b'u', &[&[environment.code()], id.as_bytes()])
}

/// The ID a `u` key names (for `check`).
pub(crate) fn log_of(k: &[u8], v: &[u8]) -> Result<Uuid> {
    decode::<UploadRecord>(k, v).map(|r| r.log_id)
}

impl Store {
    /// The index entry of an upload, for the journal's write set with its log.
    pub fn upload_writes(
        writes: &mut Writes,
        environment: Environment,
        id: Uuid,
        record: &UploadRecord,
    ) {
        writes.insert(index_key(environment, id), encode(record));
    }

    /// Every upload of `environment` (ID and record): what `export` moves.
    pub fn uploads_of(&self, environment: Environment) -> Result<Vec<(Uuid, UploadRecord)>> {
        self.caught_up();
        let prefix = key(b'u', &[&[environment.code()]]);
        self.exchange
            .scan_prefix(&prefix)
            .map(|item| {
                let (k, v) = item?;
                let id = Uuid::from_slice(&k[prefix.len()..]).unwrap_or_default();
                Ok((id, decode(&k, &v)?))
            })
            .collect()
    }

    /// The upload `id` of `environment`, if there is one.
    pub fn upload(&self, environment: Environment, id: Uuid) -> Result<Option<UploadRecord>> {
        self.caught_up();
        let k = index_key(environment, id);
        self.exchange.get(&k)?.map(|v| decode(&k, &v)).transpose()
    }
}
