//! Source API keys and OAuth clients, listed and created: one function each, shared by
//! `switchboard keys create|list` and `GET|POST /admin/v1/keys` (revocation is
//! [`super::revocation`]).
//!
//! Last use: each time a token is issued from a key (legacy authenticate or refresh,
//! the JWT flow), the engine notes the time in `credentials/used/<key>` (a file beside
//! the key's record, see [`Credentials::note_used`]) at most once a minute per key, so a
//! busy client costs one small write a minute, not one per token; tokens live 24 h
//! (legacy) or 5 min (JWT), so issuance is when a key is used.

use super::oauth::register::{self, ClientKeys, RegisterError};
use super::{Engine, Source, write_failure};
use crate::model::ApiError;
use crate::model::view::{CreatedKey, KeyView, NewKey, NewKeyKind};
use crate::store::credentials::{CredentialError, Credentials};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// How stale a key's "last used" may be: it is written at most this often.
pub const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// When each key's use was last written, so a use is noted at most once a minute.
#[derive(Debug, Default)]
pub struct LastUsed {
    written: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl LastUsed {
    /// True when a use of `key` at `now` should be written.
    fn due(&self, key: &str, now: DateTime<Utc>) -> bool {
        let mut written = match self.written.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match written.get(key) {
            Some(at) if now - *at < LAST_USED_RESOLUTION => false,
            _ => {
                written.insert(key.to_string(), now);
                true
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

/// Makes a credential of `kind` for `source`: the one function behind `keys create` and
/// `POST /admin/v1/keys`. The secret (legacy, HS384) is in the answer and nowhere else.
pub fn create(
    credentials: &Credentials,
    source: &Source,
    kind: NewKeyKind,
) -> Result<CreatedKey, KeyError> {
    let client = match kind {
        NewKeyKind::Legacy => {
            let (record, secret) =
                credentials.create_key(source.id, &source.name, source.environment)?;
            return Ok(CreatedKey {
                kind: record.kind().to_string(),
                api_key: record.api_key,
                source_id: source.id,
                source: source.name.clone(),
                environment: source.environment,
                kids: Vec::new(),
                secret: Some(secret),
            });
        }
        NewKeyKind::Jwks { jwks } => ClientKeys::JwksDocument(jwks),
        NewKeyKind::Hs384 => ClientKeys::Hs384,
    };
    let registered = register::register(credentials, source, client)?.keys;
    Ok(CreatedKey {
        api_key: registered.client_id,
        kind: registered.kind.to_string(),
        source_id: source.id,
        source: source.name.clone(),
        environment: source.environment,
        kids: registered.kids,
        secret: registered.secret,
    })
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> ApiError {
        match e {
            KeyError::Register(RegisterError::Credentials(e)) | KeyError::Credentials(e) => {
                write_failure("the new key")(e)
            }
            // A JWKS that cannot be used: the text says what is wrong with it.
            KeyError::Register(e) => ApiError::bad_request(e.to_string()),
        }
    }
}

impl Engine {
    /// Notes a token issued from `api_key` (at most once a minute per key). A failure
    /// is logged, never refused: the token is good whatever the note.
    pub(crate) fn note_key_used(&self, api_key: &str) {
        let now = Utc::now();
        if !self.key_use.due(api_key, now) {
            return;
        }
        if let Err(e) = self.credentials.note_used(api_key, now) {
            tracing::warn!(error = %e, "cannot note a key's last use");
        }
    }

    /// `GET /admin/v1/keys`: every key and client, revoked ones included, never a
    /// secret (the files hold only hashes).
    pub fn keys_list(&self) -> Result<Vec<KeyView>, ApiError> {
        self.revocations.refresh();
        Ok(super::revocation::files::keys_listing(
            &self.credentials,
            &self.revocations.current(),
        )?)
    }

    /// `POST /admin/v1/keys`: a new legacy key or OAuth client for a configured
    /// source, audited (without the secret).
    pub async fn create_key(&self, new: NewKey, actor: &str) -> Result<CreatedKey, ApiError> {
        let registry = self.registry();
        let source = registry.source_named(new.source.trim()).ok_or_else(|| {
            let names: Vec<&str> = registry.sources.iter().map(|s| s.name.as_str()).collect();
            ApiError::not_found(format!(
                "There is no source \"{}\"; name one of: {}.",
                new.source.trim(),
                names.join(", ")
            ))
        })?;
        let created = create(&self.credentials, source, new.kind)?;
        self.audit(
            actor,
            "key.create",
            None,
            Some(format!(
                "{} {} for source {}",
                created.kind, created.api_key, created.source
            )),
        );
        self.commit
            .durable()
            .await
            .map_err(write_failure("the audit record of the new key"))?;
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_at_most_once_a_minute_per_key() {
        let used = LastUsed::default();
        let t0 = Utc::now();
        assert!(used.due("a", t0));
        assert!(!used.due("a", t0 + chrono::Duration::seconds(59)));
        assert!(used.due("b", t0 + chrono::Duration::seconds(1)));
        assert!(used.due("a", t0 + chrono::Duration::seconds(61)));
    }
}
