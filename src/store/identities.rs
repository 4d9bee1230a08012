//! IDs generated for configured organizations, sources and destinations that have none in the config
//! file, kept in `data_dir/identities.json` so they never change between runs. A lock
//! file serializes the read-modify-write between an engine and CLI commands.

use super::atomic::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identities {
    #[serde(default)]
    pub sources: BTreeMap<String, Uuid>,
    #[serde(default)]
    pub destinations: BTreeMap<String, Uuid>,
    /// Absent from files written before organizations existed.
    #[serde(default)]
    pub organizations: BTreeMap<String, Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Destination,
    Organization,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot keep generated IDs in {path}: {reason}")]
pub struct IdentityError {
    pub path: PathBuf,
    pub reason: String,
}

/// The IDs generated so far (none when the file does not exist yet).
pub fn load(data_dir: &Path) -> Result<Identities, IdentityError> {
    let path = data_dir.join("identities.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| IdentityError {
            path,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Identities::default()),
        Err(e) => Err(IdentityError {
            path,
            reason: e.to_string(),
        }),
    }
}

/// Returns a stable ID for every (kind, name), generating and saving those not yet known.
pub fn resolve(data_dir: &Path, wanted: &[(Kind, &str)]) -> Result<Vec<Uuid>, IdentityError> {
    let path = data_dir.join("identities.json");
    let err = |reason: String| IdentityError {
        path: path.clone(),
        reason,
    };
    std::fs::create_dir_all(data_dir).map_err(|e| err(e.to_string()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("identities.lock"))
        .map_err(|e| err(e.to_string()))?;
    lock.lock().map_err(|e| err(e.to_string()))?;

    let mut ids: Identities = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Identities::default(),
        Err(e) => return Err(err(e.to_string())),
    };
    let mut changed = false;
    let out = wanted
        .iter()
        .map(|(kind, name)| {
            let map = match kind {
                Kind::Source => &mut ids.sources,
                Kind::Destination => &mut ids.destinations,
                Kind::Organization => &mut ids.organizations,
            };
            *map.entry(name.to_string()).or_insert_with(|| {
                changed = true;
                Uuid::new_v4()
            })
        })
        .collect();
    if changed {
        let bytes = serde_json::to_vec_pretty(&ids).unwrap_or_default();
        write_atomic(&path, &bytes).map_err(|e| err(e.to_string()))?;
    }
    let _ = lock.unlock();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = resolve(
            dir.path(),
            &[(Kind::Source, "Lab"), (Kind::Destination, "Lab")],
        )
        .expect("resolve");
        assert_ne!(first[0], first[1]);
        let again = resolve(
            dir.path(),
            &[(Kind::Destination, "Lab"), (Kind::Source, "Lab")],
        )
        .expect("resolve");
        assert_eq!(again, vec![first[1], first[0]]);
    }
}
