//! `keys revoke|list` and `tokens revoke|list` on a store shared by several nodes:
//! straight on the database, whether or not a node runs beside this command. The
//! revocation record is what every node enforces (each rereads them within a second);
//! the sessions it ends are removed and the audit entries written in the database too.

use super::CommandError;
use crate::engine::revocation::TokensListing;
use crate::engine::revocation::files::{self, KeyView, RevokeError, RevokeReport};
use crate::store::AuditEntry;
use crate::store::credentials::Credentials;
use crate::store::postgres::records::Reach;
use crate::store::postgres::{PgLocation, PgStore};
use crate::store::revocations::RevocationLog;
use chrono::Utc;
use std::path::Path;

/// Who the audit trail names for the command line.
const ACTOR: &str = "command line";

fn records(data_dir: &Path, at: &PgLocation) -> (Credentials, RevocationLog) {
    let credentials = Credentials::shared(data_dir, Reach::At(at.clone()));
    let log = RevocationLog::of(data_dir, &credentials);
    (credentials, log)
}

fn store_error(what: &'static str) -> impl Fn(crate::store::postgres::PgError) -> CommandError {
    move |e| CommandError::Store {
        what,
        reason: e.to_string(),
    }
}

pub async fn keys_revoke(
    data_dir: &Path,
    at: &PgLocation,
    targets: Vec<String>,
) -> Result<RevokeReport, CommandError> {
    let (credentials, log) = records(data_dir, at);
    let mut report = RevokeReport {
        revoked: Vec::new(),
        notes: Vec::new(),
    };
    for target in targets {
        let one = files::revoke_key(&credentials, &log, &target, ACTOR)?;
        report.revoked.extend(one.revoked);
        report.notes.extend(one.notes);
    }
    bookkeeping(at, &log, &mut report).await;
    Ok(report)
}

pub async fn tokens_revoke(
    data_dir: &Path,
    at: &PgLocation,
    name: &str,
) -> Result<RevokeReport, CommandError> {
    let (credentials, log) = records(data_dir, at);
    let mut report = files::revoke_token(&credentials, &log, name, ACTOR)?;
    bookkeeping(at, &log, &mut report).await;
    Ok(report)
}

pub fn keys_of_source(
    data_dir: &Path,
    at: &PgLocation,
    source: &str,
) -> Result<Vec<String>, CommandError> {
    Ok(files::keys_of_source(&records(data_dir, at).0, source)?)
}

pub fn keys_list(data_dir: &Path, at: &PgLocation) -> Result<Vec<KeyView>, CommandError> {
    let (credentials, log) = records(data_dir, at);
    let revoked = log.load().map_err(RevokeError::from)?;
    Ok(files::keys_listing(&credentials, &revoked)?)
}

pub async fn tokens_list(data_dir: &Path, at: &PgLocation) -> Result<TokensListing, CommandError> {
    let (credentials, log) = records(data_dir, at);
    let revoked = log.load().map_err(RevokeError::from)?;
    let store = PgStore::open(at, Default::default(), ACTOR)
        .await
        .map_err(store_error("list sessions"))?;
    // The listing reads sessions synchronously: on a blocking thread of its own.
    let listing = tokio::task::spawn_blocking(move || {
        files::listing(
            &credentials,
            &crate::store::sessions::Sessions::Shared(store),
            &revoked,
            |_| None,
        )
    })
    .await
    .map_err(|e| CommandError::Decode(e.to_string()))??;
    Ok(listing)
}

/// Ends the sessions the records now revoke and audits each revocation; a failure is
/// a note (the record is written, and every node refuses the tokens all the same).
async fn bookkeeping(at: &PgLocation, log: &RevocationLog, report: &mut RevokeReport) {
    let done = async {
        let revoked = log.load().map_err(|e| e.to_string())?;
        let store = PgStore::open(at, Default::default(), ACTOR)
            .await
            .map_err(|e| e.to_string())?;
        let ended: Vec<[u8; 32]> = store
            .sessions()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|(_, s)| revoked.session_revoked(&s.api_key))
            .map(|(hash, _)| hash)
            .collect();
        store
            .remove_sessions(&ended)
            .await
            .map_err(|e| e.to_string())?;
        for item in &report.revoked {
            let entry = AuditEntry {
                at: Utc::now(),
                actor: ACTOR.into(),
                action: item.action(),
                detail: Some(item.describe()),
                origin: Some("cli".into()),
                outcome: Some("ok".into()),
                ..AuditEntry::default()
            };
            store
                .append_audit(&entry)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    };
    if let Err(e) = done.await {
        report.notes.push(format!(
            "the revocation is recorded, but the shared store could not be updated ({e}); \
             every node refuses the tokens all the same"
        ));
    }
}
