//! Revocation records: `credentials/revoked.jsonl`, one JSON object a line, append-only,
//! mode 0600.
//!
//! A file beside the credentials, not sled, so that `switchboard keys revoke` and
//! `tokens revoke` work while an engine holds the database lock; a running engine
//! watches the file (see `engine::revocation`). Appends of one short line with
//! `O_APPEND` do not interleave between processes, so the command line and the engine
//! may both write. A torn last line (a crash mid-write) is skipped when read.

use super::credentials::{CredentialError, shared_error};
use super::postgres::records::Reach;
use crate::model::Environment;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use uuid::Uuid;

// The kind is said to the console as well: one enum, kept with the wire types.
pub use crate::model::view::RevokedKind;

/// One revocation: who revoked what, and when. The descriptive fields keep `keys list`
/// and `tokens list` able to say what a revoked credential was once its file is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub kind: RevokedKind,
    /// The API key UUID, the client ID or the admin token ID.
    pub id: String,
    /// The source's name (keys and clients) or the token's name (admin tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    pub actor: String,
    /// An OAuth client's kind (`jwks`, `jwks-url`, `hs384`), for `keys list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_kind: Option<String>,
}

/// Everything revoked so far, for checks on the request path (set lookups only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Revoked {
    /// API keys and client IDs: a session names the one it was made from.
    keys: HashSet<String>,
    admin_tokens: HashSet<String>,
    pub records: Vec<Revocation>,
}

impl Revoked {
    pub fn from_records(records: Vec<Revocation>) -> Revoked {
        let mut revoked = Revoked::default();
        for r in &records {
            match r.kind {
                RevokedKind::ApiKey | RevokedKind::ClientId => {
                    revoked.keys.insert(r.id.to_ascii_lowercase());
                }
                RevokedKind::AdminToken => {
                    revoked.admin_tokens.insert(r.id.to_ascii_lowercase());
                }
            }
        }
        revoked.records = records;
        revoked
    }

    pub fn key_revoked(&self, api_key_or_client: &str) -> bool {
        !self.keys.is_empty() && self.keys.contains(&api_key_or_client.to_ascii_lowercase())
    }

    pub fn admin_token_revoked(&self, id: &str) -> bool {
        !self.admin_tokens.is_empty() && self.admin_tokens.contains(&id.to_ascii_lowercase())
    }

    /// Whether a session's credential is revoked: its API key, or for a composer token,
    /// the admin token that minted it.
    pub fn session_revoked(&self, api_key: &str) -> bool {
        match composer_admin_token(api_key) {
            Some(id) => self.admin_token_revoked(id),
            None => self.key_revoked(api_key),
        }
    }
}

/// The admin token ID in a composer session's `api_key`, `composer:token:NAME (ID)`
/// (the actor the admin API names). `None` for a source session, or a composer token
/// of an embedded console (no admin token behind it).
pub fn composer_admin_token(api_key: &str) -> Option<&str> {
    let actor = api_key.strip_prefix("composer:")?;
    let rest = actor.strip_prefix("token:")?.strip_suffix(')')?;
    // The last parenthesis: a token's name may hold parentheses of its own.
    let (_, id) = rest.rsplit_once('(')?;
    Some(id)
}

/// The file's size and modification time: when neither changed, nothing was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug, Clone)]
pub struct RevocationLog {
    path: PathBuf,
    /// On a store shared by several nodes, the records live there instead.
    shared: Option<Reach>,
}

/// The kind of revocation records among the shared records.
const SHARED_KIND: &str = "revocation";

impl RevocationLog {
    pub fn new(data_dir: &Path) -> RevocationLog {
        RevocationLog {
            path: data_dir.join("credentials").join("revoked.jsonl"),
            shared: None,
        }
    }

    /// The records of `credentials`: in the shared store when they are there.
    pub fn of(data_dir: &Path, credentials: &super::credentials::Credentials) -> RevocationLog {
        RevocationLog {
            shared: credentials.reach().cloned(),
            ..RevocationLog::new(data_dir)
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `records` durably (synced before returning).
    pub fn append(&self, records: &[Revocation]) -> Result<(), CredentialError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(reach) = &self.shared {
            for r in records {
                let bytes = serde_json::to_vec(r).unwrap_or_default();
                reach
                    .put(SHARED_KIND, &Uuid::now_v7().to_string(), &bytes)
                    .map_err(shared_error(reach, true))?;
            }
            return Ok(());
        }
        let write_error = |e: std::io::Error| CredentialError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let mut bytes = Vec::new();
        for r in records {
            // Plain data: serializing cannot fail.
            bytes.extend(serde_json::to_vec(r).unwrap_or_default());
            bytes.push(b'\n');
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(write_error)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(write_error)?;
        file.write_all(&bytes).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        Ok(())
    }

    /// Every record; a line that does not parse (a torn write) is skipped and logged.
    pub fn load(&self) -> Result<Revoked, CredentialError> {
        if let Some(reach) = &self.shared {
            let mut records = Vec::new();
            for bytes in reach
                .list(SHARED_KIND)
                .map_err(shared_error(reach, false))?
            {
                match serde_json::from_slice(&bytes) {
                    Ok(r) => records.push(r),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping an unreadable revocation record")
                    }
                }
            }
            return Ok(Revoked::from_records(records));
        }
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(CredentialError::Read {
                    path: self.path.clone(),
                    reason: e.to_string(),
                });
            }
        };
        let mut records = Vec::new();
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice(line) {
                Ok(r) => records.push(r),
                Err(e) => tracing::warn!(
                    path = %self.path.display(),
                    line = n + 1,
                    error = %e,
                    "skipping an unreadable revocation record"
                ),
            }
        }
        Ok(Revoked::from_records(records))
    }

    /// `None` while the file does not exist. Shared records are only ever added: their
    /// count is their stamp.
    pub fn stamp(&self) -> Option<Stamp> {
        if let Some(reach) = &self.shared {
            return match reach.count(SHARED_KIND) {
                Ok(len) => Some(Stamp {
                    len,
                    modified: None,
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for new revocations");
                    None
                }
            };
        }
        let meta = std::fs::metadata(&self.path).ok()?;
        Some(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: RevokedKind, id: &str) -> Revocation {
        Revocation {
            at: Utc::now(),
            kind,
            id: id.into(),
            name: None,
            source_id: None,
            environment: None,
            created_at: None,
            actor: "test".into(),
            client_kind: None,
        }
    }

    #[test]
    fn appended_records_are_read_back_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = RevocationLog::new(dir.path());
        assert!(log.stamp().is_none());
        assert_eq!(log.load().expect("empty"), Revoked::default());
        let key = Uuid::new_v4().to_string();
        log.append(&[record(RevokedKind::ApiKey, &key)])
            .expect("append");
        let first = log.stamp();
        log.append(&[record(RevokedKind::AdminToken, "00112233aabbccdd")])
            .expect("append");
        assert_ne!(log.stamp(), first);
        // A crash mid-append leaves half a line.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .expect("open");
        file.write_all(b"{\"at\":\"20").expect("torn");
        let revoked = log.load().expect("load");
        assert_eq!(revoked.records.len(), 2);
        assert!(revoked.key_revoked(&key.to_uppercase()));
        assert!(revoked.session_revoked(&key));
        assert!(!revoked.key_revoked(&Uuid::new_v4().to_string()));
        assert!(revoked.session_revoked("composer:token:ops (x) (00112233aabbccdd)"));
        assert!(!revoked.session_revoked("composer:token:ops (ffffffffffffffff)"));
        assert!(!revoked.session_revoked("composer:console (local)"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(log.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
