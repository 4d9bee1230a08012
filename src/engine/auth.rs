//! Source authentication: API key + secret → 24 h access token and a refresh token.
//! Tokens are random 256-bit values; only their SHA-256 is stored. Refresh tokens
//! rotate: each works once.

use super::{Engine, Source, random_failure, read_failure, write_failure};
use crate::model::ApiError;
use crate::model::time::format_utc;
use crate::store::credentials::{random_hex, sha256};
use crate::store::{Rotation, Session};
use chrono::{Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(24);
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
/// Tokens handed to the console's composer: long enough for a support call, short enough
/// that one left in a terminal's scrollback is soon worthless.
pub const COMPOSER_TOKEN_LIFETIME: Duration = Duration::minutes(15);
/// A composer session's `api_key` is this prefix and the console user it was made for.
pub const COMPOSER_SESSION_PREFIX: &str = "composer:";

pub use crate::model::view::ComposerToken;

/// The platform's answer to `/auth/authenticate` and `/auth/refreshToken`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenGrant {
    pub access_token: String,
    pub expires: String,
    pub refresh_token: String,
}

fn reused() -> ApiError {
    ApiError::unauthorized(
        "This refresh token was already used. Each refresh token works once \
         (/auth/refreshToken answers a new one); a used one presented again ends every \
         token of that authentication. Authenticate again with /auth/authenticate.",
    )
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized(
        "The apiKey and secret do not match a key of this engine. Check both values \
         (`switchboard keys create --source NAME` makes a new pair).",
    )
}

impl Engine {
    /// A new access token and a new refresh token, both of `family` (one per
    /// authentication; refreshes stay in it).
    async fn issue(
        &self,
        source: &Source,
        api_key: &str,
        family: Uuid,
    ) -> Result<TokenGrant, ApiError> {
        self.ensure_writable()?;
        self.note_key_used(api_key);
        let now = Utc::now();
        let access_token = random_hex(32).map_err(random_failure)?;
        let refresh_token = random_hex(32).map_err(random_failure)?;
        let expires = now + ACCESS_TOKEN_LIFETIME;
        for (token, refresh, until) in [
            (&access_token, false, expires),
            (&refresh_token, true, now + REFRESH_TOKEN_LIFETIME),
        ] {
            self.sessions
                .put_session(
                    &sha256(token.as_bytes()),
                    &Session {
                        source_id: source.id,
                        api_key: api_key.to_string(),
                        refresh,
                        expires: until,
                        family: Some(family),
                        rotated: false,
                    },
                )
                .map_err(write_failure("the new token"))?;
        }
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

    fn key_source(&self, source_id: uuid::Uuid) -> Result<Source, ApiError> {
        self.registry().source(source_id).cloned().ok_or_else(|| {
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
        let source = self.key_source(record.source_id)?;
        self.issue(&source, &record.api_key, Uuid::new_v4()).await
    }

    /// `POST /auth/refreshToken`: a new access token and a new refresh token; the one
    /// presented is used up. Presenting a used one again means it was copied (or the
    /// client lost the answer): every token of that authentication ends, and the
    /// client must authenticate again.
    pub async fn refresh(
        &self,
        api_key: &str,
        refresh_token: &str,
    ) -> Result<TokenGrant, ApiError> {
        let unknown = || {
            ApiError::unauthorized(
                "The refresh token is unknown, expired, or belongs to another apiKey. \
                 Authenticate again with /auth/authenticate.",
            )
        };
        let hash = sha256(refresh_token.as_bytes());
        let session = self
            .sessions
            .session(&hash)
            .map_err(read_failure)?
            .filter(|s| s.refresh && s.api_key == api_key.trim() && s.expires > Utc::now())
            .ok_or_else(unknown)?;
        if let Some(refusal) = self.session_revocation(&session.api_key) {
            return Err(refusal);
        }
        // The key itself may have been deleted since.
        if self
            .credentials
            .key(&session.api_key)
            .map_err(read_failure)?
            .is_none()
        {
            return Err(bad_credentials());
        }
        let source = self.key_source(session.source_id)?;
        match self
            .sessions
            .rotate_refresh(&hash, Uuid::new_v4())
            .map_err(write_failure("the refresh token's use"))?
        {
            Rotation::Unknown => Err(unknown()),
            Rotation::Rotated(s) => {
                let family = s.family.unwrap_or_else(Uuid::new_v4);
                let grant = self.issue(&source, &s.api_key, family).await?;
                // A reuse of this family's token may have ended it while these were
                // being stored: then they end too.
                if self.sessions.family_ended(family).map_err(read_failure)? {
                    self.sessions
                        .end_family(family)
                        .map_err(write_failure("the end of the token family"))?;
                    self.commit
                        .durable()
                        .await
                        .map_err(write_failure("the new token"))?;
                    return Err(reused());
                }
                Ok(grant)
            }
            Rotation::Reused(s) => {
                let ended = match s.family {
                    Some(family) => self
                        .sessions
                        .end_family(family)
                        .map_err(write_failure("the end of the token family"))?,
                    None => 0,
                };
                self.audit(
                    &format!("apiKey {}", s.api_key),
                    "refresh-token-reuse",
                    None,
                    Some(format!("{ended} tokens of the family ended")),
                );
                self.commit
                    .durable()
                    .await
                    .map_err(write_failure("the new token"))?;
                Err(reused())
            }
        }
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
        self.ensure_writable()?;
        let source = self
            .registry()
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
        self.sessions
            .put_session(
                &sha256(access_token.as_bytes()),
                &Session {
                    source_id: source.id,
                    api_key: format!("{COMPOSER_SESSION_PREFIX}{actor}"),
                    refresh: false,
                    expires,
                    family: None,
                    rotated: false,
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

    /// The source a bearer access token belongs to, within its `requests_per_second`
    /// (429 beyond it; see `engine::throttle`).
    pub async fn source_for_token(&self, token: &str) -> Result<Source, ApiError> {
        let session = self
            .sessions
            .session_async(&sha256(token.as_bytes()))
            .await
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
        if session
            .api_key
            .starts_with(super::oauth::users::USER_SESSION_PREFIX)
        {
            return Err(ApiError::unauthorized(
                "This is a user key's token: it works on the Platform API (/platform/v1/…) and \
                 the admin API, not here. Authenticate as a source (its API key, or an OAuth \
                 client made with `switchboard keys create --source NAME`).",
            ));
        }
        // An in-memory set lookup: the records are reread in the background.
        if let Some(refusal) = self.session_revocation(&session.api_key) {
            return Err(refusal);
        }
        let source = self.key_source(session.source_id)?;
        // Every call a source makes comes through here once: its rate is taken here.
        self.admit_source(&source)?;
        Ok(source)
    }
}
