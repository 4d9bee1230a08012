//! Clients' public keys: the JWKS document registered with the client, or one fetched
//! from the client's JWKS URL.
//!
//! A URL's document is cached for [`FRESH_FOR`]; an unknown `kid` (a key rotated in)
//! refetches it, at most once per [`REFETCH_AFTER`], so a stream of made-up `kid`s
//! cannot turn the engine into a request generator. A fetch goes only over http(s),
//! never through a proxy or a redirect, within [`FETCH_TIMEOUT`] and [`MAX_JWKS_BYTES`],
//! and only after every address the host resolves to was checked: link-local,
//! cloud-metadata, unspecified, broadcast and multicast addresses are refused before
//! any connection. Loopback and private ranges stay allowed (a self-hosted key server,
//! tests).

use super::OAuthError;
use crate::store::credentials::ClientAuth;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a fetched document is used without fetching it again.
pub const FRESH_FOR: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches of one URL.
pub const REFETCH_AFTER: Duration = Duration::from_secs(60);
/// Name resolution, connection and the whole answer, each.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JwksError {
    #[error("\"{0}\" is not an http or https URL")]
    Url(String),
    #[error(
        "{} a {why} address, which is never fetched from: serve the JWKS from an ordinary \
         address",
        place(.host, .addr)
    )]
    Refused {
        host: String,
        addr: IpAddr,
        why: &'static str,
    },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot fetch it: {0}")]
    Fetch(String),
    #[error("its answer was HTTP {0}")]
    Status(u16),
    #[error("it is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Document(String),
}

/// `ADDR is` for an address given as such, `HOST is at ADDR,` for a name.
fn place(host: &str, addr: &IpAddr) -> String {
    if host.trim_start_matches('[').trim_end_matches(']') == addr.to_string() {
        format!("{addr} is")
    } else {
        format!("{host} is at {addr},")
    }
}

/// Why `ip` is never fetched from, or `None` when it may be.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("cloud metadata")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("cloud metadata")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.octets()[0] == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// Parses and checks a JWKS URL without connecting: http(s), a host, and no refused
/// address when the host is an address.
pub fn check_url(text: &str) -> Result<reqwest::Url, JwksError> {
    let url = reqwest::Url::parse(text.trim()).map_err(|_| JwksError::Url(text.into()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(JwksError::Url(text.into()));
    }
    // An address as host (IPv6 in brackets); a name is checked once resolved.
    let literal = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok());
    if let Some(addr) = literal
        && let Some(why) = forbidden(addr)
    {
        return Err(JwksError::Refused {
            host: addr.to_string(),
            addr,
            why,
        });
    }
    Ok(url)
}

/// Resolves the URL's host and checks every address, before any connection.
async fn addresses(url: &reqwest::Url) -> Result<(String, Vec<SocketAddr>), JwksError> {
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let resolved = tokio::time::timeout(
        FETCH_TIMEOUT,
        tokio::net::lookup_host((lookup_host.as_str(), port)),
    )
    .await
    .map_err(|_| JwksError::Resolve {
        host: host.clone(),
        reason: "no answer in time".into(),
    })?
    .map_err(|e| JwksError::Resolve {
        host: host.clone(),
        reason: e.to_string(),
    })?;
    let addrs: Vec<SocketAddr> = resolved.collect();
    for addr in &addrs {
        if let Some(why) = forbidden(addr.ip()) {
            return Err(JwksError::Refused {
                host: host.clone(),
                addr: addr.ip(),
                why,
            });
        }
    }
    if addrs.is_empty() {
        return Err(JwksError::Resolve {
            host,
            reason: "no address".into(),
        });
    }
    Ok((lookup_host, addrs))
}

/// Fetches the document at `url` (checked as the module says) and keeps its usable keys.
pub async fn fetch(url: &str) -> Result<Vec<Jwk>, JwksError> {
    let url = check_url(url)?;
    let (host, addrs) = addresses(&url).await?;
    // Connect only to the addresses just checked: no second resolution in between.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(FETCH_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(|e| JwksError::Fetch(e.to_string()))?;
    let mut answer = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| JwksError::Fetch(e.to_string()))?;
    if !answer.status().is_success() {
        return Err(JwksError::Status(answer.status().as_u16()));
    }
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        return Err(JwksError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| JwksError::Fetch(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| JwksError::Document(format!("it is not JSON ({e})")))?;
    usable_keys(&doc)
}

/// Whether `jwk` verifies `alg`: RSA for RS384, P-384 for ES384, and its own `alg`, if
/// it names one, the same.
pub fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let family = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS384) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        _ => false,
    };
    family
        && jwk
            .common
            .key_algorithm
            .is_none_or(|k| k.to_string() == format!("{alg:?}"))
}

/// The keys of a JWKS document this flow can use: with a `kid`, for signatures, RSA
/// (RS384) or P-384 (ES384). Private key material is refused: only public keys are
/// registered.
pub fn usable_keys(doc: &Value) -> Result<Vec<Jwk>, JwksError> {
    let keys = doc.get("keys").and_then(Value::as_array).ok_or_else(|| {
        JwksError::Document("it is not a JWKS: expected {\"keys\": [...]}".into())
    })?;
    let mut usable = Vec::new();
    for key in keys {
        if key.get("d").is_some() {
            return Err(JwksError::Document(format!(
                "key {} holds private key material (\"d\"): register only the public keys",
                key.get("kid").unwrap_or(&Value::Null)
            )));
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(key.clone()) else {
            continue;
        };
        let signing = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption));
        let named = jwk.common.key_id.as_deref().is_some_and(|k| !k.is_empty());
        if signing && named && (fits(&jwk, Algorithm::RS384) || fits(&jwk, Algorithm::ES384)) {
            usable.push(jwk);
        }
    }
    if usable.is_empty() {
        return Err(JwksError::Document(
            "it has no usable key: each key needs a \"kid\", and must be an RSA key (RS384) \
             or a P-384 EC key (ES384)"
                .into(),
        ));
    }
    Ok(usable)
}

fn find(keys: &[Jwk], kid: &str, alg: Algorithm) -> Option<Jwk> {
    keys.iter()
        .find(|k| k.common.key_id.as_deref() == Some(kid) && fits(k, alg))
        .cloned()
}

fn unknown_kid(kid: &str, alg: Algorithm) -> OAuthError {
    OAuthError::invalid_client(format!(
        "kid \"{kid}\" is not a {alg:?} key of this client's JWKS: sign with a registered key \
         and name it in the header's kid."
    ))
}

/// A URL's last fetch.
struct Entry {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
    tried: Instant,
    error: Option<JwksError>,
}

impl Entry {
    fn fresh(&self) -> bool {
        self.fetched.is_some_and(|at| at.elapsed() < FRESH_FOR)
    }
}

/// Fetched JWKS documents, by URL.
/// One URL's entry, behind its own lock.
type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

#[derive(Default)]
pub struct Cache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Cache {
    /// The key named `kid` that verifies `alg`, for a client's registered keys.
    pub(crate) async fn key(
        &self,
        auth: &ClientAuth,
        kid: &str,
        alg: Algorithm,
    ) -> Result<Jwk, OAuthError> {
        match auth {
            ClientAuth::Jwks { jwks } => {
                let keys = usable_keys(jwks).map_err(|e| {
                    OAuthError::invalid_client(format!("The client's registered JWKS: {e}."))
                })?;
                find(&keys, kid, alg).ok_or_else(|| unknown_kid(kid, alg))
            }
            ClientAuth::JwksUrl { url } => self.url_key(url, kid, alg).await,
            ClientAuth::Hs384 { .. } => Err(unknown_kid(kid, alg)),
        }
    }

    fn slot(&self, url: &str) -> Slot {
        let mut slots = match self.slots.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.entry(url.to_string()).or_default().clone()
    }

    async fn url_key(&self, url: &str, kid: &str, alg: Algorithm) -> Result<Jwk, OAuthError> {
        let slot = self.slot(url);
        // One fetch per URL at a time: copies of one request wait for it rather than
        // repeat it, and a slow key server holds up only its own clients.
        let mut guard = slot.lock().await;
        if let Some(entry) = guard.as_ref() {
            if entry.fresh()
                && let Some(key) = find(&entry.keys, kid, alg)
            {
                return Ok(key);
            }
            if entry.tried.elapsed() < REFETCH_AFTER {
                return Err(refusal(url, entry, kid, alg));
            }
        }
        let fetched = fetch(url).await;
        let entry = guard.get_or_insert_with(|| Entry {
            keys: Vec::new(),
            fetched: None,
            tried: Instant::now(),
            error: None,
        });
        entry.tried = Instant::now();
        match fetched {
            Ok(keys) => {
                entry.keys = keys;
                entry.fetched = Some(Instant::now());
                entry.error = None;
            }
            Err(e) => {
                tracing::warn!(%url, error = %e, "cannot fetch a client's JWKS");
                entry.error = Some(e);
            }
        }
        // After a failed refetch, keys still within their cache life stand.
        match entry.fresh().then(|| find(&entry.keys, kid, alg)).flatten() {
            Some(key) => Ok(key),
            None => Err(refusal(url, entry, kid, alg)),
        }
    }
}

fn refusal(url: &str, entry: &Entry, kid: &str, alg: Algorithm) -> OAuthError {
    match &entry.error {
        Some(e) => OAuthError::invalid_client(format!(
            "The client's JWKS at {url} could not be used: {e}. It is tried again at most once \
             a minute."
        )),
        None => unknown_kid(kid, alg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_metadata_and_unspecified_addresses_are_refused_loopback_is_not() {
        for refused in [
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "255.255.255.255",
        ] {
            let ip: IpAddr = refused.parse().expect("address");
            assert!(forbidden(ip).is_some(), "{refused} must be refused");
        }
        for allowed in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "192.168.0.10",
            "93.184.216.34",
        ] {
            let ip: IpAddr = allowed.parse().expect("address");
            assert_eq!(forbidden(ip), None, "{allowed} must be allowed");
        }
        assert!(matches!(
            check_url("http://169.254.169.254/latest/meta-data"),
            Err(JwksError::Refused { .. })
        ));
        assert!(matches!(
            check_url("http://[fe80::1]:8080/jwks"),
            Err(JwksError::Refused { .. })
        ));
        assert!(matches!(
            check_url("file:///etc/passwd"),
            Err(JwksError::Url(_))
        ));
        assert!(check_url("http://127.0.0.1:8080/jwks.json").is_ok());
    }

    #[test]
    fn a_jwks_keeps_only_named_signature_keys_and_refuses_private_ones() {
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-384", "kid": "ec", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "kid": "p256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "sym", "k": "AAAA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}
        ]});
        let keys = usable_keys(&doc).expect("one usable key");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].common.key_id.as_deref(), Some("ec"));
        assert!(find(&keys, "ec", Algorithm::ES384).is_some());
        assert!(find(&keys, "ec", Algorithm::RS384).is_none());
        let private = serde_json::json!({"keys": [{"kty": "RSA", "kid": "a", "n": "AQAB",
            "e": "AQAB", "d": "AQAB"}]});
        assert!(usable_keys(&private).is_err());
        assert!(usable_keys(&serde_json::json!([])).is_err());
    }
}
