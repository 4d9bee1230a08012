//! How a command on the same machine reaches the engine that holds a data directory.
//!
//! sled allows one process per database, so while an engine runs, commands that need
//! the store (`backup`, `tokens list`, …) must go through it. At start the engine writes
//! `<data dir>/run/engine.json` (mode 0600): its admin API's address, its pid and a
//! random admin secret that lives only in this process's memory and dies with it.
//! Whoever can read that file can already read the whole database beside it, so the
//! secret grants nothing new; it just lets the command line use the admin API without
//! an admin token of its own.

use crate::store::credentials::{random_hex, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// Prefix of the per-process secret, so it is never mistaken for an `sbt_` token.
const SECRET_PREFIX: &str = "sbl_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFile {
    /// The engine's base URL, e.g. `http://127.0.0.1:8443`.
    pub url: String,
    pub pid: u32,
    /// The per-process admin secret.
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("cannot reach the running engine at {url} (pid {pid}): {reason}")]
    Unreachable {
        url: String,
        pid: u32,
        reason: String,
    },
    #[error("the running engine at {url} answered {status}: {text}")]
    Refused {
        url: String,
        status: u16,
        text: String,
    },
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("engine.json")
}

/// A fresh per-process admin secret.
pub fn new_secret() -> String {
    // The system random source failing is not something to limp on without: an empty
    // secret would match nothing, so the command line simply cannot attach.
    format!("{SECRET_PREFIX}{}", random_hex(32).unwrap_or_default())
}

/// True when `given` is this process's secret (constant time).
pub fn secret_matches(secret: &str, given: &str) -> bool {
    secret.len() > SECRET_PREFIX.len() && bool::from(secret.as_bytes().ct_eq(given.as_bytes()))
}

/// Records where this engine listens; called once it accepts connections.
pub fn write(data_dir: &Path, url: &str, secret: &str) -> std::io::Result<()> {
    let file = path(data_dir);
    let record = RunFile {
        url: url.to_string(),
        pid: std::process::id(),
        token: secret.to_string(),
    };
    let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
        restrict(dir, 0o700);
    }
    write_atomic(&file, &bytes)?;
    restrict(&file, 0o600);
    Ok(())
}

/// Removes the record if it is this process's (a newer engine's is left alone).
pub fn remove(data_dir: &Path) {
    if read(data_dir).is_some_and(|r| r.pid == std::process::id()) {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

fn read(data_dir: &Path) -> Option<RunFile> {
    let bytes = std::fs::read(path(data_dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The engine running on `data_dir`, if its record names a live process. A record left
/// by a killed engine names a dead pid (or, rarely, a reused one: the caller then fails
/// to connect and says so).
pub fn running(data_dir: &Path) -> Option<RunFile> {
    let record = read(data_dir)?;
    process_alive(record.pid).then_some(record)
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) {}

impl RunFile {
    /// Calls the running engine's admin API (`path` under `/admin/v1`) and returns its
    /// JSON answer; an error answer becomes [`AttachError::Refused`] with its text.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, AttachError> {
        let unreachable = |reason: String| AttachError::Unreachable {
            url: self.url.clone(),
            pid: self.pid,
            reason,
        };
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        let mut request = client
            .request(method, format!("{}/admin/v1{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let value: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let text = value["Meta"]["Errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["Text"].as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| status.to_string());
        Err(AttachError::Refused {
            url: self.url.clone(),
            status: status.as_u16(),
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_this_process_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = new_secret();
        write(dir.path(), "http://127.0.0.1:1", &secret).expect("write");
        let found = running(dir.path()).expect("this process is alive");
        assert_eq!(found.pid, std::process::id());
        assert!(secret_matches(&secret, &found.token));
        assert!(!secret_matches(&secret, "sbl_other"));
        assert!(!secret_matches("", ""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        remove(dir.path());
        assert!(running(dir.path()).is_none());
    }
}
