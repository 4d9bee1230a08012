//! What `switchboard export` moves beside history and queues, so an installation moved
//! to PostgreSQL keeps working as it was: credentials (API keys, OAuth clients, user
//! keys, admin tokens, last-used notes) and revocations, verification records, the
//! audit trail, the composer's history and uploads (index and files). Each keeps its ID, so an export run again
//! adds only what is missing. Sessions (access and refresh tokens) are not moved:
//! clients authenticate again, as after any engine change.

use super::records::Reach;
use super::{PgError, PgStore, Result};
use crate::store::audit::AuditRecord;
use serde::Serialize;
use std::path::Path;
use uuid::Uuid;

/// What was carried (records already there are written again, unchanged).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Carried {
    pub credentials: u64,
    pub revocations: u64,
    pub verifications: u64,
    pub audit: u64,
    pub composer: u64,
    pub uploads: u64,
}

/// The kind of revocation and verification records among the shared records (as
/// `store::revocations` and `engine::verify` name them).
const REVOCATION_KIND: &str = "revocation";
const VERIFICATION_KIND: &str = "verification";

/// Copies the credential files under `data_dir` to `reach`: each folder of
/// `credentials/` is a kind, each file a record (its name without `.json`), and each
/// line of `credentials/revoked.jsonl` a revocation (named by its hash, so copying
/// it twice keeps one); `verifications/*.json` likewise.
pub fn carry_files(data_dir: &Path, reach: &Reach) -> Result<Carried> {
    let mut carried = Carried::default();
    let credentials = data_dir.join("credentials");
    for folder in subdirectories(&credentials)? {
        let kind = folder_name(&folder);
        for (id, bytes) in record_files(&folder, kind != "used")? {
            reach.put(&kind, &id, &bytes)?;
            carried.credentials += 1;
        }
    }
    match std::fs::read(credentials.join("revoked.jsonl")) {
        Ok(bytes) => {
            for line in bytes.split(|&b| b == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                reach.put(REVOCATION_KIND, &line_id(line), line)?;
                carried.revocations += 1;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(unreadable(&credentials.join("revoked.jsonl"), &e)),
    }
    for (id, bytes) in record_files(&data_dir.join("verifications"), true)? {
        reach.put(VERIFICATION_KIND, &id, &bytes)?;
        carried.verifications += 1;
    }
    Ok(carried)
}

/// A revocation line's record ID: the first 16 bytes of its SHA-256, in hex.
fn line_id(line: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(line)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unreadable(path: &Path, e: &std::io::Error) -> PgError {
    PgError::Query {
        at: path.display().to_string(),
        detail: format!("cannot read it to export: {e}"),
    }
}

fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn subdirectories(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(dir, &e)),
    };
    let mut found: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    Ok(found)
}

/// The records of a folder: (name, bytes), `.json` taken off when `json`; files being
/// written (hidden temporaries) are left out.
fn record_files(dir: &Path, json: bool) -> Result<Vec<(String, Vec<u8>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(dir, &e)),
    };
    let mut records = Vec::new();
    for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_file()) {
        let name = folder_name(&path);
        if name.starts_with('.') {
            continue;
        }
        let id = match json {
            true => match name.strip_suffix(".json") {
                Some(id) => id.to_string(),
                None => continue,
            },
            false => name,
        };
        let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, &e))?;
        records.push((id, bytes));
    }
    records.sort();
    Ok(records)
}

impl PgStore {
    /// The uploads of `store` (every environment's index entries, and each file's
    /// bytes as stored under `data_dir`); returns how many uploads there were.
    pub async fn import_uploads(
        &self,
        store: &crate::store::Store,
        data_dir: &Path,
    ) -> Result<u64> {
        use crate::model::Environment;
        let mut count = 0;
        for environment in Environment::ALL {
            let uploads = store.uploads_of(environment).map_err(|e| PgError::Query {
                at: data_dir.display().to_string(),
                detail: format!("cannot read the uploads to export: {e}"),
            })?;
            for (id, record) in uploads {
                let path = crate::store::uploads::file_path(data_dir, environment, &record.sha256);
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        self.put_upload_file(environment, &record.sha256, &bytes)
                            .await?
                    }
                    // `check` reports a missing file; its record still moves.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(unreadable(&path, &e)),
                }
                self.import_upload(environment, id, &record).await?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Audit entries with their IDs (those already there are left as they are).
    pub async fn import_audit(&self, records: &[AuditRecord]) -> Result<u64> {
        let mut added = 0;
        for record in records {
            added += u64::from(self.insert_audit(record.id, &record.entry).await?);
        }
        Ok(added)
    }

    /// Composer history entries as stored (ID, record), kept as they are.
    pub async fn import_composer(&self, entries: &[(Uuid, Vec<u8>)]) -> Result<u64> {
        let client = self.client().await?;
        let mut added = 0;
        for (id, record) in entries {
            added += client
                .execute(
                    "INSERT INTO composer_history (id, owner, record) VALUES ($1, '', $2)
                     ON CONFLICT DO NOTHING",
                    &[id, record],
                )
                .await
                .map_err(|e| self.at.query_error(&e))?;
        }
        Ok(added)
    }
}
