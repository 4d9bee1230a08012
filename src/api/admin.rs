//! The admin API for the console and operators. Authenticated with tokens from
//! `switchboard tokens create`; the role decides what is shown (PHI in Production only
//! for `phi` and `admin`, and every such reveal is audited).
//! `reload`: `POST /config/reload`, the configuration file re-read (admin role).
//! `audit`: `GET /audit`, the audit trail read back (admin role), and the origin of
//! each request for its entries.
//! `retention`: `POST /retention/run`, history past its retention deleted now (admin role).
//! `log_query`: the filters of `GET /logs`.
//!
//! A refused operator action (a role that may not, a missing target) is audited with
//! its reason once the caller's token is genuine: [`admin_only`], [`operator`],
//! [`refusal_audited`]. A request without a genuine token is not: it names no one, and
//! anyone could flood the trail with them.

pub(super) mod audit;
mod events;
mod log_query;
mod reload;
mod retention;
mod revoke;

pub use events::STREAM_RECHECK;

use super::{AppState, bearer, reply};
use crate::engine::Engine;
use crate::model::{ApiError, Environment, Role};
use crate::store::credentials::TokenRecord;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Room for a composer-history record's fields besides the request it holds.
const COMPOSER_RECORD_SLACK: usize = 64 * 1024;

/// Page size when the caller gives none.
pub const DEFAULT_PAGE: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/logs", get(list_logs))
        .route("/logs/{id}", get(get_log))
        .route("/connections", get(connections))
        .route("/environments", get(environments))
        .route("/events", get(events::events))
        .route("/status", get(status))
        .route("/destinations/{id}/{action}", post(destination_action))
        .route("/destinations/{id}/quarantine", get(list_quarantine))
        .route("/logs/{id}/{action}", post(log_action))
        .route("/sources/{id}/token", post(source_token))
        .merge(revoke::routes())
        .merge(reload::routes())
        .merge(audit::routes())
        .merge(retention::routes())
        .route("/backup", post(backup))
        .route(
            "/composer/history",
            get(composer_history).post(record_composer_history),
        )
}

/// A query string's parameters, or a 400 in the platform's shape that says which exist.
fn query_params<T>(params: Result<Query<T>, QueryRejection>, allowed: &str) -> Result<T, ApiError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(format!("{}. {allowed}", e.body_text())))
}

/// The token of a caller whose role may act on delivery (operator or admin); a viewer
/// gets 403 and the attempt to `what` is audited.
pub(super) fn operator(
    engine: &Engine,
    headers: &HeaderMap,
    what: &str,
) -> Result<TokenRecord, ApiError> {
    require_role(engine, headers, what, Role::may_operate, |role| {
        format!("Role {role} may not act on delivery; use an operator or admin token.")
    })
}

/// The token of an admin-role caller; any other role gets 403 saying it may not
/// `what` (e.g. "reload the configuration"), and the attempt is audited.
pub(super) fn admin_only(
    engine: &Engine,
    headers: &HeaderMap,
    what: &str,
) -> Result<TokenRecord, ApiError> {
    require_role(
        engine,
        headers,
        what,
        |role| role == Role::Admin,
        |role| format!("Role {role} may not {what}; use an admin token."),
    )
}

/// The caller's token when `allowed` holds for its role; otherwise a 403 worded by
/// `refusal` (given the role's name), audited as a refused attempt to `what`.
fn require_role(
    engine: &Engine,
    headers: &HeaderMap,
    what: &str,
    allowed: impl Fn(Role) -> bool,
    refusal: impl Fn(&str) -> String,
) -> Result<TokenRecord, ApiError> {
    let token = admin(engine, headers)?;
    if allowed(token.role) {
        return Ok(token);
    }
    let error = ApiError::new(403, "permission", "Admin", refusal(token.role.as_str()));
    Err(refused(engine, &token, what, error))
}

/// Audits `token`'s refused attempt to `what`, and hands the refusal on.
pub(super) fn refused(
    engine: &Engine,
    token: &TokenRecord,
    what: &str,
    error: ApiError,
) -> ApiError {
    engine.audit_refused(&actor(token), what, &error, None);
    error
}

/// `outcome` of `token`'s attempt to `what` (on `log`, if one), with a refusal
/// audited: a missing target (404), a bad one (400) or a state that forbids it (409).
/// What succeeds is audited by the engine's action itself.
pub(super) fn refusal_audited<T>(
    engine: &Engine,
    token: &TokenRecord,
    what: &str,
    log: Option<Uuid>,
    outcome: Result<T, ApiError>,
) -> Result<T, ApiError> {
    outcome.inspect_err(|error| {
        if matches!(error.status, 400 | 403 | 404 | 409) {
            engine.audit_refused(&actor(token), what, error, log);
        }
    })
}

pub(super) fn actor(token: &TokenRecord) -> String {
    format!("token:{} ({})", token.name, token.id)
}

fn destination_id(engine: &Engine, raw: &str) -> Result<Uuid, ApiError> {
    engine
        .registry()
        .destination_named(raw)
        .map(|d| d.id)
        .ok_or_else(|| ApiError::not_found(format!("There is no destination \"{raw}\".")))
}

async fn destination_action(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let what = format!("{action} destination \"{id}\"");
    let result = async {
        let token = operator(&engine, &headers, &what)?;
        let who = actor(&token);
        let outcome = async {
            let id = destination_id(&engine, &id)?;
            match action.as_str() {
                "pause" => engine
                    .set_paused(id, true, &who)
                    .await
                    .map(|_| json!({"paused": true})),
                "resume" => engine
                    .set_paused(id, false, &who)
                    .await
                    .map(|_| json!({"paused": false})),
                "retry" => engine.retry_now(id, &who).map(|_| json!({"retrying": true})),
                "verify" => engine
                    .verify_destination(id, &who)
                    .await
                    .map(|v| json!({"verified": true, "verifiedAt": crate::model::time::format_utc(v.verified_at)})),
                other => Err(ApiError::not_found(format!(
                    "Unknown destination action \"{other}\": use pause, resume, retry or verify."
                ))),
            }
        }
        .await;
        refusal_audited(&engine, &token, &what, None, outcome)
    }
    .await;
    reply(result)
}

/// `POST /admin/v1/sources/{id}/token`: a 15-minute access token for the platform API as
/// that source, for the console's composer (refused to viewers).
async fn source_token(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let token = admin(&engine, &headers)?;
        let outcome = async {
            let source = engine
                .registry()
                .source_named(&id)
                .map(|s| s.id)
                .ok_or_else(|| ApiError::not_found(format!("There is no source \"{id}\".")))?;
            engine
                .composer_token(source, &actor(&token), token.role)
                .await
        }
        .await;
        let what = format!("send as source \"{id}\"");
        refusal_audited(&engine, &token, &what, None, outcome)
    }
    .await;
    reply(result)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BackupBody {
    /// An absolute path on the engine's machine, new or empty.
    #[schema(value_type = String)]
    dir: std::path::PathBuf,
}

/// `POST /admin/v1/backup {"dir": "/absolute/path"}`: a consistent copy of the store
/// while the engine serves (admin role; audited). `dir` is on the engine's machine and
/// must be new or empty.
async fn backup(
    State(engine): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let token = admin_only(&engine, &headers, "take backups")?;
        let body: BackupBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "The body must be {{\"dir\": \"/absolute/path\"}} ({e})."
            ))
        })?;
        if !body.dir.is_absolute() {
            return Err(ApiError::bad_request(format!(
                "dir \"{}\" must be an absolute path on the engine's machine.",
                body.dir.display()
            )));
        }
        engine.backup_to(body.dir, &actor(&token)).await
    }
    .await;
    reply(result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryParams {
    before: Option<Uuid>,
    limit: Option<usize>,
}

/// `GET /admin/v1/composer/history?before=&limit=`: sent requests, newest first.
async fn composer_history(
    State(engine): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    let result = (|| {
        let token = admin(&engine, &headers)?;
        let p = query_params(params, "Use before=<entry id> and limit=<1–500>.")?;
        engine.sent_history(p.before, p.limit.unwrap_or(DEFAULT_PAGE), token.role)
    })();
    reply(result)
}

/// `POST /admin/v1/composer/history`: a console records what its composer sent.
async fn record_composer_history(
    State(engine): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let result = async {
        let token = admin(&engine, &headers)?;
        // A record holds the request as sent (at most max_body_bytes, about twice that
        // once escaped into a JSON string) and a short error text.
        let limit = engine
            .settings()
            .max_body_bytes
            .saturating_mul(2)
            .saturating_add(COMPOSER_RECORD_SLACK);
        let body = super::read_body(&headers, body, limit).await?;
        let sent = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("The body must be a sent-request record ({e})."))
        })?;
        engine.record_sent(sent, token.role)
    }
    .await;
    reply(result)
}

/// Runs a handler's store reads on tokio's blocking pool: they touch the disk and may
/// wait for the journal, which must not hold an async worker (and the connections on
/// it) meanwhile.
pub(super) async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    // The request's origin goes along, for the audit entries the read may write.
    let origin = crate::engine::audit::request_origin();
    let read = move || match origin {
        Some(origin) => crate::engine::audit::within(origin, read),
        None => read(),
    };
    tokio::task::spawn_blocking(read).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an admin read failed");
        Err(ApiError::internal(
            "The engine failed while reading its store; nothing was changed. Retry shortly.",
        ))
    })
}

async fn list_quarantine(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = blocking(move || {
        let token = admin(&engine, &headers)?;
        let id = destination_id(&engine, &id)?;
        let mut logs = crate::engine::stores::wait(engine.quarantined_logs(id))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        for log in &mut logs {
            crate::engine::access::mask_log(log, token.role);
        }
        Ok::<_, ApiError>(json!({ "logs": logs }))
    })
    .await;
    reply(result)
}

async fn log_action(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let what = format!("{action} log {id}");
    let result = async {
        let token = operator(&engine, &headers, &what)?;
        let who = actor(&token);
        let log = Uuid::parse_str(&id).ok();
        let outcome = async {
            let id = log.ok_or_else(|| {
                ApiError::bad_request(format!("\"{id}\" is not a log ID (a UUID)."))
            })?;
            match action.as_str() {
                "quarantine" => engine.quarantine(id, &who).await,
                "release" => engine.release(id, &who).await,
                "fail" => engine.mark_failed(id, &who).await,
                "resend" => engine.resend(id, &who).await,
                other => Err(ApiError::not_found(format!(
                    "Unknown log action \"{other}\": use quarantine, release, fail or resend."
                ))),
            }
        }
        .await;
        let mut log = refusal_audited(&engine, &token, &what, log, outcome)?;
        crate::engine::access::mask_log(&mut log, token.role);
        Ok::<_, ApiError>(log)
    }
    .await;
    reply(result)
}

pub(super) fn admin(engine: &Engine, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
    check_admin(engine, bearer(headers)?)
}

/// The admin token's record if it is genuine, live and not revoked.
fn check_admin(engine: &Engine, token: &str) -> Result<TokenRecord, ApiError> {
    if engine.is_local_secret(token) {
        // The command line on this machine (see engine::runfile).
        crate::engine::audit::note_role(crate::model::Role::Admin);
        return Ok(TokenRecord {
            id: "local".into(),
            name: "command line".into(),
            role: crate::model::Role::Admin,
            secret_sha256: String::new(),
            created_at: Utc::now(),
            expires_at: None,
            client: None,
        });
    }
    let admin_token = engine
        .credentials()
        .check_token(token)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // Otherwise a user key's access token (the JWT flow), which carries its key's role.
    let record = match admin_token {
        Some(record) => Some(record),
        None => engine.user_for_token(token)?,
    };
    let record = record.ok_or_else(|| {
        ApiError::unauthorized(
            "This is not an admin token of this engine (or it was revoked). Create one \
                 with `switchboard tokens create --role viewer --name NAME`.",
        )
    })?;
    // A token file restored by hand after `tokens revoke` stays refused.
    if engine
        .revocations()
        .current()
        .admin_token_revoked(&record.id)
    {
        return Err(ApiError::unauthorized(format!(
            "The admin token \"{}\" was revoked. Create a new one with `switchboard tokens \
             create --role {} --name NAME`.",
            record.name,
            record.role.as_str()
        )));
    }
    let expires = record.expires();
    if expires <= Utc::now() {
        return Err(ApiError::unauthorized(format!(
            "The admin token \"{}\" expired at {}. Create a new one with `switchboard tokens \
             create --role {} --name {}` (--expires-in DAYS sets its lifetime; 90 days \
             by default).",
            record.name,
            crate::model::time::format_utc(expires),
            record.role.as_str(),
            record.name
        )));
    }
    crate::engine::audit::note_role(record.role);
    Ok(record)
}

async fn list_logs(
    State(engine): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<log_query::LogParams>, QueryRejection>,
) -> Response {
    let result = blocking(move || {
        let token = admin(&engine, &headers)?;
        let params = query_params(
            params,
            "Filters: env, source, destination, dataModel, eventType, type, status, mrn, \
             since, until, before, limit.",
        )?;
        let query = log_query::to_query(&engine, params)?;
        let page =
            crate::engine::stores::wait(engine.search_audited(&query, token.role, &actor(&token)))?;
        Ok::<_, ApiError>(page)
    })
    .await;
    reply(result)
}

async fn get_log(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = blocking(move || {
        let token = admin(&engine, &headers)?;
        let id = Uuid::parse_str(&id)
            .map_err(|_| ApiError::bad_request(format!("\"{id}\" is not a log ID (a UUID).")))?;
        let actor = actor(&token);
        let detail = crate::engine::stores::wait(engine.detail_as(id, token.role, &actor))?
            .ok_or_else(|| ApiError::not_found(format!("There is no log {id}.")))?;
        let body = detail;
        Ok::<_, ApiError>(body)
    })
    .await;
    reply(result)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvParam {
    env: Option<String>,
}

fn env_param(
    params: Result<Query<EnvParam>, QueryRejection>,
) -> Result<Option<Environment>, ApiError> {
    let p = query_params(params, "The only parameter is env.")?;
    p.env
        .as_deref()
        .map(|e| {
            e.parse::<Environment>()
                .map_err(|e| ApiError::bad_request(format!("env: {e}")))
        })
        .transpose()
}

/// Sources, destinations (with queue and delivery figures) and subscriptions.
async fn connections(
    State(engine): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<EnvParam>, QueryRejection>,
) -> Response {
    reply(
        blocking(move || {
            admin(&engine, &headers)?;
            engine.connections(env_param(params)?)
        })
        .await,
    )
}

/// The three environments with their counts and rates.
async fn environments(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    reply(admin(&engine, &headers).map(|token| engine.environments_as(token.role)))
}

/// The engine's own figures, and who is asking.
async fn status(State(engine): State<AppState>, headers: HeaderMap) -> Response {
    reply(admin(&engine, &headers).map(|token| {
        let (accepted, delivered) = engine.stats().throughput();
        let listener = engine.listener();
        let limits = engine.settings().connections;
        use crate::api::server::limits as server;
        // What a console reads is the wire type (so `Remote` and this agree by
        // construction); the operational figures beside it are for people and scripts.
        let seen = crate::model::view::Status {
            uptime_seconds: engine.uptime().as_secs(),
            accepted_per_second: accepted,
            delivered_per_second: delivered,
            role: token.role,
            phi_visible: token.role.sees_phi(),
            overloaded: engine.stats().refusals().0,
            queue_full: engine.stats().refusals().1,
        };
        let figures = json!({
            "activeDispatchers": engine.delivery().active_dispatchers(),
            // Acknowledged requests not yet written to history and the queues, and the
            // bound past which new requests get 503 (see store::journal).
            "journalBacklog": engine.store().journal().backlog(),
            "journalCapacity": engine.store().journal().capacity(),
            // Below the reserve new work gets 507 (see engine::capacity).
            "diskFreeBytes": engine.disk_space().0,
            "diskReserveBytes": engine.disk_space().1,
            "storeFailure": engine.store_failure_state(),
            // The HTTP server's bounds (see api::server): open connections and the cap,
            // the timeouts, and the head limits answered with 414/431.
            "connections": listener.open(),
            "connectionCapacity": listener.capacity(),
            "connectionsEvicted": listener.evicted(),
            "connectionsRefused": listener.refused(),
            "headerTimeoutSeconds": limits.header_timeout.as_secs(),
            "bodyTimeoutSeconds": limits.body_timeout.as_secs(),
            "idleTimeoutSeconds": limits.idle_timeout.as_secs(),
            "maxRequestTargetBytes": server::MAX_REQUEST_TARGET_BYTES,
            "maxHeaderBytes": server::MAX_HEADER_BYTES,
            "maxHeaderCount": server::MAX_HEADER_COUNT,
            "tokenName": token.name,
        });
        let mut body = serde_json::to_value(seen).unwrap_or_else(|_| json!({}));
        if let (Some(body), serde_json::Value::Object(figures)) = (body.as_object_mut(), figures) {
            body.extend(figures);
        }
        body
    }))
}
