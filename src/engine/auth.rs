//! Source authentication: API key + secret → 24 h access token and a refresh token.
//! Tokens are random 256-bit values; only their SHA-256 is stored.

use super::{Engine, Source, random_failure, read_failure, write_failure};
use crate::model::ApiError;
use crate::model::time::format_utc;
use crate::store::Session;
use crate::store::credentials::{random_hex, sha256};
use chrono::{Duration, Utc};
use serde::Serialize;

pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(24);
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
/// Tokens handed to the console's composer: long enough for a support call, short enough
/// that one left in a terminal's scrollback is soon worthless.
pub const COMPOSER_TOKEN_LIFETIME: Duration = Duration::minutes(15);
/// A composer session's `api_key` is this prefix and the console user it was made for.
pub const COMPOSER_SESSION_PREFIX: &str = "composer:";

/// A composer's access token: no refresh token, no API key behind it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComposerToken {
    pub access_token: String,
    pub expires: String,
}

/// The platform's answer to `/auth/authenticate` and `/auth/refreshToken`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenGrant {
    pub access_token: String,
    pub expires: String,
    pub refresh_token: String,
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized(
        "The apiKey and secret do not match a key of this engine. Check both values \
         (`switchboard keys create --source NAME` makes a new pair).",
    )
}

impl Engine {
    async fn issue(
        &self,
        source: &Source,
        api_key: &str,
        refresh: Option<String>,
    ) -> Result<TokenGrant, ApiError> {
        let now = Utc::now();
        let access_token = random_hex(32).map_err(random_failure)?;
        let expires = now + ACCESS_TOKEN_LIFETIME;
        self.store
            .put_session(
                &sha256(access_token.as_bytes()),
                &Session {
                    source_id: source.id,
                    api_key: api_key.to_string(),
                    refresh: false,
                    expires,
                },
            )
            .map_err(write_failure("the new token"))?;
        let refresh_token = match refresh {
            Some(existing) => existing,
            None => {
                let token = random_hex(32).map_err(random_failure)?;
                self.store
                    .put_session(
                        &sha256(token.as_bytes()),
                        &Session {
                            source_id: source.id,
                            api_key: api_key.to_string(),
                            refresh: true,
                            expires: now + REFRESH_TOKEN_LIFETIME,
                        },
                    )
                    .map_err(write_failure("the new token"))?;
                token
            }
        };
        // A token handed out must survive a restart, like any other acknowledgement.
        self.commit
            .durable()
            .await
            .map_err(write_failure("the new token"))?;
        Ok(TokenGrant {
            access_token,
            expires: format_utc(expires),
            refresh_token,
        })
    }

    fn key_source(&self, source_id: uuid::Uuid) -> Result<&Source, ApiError> {
        self.registry.source(source_id).ok_or_else(|| {
            ApiError::unauthorized(
                "This API key belongs to a source that is no longer configured. Create a key \
                 for a configured source.",
            )
        })
    }

    /// `POST /auth/authenticate`.
    pub async fn authenticate(&self, api_key: &str, secret: &str) -> Result<TokenGrant, ApiError> {
        let record = self
            .credentials
            .check_key(api_key, secret)
            .map_err(read_failure)?
            .ok_or_else(bad_credentials)?;
        let source = self.key_source(record.source_id)?.clone();
        self.issue(&source, &record.api_key, None).await
    }

    /// `POST /auth/refreshToken`: a new access token; the refresh token stays valid
    /// until it expires, so a client that lost the answer can simply retry.
    pub async fn refresh(
        &self,
        api_key: &str,
        refresh_token: &str,
    ) -> Result<TokenGrant, ApiError> {
        let session = self
            .store
            .session(&sha256(refresh_token.as_bytes()))
            .map_err(read_failure)?
            .filter(|s| s.refresh && s.api_key == api_key.trim() && s.expires > Utc::now())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "The refresh token is unknown, expired, or belongs to another apiKey. \
                     Authenticate again with /auth/authenticate.",
                )
            })?;
        // The key itself may have been revoked since.
        if self
            .credentials
            .key(&session.api_key)
            .map_err(read_failure)?
            .is_none()
        {
            return Err(bad_credentials());
        }
        let source = self.key_source(session.source_id)?.clone();
        self.issue(&source, &session.api_key, Some(refresh_token.to_string()))
            .await
    }

    /// An access token for `source_id`, for the console's composer to send test traffic
    /// through the platform API as that source. Every role but viewer may send, and in
    /// Production only roles with the PHI permission (the answers are patients).
    /// Audited: who, and as which source.
    pub async fn composer_token(
        &self,
        source_id: uuid::Uuid,
        actor: &str,
        role: crate::model::Role,
    ) -> Result<ComposerToken, ApiError> {
        let source = self
            .registry
            .source(source_id)
            .ok_or_else(|| ApiError::not_found(format!("There is no source {source_id}.")))?
            .clone();
        if let Some(why) = role.send_refusal(source.environment) {
            let mut text = why;
            if let Some(first) = text.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            return Err(ApiError::new(
                403,
                "permission",
                "Admin",
                format!("{text}."),
            ));
        }
        let access_token = random_hex(32).map_err(random_failure)?;
        let expires = Utc::now() + COMPOSER_TOKEN_LIFETIME;
        self.store
            .put_session(
                &sha256(access_token.as_bytes()),
                &Session {
                    source_id: source.id,
                    api_key: format!("{COMPOSER_SESSION_PREFIX}{actor}"),
                    refresh: false,
                    expires,
                },
            )
            .map_err(write_failure("the new token"))?;
        self.audit(
            actor,
            "composer-token",
            None,
            Some(format!("{} ({})", source.name, source.environment)),
        );
        self.commit
            .durable()
            .await
            .map_err(write_failure("the new token"))?;
        Ok(ComposerToken {
            access_token,
            expires: format_utc(expires),
        })
    }

    /// The source a bearer access token belongs to.
    pub fn source_for_token(&self, token: &str) -> Result<&Source, ApiError> {
        let session = self
            .store
            .session(&sha256(token.as_bytes()))
            .map_err(read_failure)?
            .filter(|s| !s.refresh)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "The access token is not valid. Get one from /auth/authenticate and send it \
                     as `Authorization: Bearer <token>`.",
                )
            })?;
        if session.expires <= Utc::now() {
            return Err(ApiError::unauthorized(
                "The access token has expired. Get a new one with /auth/refreshToken or \
                 /auth/authenticate.",
            ));
        }
        self.key_source(session.source_id)
    }
}
