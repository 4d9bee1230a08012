//! `POST /admin/v1/config/reload` (admin role only): re-reads the configuration file
//! (see `engine::reload`); the answer is what changed, by name.

use super::{actor, admin};
use crate::api::{AppState, reply};
use crate::model::{ApiError, Role};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;

pub fn routes() -> Router<AppState> {
    Router::new().route("/config/reload", post(reload))
}

async fn reload(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let token = admin(&engine, &headers)?;
        if token.role != Role::Admin {
            return Err(ApiError::new(
                403,
                "permission",
                "Admin",
                format!(
                    "Role {} may not reload the configuration; use an admin token.",
                    token.role.as_str()
                ),
            ));
        }
        engine.reload(&actor(&token)).await
    }
    .await;
    reply(result)
}
