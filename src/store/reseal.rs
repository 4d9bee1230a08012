//! `switchboard reencrypt`: after a key rotation, every stored body sealed with an old
//! key (or written plain, before any key) is sealed again with the primary key, so the
//! old key files can be dropped from `encryption_old_key_files`. Offline: the engine
//! must be stopped (sled allows one process per store).

use super::seal::{self, Keyring, SEALED_KEY};
use super::{Result, Store, StoreError, composer_history};

/// What `reencrypt` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReencryptReport {
    /// Records sealed again with the primary key.
    pub resealed: usize,
    /// Body records already sealed with it.
    pub current: usize,
}

impl ReencryptReport {
    pub fn text(&self) -> String {
        format!(
            "{} records sealed again with the primary key; {} already were. Keys in \
             encryption_old_key_files are no longer needed by this store.",
            self.resealed, self.current
        )
    }
}

impl Store {
    /// Seals every body record with the primary key of the store's keyring (see
    /// [`Store::open_sealed`]); afterwards the store records only that key as used.
    pub fn reencrypt(&self) -> Result<ReencryptReport> {
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
        };
        let _writing = self.writing();
        for prefix in [b'r', b'a', b'p'] {
            reseal_tree(keyring, &self.exchange, &[prefix], &mut report)?;
        }
        let composer = self.db.open_tree(composer_history::TREE)?;
        reseal_tree(keyring, &composer, &[], &mut report)?;
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
