//! Thin entry points to the parsers behind the doors that are not public on their own,
//! for the cargo-fuzz targets (`fuzz/`) and their regression tests
//! (`tests/suite/fuzz_regressions.rs`). Each calls exactly what the live handler calls, so a
//! finding here is a finding there. Hidden from the docs: not an API to build on.
//!
//! The envelope (`model::meta::parse_envelope`), timestamps (`model::time`), the filter
//! language (`model::filter`) and the composer's FHIR search form
//! (`model::fhir::search`) are public already and need nothing here.

use crate::api::{fhir, oauth, platform};
use crate::engine::fhir::params;
use crate::engine::oauth::{OAuthError, TokenRequest, verify};
use crate::model::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::{Map, Value};

fn content_type(value: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers
}

/// `POST /auth/authenticate`'s body read as the handler reads it: `(apiKey, secret)`.
pub fn authenticate_body(content: Option<&str>, body: &[u8]) -> Result<(String, String), ApiError> {
    let read: platform::AuthenticateBody =
        platform::parse_auth(&content_type(content), body, "{apiKey, secret}")?;
    Ok((read.api_key, read.secret))
}

/// `POST /auth/refreshToken`'s body: `(apiKey, refreshToken)`.
pub fn refresh_body(content: Option<&str>, body: &[u8]) -> Result<(String, String), ApiError> {
    let read: platform::RefreshBody =
        platform::parse_auth(&content_type(content), body, "{apiKey, refreshToken}")?;
    Ok((read.api_key, read.refresh_token))
}

/// `POST /v2/auth/token`'s form.
pub fn token_request(body: &[u8]) -> Result<TokenRequest, OAuthError> {
    oauth::token_request(body)
}

/// The form's fixed parameters checked; the assertion when they hold.
pub fn assertion_of(request: &TokenRequest) -> Result<&str, OAuthError> {
    crate::engine::oauth::assertion_of(request)
}

/// The assertion's header as read before any signature check: its algorithm's name and
/// its `kid`, or the refusal the client would get.
pub fn assertion_header(assertion: &str) -> Result<(String, Option<String>), OAuthError> {
    verify::algorithm_of(assertion).map(|(alg, kid)| (format!("{alg:?}"), kid))
}

/// Part `part` of a compact JWT decoded as a JSON object, untrusted (how the engine
/// finds the client named by `iss` before verifying).
pub fn peek_part(assertion: &str, part: usize) -> Option<Map<String, Value>> {
    verify::peek(assertion, part)
}

/// `POST /fhir/R4/…/{resource}/_search`'s form body as the handler reads and checks it
/// (the query string aside): the parameters kept, or the error answered.
pub fn fhir_search(resource: &str, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let spec = params::known_resource(resource)?;
    let kept = fhir::search_form(body)?;
    params::validate_search(spec, &kept)?;
    Ok(kept)
}
