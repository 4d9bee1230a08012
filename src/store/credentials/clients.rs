//! OAuth clients for the JWT flow (`/v2/auth/token`): a key record whose `client` says
//! how its assertions are verified. The client ID is the record's `api_key` (a UUID),
//! so `keys list` and `keys revoke` cover clients as they cover keys.

use super::{ApiKeyRecord, CredentialError, Credentials, TokenRecord, random_hex};
use crate::model::{Environment, Role};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How a client's assertions are verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ClientAuth {
    /// RS384 or ES384 against the public keys of a JWKS document given at registration.
    Jwks { jwks: serde_json::Value },
    /// RS384 or ES384 against a JWKS document fetched from `url` (and cached).
    JwksUrl { url: String },
    /// HS384 with a secret the engine generated. Kept as printed, unlike legacy secrets
    /// (which are hashed): the HMAC key is the secret's bytes, so the engine needs it
    /// back. The record file is mode 0600 like every credential file.
    Hs384 { secret: String },
}

impl ClientAuth {
    pub fn kind(&self) -> &'static str {
        match self {
            ClientAuth::Jwks { .. } => "jwks",
            ClientAuth::JwksUrl { .. } => "jwks-url",
            ClientAuth::Hs384 { .. } => "hs384",
        }
    }
}

/// What a new client verifies with; for HS384 the engine makes the secret.
#[derive(Debug, Clone, PartialEq)]
pub enum NewClient {
    Jwks(serde_json::Value),
    JwksUrl(String),
    Hs384,
}

/// The stored form of a new client and, for HS384, its secret to show once.
fn client_auth(new: NewClient) -> Result<(ClientAuth, Option<String>), CredentialError> {
    Ok(match new {
        NewClient::Jwks(jwks) => (ClientAuth::Jwks { jwks }, None),
        NewClient::JwksUrl(url) => (ClientAuth::JwksUrl { url }, None),
        NewClient::Hs384 => {
            // 384 bits, as long as the HMAC's output: RFC 7518 asks at least that.
            let secret = random_hex(48)?;
            (
                ClientAuth::Hs384 {
                    secret: secret.clone(),
                },
                Some(secret),
            )
        }
    })
}

impl Credentials {
    /// Registers a user key: an OAuth client whose subject is an admin role, not a
    /// source. It is a token record (so `tokens list` and `tokens revoke` cover it)
    /// whose `id` is the client ID and which has no `sbt_` secret.
    pub fn create_user_client(
        &self,
        role: Role,
        name: &str,
        lifetime: chrono::Duration,
        new: NewClient,
    ) -> Result<(TokenRecord, Option<String>), CredentialError> {
        let id = random_hex(8)?;
        let (auth, secret) = client_auth(new)?;
        let now = Utc::now();
        let record = TokenRecord {
            id: id.clone(),
            name: name.to_string(),
            role,
            // Never equal to a SHA-256's hex: no `sbt_` token can match it.
            secret_sha256: String::new(),
            created_at: now,
            expires_at: Some(now + lifetime),
            client: Some(auth),
        };
        self.save(super::Slot::token(&id), &record)?;
        Ok((record, secret))
    }

    /// Registers an OAuth client for a source. Returns the record (its `api_key` is the
    /// client ID) and, for HS384, the secret to show once.
    pub fn create_client(
        &self,
        source_id: Uuid,
        source_name: &str,
        environment: Environment,
        new: NewClient,
    ) -> Result<(ApiKeyRecord, Option<String>), CredentialError> {
        let client_id = Uuid::new_v4();
        let (auth, secret) = client_auth(new)?;
        let record = ApiKeyRecord {
            api_key: client_id.to_string(),
            source_id,
            source_name: source_name.to_string(),
            environment,
            secret_sha256: String::new(),
            created_at: Utc::now(),
            client: Some(auth),
        };
        self.save(super::Slot::key(&client_id.to_string()), &record)?;
        Ok((record, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_key_is_a_token_record_no_admin_token_can_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = Credentials::new(dir.path());
        let (record, secret) = creds
            .create_user_client(
                Role::Viewer,
                "ana",
                chrono::Duration::days(1),
                NewClient::Hs384,
            )
            .expect("create");
        assert!(secret.is_some());
        assert_eq!(record.client.as_ref().map(ClientAuth::kind), Some("hs384"));
        let read = creds.token(&record.id).expect("read").expect("found");
        assert_eq!(read, record);
        assert!(creds.tokens().expect("list").contains(&record));
        // Its empty hash must not let an `sbt_` token with its ID in, whatever the secret.
        for guess in ["", "x", "00"] {
            let token = format!("sbt_{}_{guess}", record.id);
            assert!(creds.check_token(&token).expect("check").is_none());
        }
        assert!(creds.token("../keys/x").expect("read").is_none());
    }

    #[test]
    fn a_client_is_a_key_record_that_cannot_log_in_with_a_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = Credentials::new(dir.path());
        let (record, secret) = creds
            .create_client(
                Uuid::new_v4(),
                "Lab",
                Environment::Staging,
                NewClient::Hs384,
            )
            .expect("create");
        let secret = secret.expect("an HS384 secret");
        assert_eq!(secret.len(), 96);
        let read = creds.key(&record.api_key).expect("read").expect("found");
        assert_eq!(read.kind(), "hs384");
        assert_eq!(read.client, Some(ClientAuth::Hs384 { secret }));
        // An empty legacy hash must not let an empty (or any) secret in.
        assert!(
            creds
                .check_key(&record.api_key, "")
                .expect("check")
                .is_none()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir
                .path()
                .join("credentials/keys")
                .join(format!("{}.json", record.api_key));
            let mode = std::fs::metadata(path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
