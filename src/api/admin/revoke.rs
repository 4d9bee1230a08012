//! Admin API for credentials (admin role only): `GET /tokens` (live admin tokens and
//! sessions, never secrets), `GET /keys` (source keys, never secrets), `POST /keys`
//! (a new key; its secret in this answer only), `POST /keys/{apiKey}/revoke`,
//! `POST /tokens/{name}/revoke`.

use super::{actor, admin_only, refusal_audited};
use crate::api::{AppState, reply};
use crate::model::ApiError;
use crate::model::view::NewKey;
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

async fn list(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        admin_only(&engine, &headers, "list or revoke credentials")
            .and_then(|_| engine.tokens_listing()),
    )
}

async fn revoke_key(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let result = async {
        let token = admin_only(&engine, &headers, "list or revoke credentials")?;
        let outcome = engine.revoke_key(&key, &actor(&token)).await;
        refusal_audited(&engine, &token, &format!("revoke key {key}"), None, outcome)
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
        let token = admin_only(&engine, &headers, "list or revoke credentials")?;
        let outcome = engine.revoke_token(&name, &actor(&token)).await;
        refusal_audited(
            &engine,
            &token,
            &format!("revoke token {name}"),
            None,
            outcome,
        )
    }
    .await;
    reply(result)
}

async fn list_keys(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        admin_only(&engine, &headers, "list or revoke credentials")
            .and_then(|_| engine.keys_list()),
    )
}

async fn create_key(
    State(engine): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let result = async {
        let token = admin_only(&engine, &headers, "list or revoke credentials")?;
        let outcome = async {
            let Json(new) = body.map_err(|e| {
                ApiError::bad_request(format!(
                    "The body must be JSON {{\"source\": NAME, \"kind\": \"legacy\" | \
                     \"hs384\" | \"jwks\", \"jwks\": DOCUMENT}}: {}",
                    e.body_text()
                ))
            })?;
            engine.create_key(new, &actor(&token)).await
        }
        .await;
        refusal_audited(&engine, &token, "create a key", None, outcome)
    }
    .await;
    reply(result)
}
