//! Source API keys and OAuth clients as the console and `GET|POST /admin/v1/keys` show
//! them. A listing never carries a secret; a [`CreatedKey`] carries it once.

use crate::model::Environment;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An API key as `keys list` and `GET /admin/v1/keys` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// The API key, or the OAuth client's ID.
    pub api_key: String,
    /// `legacy` (API key and secret), or an OAuth client's: `jwks`, `jwks-url`, `hs384`
    /// (`client` for a revoked one recorded before kinds were).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When a token was last issued from it (to the minute: see `engine::keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// What kind of credential to make: `POST /admin/v1/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NewKeyKind {
    /// An API key and secret for `/auth/authenticate`.
    Legacy,
    /// An OAuth client verified with the public keys of this JWKS document (the
    /// console reads the file on its own machine and sends its content).
    Jwks { jwks: serde_json::Value },
    /// An OAuth client signing HS384 with a secret made now.
    Hs384,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewKey {
    /// The source's name (any case) or ID.
    pub source: String,
    #[serde(flatten)]
    pub kind: NewKeyKind,
}

/// A credential just made. `secret` (legacy and HS384) is shown only in this answer.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    /// The API key, or the OAuth client's ID.
    pub api_key: String,
    pub kind: String,
    pub source_id: Uuid,
    pub source: String,
    pub environment: Environment,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

// By hand, so that a `{:?}` in a log line or a test failure never prints the secret.
impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("api_key", &self.api_key)
            .field("kind", &self.kind)
            .field("source", &self.source)
            .field("secret", &self.secret.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}
