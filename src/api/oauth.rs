//! The OAuth token endpoint of the JWT flow: `POST /v2/auth/token` and the older
//! spelling `POST /oauth/token`. Answers and errors in RFC 6749's shape (not the
//! platform's `Meta.Errors`), never cached; only the login limit's 429 is in the
//! platform's shape, as every rate limit of the engine.

use super::peer::Peer;
use super::{AppState, error_response, read_body};
use crate::engine::oauth::{OAuthError, TokenRequest, claimed_client};
use crate::engine::throttle::AuthAttempt;
use crate::model::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// A token request is a few form fields and one JWT; an RSA-4096 assertion is ~1 KiB.
const TOKEN_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/auth/token", post(token))
        .route("/oauth/token", post(token))
}

/// The token request's form, or why it cannot be read.
pub(crate) fn token_request(bytes: &[u8]) -> Result<TokenRequest, OAuthError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        OAuthError::invalid_request(format!(
            "The body must be a form (application/x-www-form-urlencoded) with \
             grant_type, client_assertion_type and client_assertion, each once ({e})."
        ))
    })
}

/// Why a token request got no token: the flow's own refusal (RFC 6749's shape), or the
/// login limit (429, in the platform's shape as every rate limit of the engine).
enum Refusal {
    OAuth(OAuthError),
    Limited(ApiError),
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Self {
        Refusal::OAuth(e)
    }
}

async fn token(
    State(engine): State<AppState>,
    peer: Peer,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&headers, body, TOKEN_BODY_LIMIT)
            .await
            .map_err(|e| {
                let text = e
                    .entries
                    .first()
                    .map(|e| e.text.clone())
                    .unwrap_or_default();
                OAuthError::invalid_request(text)
            })?;
        let request = token_request(&bytes)?;
        let client = claimed_client(&request);
        let attempt = AuthAttempt::new(uri.path(), client.as_deref(), peer.0);
        engine.auth_admit(&attempt).map_err(Refusal::Limited)?;
        let outcome = engine.client_credentials(&request).await;
        match &outcome {
            Ok(_) => engine.auth_succeeded(&attempt),
            Err(e) if e.status == 401 => engine.auth_failed(&attempt, &e.description),
            Err(_) => {}
        }
        if let Err(e) = &outcome
            && e.status != 429
        {
            engine.audit_failed_login(
                client.as_deref().unwrap_or("(unnamed client)"),
                "/v2/auth/token",
                &format!("{} {}: {}", e.status, e.error, e.description),
            );
        }
        Ok::<_, Refusal>(outcome?)
    }
    .await;
    let mut response = match result {
        Ok(grant) => (StatusCode::OK, axum::Json(serde_json::json!(grant))).into_response(),
        Err(Refusal::OAuth(e)) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(e.body()),
        )
            .into_response(),
        Err(Refusal::Limited(e)) => error_response(&e, None),
    };
    // RFC 6749 §5.1: token answers are never cached.
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
