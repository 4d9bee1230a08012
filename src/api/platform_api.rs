//! The Platform API: the platform's read-mostly management API, served under both
//! `/platform/v0/` and `/platform/v1/` (clients of the platform use either), as thin
//! handlers over the admin API's engine calls, with the same tokens, roles, PHI masking
//! and audit. Answers are `{"meta": {"version": "1.0.0"}, "payload": {…}}`.
//!
//! Errors: the platform's public documentation shows no error body for this API, so
//! the choice here **(ours)** is the same envelope with `errors` in place of
//! `payload`: `{"meta": {"version": "1.0.0"}, "errors": [{"message": "…"}]}`.

mod logs;

use super::AppState;
use super::admin::{admin, blocking};
use crate::engine::Engine;
use crate::model::{ApiError, Environment};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use uuid::Uuid;

/// Where this API's routes start (its 404s and 405s answer in its shape too).
pub const PREFIX: &str = "/platform/";

/// The version every answer carries in `meta`.
pub const VERSION: &str = "1.0.0";

/// Environment IDs (ours): fixed, one per environment type, in the family of the other
/// built-in IDs, so that a client may keep them across restarts and installations.
pub const ENVIRONMENT_IDS: [(Environment, Uuid); 3] = [
    (
        Environment::Development,
        Uuid::from_u128(0x5b7c0a11_c0de_4e57_8a00_0000000000e1),
    ),
    (
        Environment::Staging,
        Uuid::from_u128(0x5b7c0a11_c0de_4e57_8a00_0000000000e2),
    ),
    (
        Environment::Production,
        Uuid::from_u128(0x5b7c0a11_c0de_4e57_8a00_0000000000e3),
    ),
];

/// The organization this engine answers for: yours (`own = true`, else the built-in
/// "Switchboard").
fn own_organization(engine: &Engine) -> Uuid {
    engine.registry().own_organization().id
}

/// Whether `{org}` in a URL names this engine's own organization.
pub fn organization_matches(engine: &Engine, org: &str) -> bool {
    Uuid::parse_str(org.trim()).is_ok_and(|id| id == own_organization(engine))
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for version in ["v0", "v1"] {
        let base = format!("/platform/{version}/organizations/{{org}}");
        router = router
            .route(&format!("{base}/environments"), get(environments))
            .route(&format!("{base}/subscriptions"), get(subscriptions))
            .route(&format!("{base}/logs"), get(logs::list))
            .route(&format!("{base}/logs/{{id}}"), get(logs::detail))
            .route(&format!("{base}/logs/{{id}}/retry"), post(logs::retry));
    }
    router
}

/// An answer in the Platform API's envelope, or its error.
pub(super) fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(payload) => {
            axum::Json(json!({"meta": {"version": VERSION}, "payload": payload})).into_response()
        }
        Err(e) => error(&e),
    }
}

/// An error in this API's shape (see the module's doc), keeping any headers it carries.
pub fn error(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let errors: Vec<Value> = e
        .entries
        .iter()
        .map(|entry| json!({"message": entry.text}))
        .collect();
    let mut response = (
        status,
        axum::Json(json!({"meta": {"version": VERSION}, "errors": errors})),
    )
        .into_response();
    for (name, value) in &e.headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}

/// 404 unless `org` is this engine's organization.
pub(super) fn check_org(engine: &Engine, org: &str) -> Result<(), ApiError> {
    if organization_matches(engine, org) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "There is no organization \"{org}\" on this engine. Its own organization is {} \
             (`switchboard connections --json` shows it).",
            own_organization(engine)
        )))
    }
}

async fn environments(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Response {
    let result = (|| {
        admin(&engine, &headers)?;
        check_org(&engine, &org)?;
        let organization = own_organization(&engine);
        let environments: Vec<Value> = ENVIRONMENT_IDS
            .iter()
            .map(|(env, id)| {
                json!({
                    "id": id,
                    "name": env.as_str(),
                    "environmentFlag": env.as_str(),
                    "organization": {"id": organization},
                })
            })
            .collect();
        Ok(json!({ "environments": environments }))
    })();
    answer(result)
}

/// One entry per (source, destination, data model); a subscription that allows every
/// data model is one entry with `dataModel` `*`.
async fn subscriptions(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Response {
    let result = blocking(move || {
        admin(&engine, &headers)?;
        check_org(&engine, &org)?;
        let registry = engine.registry();
        let mut out = Vec::new();
        for sub in &registry.subscriptions {
            let (Some(source), Some(destination)) = (
                registry.source(sub.source_id),
                registry.destination(sub.destination_id),
            ) else {
                continue;
            };
            let models: Vec<&str> = if sub.data_models.is_empty() {
                vec!["*"]
            } else {
                sub.data_models.iter().map(String::as_str).collect()
            };
            for model in models {
                out.push(json!({
                    "source": {"id": source.id, "name": source.name},
                    "destination": {"id": destination.id, "name": destination.name},
                    "dataModel": model,
                    "environmentFlag": source.environment.as_str(),
                }));
            }
        }
        Ok(json!({ "subscriptions": out }))
    })
    .await;
    answer(result)
}
