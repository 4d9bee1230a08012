//! The OAuth token endpoint of the JWT flow: `POST /v2/auth/token` and the older
//! spelling `POST /oauth/token`. Answers and errors in RFC 6749's shape (not the
//! platform's `Meta.Errors`), never cached.

use super::{AppState, read_body};
use crate::engine::oauth::{OAuthError, TokenRequest};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// A token request is a few form fields and one JWT; an RSA-4096 assertion is ~1 KiB.
const TOKEN_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/auth/token", post(token))
        .route("/oauth/token", post(token))
}

async fn token(State(engine): State<AppState>, headers: HeaderMap, body: Body) -> Response {
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
        let request: TokenRequest = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            OAuthError::invalid_request(format!(
                "The body must be a form (application/x-www-form-urlencoded) with \
                 grant_type, client_assertion_type and client_assertion, each once ({e})."
            ))
        })?;
        let granted = engine.client_credentials(&request).await;
        if let Err(e) = &granted
            && e.status != 429
        {
            let client = request.client_id.clone().or_else(|| {
                request
                    .client_assertion
                    .as_deref()
                    .and_then(crate::engine::audit::assertion_issuer)
            });
            engine.audit_failed_login(
                client.as_deref().unwrap_or("(unnamed client)"),
                "/v2/auth/token",
                &format!("{} {}: {}", e.status, e.error, e.description),
            );
        }
        granted
    }
    .await;
    let (status, body) = match result {
        Ok(grant) => (StatusCode::OK, serde_json::json!(grant)),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        ),
    };
    let mut response = (status, axum::Json(body)).into_response();
    // RFC 6749 §5.1: token answers are never cached.
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
