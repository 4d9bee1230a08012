//! `POST /admin/v1/retention/run` (admin role only): sweeps history past each
//! environment's retention now (see `engine::retention`); the answer is what went.

use super::{actor, admin_only};
use crate::api::{AppState, reply};

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
        let token = admin_only(&engine, &headers, "delete history")?;
        engine.sweep_retention(&actor(&token), true).await
    }
    .await;
    reply(result)
}
