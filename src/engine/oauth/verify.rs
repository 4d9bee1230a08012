//! Checking one client assertion: which client, which key and algorithm, the signature
//! (by `jsonwebtoken`), then the claims this flow needs.

use super::{CLOCK_SKEW, MAX_ASSERTION_LIFETIME, OAuthError};
use crate::engine::Engine;
use crate::store::credentials::{ApiKeyRecord, ClientAuth, TokenRecord};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde_json::{Map, Value};

/// What a verified assertion settles.
pub(crate) struct Verified {
    pub client: ApiKeyRecord,
    /// For a user key: its record (the role the token will carry).
    pub user: Option<TokenRecord>,
    pub jti: Option<String>,
    pub expires: DateTime<Utc>,
}

const ALGORITHMS: &str = "RS384 or ES384 (public keys registered as a JWKS), or HS384 (the \
                          secret `keys create --hs384` printed)";

/// One part of the compact form, decoded as a JSON object, before any check: only to
/// find the client (and to say clearly what was wrong with a header jsonwebtoken
/// refuses). Nothing read here is trusted until the signature verifies.
pub(crate) fn peek(assertion: &str, part: usize) -> Option<Map<String, Value>> {
    let text = assertion.split('.').nth(part)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn not_a_jwt() -> OAuthError {
    OAuthError::invalid_client(
        "client_assertion is not a signed JWT (three base64url parts: header, claims, \
         signature).",
    )
}

/// The header's algorithm, refusing `none` and anything outside this flow.
pub(crate) fn algorithm_of(assertion: &str) -> Result<(Algorithm, Option<String>), OAuthError> {
    if assertion.split('.').count() != 3 {
        return Err(not_a_jwt());
    }
    // jsonwebtoken skips unknown header fields without checking their UTF-8, so a header
    // that is not JSON (RFC 8259 §8.1) would pass it; read it strictly first.
    if peek(assertion, 0).is_none() {
        return Err(OAuthError::invalid_client(
            "client_assertion's header is not a JSON object in UTF-8 (base64url-encoded).",
        ));
    }
    let header = match jsonwebtoken::decode_header(assertion) {
        Ok(header) => header,
        Err(_) => {
            let alg = peek(assertion, 0)
                .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_string));
            return Err(match alg {
                Some(alg) if alg.eq_ignore_ascii_case("none") => OAuthError::invalid_client(
                    format!("alg \"{alg}\" (an unsigned JWT) is refused: sign with {ALGORITHMS}."),
                ),
                Some(alg) => OAuthError::invalid_client(format!(
                    "alg \"{alg}\" is not accepted: sign with {ALGORITHMS}."
                )),
                None => not_a_jwt(),
            });
        }
    };
    match header.alg {
        Algorithm::RS384 | Algorithm::ES384 | Algorithm::HS384 => Ok((header.alg, header.kid)),
        other => Err(OAuthError::invalid_client(format!(
            "alg \"{other:?}\" is not accepted: sign with {ALGORITHMS}."
        ))),
    }
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

impl Engine {
    /// The client's record, found by the assertion's `iss`, if it is a live client.
    fn client_of(
        &self,
        assertion: &str,
        client_id: Option<&str>,
    ) -> Result<(ApiKeyRecord, Option<TokenRecord>), OAuthError> {
        let claims = peek(assertion, 1).ok_or_else(not_a_jwt)?;
        let iss = claim_str(&claims, "iss").map(str::trim).unwrap_or("");
        if iss.is_empty() {
            return Err(OAuthError::invalid_client(
                "The assertion has no iss: set iss and sub to your client ID (the clientId \
                 `switchboard keys create` printed).",
            ));
        }
        if let Some(id) = client_id.map(str::trim).filter(|id| !id.is_empty())
            && !id.eq_ignore_ascii_case(iss)
        {
            return Err(OAuthError::invalid_client(format!(
                "client_id \"{id}\" is not the assertion's iss \"{iss}\": both must be your \
                 client ID."
            )));
        }
        let unknown = || {
            OAuthError::invalid_client(format!(
                "\"{iss}\" is not a registered client of this engine. `switchboard keys create \
                 --source NAME --jwks FILE` (or --jwks-url, --hs384) registers one and prints \
                 its clientId."
            ))
        };
        if let Some(found) = self.user_client(iss)? {
            return Ok(found);
        }
        let record = self.credentials.key(iss).map_err(|e| {
            tracing::error!(error = %e, "cannot read a client's record");
            OAuthError::server(500)
        })?;
        if self.revocations.current().key_revoked(iss) {
            return Err(OAuthError::invalid_client(
                "This client was revoked. Register a new one (`switchboard keys create`).",
            ));
        }
        let record = record.ok_or_else(unknown)?;
        if record.client.is_none() {
            // Said without the key's source: the caller has proven nothing yet.
            return Err(OAuthError::invalid_client(format!(
                "\"{iss}\" is a legacy API key, not an OAuth client: authenticate it with \
                 /auth/authenticate, or register a client with `switchboard keys create \
                 --source NAME --jwks FILE`."
            )));
        }
        Ok((record, None))
    }

    /// A user key named by `iss` (a token record with a client), as a client record
    /// with no source; refused when revoked or expired.
    fn user_client(
        &self,
        iss: &str,
    ) -> Result<Option<(ApiKeyRecord, Option<TokenRecord>)>, OAuthError> {
        let record = self.credentials.token(iss).map_err(|e| {
            tracing::error!(error = %e, "cannot read a user key's record");
            OAuthError::server(500)
        })?;
        let Some(user) = record.filter(|r| r.client.is_some()) else {
            return Ok(None);
        };
        if self.revocations.current().admin_token_revoked(&user.id) {
            return Err(OAuthError::invalid_client(
                "This user key was revoked. Register a new one (`switchboard tokens create \
                 --role ROLE --name NAME --jwks FILE`).",
            ));
        }
        if user.expires() <= Utc::now() {
            return Err(OAuthError::invalid_client(format!(
                "This user key expired at {}. Register a new one (`switchboard tokens create \
                 --role {} --name {} --jwks FILE`).",
                crate::model::time::format_utc(user.expires()),
                user.role.as_str(),
                user.name
            )));
        }
        let client = ApiKeyRecord {
            api_key: user.id.clone(),
            source_id: uuid::Uuid::nil(),
            source_name: user.name.clone(),
            // Unused for a user key: it sends nothing as a source.
            environment: crate::model::Environment::Development,
            secret_sha256: String::new(),
            created_at: user.created_at,
            client: user.client.clone(),
        };
        Ok(Some((client, Some(user))))
    }

    /// The key to verify with: the client's HS384 secret, or its public key named by
    /// `kid`; refused when the algorithm is not the one registered for the client.
    async fn key_for(
        &self,
        client: &ApiKeyRecord,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<DecodingKey, OAuthError> {
        match (&client.client, alg) {
            (Some(ClientAuth::Hs384 { secret }), Algorithm::HS384) => {
                Ok(DecodingKey::from_secret(secret.as_bytes()))
            }
            (Some(ClientAuth::Hs384 { .. }), other) => Err(OAuthError::invalid_client(format!(
                "This client is registered for HS384 (its secret), not {other:?}: sign with \
                 HS384 and the secret `keys create --hs384` printed."
            ))),
            (Some(_), Algorithm::HS384) => Err(OAuthError::invalid_client(
                "HS384 is not registered for this client: its keys are public keys (a JWKS), \
                 so sign with RS384 or ES384 using the private key.",
            )),
            (Some(auth), alg) => {
                let kid = kid.filter(|k| !k.is_empty()).ok_or_else(|| {
                    OAuthError::invalid_client(
                        "The assertion's header has no kid: name the key it was signed with \
                         (the kid of that key in the client's JWKS).",
                    )
                })?;
                let jwk = self.oauth.jwks.key(auth, kid, alg).await?;
                DecodingKey::from_jwk(&jwk).map_err(|e| {
                    OAuthError::invalid_client(format!(
                        "The registered key \"{kid}\" cannot be used ({e}); register a valid \
                         RSA or P-384 public key."
                    ))
                })
            }
            (None, _) => Err(OAuthError::invalid_client("This is not an OAuth client.")),
        }
    }

    /// Verifies `assertion`: header, client, key, signature and claims. The `jti` is
    /// not spent here (the caller does, once everything else holds).
    pub(crate) async fn verify_assertion(
        &self,
        assertion: &str,
        client_id: Option<&str>,
    ) -> Result<Verified, OAuthError> {
        let (alg, kid) = algorithm_of(assertion)?;
        let (client, user) = self.client_of(assertion, client_id)?;
        let key = self.key_for(&client, alg, kid.as_deref()).await?;
        let mut validation = Validation::new(alg);
        validation.leeway = CLOCK_SKEW.num_seconds().unsigned_abs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        // `aud` is checked below: a missing one is accepted (a public client omits it).
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(assertion, &key, &validation)
            .map_err(|e| decode_refusal(e.kind()))?
            .claims;
        let expires = self.check_claims(&client, &claims)?;
        Ok(Verified {
            jti: claim_str(&claims, "jti").map(str::to_string),
            client,
            user,
            expires,
        })
    }

    /// `sub`, `aud`, `iat` and the assertion's lifetime; its expiry when they hold.
    fn check_claims(
        &self,
        client: &ApiKeyRecord,
        claims: &Map<String, Value>,
    ) -> Result<DateTime<Utc>, OAuthError> {
        let id = &client.api_key;
        if !claim_str(claims, "sub").is_some_and(|s| s.trim().eq_ignore_ascii_case(id)) {
            return Err(OAuthError::invalid_client(format!(
                "The assertion's sub must be the client ID, as its iss ({id})."
            )));
        }
        if let Some(aud) = claims.get("aud") {
            let urls = self.token_urls();
            let named = |v: &Value| {
                v.as_str()
                    .is_some_and(|a| urls.iter().any(|u| u == a.trim_end_matches('/')))
            };
            let right = match aud {
                Value::Array(items) => items.iter().any(named),
                other => named(other),
            };
            if !right {
                return Err(OAuthError::invalid_client(format!(
                    "The assertion's aud {aud} is not this engine's token URL: use {} (or {}).",
                    urls[0], urls[1]
                )));
            }
        }
        let now = Utc::now().timestamp();
        let exp = number(claims, "exp").unwrap_or(0);
        let skew = CLOCK_SKEW.num_seconds();
        let longest = MAX_ASSERTION_LIFETIME.num_seconds();
        match number(claims, "iat") {
            Some(iat) if iat > now + skew => {
                return Err(OAuthError::invalid_client(
                    "The assertion's iat is in the future: check the client's clock.",
                ));
            }
            Some(iat) if exp - iat > longest => {
                return Err(OAuthError::invalid_client(format!(
                    "The assertion lives {} s (exp - iat); at most {longest} s are accepted.",
                    exp - iat
                )));
            }
            // Without iat, exp itself must be near.
            None if exp > now + longest + skew => {
                return Err(OAuthError::invalid_client(format!(
                    "The assertion's exp is more than {longest} s away: sign assertions that \
                     live at most 5 minutes."
                )));
            }
            _ => {}
        }
        Ok(DateTime::from_timestamp(exp, 0).unwrap_or_else(Utc::now))
    }
}

/// A NumericDate claim, whole seconds.
fn number(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    let v = claims.get(name)?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

fn decode_refusal(kind: &ErrorKind) -> OAuthError {
    let text = match kind {
        ErrorKind::InvalidSignature => {
            "The assertion's signature does not verify with the client's registered key."
                .to_string()
        }
        ErrorKind::ExpiredSignature => format!(
            "The assertion has expired (its exp is past, beyond {} s of clock skew). Sign a \
             new one.",
            CLOCK_SKEW.num_seconds()
        ),
        ErrorKind::ImmatureSignature => "The assertion's nbf is in the future.".to_string(),
        ErrorKind::MissingRequiredClaim(claim) => {
            format!("The assertion has no {claim}: set exp at most 5 minutes after iat.")
        }
        ErrorKind::InvalidAlgorithm => {
            "The assertion's alg does not fit the client's registered key.".to_string()
        }
        ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_)
        | ErrorKind::InvalidToken => "client_assertion is not a well-formed JWT.".to_string(),
        other => {
            tracing::warn!(error = ?other, "assertion refused");
            "The assertion could not be verified.".to_string()
        }
    };
    OAuthError::invalid_client(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_header_with_bytes_outside_utf8_is_refused_before_jsonwebtoken_reads_it() {
        let mut header = br#"{"alg":"RS384","typ":"JWT","jid":"x"#.to_vec();
        header.extend([0xED, b'"', b'}']);
        let assertion = format!("{}.{}.{}", part(&header), part(b"{}"), part(b"sig"));
        let refused = algorithm_of(&assertion).expect_err("a header that is not JSON");
        assert_eq!((refused.status, refused.error), (401, "invalid_client"));
        assert!(
            refused.description.contains("UTF-8"),
            "{}",
            refused.description
        );

        let clean = format!(
            "{}.{}.{}",
            part(br#"{"alg":"RS384","typ":"JWT","jid":"x"}"#),
            part(b"{}"),
            part(b"sig")
        );
        assert_eq!(
            algorithm_of(&clean).expect("a clean header").0,
            Algorithm::RS384
        );
    }
}
