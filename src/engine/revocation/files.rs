//! Revocation on the files alone: shared by the engine's admin API and the command line
//! when no engine runs. Deleting a credential's file stops new logins; the record in
//! `revoked.jsonl` ends the tokens already made from it.

use super::{AdminTokenView, SessionGroup, TokensListing, format_time};
use crate::store::StoreError;
use crate::store::credentials::{CredentialError, Credentials};
use crate::store::revocations::{Revocation, RevocationLog, Revoked, RevokedKind};
use chrono::{DateTime, Utc};

pub use crate::model::view::{RevokeReport, RevokedItem};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// Nothing by that name or ID; the text says where to look.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub use crate::model::view::KeyView;

fn record(kind: RevokedKind, id: &str, actor: &str) -> Revocation {
    Revocation {
        at: Utc::now(),
        kind,
        id: id.to_string(),
        name: None,
        source_id: None,
        environment: None,
        created_at: None,
        actor: actor.to_string(),
        client_kind: None,
    }
}

/// Revokes one API key (its UUID). A UUID with no key file is recorded all the same: a
/// key deleted by hand (or by an older `simulate`) may still have live tokens.
/// An OAuth client's ID is recorded as [`RevokedKind::ClientId`].
pub fn revoke_key(
    credentials: &Credentials,
    log: &RevocationLog,
    target: &str,
    actor: &str,
) -> Result<RevokeReport, RevokeError> {
    let target = target.trim();
    let Ok(api_key) = Uuid::parse_str(target) else {
        return Err(RevokeError::Invalid(format!(
            "\"{target}\" is not an API key (a UUID such as the apiKey `switchboard keys \
             create` printed). `switchboard keys list` shows the keys; to revoke every key \
             of a source use `switchboard keys revoke --source NAME`."
        )));
    };
    let api_key = api_key.to_string();
    let found = credentials.key(&api_key)?;
    let mut rec = record(RevokedKind::ApiKey, &api_key, actor);
    if let Some(key) = &found {
        rec.name = Some(key.source_name.clone());
        rec.source_id = Some(key.source_id);
        rec.environment = Some(key.environment);
        rec.created_at = Some(key.created_at);
        if key.client.is_some() {
            rec.kind = RevokedKind::ClientId;
            rec.client_kind = Some(key.kind().to_string());
        }
    }
    // Revoking twice is not an error, and adds no second record.
    let known = log.load()?;
    if found.is_none()
        && let Some(earlier) = known.records.iter().find(|r| r.id == api_key)
    {
        return Ok(RevokeReport {
            revoked: vec![RevokedItem {
                kind: earlier.kind,
                id: api_key,
                name: earlier.name.clone(),
                had_file: false,
            }],
            notes: vec![format!(
                "it was already revoked at {}",
                format_time(earlier.at)
            )],
        });
    }
    // The record first: once it is on disk the tokens are ended, whatever follows.
    log.append(std::slice::from_ref(&rec))?;
    let had_file = credentials.revoke_key(&api_key)?;
    Ok(RevokeReport {
        revoked: vec![RevokedItem {
            kind: rec.kind,
            id: api_key,
            name: rec.name,
            had_file,
        }],
        notes: Vec::new(),
    })
}

/// The live keys of a source, by its name (any case) or ID.
pub fn keys_of_source(credentials: &Credentials, source: &str) -> Result<Vec<String>, RevokeError> {
    let source = source.trim();
    let keys: Vec<String> = credentials
        .keys()?
        .into_iter()
        .filter(|k| k.source_name.eq_ignore_ascii_case(source) || k.source_id.to_string() == source)
        .map(|k| k.api_key)
        .collect();
    if keys.is_empty() {
        return Err(RevokeError::NotFound(format!(
            "source \"{source}\" has no API keys to revoke; `switchboard keys list` shows \
             the keys and their sources."
        )));
    }
    Ok(keys)
}

/// Revokes every admin token named `name` (names need not be unique).
pub fn revoke_token(
    credentials: &Credentials,
    log: &RevocationLog,
    name: &str,
    actor: &str,
) -> Result<RevokeReport, RevokeError> {
    let tokens: Vec<_> = credentials
        .tokens()?
        .into_iter()
        .filter(|t| t.name == name)
        .collect();
    if tokens.is_empty() {
        return Err(RevokeError::NotFound(format!(
            "there is no admin token named \"{name}\"; `switchboard tokens list` shows them \
             (names are matched exactly)."
        )));
    }
    let records: Vec<Revocation> = tokens
        .iter()
        .map(|t| {
            let mut r = record(RevokedKind::AdminToken, &t.id, actor);
            r.name = Some(t.name.clone());
            r.created_at = Some(t.created_at);
            r
        })
        .collect();
    log.append(&records)?;
    let mut revoked = Vec::new();
    for t in tokens {
        let had_file = credentials.delete_token(&t.id)?;
        revoked.push(RevokedItem {
            kind: RevokedKind::AdminToken,
            id: t.id,
            name: Some(t.name),
            had_file,
        });
    }
    Ok(RevokeReport {
        revoked,
        notes: Vec::new(),
    })
}

/// Keys on disk and keys revoked, oldest first.
pub fn keys_listing(
    credentials: &Credentials,
    revoked: &Revoked,
) -> Result<Vec<KeyView>, RevokeError> {
    let mut keys: Vec<(Option<DateTime<Utc>>, KeyView)> = Vec::new();
    for k in credentials.keys()? {
        let gone = revoked.key_revoked(&k.api_key);
        keys.push((
            Some(k.created_at),
            KeyView {
                kind: k.kind().to_string(),
                last_used: credentials.last_used(&k.api_key).map(format_time),
                api_key: k.api_key,
                source_id: Some(k.source_id),
                source: Some(k.source_name),
                environment: Some(k.environment),
                created: Some(format_time(k.created_at)),
                // A file restored by hand after its revocation: still refused.
                revoked: gone,
                revoked_at: None,
            },
        ));
    }
    for r in revoked
        .records
        .iter()
        .filter(|r| matches!(r.kind, RevokedKind::ApiKey | RevokedKind::ClientId))
    {
        if let Some((_, view)) = keys.iter_mut().find(|(_, v)| v.api_key == r.id) {
            view.revoked_at.get_or_insert_with(|| format_time(r.at));
            continue;
        }
        keys.push((
            r.created_at,
            KeyView {
                kind: match r.kind {
                    RevokedKind::ClientId => {
                        r.client_kind.clone().unwrap_or_else(|| "client".into())
                    }
                    _ => "legacy".into(),
                },
                api_key: r.id.clone(),
                source_id: r.source_id,
                source: r.name.clone(),
                environment: r.environment,
                created: r.created_at.map(format_time),
                last_used: credentials.last_used(&r.id).map(format_time),
                revoked: true,
                revoked_at: Some(format_time(r.at)),
            },
        ));
    }
    keys.sort_by_key(|(created, _)| *created);
    Ok(keys.into_iter().map(|(_, v)| v).collect())
}

/// Live admin tokens and sessions (unexpired, not rotated, not revoked).
pub fn listing(
    credentials: &Credentials,
    sessions: &crate::store::sessions::Sessions,
    revoked: &Revoked,
    source_name: impl Fn(Uuid) -> Option<String>,
) -> Result<TokensListing, RevokeError> {
    let now = Utc::now();
    let admin_tokens = credentials
        .tokens()?
        .into_iter()
        .filter(|t| t.expires() > now && !revoked.admin_token_revoked(&t.id))
        .map(|t| AdminTokenView {
            created: format_time(t.created_at),
            expires: format_time(t.expires()),
            id: t.id,
            name: t.name,
            role: t.role,
        })
        .collect();
    let key_sources: BTreeMap<String, String> = credentials
        .keys()?
        .into_iter()
        .map(|k| (k.api_key, k.source_name))
        .collect();
    let mut groups: BTreeMap<(String, Uuid), SessionGroup> = BTreeMap::new();
    for (_, s) in sessions.all()? {
        if s.expires <= now || s.rotated || revoked.session_revoked(&s.api_key) {
            continue;
        }
        let group = groups
            .entry((s.api_key.clone(), s.source_id))
            .or_insert_with(|| {
                let composer = s.api_key.strip_prefix("composer:");
                // A user key's sessions (the Platform API's JWT login) name the key.
                let user = s
                    .api_key
                    .strip_prefix(crate::engine::oauth::users::USER_SESSION_PREFIX);
                let kind = match (composer, user) {
                    (Some(_), _) => "composer",
                    (_, Some(_)) => "user",
                    _ => "source",
                };
                SessionGroup {
                    kind: kind.into(),
                    api_key: (composer.is_none() && user.is_none()).then(|| s.api_key.clone()),
                    actor: composer.or(user).map(str::to_string),
                    source_id: s.source_id,
                    source_name: source_name(s.source_id)
                        .or_else(|| key_sources.get(&s.api_key).cloned()),
                    access_tokens: 0,
                    refresh_tokens: 0,
                    expires: String::new(),
                }
            });
        if s.refresh {
            group.refresh_tokens += 1;
        } else {
            group.access_tokens += 1;
        }
        let expires = format_time(s.expires);
        // The same fixed-width UTC form sorts as time.
        if expires > group.expires {
            group.expires = expires;
        }
    }
    Ok(TokensListing {
        admin_tokens,
        sessions: groups.into_values().collect(),
    })
}
