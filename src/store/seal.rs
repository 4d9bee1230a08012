//! At-rest encryption of stored bodies (`[engine] encryption_key_file`): the records
//! that hold payloads (`r` requests, `a` attempts with the destination's answer, `p`
//! query responses, the composer's history) are sealed with AES-256-GCM when a key is
//! configured. Metadata (logs, indexes, queues, sessions, audit) stays plain: history
//! search and delivery read it without the key.
//!
//! A sealed value is `MAGIC | key id (4) | nonce (12) | ciphertext and tag`. The key id
//! is the start of the key's SHA-256, so a record names the key it needs and rotation
//! is adding a new primary key while the old ones stay readable
//! (`encryption_old_key_files`). A fresh random 96-bit nonce per record. Values without
//! the magic are plain records written before a key was set, and stay readable.
//!
//! The keyring belongs to one opened store ([`Sealer`], carried by [`super::Store`]):
//! every command that opens a store reads the key files from its configuration first.
//! Whether a store holds sealed records is kept in the `meta` tree, so that an open
//! without the key fails clearly ([`check_open`]).

pub mod files;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Starts every sealed value. A plain JSON record starts with `{`; a raw response body
/// starting with these bytes (a NUL first) is not something a destination sends.
const MAGIC: &[u8; 4] = b"\0SB\x01";
const ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const HEADER: usize = MAGIC.len() + ID_LEN + NONCE_LEN;
/// The `meta` key set once a sealed record may have been written.
pub(crate) const SEALED_KEY: &[u8] = b"sealed-records";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "cannot use the encryption key file {path}: {reason}. It must hold 32 random bytes, \
         raw or as 64 hex characters (make one with `head -c 32 /dev/urandom > FILE && chmod \
         600 FILE`), and be readable by the engine's user"
    )]
    KeyFile { path: PathBuf, reason: String },
}

/// One key: its id (the start of its SHA-256) and its cipher.
struct Key {
    id: [u8; ID_LEN],
    cipher: Aes256Gcm,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Key {
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        Key {
            id,
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// The primary key (new records are sealed with it) and the old ones (read only).
pub struct Keyring {
    primary: Key,
    old: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids only: never the keys.
        f.debug_struct("Keyring")
            .field("primary", &self.primary.id)
            .field("old", &self.old.iter().map(|k| k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    pub fn from_keys(primary: &[u8; 32], old: &[[u8; 32]]) -> Keyring {
        Keyring {
            primary: Key::new(primary),
            old: old.iter().map(Key::new).collect(),
        }
    }

    /// Reads the primary key file and the old ones.
    pub fn load(primary: &Path, old: &[PathBuf]) -> Result<Keyring, SealError> {
        let old = old
            .iter()
            .map(|p| read_key(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring::from_keys(&read_key(primary)?, &old))
    }

    /// Seals `plain` with the primary key and a fresh random nonce.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // As for UUIDv4 (which panics the same way): without the OS's random source
        // nothing safe can be written.
        if let Err(e) = getrandom::fill(&mut nonce) {
            panic!("the operating system's random source failed: {e}");
        }
        // Encrypting into memory fails only for inputs beyond GCM's 64 GiB bound.
        let sealed = self
            .primary
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.primary.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a sealed value with whichever configured key it names.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        if !is_sealed(sealed) || sealed.len() < HEADER {
            return Err("not a sealed record".into());
        }
        let id = &sealed[MAGIC.len()..MAGIC.len() + ID_LEN];
        let nonce = Nonce::from_slice(&sealed[MAGIC.len() + ID_LEN..HEADER]);
        let mut named = std::iter::once(&self.primary)
            .chain(&self.old)
            .filter(|k| k.id == id)
            .peekable();
        if named.peek().is_none() {
            return Err(format!(
                "it is encrypted with a key that is not configured (key id {}); add that key \
                 file to encryption_old_key_files",
                hex(id)
            ));
        }
        named
            .find_map(|k| k.cipher.decrypt(nonce, &sealed[HEADER..]).ok())
            .ok_or_else(|| "it fails its authentication check (damaged or altered)".into())
    }

    pub(crate) fn primary_id(&self) -> [u8; ID_LEN] {
        self.primary.id
    }

    /// The ids of the primary key and the old ones.
    fn ids(&self) -> impl Iterator<Item = &[u8; ID_LEN]> {
        std::iter::once(&self.primary.id).chain(self.old.iter().map(|k| &k.id))
    }

    /// Whether `sealed` was sealed with another key than the primary one.
    pub fn is_old(&self, sealed: &[u8]) -> bool {
        is_sealed(sealed)
            && sealed.len() >= HEADER
            && sealed[MAGIC.len()..MAGIC.len() + ID_LEN] != self.primary.id
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key file: 32 raw bytes, or 64 hex characters (surrounding whitespace ignored).
fn read_key(path: &Path) -> Result<[u8; 32], SealError> {
    let fail = |reason: String| SealError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(&bytes).map(str::trim).unwrap_or("");
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut key = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).unwrap_or("");
            key[i] = u8::from_str_radix(pair, 16).map_err(|e| fail(e.to_string()))?;
        }
        return Ok(key);
    }
    Err(fail(format!(
        "it holds {} bytes, neither 32 raw bytes nor 64 hex characters",
        bytes.len()
    )))
}

/// The keys one store seals and opens its bodies with; without a keyring it writes
/// plain records and refuses to read sealed ones. Each opened [`super::Store`] carries
/// its own, so two stores in one process (several engines, a test) never share keys.
#[derive(Clone, Debug, Default)]
pub struct Sealer(Option<Arc<Keyring>>);

impl Sealer {
    pub fn new(keyring: Option<Keyring>) -> Sealer {
        Sealer(keyring.map(Arc::new))
    }

    pub fn keyring(&self) -> Option<&Keyring> {
        self.0.as_deref()
    }

    /// A body record as it is stored: sealed when there is a keyring, else as it is.
    pub(crate) fn seal(&self, plain: Vec<u8>) -> Vec<u8> {
        match &self.0 {
            Some(keyring) => keyring.seal(&plain),
            None => plain,
        }
    }

    /// A stored value as plain bytes: opened when sealed.
    pub(crate) fn open<'a>(&self, stored: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
        if !is_sealed(stored) {
            return Ok(Cow::Borrowed(stored));
        }
        match &self.0 {
            Some(keyring) => keyring.open(stored).map(Cow::Owned),
            None => Err("it is encrypted and no encryption_key_file is configured".into()),
        }
    }

    /// [`super::encode`], sealed.
    pub(crate) fn encode<T: serde::Serialize>(&self, value: &T) -> Vec<u8> {
        self.seal(super::encode(value))
    }

    /// [`super::decode`] of a record that may be sealed.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        stored: &[u8],
    ) -> super::Result<T> {
        let plain = self
            .open(stored)
            .map_err(|reason| super::StoreError::Corrupt {
                key: String::from_utf8_lossy(key).into_owned(),
                reason,
            })?;
        super::codec::parse(key, &plain)
    }
}

/// A plain record (logs, sessions, audit, index and state records). A sealed value
/// here is refused as encrypted: bodies are read through the store's [`Sealer`].
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    key: &[u8],
    stored: &[u8],
) -> super::Result<T> {
    Sealer::default().decode(key, stored)
}

pub(crate) fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// At open: a store that holds sealed records needs their keys. The `meta` tree keeps
/// the id of every key that has sealed records in it (4 bytes each); a store opened
/// with a key records its primary (from now on it may seal with it).
pub(crate) fn check_open(meta: &sled::Tree, db_path: &Path, sealer: &Sealer) -> super::Result<()> {
    let used = meta
        .get(SEALED_KEY)?
        .map(|v| v.to_vec())
        .unwrap_or_default();
    let Some(keyring) = sealer.keyring() else {
        if used.is_empty() {
            return Ok(());
        }
        return Err(super::StoreError::Io(format!(
            "the store at {} holds encrypted records, and no key is configured: set \
             `encryption_key_file = \"PATH\"` under [engine] in the configuration to the key \
             file it was written with",
            db_path.display()
        )));
    };
    let known = |id: &[u8]| keyring.ids().any(|k| k == id);
    if let Some(missing) = used.chunks(ID_LEN).find(|id| !known(id)) {
        return Err(super::StoreError::Io(format!(
            "the store at {} holds records encrypted with key {}, which is not configured: \
             add that key file to `encryption_old_key_files` under [engine] (after a \
             rotation, old keys stay there until `switchboard reencrypt` has run)",
            db_path.display(),
            hex(missing)
        )));
    }
    if !used.chunks(ID_LEN).any(|id| id == keyring.primary.id) {
        let mut ids = used;
        ids.extend_from_slice(&keyring.primary.id);
        meta.insert(SEALED_KEY, ids)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_records_open_with_their_key_only() {
        let (a, b) = ([7u8; 32], [9u8; 32]);
        let first = Keyring::from_keys(&a, &[]);
        let sealed = first.seal(b"Zephyrina");
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(9).any(|w| w == b"Zephyrina"));
        assert_ne!(first.seal(b"Zephyrina"), sealed, "fresh nonce per record");
        assert_eq!(first.open(&sealed).expect("opens"), b"Zephyrina");

        let rotated = Keyring::from_keys(&b, &[a]);
        assert_eq!(rotated.open(&sealed).expect("old key"), b"Zephyrina");
        assert!(rotated.is_old(&sealed));
        assert!(!rotated.is_old(&rotated.seal(b"x")));
        let without = Keyring::from_keys(&b, &[]);
        let e = without.open(&sealed).expect_err("unknown key");
        assert!(e.contains("encryption_old_key_files"), "{e}");

        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(
            first
                .open(&altered)
                .expect_err("tag")
                .contains("authentication")
        );
    }

    #[test]
    fn key_files_are_raw_or_hex() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [3u8; 32]).expect("write");
        let hexed = dir.path().join("hex");
        std::fs::write(&hexed, format!("{}\n", "03".repeat(32))).expect("write");
        assert_eq!(read_key(&raw).expect("raw"), [3u8; 32]);
        assert_eq!(read_key(&hexed).expect("hex"), [3u8; 32]);
        let short = dir.path().join("short");
        std::fs::write(&short, "abc").expect("write");
        let e = read_key(&short).expect_err("short").to_string();
        assert!(e.contains("32 random bytes") && e.contains("short"), "{e}");
    }
}
