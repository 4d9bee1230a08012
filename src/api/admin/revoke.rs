//! Admin API for credentials (admin role only): `GET /tokens` (live admin tokens and
//! sessions, never secrets), `GET /keys` (source keys, never secrets), `POST /keys`
//! (a new key; its secret in this answer only), `POST /keys/{apiKey}/revoke`,
//! `POST /tokens/{name}/revoke`.

use super::{actor, admin};
use crate::api::{AppState, reply};
use crate::engine::Engine;
use crate::model::view::NewKey;
use crate::model::{ApiError, Role};
use crate::store::credentials::TokenRecord;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{key}/revoke", post(revoke_key))
        .route("/tokens/{name}/revoke", post(revoke_token))
}

fn admin_role(engine: &Engine, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
    let token = admin(engine, headers)?;
    if token.role != Role::Admin {
        return Err(ApiError::new(
            403,
            "permission",
            "Admin",
            format!(
                "Role {} may not list or revoke credentials; use an admin token.",
                token.role.as_str()
            ),
        ));
    }
    Ok(token)
}

async fn list(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    reply(admin_role(&engine, &headers).and_then(|_| engine.tokens_listing()))
}

async fn revoke_key(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let result = async {
        let token = admin_role(&engine, &headers)?;
        engine.revoke_key(&key, &actor(&token)).await
    }
    .await;
    reply(result)
}

async fn revoke_token(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let result = async {
        let token = admin_role(&engine, &headers)?;
        engine.revoke_token(&name, &actor(&token)).await
    }
    .await;
    reply(result)
}

async fn list_keys(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    reply(admin_role(&engine, &headers).and_then(|_| engine.keys_list()))
}

async fn create_key(
    State(engine): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let result = async {
        let token = admin_role(&engine, &headers)?;
        let Json(new) = body.map_err(|e| {
            ApiError::bad_request(format!(
                "The body must be JSON {{\"source\": NAME, \"kind\": \"legacy\" | \"hs384\" | \
                 \"jwks\", \"jwks\": DOCUMENT}}: {}",
                e.body_text()
            ))
        })?;
        engine.create_key(new, &actor(&token)).await
    }
    .await;
    reply(result)
}
