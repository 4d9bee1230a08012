//! `POST /admin/v1/retention/run` (admin role only): sweeps history past each
//! environment's retention now (see `engine::retention`); the answer is what went.

use super::admin;
use crate::api::{AppState, reply};
use crate::model::{ApiError, Role};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;

pub fn routes() -> Router<AppState> {
    Router::new().route("/retention/run", post(run))
}

async fn run(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let token = admin(&engine, &headers)?;
        if token.role != Role::Admin {
            return Err(ApiError::new(
                403,
                "permission",
                "Admin",
                format!(
                    "Role {} may not delete history; use an admin token.",
                    token.role.as_str()
                ),
            ));
        }
        engine.sweep_retention().await
    }
    .await;
    reply(result)
}
