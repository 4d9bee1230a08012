//! The platform API, wire-compatible with the Redox legacy API.

use super::peer::Peer;
use super::{AppState, bearer, error_response, read_body, reply};
use crate::engine::throttle::AuthAttempt;
use crate::model::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

/// Auth bodies are tiny; a fixed small bound keeps junk out.
const AUTH_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/authenticate", post(authenticate))
        .route("/auth/refreshToken", post(refresh))
        .route("/endpoint", post(endpoint))
        .route("/query", post(query))
        .route("/poll", post(poll))
        .route("/poll/ack", post(poll_ack))
}

/// Poll requests are small; a fixed bound keeps junk out.
const POLL_BODY_LIMIT: usize = 256 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PollBody {
    destination: String,
    max: Option<usize>,
    lease_seconds: Option<u64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct AckBody {
    destination: String,
    log_ids: Vec<String>,
}

fn verification_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get("verification-token")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "The verification-token header is missing. Send your destination's verification token.",
            )
        })
}

fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            400,
            "request",
            "Poll",
            format!("The body must be JSON {shape} ({e})."),
        )
    })
}

async fn poll(State(engine): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let token = verification_token(&headers)?;
        let bytes = read_body(&headers, body, POLL_BODY_LIMIT).await?;
        let req: PollBody = parse_body(
            &bytes,
            "{\"destination\": ID, \"max\": N, \"leaseSeconds\": S}",
        )?;
        engine
            .poll(&req.destination, token, req.max, req.lease_seconds)
            .await
            .map(|items| serde_json::json!({ "items": items }))
    }
    .await;
    reply(result)
}

async fn poll_ack(State(engine): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let token = verification_token(&headers)?;
        let bytes = read_body(&headers, body, POLL_BODY_LIMIT).await?;
        let req: AckBody = parse_body(&bytes, "{\"destination\": ID, \"logIds\": [...]}")?;
        engine
            .ack(&req.destination, token, &req.log_ids)
            .await
            .map(|settled| serde_json::json!({ "acknowledged": settled }))
    }
    .await;
    reply(result)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthenticateBody {
    pub(crate) api_key: String,
    pub(crate) secret: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefreshBody {
    pub(crate) api_key: String,
    pub(crate) refresh_token: String,
}

/// An authentication body as clients send it: JSON, or a form
/// (`application/x-www-form-urlencoded`: Ruby's HTTParty with a Hash body, Node's
/// `request` with `form:`), with the same field names. A body without the form's content
/// type is read as JSON, and, if it is not JSON but reads as a form, as a form.
pub(crate) fn parse_auth<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &[u8],
    shape: &str,
) -> Result<T, ApiError> {
    let refused = |e: &dyn std::fmt::Display| {
        ApiError::new(
            400,
            "request",
            "Authentication",
            format!(
                "The body must be JSON {shape}, or a form (application/x-www-form-urlencoded) \
                 with the same fields ({e})."
            ),
        )
    };
    let form_declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if form_declared {
        return serde_urlencoded::from_bytes(bytes).map_err(|e| refused(&e));
    }
    serde_json::from_slice(bytes).or_else(|json| {
        let looks_like_form = !bytes.trim_ascii_start().starts_with(b"{")
            && !bytes.trim_ascii_start().starts_with(b"[")
            && bytes.contains(&b'=');
        if looks_like_form {
            serde_urlencoded::from_bytes(bytes).map_err(|e| refused(&e))
        } else {
            Err(refused(&json))
        }
    })
}

async fn authenticate(
    State(engine): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&headers, body, AUTH_BODY_LIMIT).await?;
        let req: AuthenticateBody =
            parse_auth(&headers, &bytes, "{\"apiKey\": \"…\", \"secret\": \"…\"}")?;
        let attempt = AuthAttempt::new("/auth/authenticate", Some(&req.api_key), peer.0);
        engine.auth_admit(&attempt)?;
        let outcome = engine.authenticate(&req.api_key, &req.secret).await;
        engine.audit_login(&req.api_key, "/auth/authenticate", &outcome);
        settle(&engine, &attempt, outcome)
    }
    .await;
    reply(result)
}

async fn refresh(
    State(engine): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&headers, body, AUTH_BODY_LIMIT).await?;
        let req: RefreshBody = parse_auth(
            &headers,
            &bytes,
            "{\"apiKey\": \"…\", \"refreshToken\": \"…\"}",
        )?;
        let attempt = AuthAttempt::new("/auth/refreshToken", Some(&req.api_key), peer.0);
        engine.auth_admit(&attempt)?;
        let outcome = engine.refresh(&req.api_key, &req.refresh_token).await;
        engine.audit_login(&req.api_key, "/auth/refreshToken", &outcome);
        settle(&engine, &attempt, outcome)
    }
    .await;
    reply(result)
}

/// Tells the login limits how an attempt ended: a 401 is a failed login; other errors
/// (the engine's own) are neither failure nor success.
fn settle<T>(
    engine: &AppState,
    attempt: &AuthAttempt,
    outcome: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match &outcome {
        Ok(_) => engine.auth_succeeded(attempt),
        Err(e) if e.status == 401 => {
            let reason = e.entries.first().map_or("", |entry| entry.text.as_str());
            engine.auth_failed(attempt, reason);
        }
        Err(_) => {}
    }
    outcome
}

#[derive(Clone, Copy)]
enum Route {
    Endpoint,
    Query,
}

async fn exchange(engine: AppState, headers: HeaderMap, body: Body, route: Route) -> Response {
    let token = match bearer(&headers) {
        Ok(token) => token,
        Err(e) => return error_response(&e, None),
    };
    let source = match engine.source_for_token(token).await {
        Ok(source) => source,
        Err(e) => return error_response(&e, None),
    };
    let bytes = match read_body(&headers, body, engine.settings().max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return error_response(&e, None),
    };
    let result = match route {
        Route::Endpoint => engine.endpoint(&source, &bytes).await,
        Route::Query => engine.query(&source, &bytes).await,
    };
    match result {
        Ok(answer) => {
            // An answer carrying more than the echoed Meta is a query's answer.
            let answered = matches!(route, Route::Query) || answer.fields() > 1;
            if answered
                && let Err(e) = engine.audit_composer_reveal(token, &source, answer.log_id())
            {
                return error_response(&e, None);
            }
            json_response(answer.into_bytes())
        }
        Err(rejection) => error_response(&rejection.error, rejection.meta.as_deref()),
    }
}

/// JSON text as `axum::Json` sends it (the same content type).
fn json_response(bytes: Vec<u8>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

async fn endpoint(State(engine): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    exchange(engine, headers, body, Route::Endpoint).await
}

async fn query(State(engine): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    exchange(engine, headers, body, Route::Query).await
}
