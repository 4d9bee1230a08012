//! OAuth 2.0 client credentials with a signed JWT client assertion (RFC 7523, as SMART
//! Backend Services and the platform's `/v2/auth/token` use it): a registered client
//! signs a short-lived assertion, and gets a 5-minute access token that works wherever
//! a legacy token does.
//!
//! - [`verify`]: the assertion's header, signature (by `jsonwebtoken`, no signature
//!   code of ours) and claims.
//! - [`jwks`]: clients' public keys, from the JWKS given at registration or fetched from
//!   a URL (cached, refetched boundedly, never from link-local or metadata addresses).
//! - [`users`]: user keys, whose tokens carry an admin role for the Platform and admin
//!   APIs instead of a source.
//! - The replay records of `jti` are in the store ([`crate::store::replay`]).
//!
//! Every problem with the assertion answers `invalid_client` (401), as RFC 7523 §3.2
//! asks of client authentication; the description names the check that failed.

pub mod jwks;
pub mod register;
pub mod users;
pub(crate) mod verify;

use super::{Engine, random_failure, write_failure};
use crate::store::credentials::{random_hex, sha256};
use crate::store::replay::Replays;
use crate::store::{Session, Store, StoreError};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

/// Lifetime of an access token of this flow, as the platform's.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::minutes(5);
/// What the token allows, said in the answer's `scope`: the client's source, on the
/// whole platform API (the platform names no finer scopes for this flow).
pub const SCOPE: &str = "platform";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The token URL's two spellings: either is a valid `aud` under the public URL.
pub const TOKEN_PATHS: [&str; 2] = ["/v2/auth/token", "/oauth/token"];
/// An assertion's `exp` may be at most this long after its `iat`.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::minutes(5);
/// Clock skew allowed between the client and the engine.
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

/// The form of a token request (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
    pub client_id: Option<String>,
    /// Accepted and ignored: the token's scope is always [`SCOPE`].
    pub scope: Option<String>,
}

/// The answer: RFC 6749 §5.1, no refresh token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OAuthGrant {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
}

/// An error in RFC 6749's shape (`{"error", "error_description"}`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::with(400, "invalid_request", description)
    }
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::with(401, "invalid_client", description)
    }
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::with(400, "unsupported_grant_type", description)
    }
    /// The engine failed (store, disk, random source): said without its internals,
    /// which go to the log.
    pub fn server(status: u16) -> Self {
        Self::with(
            status,
            "server_error",
            "The engine could not issue a token just now (its log says why). Retry shortly.",
        )
    }
    fn with(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": self.error, "error_description": self.description})
    }
}

impl From<crate::model::ApiError> for OAuthError {
    fn from(e: crate::model::ApiError) -> Self {
        tracing::warn!(error = %e, "token request failed inside the engine");
        OAuthError::server(if e.status >= 500 { e.status } else { 500 })
    }
}

/// The engine's state for this flow.
pub struct OAuth {
    pub(crate) replays: Replays,
    pub(crate) jwks: jwks::Cache,
}

impl OAuth {
    pub fn open(store: &Store) -> Result<OAuth, StoreError> {
        Self::open_on(store, None)
    }

    /// [`OAuth::open`], the replay records in `shared` when nodes share a store.
    pub fn open_on(
        store: &Store,
        shared: Option<crate::store::postgres::PgStore>,
    ) -> Result<OAuth, StoreError> {
        Ok(OAuth {
            replays: Replays::open(store)?.shared(shared),
            jwks: jwks::Cache::default(),
        })
    }
}

/// Checks the form's fixed parameters; the assertion when they are right.
pub(crate) fn assertion_of(request: &TokenRequest) -> Result<&str, OAuthError> {
    match request.grant_type.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(OAuthError::invalid_request(
                "grant_type is missing: send grant_type=client_credentials as a form \
                 (application/x-www-form-urlencoded).",
            ));
        }
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type \"{other}\" is not supported here: use client_credentials with a \
                 signed JWT client assertion."
            )));
        }
    }
    if request.client_assertion_type.as_deref().map(str::trim) != Some(ASSERTION_TYPE) {
        return Err(OAuthError::invalid_request(format!(
            "client_assertion_type must be {ASSERTION_TYPE}."
        )));
    }
    request
        .client_assertion
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "client_assertion is missing: send the signed JWT (iss = sub = your client ID, \
                 aud = this token URL, exp within 5 minutes, kid in its header).",
            )
        })
}

/// The client a token request names, before any check, for the login limits: its
/// `client_id`, else its assertion's `iss`. Not trusted for anything else.
pub fn claimed_client(request: &TokenRequest) -> Option<String> {
    let given = request.client_id.as_deref().map(str::trim);
    if let Some(id) = given.filter(|id| !id.is_empty()) {
        return Some(id.to_string());
    }
    let claims = verify::peek(request.client_assertion.as_deref()?.trim(), 1)?;
    claims.get("iss")?.as_str().map(str::to_string)
}

impl Engine {
    /// `POST /v2/auth/token` (and `/oauth/token`): an access token for a client whose
    /// signed assertion checks out.
    pub async fn client_credentials(
        &self,
        request: &TokenRequest,
    ) -> Result<OAuthGrant, OAuthError> {
        let assertion = assertion_of(request)?;
        let verified = self
            .verify_assertion(assertion, request.client_id.as_deref())
            .await?;
        let (source_id, session_key) = match &verified.user {
            Some(user) => (
                uuid::Uuid::nil(),
                format!("{}{}", users::USER_SESSION_PREFIX, user.id),
            ),
            None => (
                self.client_source(&verified)?,
                verified.client.api_key.clone(),
            ),
        };
        self.ensure_writable()?;
        self.note_key_used(&verified.client.api_key);
        let now = Utc::now();
        if let Some(jti) = &verified.jti {
            // Spent until the assertion could no longer be accepted anyway.
            let until = verified.expires + CLOCK_SKEW;
            let first = self
                .oauth
                .replays
                .claim(&verified.client.api_key, jti, until, now)
                .map_err(write_failure("the assertion's jti"))?;
            if !first {
                return Err(OAuthError::invalid_client(
                    "This assertion's jti was used already: each assertion works once. Sign a \
                     new one with a fresh jti.",
                ));
            }
        }
        let access_token = random_hex(32).map_err(random_failure)?;
        self.sessions
            .put_session(
                &sha256(access_token.as_bytes()),
                &Session {
                    source_id,
                    api_key: session_key,
                    refresh: false,
                    expires: now + ACCESS_TOKEN_LIFETIME,
                    family: None,
                    rotated: false,
                },
            )
            .map_err(write_failure("the new token"))?;
        // The token (and the spent jti) must survive a restart, like any acknowledgement.
        self.commit
            .durable()
            .await
            .map_err(write_failure("the new token"))?;
        Ok(OAuthGrant {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ACCESS_TOKEN_LIFETIME.num_seconds(),
            scope: SCOPE.into(),
        })
    }

    /// The configured source a source's client acts for.
    fn client_source(&self, verified: &verify::Verified) -> Result<uuid::Uuid, OAuthError> {
        self.registry()
            .source(verified.client.source_id)
            .map(|s| s.id)
            .ok_or_else(|| {
                OAuthError::invalid_client(
                    "This client belongs to a source that is no longer configured. Register a \
                     client for a configured source (`switchboard keys create --source NAME`).",
                )
            })
    }

    /// The token URLs an assertion's `aud` may name.
    pub fn token_urls(&self) -> Vec<String> {
        let base = self.settings.public_url.as_deref().unwrap_or("");
        TOKEN_PATHS.iter().map(|p| format!("{base}{p}")).collect()
    }
}
