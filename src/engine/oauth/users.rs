//! User keys: OAuth clients whose subject is an admin role instead of a source
//! (`switchboard tokens create --role ROLE --name NAME --jwks FILE | --jwks-url URL |
//! --hs384`). The JWT flow gives them a 5-minute token that the Platform API and the
//! admin API take as that role; it is refused wherever a source's token is expected.
//! A user key is a token record, so `tokens list` and `tokens revoke NAME` cover it.

use super::register::{self, ClientKeys, RegisterError, RegisteredKeys};
use crate::engine::{Engine, read_failure};
use crate::model::{ApiError, Role};
use crate::store::credentials::{Credentials, TokenRecord, sha256};
use chrono::Utc;
use serde::Serialize;

/// Marks a session made for a user key; the rest is the key's ID.
pub const USER_SESSION_PREFIX: &str = "user:";

/// What `tokens create --jwks/--jwks-url/--hs384` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUser {
    #[serde(flatten)]
    pub keys: RegisteredKeys,
    pub name: String,
    pub role: Role,
    pub expires: String,
}

/// Checks `keys` and registers a user key for `role`.
pub fn register_user(
    credentials: &Credentials,
    role: Role,
    name: &str,
    lifetime: chrono::Duration,
    keys: ClientKeys,
) -> Result<RegisteredUser, RegisterError> {
    let (new, kids, jwks_url) = register::check(keys)?;
    let (record, secret) = credentials.create_user_client(role, name, lifetime, new)?;
    Ok(RegisteredUser {
        keys: RegisteredKeys {
            kind: record.client.as_ref().map_or("jwks", |c| c.kind()),
            client_id: record.id.clone(),
            kids,
            jwks_url,
            secret,
        },
        expires: crate::model::time::format_utc(record.expires()),
        name: record.name,
        role,
    })
}

impl RegisteredUser {
    /// For people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "User key \"{}\" ({}) with role {}\n  clientId  {}\n",
            self.name,
            self.keys.kind,
            self.role.as_str(),
            self.keys.client_id
        );
        out += &self.keys.lines();
        out += &format!(
            "It expires {}. Get tokens for the Platform and admin APIs at \
             <public_url>/v2/auth/token with a JWT whose iss and sub are the clientId \
             (README: Platform API).\n",
            self.expires
        );
        out
    }
}

impl Engine {
    /// The user key behind a user key's access token; `None` when `token` is not one
    /// (a source's token, say), an error when it is one that no longer works.
    pub fn user_for_token(&self, token: &str) -> Result<Option<TokenRecord>, ApiError> {
        let Some(session) = self
            .sessions
            .session(&sha256(token.as_bytes()))
            .map_err(read_failure)?
            .filter(|s| !s.refresh)
        else {
            return Ok(None);
        };
        let Some(id) = session.api_key.strip_prefix(USER_SESSION_PREFIX) else {
            return Ok(None);
        };
        if session.expires <= Utc::now() {
            return Err(ApiError::unauthorized(
                "This user key's access token has expired (they live 5 minutes). Sign a new \
                 assertion and get another from /v2/auth/token.",
            ));
        }
        let record = self
            .credentials
            .token(id)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .filter(|r| r.client.is_some())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "This user key was revoked. Register a new one with `switchboard tokens \
                     create --role ROLE --name NAME --jwks FILE`.",
                )
            })?;
        Ok(Some(record))
    }
}
