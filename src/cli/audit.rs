//! `switchboard audit export`, and the audit entries of the credential commands
//! (`tokens create`, `keys create`), which write files rather than go through an engine.

use crate::Locations;
use anyhow::Result;
use std::io::Write;
use switchboard::engine::audit::command;
use switchboard::store::audit::AuditFilter;

/// `--since` / `--until`: an ISO 8601 instant with offset.
pub fn instant(text: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    switchboard::model::time::parse_instant(text).ok_or_else(|| {
        format!("\"{text}\" is not an ISO 8601 instant with offset, e.g. 2024-05-01T12:00:00Z")
    })
}

/// One JSON object per line, oldest first.
pub fn export(
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    at: &Locations,
) -> Result<()> {
    let filter = AuditFilter {
        since,
        until,
        ..AuditFilter::default()
    };
    let shared = at.shared_store()?;
    let records = super::running::runtime()?.block_on(command::export(
        &at.data_dir(),
        shared.as_ref(),
        &filter,
    ))?;
    let mut out = std::io::stdout().lock();
    for record in records {
        // A closed pipe (`| head`) ends the export quietly.
        if writeln!(out, "{}", serde_json::to_string(&record)?).is_err() {
            break;
        }
    }
    Ok(())
}

/// Writes the entry of a credential just made. The credential exists either way, so a
/// failure is a warning, not an error.
pub fn note(at: &Locations, action: &str, detail: &str) {
    let recorded = at
        .shared_store()
        .and_then(|shared| Ok((shared, super::running::runtime()?)))
        .map_err(|e| e.to_string())
        .and_then(|(shared, rt)| {
            rt.block_on(command::record_local(
                &at.data_dir(),
                shared.as_ref(),
                action,
                detail,
            ))
            .map_err(|e| e.to_string())
        });
    if let Err(e) = recorded {
        eprintln!("warning: {action} was not written to the audit trail: {e}");
    }
}
