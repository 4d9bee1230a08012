//! Outgoing authentication: the `Authorization` header the engine puts on what it sends
//! a destination (push deliveries and forwarded queries), from its `[destinations.auth]`
//! (see `config::outbound`). A static bearer value is sent as it is; an OAuth 2.0
//! client-credentials token is fetched from the destination's token URL, cached until
//! shortly before it expires, fetched by one caller at a time per destination (the
//! others wait for that fetch and share its answer, a failure included, rather than each
//! asking), and dropped and fetched again
//! once when the destination answers 401.
//!
//! Endpoint verification sends no `Authorization`: the platform's challenge is
//! unauthenticated by design (it proves the URL answers for the verification token).
//!
//! Neither the client secret nor a token ever goes into an error text or a log line.

use super::config::Destination;
use super::config::outbound::{ClientAuth, ClientCredentials, OutboundAuth};
use super::http::{error_chain, excerpt, read_bounded};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

/// Bound on one token request, connect to last byte.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// A token's lifetime when its answer has no `expires_in`.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// A token is fetched again this long before it expires (at most half its lifetime),
/// so one is not sent just as it lapses.
pub const REFRESH_EARLY: Duration = Duration::from_secs(30);
/// The most of a token answer read: a token is far smaller.
const TOKEN_BODY_LIMIT: usize = 64 * 1024;
/// How much of a token endpoint's refusal the error text keeps.
const REFUSAL_EXCERPT: usize = 200;

/// Why no authorization could be had; the attempt's error text, so it says where and why.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("token fetch from {url} failed: {reason}")]
    Fetch { url: String, reason: String },
    #[error(
        "the token for this destination has characters an HTTP header cannot carry; check its auth settings"
    )]
    Unusable,
}

/// Why a request with outgoing authentication got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// The `Authorization` value for one request, and the cached token it came from (so a
/// 401 drops only that token, not one another request has fetched since).
pub struct Credential {
    value: HeaderValue,
    token: Option<Arc<str>>,
}

struct Cached {
    token: Arc<str>,
    fresh_until: Instant,
}

/// One destination's token, and how its last fetch failed (if it did).
#[derive(Default)]
struct Slot {
    cached: Option<Cached>,
    /// When the last fetch failed and why: those who waited for that fetch get its
    /// answer instead of each asking a failing endpoint again.
    failure: Option<(Instant, TokenError)>,
}

/// The token caches of the destinations that use client credentials.
pub struct Tokens {
    http: reqwest::Client,
    // A tokio mutex held across the fetch: the one-at-a-time rule.
    // Entries come and go with a configuration reload (`Tokens::adopt`).
    slots: std::sync::RwLock<HashMap<Uuid, Arc<Mutex<Slot>>>>,
}

impl Tokens {
    /// `http` makes the token requests (each bounded by [`TOKEN_TIMEOUT`]).
    pub fn new(destinations: &[Destination], http: reqwest::Client) -> Tokens {
        let slots = destinations
            .iter()
            .filter(|d| matches!(d.outbound_auth, Some(OutboundAuth::ClientCredentials(_))))
            .map(|d| (d.id, Arc::new(Mutex::new(Slot::default()))))
            .collect();
        Tokens {
            http,
            slots: std::sync::RwLock::new(slots),
        }
    }

    fn slot(&self, destination: Uuid) -> Option<Arc<Mutex<Slot>>> {
        self.slots
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&destination)
            .cloned()
    }

    /// After a configuration reload: a `changed` destination starts with an empty
    /// cache (its token endpoint or client may be new); a removed one loses its cache.
    pub fn adopt(&self, changed: &[Destination], removed: &[Uuid]) {
        let mut slots = self
            .slots
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in changed {
            slots.remove(&d.id);
            if matches!(d.outbound_auth, Some(OutboundAuth::ClientCredentials(_))) {
                slots.insert(d.id, Arc::new(Mutex::new(Slot::default())));
            }
        }
        for id in removed {
            slots.remove(id);
        }
    }

    /// Sends what `build` makes, with `destination`'s authorization; on a 401 to a
    /// fetched token, drops it and sends once more with a fresh one. `build` is told
    /// whether this is the last request it makes (so it may move its body in).
    pub async fn send(
        &self,
        destination: &Destination,
        mut build: impl FnMut(bool) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SendError> {
        let credential = self.credential(destination).await?;
        let refreshable = credential.as_ref().is_some_and(|c| c.token.is_some());
        let response = with(build(!refreshable), credential.as_ref())
            .send()
            .await?;
        let Some(used) = credential.filter(|_| refreshable) else {
            return Ok(response);
        };
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        tracing::debug!(destination = %destination.name, "401 with a cached token; fetching a fresh one");
        drop(response);
        self.rejected(destination, &used).await;
        let fresh = self.credential(destination).await?;
        Ok(with(build(true), fresh.as_ref()).send().await?)
    }

    /// The authorization for `destination`, fetching a token if none is fresh.
    pub async fn credential(
        &self,
        destination: &Destination,
    ) -> Result<Option<Credential>, TokenError> {
        match &destination.outbound_auth {
            None => Ok(None),
            Some(OutboundAuth::Bearer(secret)) => Ok(Some(Credential {
                value: bearer(secret.expose())?,
                token: None,
            })),
            Some(OutboundAuth::ClientCredentials(client)) => {
                let Some(slot) = self.slot(destination.id) else {
                    return Err(TokenError::Fetch {
                        url: client.token_url.clone(),
                        reason: "the engine has no token cache for this destination".into(),
                    });
                };
                let asked = Instant::now();
                let mut slot = slot.lock().await;
                let fresh = slot.cached.as_ref().filter(|c| asked < c.fresh_until);
                if let Some(c) = fresh {
                    return Ok(Some(Credential {
                        value: bearer(&c.token)?,
                        token: Some(c.token.clone()),
                    }));
                }
                // A fetch that failed while this caller waited is the one it waited on.
                if let Some((at, e)) = &slot.failure
                    && *at >= asked
                {
                    return Err(e.clone());
                }
                match fetch(&self.http, client).await {
                    Ok(fetched) => {
                        let credential = Credential {
                            value: bearer(&fetched.token)?,
                            token: Some(fetched.token.clone()),
                        };
                        *slot = Slot {
                            cached: Some(fetched),
                            failure: None,
                        };
                        Ok(Some(credential))
                    }
                    Err(e) => {
                        slot.failure = Some((Instant::now(), e.clone()));
                        Err(e)
                    }
                }
            }
        }
    }

    /// The destination refused `used` (401): forget it, unless it was replaced already.
    pub async fn rejected(&self, destination: &Destination, used: &Credential) {
        let (Some(slot), Some(token)) = (self.slot(destination.id), &used.token) else {
            return;
        };
        let mut slot = slot.lock().await;
        if slot.cached.as_ref().is_some_and(|c| c.token == *token) {
            slot.cached = None;
        }
    }
}

fn with(
    request: reqwest::RequestBuilder,
    credential: Option<&Credential>,
) -> reqwest::RequestBuilder {
    match credential {
        Some(c) => request.header(AUTHORIZATION, c.value.clone()),
        None => request,
    }
}

/// `Bearer <token>`, marked sensitive so no debug output shows it.
fn bearer(token: &str) -> Result<HeaderValue, TokenError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|_| TokenError::Unusable)?;
    value.set_sensitive(true);
    Ok(value)
}

/// One token request (RFC 6749 §4.4): `grant_type=client_credentials`, the client
/// authenticated with HTTP Basic (§2.3.1) or in the form.
async fn fetch(http: &reqwest::Client, client: &ClientCredentials) -> Result<Cached, TokenError> {
    let secret = client.client_secret.expose();
    // Neither the secret nor (should a server echo it) anything holding it is shown.
    let failed = |reason: String| TokenError::Fetch {
        url: client.token_url.clone(),
        reason: reason.replace(secret, "[secret]"),
    };
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &client.scope {
        form.push(("scope", scope));
    }
    if client.client_auth == ClientAuth::Body {
        form.push(("client_id", &client.client_id));
        form.push(("client_secret", secret));
    }
    let body = serde_urlencoded::to_string(&form).map_err(|e| failed(e.to_string()))?;
    let mut request = http
        .post(&client.token_url)
        .timeout(TOKEN_TIMEOUT)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body);
    if client.client_auth == ClientAuth::Basic {
        request = request.header(
            AUTHORIZATION,
            basic(&client.client_id, secret).map_err(failed)?,
        );
    }
    let response = request.send().await.map_err(|e| {
        failed(if e.is_timeout() {
            format!("no answer within {} s", TOKEN_TIMEOUT.as_secs())
        } else {
            error_chain(&e)
        })
    })?;
    let status = response.status();
    let bytes = read_bounded(response, TOKEN_BODY_LIMIT)
        .await
        .map_err(|e| failed(format!("HTTP {}, answer unreadable: {e}", status.as_u16())))?;
    if !status.is_success() {
        let (start, cut) = excerpt(&bytes, REFUSAL_EXCERPT);
        let more = if cut { "…" } else { "" };
        return Err(failed(format!("HTTP {}: {start}{more}", status.as_u16())));
    }
    let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
        failed(format!(
            "HTTP {} but the answer is not JSON (want {{\"access_token\", \"expires_in\"}})",
            status.as_u16()
        ))
    })?;
    let token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| failed("the answer has no access_token".into()))?;
    let lifetime = lifetime(answer.get("expires_in"));
    Ok(Cached {
        token: Arc::from(token.trim()),
        fresh_until: Instant::now() + lifetime - REFRESH_EARLY.min(lifetime / 2),
    })
}

/// `expires_in` in seconds, as a number or (some servers) a string; the default when
/// absent or unreadable.
fn lifetime(expires_in: Option<&Value>) -> Duration {
    let seconds = match expires_in {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    seconds
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(365.0 * 86_400.0)))
        .unwrap_or(DEFAULT_TOKEN_LIFETIME)
}

/// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 §2.3.1 has it.
fn basic(id: &str, secret: &str) -> Result<HeaderValue, String> {
    let encode = |v: &str| {
        serde_urlencoded::to_string([("v", v)])
            .map(|s| s.trim_start_matches("v=").to_string())
            .map_err(|e| e.to_string())
    };
    let pair = format!("{}:{}", encode(id)?, encode(secret)?);
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value =
        HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|e| e.to_string())?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifetimes_from_numbers_strings_or_the_default() {
        assert_eq!(lifetime(Some(&json!(60))), Duration::from_secs(60));
        assert_eq!(lifetime(Some(&json!("120"))), Duration::from_secs(120));
        assert_eq!(lifetime(Some(&json!(0))), DEFAULT_TOKEN_LIFETIME);
        assert_eq!(lifetime(None), DEFAULT_TOKEN_LIFETIME);
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let value = basic("my id", "a:b").expect("header");
        let text = value.to_str().expect("ascii");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim_start_matches("Basic "))
            .expect("base64");
        assert_eq!(String::from_utf8_lossy(&decoded), "my+id:a%3Ab");
    }
}
