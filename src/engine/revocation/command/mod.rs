//! `switchboard keys revoke|list` and `tokens revoke|list`: through the running engine
//! when there is one (it revokes at once, audits, and holds the sessions), else on the
//! files and the store directly (a later engine reads the records when it starts). On
//! a store shared by several nodes, on its database (`shared`).

mod shared;

use super::files::{self, KeyView, RevokeError, RevokeReport};
use super::{TokensListing, View};
use crate::engine::runfile::{self, AttachError, RunFile};
use crate::store::credentials::Credentials;
use crate::store::postgres::PgLocation;
use crate::store::revocations::RevocationLog;
use crate::store::{AuditEntry, OpenMode, Store};
use chrono::Utc;
use std::path::Path;

/// Who the audit trail names for the command line when no engine runs.
const OFFLINE_ACTOR: &str = "command line";

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Revoke(#[from] RevokeError),
    #[error(transparent)]
    Engine(#[from] AttachError),
    #[error("the running engine's answer could not be read: {0}")]
    Decode(String),
    #[error(
        "cannot open the store to {what}: {reason}. If an engine is starting on this data dir, \
         try again once it runs"
    )]
    Store { what: &'static str, reason: String },
}

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, CommandError> {
    serde_json::from_value(value).map_err(|e| CommandError::Decode(e.to_string()))
}

pub(crate) use crate::model::wire::path_segment as segment;

/// Writes sessions' removal and the audit entries to the store, when no engine holds
/// it. A failure here leaves the revocation in force (the record is on disk): it is
/// said as a note, not an error.
fn offline_bookkeeping(data_dir: &Path, report: &mut RevokeReport) {
    let done = (|| {
        // Sessions and audit only: no bodies, so no keys needed (an encrypted store
        // opens for maintenance without them).
        let store = Store::open_with(data_dir, OpenMode::Maintenance).map_err(|e| e.to_string())?;
        let revoked = RevocationLog::new(data_dir)
            .load()
            .map_err(|e| e.to_string())?;
        store
            .remove_sessions(|s| revoked.session_revoked(&s.api_key))
            .map_err(|e| e.to_string())?;
        for item in &report.revoked {
            store
                .append_audit(&AuditEntry {
                    at: Utc::now(),
                    actor: OFFLINE_ACTOR.into(),
                    action: item.action(),
                    log_id: None,
                    detail: Some(item.describe()),
                    origin: Some("cli".into()),
                    outcome: Some("ok".into()),
                    ..AuditEntry::default()
                })
                .map_err(|e| e.to_string())?;
        }
        store.db().flush().map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    })();
    if let Err(e) = done {
        report.notes.push(format!(
            "the revocation is recorded, but the store could not be updated ({e}); an \
             engine refuses the tokens all the same"
        ));
    }
}

/// `keys revoke API_KEY` or `keys revoke --source NAME`.
/// On a shared store (`shared`), straight on its database (see `shared`).
pub async fn keys_revoke(
    data_dir: &Path,
    shared: Option<&PgLocation>,
    target: Option<&str>,
    source: Option<&str>,
) -> Result<RevokeReport, CommandError> {
    let credentials = Credentials::new(data_dir);
    let targets = match (target, source, shared) {
        (Some(t), None, _) => vec![t.trim().to_string()],
        (None, Some(s), Some(at)) => shared::keys_of_source(data_dir, at, s)?,
        (None, Some(s), None) => files::keys_of_source(&credentials, s)?,
        _ => {
            return Err(RevokeError::Invalid(
                "name one API key, or a source with --source NAME (not both)".into(),
            )
            .into());
        }
    };
    if let Some(at) = shared {
        return shared::keys_revoke(data_dir, at, targets).await;
    }
    let mut report = RevokeReport {
        revoked: Vec::new(),
        notes: Vec::new(),
    };
    for target in targets {
        let one = match runfile::running(data_dir) {
            Some(engine) => {
                let path = format!("/keys/{}/revoke", segment(&target));
                online(&engine, &path, || {
                    files::revoke_key(
                        &credentials,
                        &RevocationLog::new(data_dir),
                        &target,
                        OFFLINE_ACTOR,
                    )
                })
                .await?
            }
            None => {
                let mut one = files::revoke_key(
                    &credentials,
                    &RevocationLog::new(data_dir),
                    &target,
                    OFFLINE_ACTOR,
                )?;
                offline_bookkeeping(data_dir, &mut one);
                one
            }
        };
        report.revoked.extend(one.revoked);
        report.notes.extend(one.notes);
    }
    Ok(report)
}

/// Through the running engine; if it cannot be reached, on the files (it picks the
/// record up within a second if it is alive at all).
async fn online(
    engine: &RunFile,
    path: &str,
    fallback: impl FnOnce() -> Result<RevokeReport, RevokeError>,
) -> Result<RevokeReport, CommandError> {
    match engine.admin(reqwest::Method::POST, path, None).await {
        Ok(answer) => decode(answer),
        Err(AttachError::Unreachable { url, reason, .. }) => {
            let mut report = fallback()?;
            report.notes.push(format!(
                "the engine at {url} did not answer ({reason}); the revocation is recorded \
                 and a running engine honours it within a second"
            ));
            Ok(report)
        }
        Err(e) => Err(e.into()),
    }
}

/// `tokens revoke NAME`.
pub async fn tokens_revoke(
    data_dir: &Path,
    shared: Option<&PgLocation>,
    name: &str,
) -> Result<RevokeReport, CommandError> {
    if let Some(at) = shared {
        return shared::tokens_revoke(data_dir, at, name).await;
    }
    let credentials = Credentials::new(data_dir);
    let log = RevocationLog::new(data_dir);
    match runfile::running(data_dir) {
        Some(engine) => {
            let path = format!("/tokens/{}/revoke", segment(name));
            online(&engine, &path, || {
                files::revoke_token(&credentials, &log, name, OFFLINE_ACTOR)
            })
            .await
        }
        None => {
            let mut report = files::revoke_token(&credentials, &log, name, OFFLINE_ACTOR)?;
            offline_bookkeeping(data_dir, &mut report);
            Ok(report)
        }
    }
}

/// `keys list`: from the files alone, engine or not.
pub fn keys_list(
    data_dir: &Path,
    shared: Option<&PgLocation>,
) -> Result<Vec<KeyView>, CommandError> {
    if let Some(at) = shared {
        return shared::keys_list(data_dir, at);
    }
    let revoked = RevocationLog::new(data_dir)
        .load()
        .map_err(RevokeError::from)?;
    Ok(files::keys_listing(&Credentials::new(data_dir), &revoked)?)
}

/// `tokens list`: sessions live in the store, so through the engine when it holds it.
pub async fn tokens_list(
    data_dir: &Path,
    shared: Option<&PgLocation>,
) -> Result<TokensListing, CommandError> {
    if let Some(at) = shared {
        return shared::tokens_list(data_dir, at).await;
    }
    if let Some(engine) = runfile::running(data_dir) {
        let answer = engine.admin(reqwest::Method::GET, "/tokens", None).await?;
        return decode(answer);
    }
    let store =
        Store::open_with(data_dir, OpenMode::Maintenance).map_err(|e| CommandError::Store {
            what: "list sessions",
            reason: e.to_string(),
        })?;
    let view = View::open(data_dir).map_err(RevokeError::from)?;
    Ok(files::listing(
        &Credentials::new(data_dir),
        &crate::store::sessions::Sessions::Embedded(store),
        &view.current(),
        |_| None,
    )?)
}

/// Text for `keys list`.
pub fn keys_text(keys: &[KeyView]) -> String {
    if keys.is_empty() {
        return "no API keys (`switchboard keys create --source NAME` makes one)\n".into();
    }
    let mut out = String::new();
    for k in keys {
        out += &format!(
            "{}  {:<8} {:<12} {:<24} created {}  used {}  {}\n",
            k.api_key,
            k.kind,
            k.environment.map(|e| e.to_string()).unwrap_or_default(),
            k.source.as_deref().unwrap_or("?"),
            k.created.as_deref().unwrap_or("?"),
            k.last_used.as_deref().unwrap_or("never"),
            match (&k.revoked, &k.revoked_at) {
                (true, Some(at)) => format!("revoked {at}"),
                (true, None) => "revoked".into(),
                (false, _) => "live".into(),
            }
        );
    }
    out
}

/// Text for `tokens list`.
pub fn tokens_text(listing: &TokensListing) -> String {
    let mut out = String::from("Admin tokens\n");
    if listing.admin_tokens.is_empty() {
        out += "  none live\n";
    }
    for t in &listing.admin_tokens {
        out += &format!(
            "  {:<20} {:<9} {}  created {}  expires {}\n",
            t.name,
            t.role.as_str(),
            t.id,
            t.created,
            t.expires
        );
    }
    out += "Sessions\n";
    if listing.sessions.is_empty() {
        out += "  none live\n";
    }
    for s in &listing.sessions {
        let who = s
            .api_key
            .as_deref()
            .map(|k| format!("key {k}"))
            .or_else(|| s.actor.as_deref().map(|a| format!("{} {a}", s.kind)))
            .unwrap_or_default();
        out += &format!(
            "  {who}  source {}  access {} refresh {}  until {}\n",
            s.source_name.as_deref().unwrap_or(&s.source_id.to_string()),
            s.access_tokens,
            s.refresh_tokens,
            s.expires
        );
    }
    out
}

/// Why an `--expires-in` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    #[error("\"{0}\" is not a lifetime: use days (90 or 90d), or 12h, 30m, 45s")]
    NotALifetime(String),
    #[error("unknown unit \"{unit}\" in \"{text}\": use d, h, m or s (days when none)")]
    UnknownUnit { unit: String, text: String },
    #[error("\"{0}\" is too long: at most 3650 days")]
    TooLong(String),
}

/// `--expires-in`: days by default (`90`, `90d`); `h`, `m` and `s` for shorter lives
/// (tests, a contractor's afternoon).
pub fn parse_lifetime(text: &str) -> Result<chrono::Duration, LifetimeError> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, "d"),
    };
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| LifetimeError::NotALifetime(text.to_string()))?;
    let lifetime = match unit {
        "d" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        "m" => chrono::Duration::try_minutes(n),
        "s" => chrono::Duration::try_seconds(n),
        other => {
            return Err(LifetimeError::UnknownUnit {
                unit: other.to_string(),
                text: text.to_string(),
            });
        }
    };
    lifetime
        .filter(|d| *d <= chrono::Duration::days(3650))
        .ok_or_else(|| LifetimeError::TooLong(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_default_to_days_and_refuse_nonsense() {
        assert_eq!(parse_lifetime("90"), Ok(chrono::Duration::days(90)));
        assert_eq!(parse_lifetime("7d"), Ok(chrono::Duration::days(7)));
        assert_eq!(parse_lifetime("2s"), Ok(chrono::Duration::seconds(2)));
        assert_eq!(parse_lifetime("12h"), Ok(chrono::Duration::hours(12)));
        assert!(parse_lifetime("0").is_err());
        assert!(parse_lifetime("-1").is_err());
        assert!(
            parse_lifetime("5w")
                .unwrap_err()
                .to_string()
                .contains("unit")
        );
        assert!(parse_lifetime("99999").is_err());
        assert_eq!(segment("ops team/1"), "ops%20team%2F1");
    }
}
