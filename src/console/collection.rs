//! Saved requests, the console's own collection: a directory of small JSON files meant
//! to be reviewed in git. The console reads and writes them; the engine never does (same
//! format and place as when they were kept under `store`, so existing files still open).
//!
//! One request per file, `<name>.json`, pretty-printed with two-space indentation, keys
//! in a fixed order and a trailing newline, so a change to one field is a one-line diff:
//!
//! ```json
//! {
//!   "environment": "Development",
//!   "source": "Switchboard Console",
//!   "destination": "Sandbox EHR",
//!   "dataModel": "PatientSearch",
//!   "event": "Query",
//!   "body": {
//!     "Meta": { "DataModel": "PatientSearch", "EventType": "Query", "...": "..." },
//!     "Patient": { "Identifiers": [ { "ID": "{{mrn}}", "IDType": "MR" } ] }
//!   }
//! }
//! ```
//!
//! Source and destination are kept by name, not ID: IDs differ between installations,
//! names are what a reviewer reads (`Registry::source_named` / `destination_named`
//! accept either). The body is JSON, not a string of JSON, so it diffs by line;
//! `{{variables}}` inside strings are kept as written. Writes go to a temporary file
//! first and are renamed into place, so a crash never leaves half a file.
//!
//! The directory is the caller's choice (a git checkout, or [`default_dir`]). A reopened
//! request's names are matched against the connections the engine shows; an engine
//! resolves the same names with its registry's `resolve_saved`.

use crate::model::Environment;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Longest name, in characters.
pub const MAX_NAME: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedRequest {
    pub environment: Environment,
    pub source: String,
    pub destination: String,
    pub data_model: String,
    pub event: String,
    pub body: Value,
}

impl SavedRequest {
    /// The body as the editor shows it (pretty, two-space indent, trailing newline).
    pub fn body_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.body).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedError {
    #[error(
        "\"{0}\" cannot name a saved request: use up to {MAX_NAME} letters, digits, spaces, \
         _ . or -, not starting with . or a space"
    )]
    InvalidName(String),
    #[error("{0} already exists; save under another name or overwrite it")]
    Exists(String),
    #[error("no saved request \"{0}\"")]
    NotFound(String),
    #[error(
        "the body is not valid JSON (line {line}, column {column}): {message}; fix it before saving"
    )]
    BodyNotJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} is not a saved request: {reason}")]
    Unreadable { path: String, reason: String },
}

/// Where saved requests live when the user has not chosen: `<data dir>/requests`.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("requests")
}

/// Parses the editor's text as a body.
pub fn parse_body(text: &str) -> Result<Value, SavedError> {
    serde_json::from_str(text).map_err(|e| SavedError::BodyNotJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

fn check_name(name: &str) -> Result<(), SavedError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && !name.starts_with(['.', ' '])
        && !name.ends_with(' ')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SavedError::InvalidName(name.to_string()))
    }
}

fn file_of(dir: &Path, name: &str) -> Result<PathBuf, SavedError> {
    check_name(name)?;
    Ok(dir.join(format!("{name}.json")))
}

fn io(path: &Path, e: std::io::Error) -> SavedError {
    SavedError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `request` as `<dir>/<name>.json` (creating `dir`); refuses to replace an
/// existing file unless `overwrite`. Returns the file's path.
pub fn save(
    dir: &Path,
    name: &str,
    request: &SavedRequest,
    overwrite: bool,
) -> Result<PathBuf, SavedError> {
    let path = file_of(dir, name)?;
    if !overwrite && path.exists() {
        return Err(SavedError::Exists(path.display().to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut text = serde_json::to_string_pretty(request).unwrap_or_default();
    text.push('\n');
    let temp = dir.join(format!(".{name}.json.tmp"));
    std::fs::write(&temp, text).map_err(|e| io(&temp, e))?;
    std::fs::rename(&temp, &path).map_err(|e| io(&path, e))?;
    Ok(path)
}

/// Reads `<dir>/<name>.json`.
pub fn load(dir: &Path, name: &str) -> Result<SavedRequest, SavedError> {
    let path = file_of(dir, name)?;
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SavedError::NotFound(name.to_string()),
        _ => io(&path, e),
    })?;
    serde_json::from_str(&text).map_err(|e| SavedError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Deletes `<dir>/<name>.json`.
pub fn remove(dir: &Path, name: &str) -> Result<(), SavedError> {
    let path = file_of(dir, name)?;
    std::fs::remove_file(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SavedError::NotFound(name.to_string()),
        _ => io(&path, e),
    })
}

/// One file of the collection: its name and the request, or why it could not be read
/// (a bad merge, a hand edit), so one broken file does not hide the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub name: String,
    pub request: Result<SavedRequest, SavedError>,
}

/// Every `*.json` of `dir`, sorted by name; an absent directory is an empty collection.
pub fn list(dir: &Path) -> Result<Vec<Listed>, SavedError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io(dir, e))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        // Temporary files of an interrupted save, and names we would not write.
        if check_name(name).is_err() {
            continue;
        }
        out.push(Listed {
            name: name.to_string(),
            request: load(dir, name),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> SavedRequest {
        SavedRequest {
            environment: Environment::Development,
            source: "Switchboard Console".into(),
            destination: "Sandbox EHR".into(),
            data_model: "PatientSearch".into(),
            event: "Query".into(),
            body: parse_body(
                "{\"Meta\": {\"DataModel\": \"PatientSearch\", \"EventType\": \"Query\"},\n \"Patient\": {\"Identifiers\": [{\"ID\": \"{{mrn}}\", \"IDType\": \"MR\"}]}}",
            )
            .expect("JSON"),
        }
    }

    #[test]
    fn save_load_list_round_trip_in_a_diffable_shape() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = dir.path().join("collection");
        let path = save(&dir, "find patient 1", &request(), false).expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("{\n  \"environment\": \"Development\",\n  \"source\": "),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
        assert!(
            text.contains("\n          \"ID\": \"{{mrn}}\",\n"),
            "{text}"
        );
        assert_eq!(load(&dir, "find patient 1").expect("load"), request());

        assert!(matches!(
            save(&dir, "find patient 1", &request(), false),
            Err(SavedError::Exists(_))
        ));
        let mut changed = request();
        changed.event = "LocationQuery".into();
        save(&dir, "find patient 1", &changed, true).expect("overwrite");
        let after = std::fs::read_to_string(&path).expect("read");
        let differing = text
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 1, "one field, one line");

        save(&dir, "a-first", &request(), false).expect("save");
        std::fs::write(dir.join("broken.json"), "{\"environment\": ").expect("write");
        std::fs::write(dir.join("notes.txt"), "not a request").expect("write");
        std::fs::write(dir.join(".x.json.tmp"), "{}").expect("write");
        let listed = list(&dir).expect("list");
        let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, vec!["a-first", "broken", "find patient 1"]);
        assert!(matches!(
            listed[1].request,
            Err(SavedError::Unreadable { .. })
        ));
        assert_eq!(request().body_text().lines().count(), 14);

        remove(&dir, "a-first").expect("remove");
        assert!(matches!(
            load(&dir, "a-first"),
            Err(SavedError::NotFound(_))
        ));
        assert!(list(&dir.join("absent")).expect("empty").is_empty());
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        for bad in [
            "",
            "../up",
            "a/b",
            ".hidden",
            " lead",
            "a\\b",
            "x\0",
            &"n".repeat(101),
        ] {
            assert!(
                matches!(
                    save(dir.path(), bad, &request(), false),
                    Err(SavedError::InvalidName(_))
                ),
                "{bad:?}"
            );
        }
        let err = parse_body("{\n  \"a\": }").unwrap_err();
        assert!(
            matches!(err, SavedError::BodyNotJson { line: 2, .. }),
            "{err}"
        );
        assert_eq!(
            request().body["Patient"]["Identifiers"][0]["ID"],
            json!("{{mrn}}")
        );
    }
}
