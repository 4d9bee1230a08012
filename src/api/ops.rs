//! Operations endpoints: `GET /metrics` (Prometheus, see `engine::metrics`), `GET
//! /healthz` (the process serves) and `GET /readyz` (the engine can take work, see
//! `engine::ready`). They answer without a token, carrying no PHI; `[engine]
//! metrics_token` makes `/metrics` ask for one. And [`count`], the layer that counts
//! every HTTP answer by route template and status.

use super::{AppState, error_response};
use crate::model::ApiError;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

/// What Prometheus asks for and `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of requests no route took (unknown paths): one series for all.
const UNMATCHED: &str = "unmatched";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn metrics(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &engine.settings().metrics_token
        && let Err(refusal) = metrics_bearer(&headers, expected.expose())
    {
        let mut response = error_response(&refusal, None);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    match engine.render_metrics() {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(e) => error_response(
            &ApiError::internal(format!("The metrics could not be written out ({e}).")),
            None,
        ),
    }
}

/// `Ok` when the request carries the metrics token as its bearer.
fn metrics_bearer(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            "The bearer token is not this engine's metrics token. Send `Authorization: \
             Bearer <token>` with the value of [engine] metrics_token (or the file \
             metrics_token_file names).",
        )),
        None => Err(ApiError::unauthorized(
            "GET /metrics needs the metrics token on this engine: send `Authorization: \
             Bearer <token>` with the value of [engine] metrics_token (or the file \
             metrics_token_file names).",
        )),
    }
}

async fn healthz() -> Response {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok"})),
    )
        .into_response()
}

async fn readyz(State(engine): State<AppState>) -> Response {
    match engine.readiness().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(reason = %e, "not ready");
            error_response(&e, None)
        }
    }
}

/// Counts each answer under its route template, so that IDs in paths never become
/// labels. Layered on the router's routes (not around it), where the matched route is
/// known.
pub async fn count(State(engine): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_label(p.as_str()))
        .unwrap_or_else(|| UNMATCHED.to_string());
    let method = request.method().clone();
    let response = next.run(request).await;
    engine
        .metrics()
        .http_request(&route, method.as_str(), response.status().as_u16());
    response
}

/// A template as a label: axum names the tail of a nested service with a private
/// parameter; it reads as `{*rest}`.
fn route_label(template: &str) -> String {
    match template.find("{*__private__") {
        Some(at) => format!("{}{{*rest}}", &template[..at]),
        None => template.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tails_read_plainly() {
        assert_eq!(
            route_label("/sandbox/{*__private__axum_nest_tail_param}"),
            "/sandbox/{*rest}"
        );
        assert_eq!(route_label("/admin/v1/logs/{id}"), "/admin/v1/logs/{id}");
    }

    #[test]
    fn the_metrics_token_is_checked() {
        let mut headers = HeaderMap::new();
        assert!(metrics_bearer(&headers, "s3cret").is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert!(metrics_bearer(&headers, "s3cret").is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(metrics_bearer(&headers, "s3cret").is_ok());
    }
}
