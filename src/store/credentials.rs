//! API keys (for sources) and admin tokens, kept as one small file each under
//! `data_dir/credentials/`. Only a SHA-256 of each secret is stored: the secrets are
//! 256-bit random values, so a fast hash is enough, and comparison is constant-time.
//!
//! Files rather than sled so that `switchboard keys create` works while an engine holds
//! the database lock; the engine reads a key's file when a source authenticates.
//! OAuth clients (the JWT flow) are key records too, with their verification keys
//! ([`clients`]): one ID space, one revocation.

pub mod clients;

pub use clients::ClientAuth;

use crate::model::{Environment, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot write credentials under {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("credential file {path} is unreadable: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the system random source failed: {0}")]
    Random(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    pub api_key: String,
    pub source_id: Uuid,
    pub source_name: String,
    pub environment: Environment,
    /// Empty for an OAuth client: it has no legacy secret.
    #[serde(default)]
    pub secret_sha256: String,
    pub created_at: DateTime<Utc>,
    /// Set for an OAuth client (the JWT flow); absent for a legacy API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientAuth>,
}

impl ApiKeyRecord {
    /// `legacy`, or the OAuth client's kind (`jwks`, `jwks-url`, `hs384`).
    pub fn kind(&self) -> &'static str {
        self.client.as_ref().map_or("legacy", ClientAuth::kind)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub secret_sha256: String,
    pub created_at: DateTime<Utc>,
    /// Absent in records written before tokens expired: those get
    /// [`DEFAULT_ADMIN_TOKEN_LIFETIME`] from their creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Set for a user key (the Platform API's JWT login): the record's `id` is its client
    /// ID and it has no `sbt_` secret. Absent for an admin token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientAuth>,
}

/// How long an admin token lives unless `tokens create --expires-in` says otherwise: a
/// token copied into a script or a laptop stops working by itself within a quarter.
pub const DEFAULT_ADMIN_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::days(90);

impl TokenRecord {
    pub fn expires(&self) -> DateTime<Utc> {
        self.expires_at
            .unwrap_or(self.created_at + DEFAULT_ADMIN_TOKEN_LIFETIME)
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, CredentialError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| CredentialError::Random(e.to_string()))?;
    Ok(hex(&buf))
}

fn secret_matches(stored_hex: &str, secret: &str) -> bool {
    let given = hex(&sha256(secret.as_bytes()));
    bool::from(given.as_bytes().ct_eq(stored_hex.as_bytes()))
}

pub use super::atomic::write_atomic;

/// A shared store's failure as a credential error naming the store (`write`: a write
/// failed, else a read).
pub(crate) fn shared_error(
    reach: &crate::store::postgres::records::Reach,
    write: bool,
) -> impl Fn(crate::store::postgres::PgError) -> CredentialError + '_ {
    move |e| {
        let (path, reason) = (PathBuf::from(reach.shown()), e.to_string());
        if write {
            CredentialError::Write { path, reason }
        } else {
            CredentialError::Read { path, reason }
        }
    }
}

/// Deletes a credential file; false when it was already gone.
fn remove_if_present(path: PathBuf) -> Result<bool, CredentialError> {
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CredentialError::Write {
            path,
            reason: e.to_string(),
        }),
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    dir: PathBuf,
    /// On a store shared by several nodes, the records live there instead.
    shared: Option<crate::store::postgres::records::Reach>,
}

/// Where one record is kept: its folder (its kind on a shared store) and its ID.
struct Slot<'a> {
    folder: &'static str,
    id: &'a str,
}

impl Credentials {
    pub fn new(data_dir: &Path) -> Self {
        Credentials {
            dir: data_dir.join("credentials"),
            shared: None,
        }
    }

    /// The credentials of the nodes sharing a PostgreSQL store.
    pub fn shared(data_dir: &Path, reach: crate::store::postgres::records::Reach) -> Self {
        Credentials {
            dir: data_dir.join("credentials"),
            shared: Some(reach),
        }
    }

    /// Where revocation records go (see `store::revocations`).
    pub fn reach(&self) -> Option<&crate::store::postgres::records::Reach> {
        self.shared.as_ref()
    }

    fn path(&self, slot: &Slot) -> PathBuf {
        let name = match slot.folder {
            "used" => slot.id.to_string(),
            _ => format!("{}.json", slot.id),
        };
        self.dir.join(slot.folder).join(name)
    }

    fn put_bytes(&self, slot: &Slot, bytes: &[u8]) -> Result<(), CredentialError> {
        if let Some(reach) = &self.shared {
            return reach
                .put(slot.folder, slot.id, bytes)
                .map_err(shared_error(reach, true));
        }
        let path = self.path(slot);
        write_atomic(&path, bytes).map_err(|e| CredentialError::Write {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    fn get_bytes(&self, slot: &Slot) -> Result<Option<Vec<u8>>, CredentialError> {
        if let Some(reach) = &self.shared {
            return reach
                .get(slot.folder, slot.id)
                .map_err(shared_error(reach, false));
        }
        let path = self.path(slot);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CredentialError::Read {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Deletes a record; false when it was already gone.
    fn remove(&self, slot: &Slot) -> Result<bool, CredentialError> {
        match &self.shared {
            Some(reach) => reach
                .remove(slot.folder, slot.id)
                .map_err(shared_error(reach, true)),
            None => remove_if_present(self.path(slot)),
        }
    }

    fn save<T: Serialize>(&self, slot: Slot, record: &T) -> Result<(), CredentialError> {
        let bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        self.put_bytes(&slot, &bytes)
    }

    fn load<T: serde::de::DeserializeOwned>(
        &self,
        slot: Slot,
    ) -> Result<Option<T>, CredentialError> {
        let Some(bytes) = self.get_bytes(&slot)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CredentialError::Read {
                path: self.path(&slot),
                reason: e.to_string(),
            })
    }

    /// Notes that a token was issued from `api_key` at `at` (the caller throttles).
    pub fn note_used(&self, api_key: &str, at: DateTime<Utc>) -> Result<(), CredentialError> {
        let Ok(id) = Uuid::parse_str(api_key.trim()) else {
            return Ok(());
        };
        let id = id.to_string();
        self.put_bytes(&Slot::used(&id), at.to_rfc3339().as_bytes())
    }

    /// When a token was last issued from `api_key`, if ever noted.
    pub fn last_used(&self, api_key: &str) -> Option<DateTime<Utc>> {
        let id = Uuid::parse_str(api_key.trim()).ok()?.to_string();
        let bytes = self.get_bytes(&Slot::used(&id)).ok()??;
        let text = String::from_utf8(bytes).ok()?;
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Creates an API key for a source. Returns the record and the secret, which is
    /// never stored and cannot be shown again.
    pub fn create_key(
        &self,
        source_id: Uuid,
        source_name: &str,
        environment: Environment,
    ) -> Result<(ApiKeyRecord, String), CredentialError> {
        let api_key = Uuid::new_v4();
        let secret = random_hex(32)?;
        let record = ApiKeyRecord {
            api_key: api_key.to_string(),
            source_id,
            source_name: source_name.to_string(),
            environment,
            secret_sha256: hex(&sha256(secret.as_bytes())),
            created_at: Utc::now(),
            client: None,
        };
        self.save(Slot::key(&record.api_key), &record)?;
        Ok((record, secret))
    }

    /// The key record, whatever the secret; `None` for an unknown or malformed key.
    pub fn key(&self, api_key: &str) -> Result<Option<ApiKeyRecord>, CredentialError> {
        let Ok(id) = Uuid::parse_str(api_key.trim()) else {
            return Ok(None);
        };
        self.load(Slot::key(&id.to_string()))
    }

    /// The key record when `secret` is right. An OAuth client never logs in this way.
    pub fn check_key(
        &self,
        api_key: &str,
        secret: &str,
    ) -> Result<Option<ApiKeyRecord>, CredentialError> {
        Ok(self
            .key(api_key)?
            .filter(|r| r.client.is_none() && secret_matches(&r.secret_sha256, secret)))
    }

    /// Deletes an API key's file: no new logins. Its tokens end only with a revocation
    /// record (`engine::revocation`), which `keys revoke` writes too.
    pub fn revoke_key(&self, api_key: &str) -> Result<bool, CredentialError> {
        let Ok(id) = Uuid::parse_str(api_key.trim()) else {
            return Ok(false);
        };
        self.remove(&Slot::key(&id.to_string()))
    }

    /// Creates an admin token `sbt_<id>_<secret>` with the default lifetime.
    pub fn create_token(
        &self,
        role: Role,
        name: &str,
    ) -> Result<(TokenRecord, String), CredentialError> {
        self.create_token_for(role, name, DEFAULT_ADMIN_TOKEN_LIFETIME)
    }

    /// Creates an admin token `sbt_<id>_<secret>` that expires after `lifetime`; the
    /// token is printed once and stored hashed.
    pub fn create_token_for(
        &self,
        role: Role,
        name: &str,
        lifetime: chrono::Duration,
    ) -> Result<(TokenRecord, String), CredentialError> {
        let id = random_hex(8)?;
        let now = Utc::now();
        let secret = random_hex(32)?;
        let record = TokenRecord {
            id: id.clone(),
            name: name.to_string(),
            role,
            secret_sha256: hex(&sha256(secret.as_bytes())),
            created_at: now,
            expires_at: Some(now + lifetime),
            client: None,
        };
        self.save(Slot::token(&id), &record)?;
        Ok((record, format!("sbt_{id}_{secret}")))
    }

    /// Every record of one folder (`keys` or `tokens`), oldest first; an unreadable
    /// record is an error that names it.
    fn list<T: serde::de::DeserializeOwned>(
        &self,
        folder: &'static str,
        created: impl Fn(&T) -> DateTime<Utc>,
    ) -> Result<Vec<T>, CredentialError> {
        let mut records = Vec::new();
        if let Some(reach) = &self.shared {
            for bytes in reach.list(folder).map_err(shared_error(reach, false))? {
                let record = serde_json::from_slice(&bytes).map_err(|e| CredentialError::Read {
                    path: PathBuf::from(reach.shown()),
                    reason: format!("a record of {folder}: {e}"),
                })?;
                records.push(record);
            }
            records.sort_by_key(|r| created(r));
            return Ok(records);
        }
        let dir = self.dir.join(folder);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(CredentialError::Read {
                    path: dir,
                    reason: e.to_string(),
                });
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Temp files of an atomic write in progress start with a dot.
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| !n.starts_with('.'))
                .and_then(|n| n.strip_suffix(".json"));
            if let Some(id) = id
                && let Some(record) = self.load::<T>(Slot { folder, id })?
            {
                records.push(record);
            }
        }
        records.sort_by_key(|r| created(r));
        Ok(records)
    }

    /// Every API key on disk (revoked keys are deleted, so these are the live ones).
    pub fn keys(&self) -> Result<Vec<ApiKeyRecord>, CredentialError> {
        self.list("keys", |r: &ApiKeyRecord| r.created_at)
    }

    /// Every admin token on disk, expired ones included.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, CredentialError> {
        self.list("tokens", |r: &TokenRecord| r.created_at)
    }

    /// One admin token's or user key's record by its ID.
    pub fn token(&self, id: &str) -> Result<Option<TokenRecord>, CredentialError> {
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        self.load(Slot::token(id))
    }

    /// Deletes an admin token's file; false when it was already gone.
    pub fn delete_token(&self, id: &str) -> Result<bool, CredentialError> {
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        self.remove(&Slot::token(id))
    }

    /// The token's record when the token is genuine (expired or not: the caller says
    /// which, so that an expired token is told so).
    pub fn check_token(&self, token: &str) -> Result<Option<TokenRecord>, CredentialError> {
        let Some(rest) = token.trim().strip_prefix("sbt_") else {
            return Ok(None);
        };
        let Some((id, secret)) = rest.split_once('_') else {
            return Ok(None);
        };
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        Ok(self
            .load::<TokenRecord>(Slot::token(id))?
            .filter(|r| secret_matches(&r.secret_sha256, secret)))
    }
}

impl<'a> Slot<'a> {
    fn key(id: &'a str) -> Self {
        Slot { folder: "keys", id }
    }

    fn token(id: &'a str) -> Self {
        Slot {
            folder: "tokens",
            id,
        }
    }

    /// When a key was last used: beside, not inside, the key's record, so that noting
    /// a use can never write back a key that was just revoked.
    fn used(id: &'a str) -> Self {
        Slot { folder: "used", id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tokens_round_trip_and_store_no_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = Credentials::new(dir.path());
        let source = Uuid::new_v4();
        let (rec, secret) = creds
            .create_key(source, "Lab", Environment::Staging)
            .expect("create");
        assert_eq!(secret.len(), 64);
        let on_disk = std::fs::read_to_string(
            dir.path()
                .join("credentials/keys")
                .join(format!("{}.json", rec.api_key)),
        )
        .expect("file");
        assert!(!on_disk.contains(&secret));
        assert_eq!(
            creds
                .check_key(&rec.api_key, &secret)
                .expect("check")
                .map(|r| r.source_id),
            Some(source)
        );
        assert!(
            creds
                .check_key(&rec.api_key, "wrong")
                .expect("check")
                .is_none()
        );
        assert!(
            creds
                .check_key("../../etc/passwd", &secret)
                .expect("check")
                .is_none()
        );

        let (tok, token) = creds.create_token(Role::Operator, "ops").expect("token");
        assert_eq!(
            creds.check_token(&token).expect("check").map(|t| t.role),
            Some(Role::Operator)
        );
        assert!(
            creds
                .check_token(&format!("sbt_{}_nope", tok.id))
                .expect("check")
                .is_none()
        );
        assert!(creds.check_token("sbt_../../x_y").expect("check").is_none());
    }
}
