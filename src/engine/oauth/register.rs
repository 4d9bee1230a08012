//! Registering an OAuth client (`switchboard keys create --jwks FILE | --jwks-url URL |
//! --hs384`): its keys are checked, then it is written as a key record. Works with or
//! without a running engine, which reads the record at the client's first token request.

use super::jwks::{self, JwksError};
use crate::engine::Source;
use crate::model::Environment;
use crate::store::credentials::clients::NewClient;
use crate::store::credentials::{CredentialError, Credentials};
use serde::Serialize;
use std::path::PathBuf;
use uuid::Uuid;

/// How the new client's assertions will be verified.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientKeys {
    JwksFile(PathBuf),
    /// A JWKS document already read (the console reads the file on its own machine).
    JwksDocument(serde_json::Value),
    JwksUrl(String),
    Hs384,
}

/// What every registration prints about the client itself: its ID, kind and keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredKeys {
    pub client_id: String,
    /// `jwks`, `jwks-url` or `hs384`.
    pub kind: &'static str,
    /// The `kid`s of a JWKS file's usable keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// HS384 only, shown once: the HMAC key is this string's bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl RegisteredKeys {
    /// The lines for people after the heading: kids, JWKS URL, the secret once.
    pub(crate) fn lines(&self) -> String {
        let mut out = String::new();
        if !self.kids.is_empty() {
            out += &format!("  kids      {}\n", self.kids.join(", "));
        }
        if let Some(url) = &self.jwks_url {
            out += &format!("  jwks URL  {url}\n");
        }
        if let Some(secret) = &self.secret {
            out += &format!("  secret    {secret}\n");
            out += "The secret is shown only now; store it safely. HS384 assertions are signed \
                    with its bytes as printed.\n";
        }
        out
    }
}

/// What `keys create` prints for a client.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    #[serde(flatten)]
    pub keys: RegisteredKeys,
    pub source_id: Uuid,
    pub source: String,
    pub environment: Environment,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot read the JWKS file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    // The problem is in the message, not a source: printed chains would say it twice.
    #[error("the JWKS {what} cannot be registered: {problem}")]
    Jwks { what: String, problem: JwksError },
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

/// A checked client's keys: what to store, the JWKS file's `kid`s, the JWKS URL.
pub(crate) type Checked = (NewClient, Vec<String>, Option<String>);

/// Checks `keys` (a JWKS file's usable keys, a JWKS URL's form) before anything is
/// written.
pub(crate) fn check(keys: ClientKeys) -> Result<Checked, RegisterError> {
    Ok(match keys {
        ClientKeys::JwksFile(path) => {
            let text = std::fs::read(&path).map_err(|e| RegisterError::Read {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let what = format!("file {}", path.display());
            let doc: serde_json::Value =
                serde_json::from_slice(&text).map_err(|e| RegisterError::Jwks {
                    what: what.clone(),
                    problem: JwksError::Document(format!("it is not JSON ({e})")),
                })?;
            let kids = checked_kids(&doc, what)?;
            (NewClient::Jwks(doc), kids, None)
        }
        ClientKeys::JwksDocument(doc) => {
            let kids = checked_kids(&doc, "document".into())?;
            (NewClient::Jwks(doc), kids, None)
        }
        ClientKeys::JwksUrl(url) => {
            // Checked now for what can be told without connecting; the engine checks
            // the resolved addresses at each fetch.
            let checked = jwks::check_url(&url).map_err(|problem| RegisterError::Jwks {
                what: format!("URL {url}"),
                problem,
            })?;
            let url = checked.to_string();
            (NewClient::JwksUrl(url.clone()), Vec::new(), Some(url))
        }
        ClientKeys::Hs384 => (NewClient::Hs384, Vec::new(), None),
    })
}

/// Checks `keys` and registers a client for `source`.
pub fn register(
    credentials: &Credentials,
    source: &Source,
    keys: ClientKeys,
) -> Result<Registered, RegisterError> {
    let (new, kids, jwks_url) = check(keys)?;
    let (record, secret) =
        credentials.create_client(source.id, &source.name, source.environment, new)?;
    Ok(Registered {
        keys: RegisteredKeys {
            kind: record.kind(),
            client_id: record.api_key,
            kids,
            jwks_url,
            secret,
        },
        source_id: source.id,
        source: source.name.clone(),
        environment: source.environment,
    })
}

/// The `kid`s of a JWKS document's usable keys; an error when it has none.
fn checked_kids(doc: &serde_json::Value, what: String) -> Result<Vec<String>, RegisterError> {
    let usable = jwks::usable_keys(doc).map_err(|problem| RegisterError::Jwks { what, problem })?;
    Ok(usable
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect())
}

impl Registered {
    /// For people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "OAuth client ({}) for source \"{}\" ({})\n  clientId  {}\n",
            self.keys.kind, self.source, self.environment, self.keys.client_id
        );
        out += &self.keys.lines();
        out += "Get tokens at <public_url>/v2/auth/token with a JWT whose iss and sub are the \
                clientId (README: Authentication).\n";
        out
    }
}
