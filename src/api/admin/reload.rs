//! `POST /admin/v1/config/reload` (admin role only): re-reads the configuration file
//! (see `engine::reload`); the answer is what changed, by name.

use super::{actor, admin_only};
use crate::api::{AppState, reply};

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
        let token = admin_only(&engine, &headers, "reload the configuration")?;
        engine.reload(&actor(&token)).await
    }
    .await;
    reply(result)
}
