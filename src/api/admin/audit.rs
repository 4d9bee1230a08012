//! `GET /admin/v1/audit` (admin role only): the audit trail, newest first, filtered by
//! `action`, `actor`, `since`, `until` and `log`, paged with `before` (the previous
//! page's `next`) and `limit`. There is no route that changes or removes an entry: the
//! trail is append-only through the API. Also the layer that tells the audit trail
//! where each request came from.

use super::{admin, admin_only, blocking, query_params, refused};
use crate::api::{AppState, params, reply};
use crate::engine::audit::MAX_PAGE;
use crate::engine::audit::command::{self, LOCAL_ACTIONS};
use crate::model::ApiError;
use crate::store::audit::AuditFilter;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list).post(local_entry))
}

/// Around every request: its client's address is the origin of the audit entries it
/// writes.
pub async fn origin(req: Request, next: Next) -> Response {
    let from = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "http".to_string(), |c| c.0.ip().to_string());
    crate::engine::audit::scoped(from, next.run(req)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    log: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

fn to_filter(p: AuditParams) -> Result<(AuditFilter, usize), ApiError> {
    let limit = p.limit.unwrap_or(super::DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit: {limit} is out of range; use 1 to {MAX_PAGE}."
        )));
    }
    let filter = AuditFilter {
        action: p.action,
        actor: p.actor,
        since: params::instant("since", p.since.as_deref())?,
        until: params::instant("until", p.until.as_deref())?,
        log: params::id("log", p.log.as_deref())?,
        before: params::id("before", p.before.as_deref())?,
    };
    Ok((filter, limit))
}

async fn list(
    State(engine): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Response {
    let result = blocking(move || {
        admin_only(&engine, &headers, "read the audit trail")?;
        let params = query_params(
            params,
            "Filters: action, actor, since, until, log, before, limit (1–500).",
        )?;
        let (filter, limit) = to_filter(params)?;
        engine.audit_page(&filter, limit)
    })
    .await;
    reply(result)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct LocalEntry {
    action: String,
    detail: String,
}

/// `POST /admin/v1/audit`: the command line on this machine reports a credential it
/// made while this engine holds the store. Only with the run file's secret (whoever
/// has it can write the store's files anyway), and only the actions it makes.
async fn local_entry(
    State(engine): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| {
        let token = admin(&engine, &headers)?;
        if token.id != "local" {
            let error = ApiError::new(
                403,
                "permission",
                "Admin",
                "The audit trail is written by the engine itself; only the command line on \
                 the engine's machine reports its own actions here.",
            );
            return Err(refused(&engine, &token, "write to the audit trail", error));
        }
        let entry: LocalEntry = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "The body must be {{\"action\": \"…\", \"detail\": \"…\"}} ({e})."
            ))
        })?;
        if !LOCAL_ACTIONS.contains(&entry.action.as_str()) {
            return Err(ApiError::bad_request(format!(
                "action \"{}\" is not one the command line reports; use one of: {}.",
                entry.action,
                LOCAL_ACTIONS.join(", ")
            )));
        }
        engine
            .record_audit(command::local_entry(&entry.action, &entry.detail))
            .map_err(crate::engine::write_failure("the audit entry"))?;
        Ok(serde_json::json!({"recorded": true}))
    })();
    reply(result)
}
