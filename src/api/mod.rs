//! HTTP: the platform API (`/auth/*`, `/endpoint`, `/query`, and `/upload` in
//! [`upload`]) and the admin API (`/admin/v1/*`). Handlers only adapt HTTP to engine
//! calls; every error leaves in the platform's shape, except [`oauth`]'s (the JWT
//! flow's token endpoint), in RFC 6749's, and [`fhir`]'s (the FHIR R4 API under
//! `/fhir/R4/`), as OperationOutcomes; [`platform_api`] is the management API
//! (`/platform/v0|v1/organizations/{org}/…`) in its own `{meta, payload}` shape.
//! [`peer`] is the client's address, which the login limits count by.
//! [`ops`] is `/metrics`, `/healthz` and `/readyz`, and the layer that counts answers.
//! [`openapi`] is `/openapi.json`: the OpenAPI 3.1 document of all of these, built
//! from the code (answered without a token).

pub mod admin;
pub mod fhir;
pub mod oauth;
pub mod openapi;
pub mod ops;
mod params;
pub mod peer;
pub mod platform;
pub mod platform_api;
pub mod server;
pub mod upload;

use crate::engine::Engine;
use crate::model::ApiError;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::sync::Arc;

pub type AppState = Arc<Engine>;

/// The whole HTTP surface of an engine.
pub fn router(engine: Arc<Engine>) -> Router {
    let routes = Router::new()
        .merge(platform::routes())
        .merge(upload::routes())
        .merge(oauth::routes())
        .merge(fhir::routes())
        .merge(platform_api::routes())
        .merge(ops::routes())
        .merge(openapi::routes())
        .nest("/admin/v1", admin::routes())
        .nest_service(
            crate::sandbox::PATH,
            crate::sandbox::Sandbox::new().router(),
        )
        .fallback(not_found)
        // Bodies are read by `read_body`, which applies the configured limit and
        // answers 413 in the platform's shape.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            engine.clone(),
            ops::count,
        ))
        .layer(axum::middleware::from_fn(admin::audit::origin))
        .with_state(engine);
    // Around the whole router: a route's `Allow` header is set outside its own layers.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn(method_not_allowed))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with(platform_api::PREFIX) {
        return platform_api::error(&ApiError::not_found(format!(
            "There is no Platform API route {}. Its routes are /platform/v1/organizations/\
             {{org}}/ followed by environments, subscriptions, logs, logs/{{id}} or \
             logs/{{id}}/retry (v0 as well).",
            uri.path()
        )));
    }
    if uri.path().starts_with(fhir::PREFIX) {
        return fhir::outcome(&ApiError::not_found(format!(
            "There is no FHIR route {}. The FHIR API is /fhir/R4/{{slug}}/{{environment}}/ \
             followed by metadata, {{Resource}}/{{id}}, {{Resource}}?…, {{Resource}}/_search \
             or {{Resource}}/$<operation>.",
            uri.path()
        )));
    }
    error_response(
        &ApiError::not_found(format!(
            "There is no route {}. The platform API is POST /auth/authenticate, \
             /auth/refreshToken, /v2/auth/token (or /oauth/token), /endpoint, /query, \
             /upload and /poll, and GET /upload/{{id}}.",
            uri.path()
        )),
        None,
    )
}

/// A 405 in the platform's shape that names the methods the route takes. axum writes
/// its `Allow` header after any fallback handler runs, so the body is made here, around
/// the router, from that header.
async fn method_not_allowed(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allowed = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace(',', ", "))
        .filter(|v| !v.is_empty());
    let text = match &allowed {
        Some(list) => format!("{method} is not allowed on {path}; use {list}."),
        None => format!("{method} is not allowed on {path}."),
    };
    let error = ApiError::new(405, "request", "Request", text);
    let mut answer = if path.starts_with(fhir::PREFIX) {
        fhir::outcome(&error)
    } else if path.starts_with(platform_api::PREFIX) {
        platform_api::error(&error)
    } else {
        error_response(&error, None)
    };
    if let Some(allow) = response.headers().get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// An error in the platform's shape, echoing the sender's Meta where known.
pub fn error_response(error: &ApiError, meta: Option<&Map<String, Value>>) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(error.body(meta))).into_response();
    for (name, value) in &error.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}

/// A JSON answer, or the error in the platform's shape.
pub fn reply<T: serde::Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => error_response(&e, None),
    }
}

/// Reads a request body up to `limit` bytes; 413 beyond it, 408 when it does not arrive
/// within the body timeout.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(e) => {
            if let Some(t) = timed_out(&e) {
                return Err(ApiError::new(
                    408,
                    "timeout",
                    "Request",
                    format!(
                        "The request body did not arrive within {} s of its headers (the \
                         engine's body_timeout_seconds). Send the whole body without pausing.",
                        t.0.as_secs()
                    ),
                ));
            }
            if caused_by::<http_body_util::LengthLimitError>(&e).is_some() {
                Err(ApiError::too_large(limit))
            } else {
                Err(ApiError::bad_request(format!(
                    "Could not read the request body: {e}"
                )))
            }
        }
    }
}

/// The body timeout, if it is what ended a body read (see [`server`]).
fn timed_out<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a server::BodyTimedOut> {
    caused_by::<server::BodyTimedOut>(error)
}

/// The first error of type `E` in `error`'s chain: answers are chosen by what went
/// wrong, never by the wording of a message.
fn caused_by<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}

/// The bearer token of a request, or a 401 saying how to send one.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "The Authorization header is missing. Send `Authorization: Bearer <accessToken>` \
                 (get a token from /auth/authenticate).",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unauthorized("The Authorization header is not readable text."))?;
    // The scheme name is case-insensitive (RFC 7235).
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("The Authorization header must be `Bearer <accessToken>`.")
        })?;
    Ok(token)
}
