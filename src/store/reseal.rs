//! `switchboard reencrypt`: after a key rotation, every stored body sealed with an old
//! key (or written plain, before any key) is sealed again with the primary key, so the
//! old key files can be dropped from `encryption_old_key_files`. Offline: the engine
//! must be stopped (sled allows one process per store).

use super::seal::files::{FileReader, FileWriter, needs_resealing};
use super::seal::{self, Keyring, SEALED_KEY};
use super::{Result, Store, StoreError, composer_history, uploads};
use std::io::Read;
use std::path::Path;

/// What `reencrypt` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReencryptReport {
    /// Records sealed again with the primary key.
    pub resealed: usize,
    /// Body records already sealed with it.
    pub current: usize,
    /// Uploaded files sealed again (or for the first time) with the primary key.
    pub files_resealed: usize,
    /// Uploaded files already sealed with it.
    pub files_current: usize,
}

impl ReencryptReport {
    pub fn text(&self) -> String {
        format!(
            "{} records and {} uploaded files sealed again with the primary key; {} and {} \
             already were. Keys in encryption_old_key_files are no longer needed by this store.",
            self.resealed, self.files_resealed, self.current, self.files_current
        )
    }
}

impl Store {
    /// Seals every body record with the primary key of the store's keyring (see
    /// [`Store::open_sealed`]); afterwards the store records only that key as used.
    /// Uploaded files under `data_dir` are sealed again too.
    pub fn reencrypt(&self, data_dir: &Path) -> Result<ReencryptReport> {
        let Some(keyring) = self.sealer.keyring() else {
            return Err(StoreError::Io(
                "no encryption_key_file is configured: set it under [engine] to the key to \
                 encrypt with, and keep the old ones in encryption_old_key_files"
                    .into(),
            ));
        };
        self.journal.wait_applied();
        let mut report = ReencryptReport {
            resealed: 0,
            current: 0,
            files_resealed: 0,
            files_current: 0,
        };
        let _writing = self.writing();
        for prefix in [b'r', b'a', b'p'] {
            reseal_tree(keyring, &self.exchange, &[prefix], &mut report)?;
        }
        let composer = self.db.open_tree(composer_history::TREE)?;
        reseal_tree(keyring, &composer, &[], &mut report)?;
        // Files before the record of used keys: until this is done, the old key stays
        // listed and so required at the next open.
        reseal_files(keyring, data_dir, &mut report)?;
        self.db
            .open_tree("meta")?
            .insert(SEALED_KEY, keyring.primary_id().to_vec())?;
        self.db.flush()?;
        Ok(report)
    }
}

fn reseal_tree(
    keyring: &Keyring,
    tree: &sled::Tree,
    prefix: &[u8],
    report: &mut ReencryptReport,
) -> Result<()> {
    for item in tree.scan_prefix(prefix) {
        let (k, v) = item?;
        if seal::is_sealed(&v) && !keyring.is_old(&v) {
            report.current += 1;
            continue;
        }
        let plain = if seal::is_sealed(&v) {
            keyring.open(&v).map_err(|reason| StoreError::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason,
            })?
        } else {
            v.to_vec()
        };
        tree.insert(k, keyring.seal(&plain))?;
        report.resealed += 1;
    }
    Ok(())
}

/// Seals again every uploaded file that is plain or sealed with an old key: into a
/// temporary file, fsync'd, renamed over the old one, its directory fsync'd, so a crash
/// leaves either file whole.
fn reseal_files(keyring: &Keyring, data_dir: &Path, report: &mut ReencryptReport) -> Result<()> {
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        StoreError::Io(format!("cannot {what} {}: {e}", path.display()))
    };
    let root = data_dir.join(uploads::DIR);
    let Ok(environments) = std::fs::read_dir(&root) else {
        return Ok(()); // no uploads
    };
    let temp_dir = data_dir.join(uploads::TEMP_DIR);
    std::fs::create_dir_all(&temp_dir).map_err(|e| fail("create", &temp_dir, e))?;
    for environment in environments {
        let dir = environment.map_err(|e| fail("read", &root, e))?.path();
        let files = std::fs::read_dir(&dir).map_err(|e| fail("read", &dir, e))?;
        for file in files {
            let path = file.map_err(|e| fail("read", &dir, e))?.path();
            let mut start = [0u8; 8];
            let n = std::fs::File::open(&path)
                .and_then(|mut f| f.read(&mut start))
                .map_err(|e| fail("read", &path, e))?;
            if !needs_resealing(&start[..n], keyring) {
                report.files_current += 1;
                continue;
            }
            let temp = temp_dir.join(uuid::Uuid::new_v4().simple().to_string());
            reseal_file(keyring, &path, &temp).map_err(|e| fail("seal", &path, e))?;
            std::fs::rename(&temp, &path).map_err(|e| fail("replace", &path, e))?;
            super::mark::sync_dir(&dir).map_err(|e| fail("sync", &dir, e))?;
            report.files_resealed += 1;
        }
    }
    Ok(())
}

fn reseal_file(keyring: &Keyring, from: &Path, to: &Path) -> std::io::Result<()> {
    let mut reader = FileReader::new(std::fs::File::open(from)?, Some(keyring))?;
    let mut writer = FileWriter::new(std::fs::File::create(to)?, Some(keyring))?;
    loop {
        let piece = reader.next_piece(seal::files::CHUNK)?;
        if piece.is_empty() {
            break;
        }
        writer.write(&piece)?;
    }
    writer.finish()?.sync_all()
}
