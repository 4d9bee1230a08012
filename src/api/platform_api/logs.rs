//! `…/logs`: the history search the admin API's `/admin/v1/logs` uses, with the
//! platform's parameter names and its `_cursor` paging; one log with its attempts; and
//! retry (the operator's resend).

use super::{AppState, answer, check_org};
use crate::api::admin::{actor, admin, blocking, operator, refusal_audited};
use crate::api::params;
use crate::engine::Engine;
use crate::model::{ApiError, LogRecord, Role};
use crate::store::LogQuery;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// The platform's page-size cap.
pub const MAX_COUNT: usize = 50;
/// Pages of history one request may walk when `updatedAfter/Before` or `searchTerms`
/// (which the store's indexes do not cover) discard logs; past this the answer is
/// shorter than `_count` and its cursor goes on from where the walk stopped.
const MAX_WALK: usize = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Params {
    data_model: Option<String>,
    event_type: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    log_type: Option<String>,
    source_id: Option<String>,
    destination_id: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    updated_after: Option<String>,
    updated_before: Option<String>,
    search_terms: Option<String>,
    #[serde(rename = "_count")]
    count: Option<usize>,
    #[serde(rename = "_cursor")]
    cursor: Option<String>,
}

const PARAMS: &str = "Parameters: dataModel, eventType, status, type, sourceId, destinationId, \
                      createdAfter, createdBefore, updatedAfter, updatedBefore, searchTerms, \
                      _count (1 to 50) and _cursor.";

/// What the store cannot filter by, applied to each log it returns.
struct After {
    updated_after: Option<DateTime<Utc>>,
    updated_before: Option<DateTime<Utc>>,
    terms: Vec<String>,
}

impl After {
    fn active(&self) -> bool {
        self.updated_after.is_some() || self.updated_before.is_some() || !self.terms.is_empty()
    }

    /// Applied to logs already masked for the caller, so a search term never matches
    /// a patient identifier the caller may not see.
    fn matches(&self, log: &LogRecord) -> bool {
        let updated = self.updated_after.is_none_or(|t| log.updated_at >= t)
            && self.updated_before.is_none_or(|t| log.updated_at <= t);
        let haystack = [
            log.id.to_string(),
            log.request_id.to_string(),
            log.source_name.clone(),
            log.destination_name.clone(),
            log.data_model.clone(),
            log.event_type.clone(),
            log.patient_id.clone().unwrap_or_default(),
        ]
        .join("\n")
        .to_lowercase();
        updated && self.terms.iter().all(|t| haystack.contains(t.as_str()))
    }
}

fn to_query(p: Params) -> Result<(LogQuery, After), ApiError> {
    let count = p.count.unwrap_or(MAX_COUNT);
    if count == 0 || count > MAX_COUNT {
        return Err(ApiError::bad_request(format!(
            "_count {count} is out of range: ask for 1 to {MAX_COUNT} logs a page and follow \
             payload.cursor with _cursor for more."
        )));
    }
    let query = LogQuery {
        source: params::id("sourceId", p.source_id.as_deref())?,
        destination: params::id("destinationId", p.destination_id.as_deref())?,
        data_model: p.data_model,
        event_type: p.event_type,
        log_type: params::parsed("type", p.log_type.as_deref())?,
        status: params::parsed("status", p.status.as_deref())?,
        since: params::instant("createdAfter", p.created_after.as_deref())?,
        until: params::instant("createdBefore", p.created_before.as_deref())?,
        before: params::id("_cursor", p.cursor.as_deref())?,
        limit: count,
        ..LogQuery::default()
    };
    let after = After {
        updated_after: params::instant("updatedAfter", p.updated_after.as_deref())?,
        updated_before: params::instant("updatedBefore", p.updated_before.as_deref())?,
        terms: p
            .search_terms
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect(),
    };
    Ok((query, after))
}

/// One page for `role`: up to `query.limit` logs and the cursor of the next page.
fn page(
    engine: &Engine,
    mut query: LogQuery,
    after: &After,
    role: Role,
) -> Result<(Vec<LogRecord>, Option<Uuid>), ApiError> {
    let want = query.limit;
    let mut out = Vec::with_capacity(want);
    for _ in 0..MAX_WALK {
        let page = crate::engine::stores::wait(engine.search_as(&query, role))?;
        let scanned = page.logs.len();
        for (i, log) in page.logs.into_iter().enumerate() {
            if after.active() && !after.matches(&log) {
                continue;
            }
            let id = log.id;
            out.push(log);
            if out.len() == want {
                let more = i + 1 < scanned || page.next.is_some();
                return Ok((out, more.then_some(id)));
            }
        }
        match page.next {
            Some(next) => query.before = Some(next),
            None => return Ok((out, None)),
        }
    }
    Ok((out, query.before))
}

pub(super) async fn list(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path(org): Path<String>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let result = blocking(move || {
        let token = admin(&engine, &headers)?;
        check_org(&engine, &org)?;
        let params = params
            .map(|Query(p)| p)
            .map_err(|e| ApiError::bad_request(format!("{}. {PARAMS}", e.body_text())))?;
        let (query, after) = to_query(params)?;
        let mrn = query.patient_id.is_some();
        let (logs, cursor) = page(&engine, query, &after, token.role)?;
        engine.audit_shown(&logs, mrn, token.role, &actor(&token))?;
        Ok(json!({"logs": logs, "cursor": cursor}))
    })
    .await;
    answer(result)
}

fn log_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_request(format!("\"{raw}\" is not a log ID (a UUID).")))
}

/// One log with its attempts; bodies as the admin API shows them (masked in Production
/// without the PHI permission, audited when revealed).
pub(super) async fn detail(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    let result = blocking(move || {
        let token = admin(&engine, &headers)?;
        check_org(&engine, &org)?;
        let id = log_id(&id)?;
        let actor = actor(&token);
        let detail = crate::engine::stores::wait(engine.detail_as(id, token.role, &actor))?
            .ok_or_else(|| ApiError::not_found(format!("There is no log {id}.")))?;
        serde_json::to_value(detail).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await;
    answer(result)
}

/// Retry: the same request queued to the same destination again as a new log (the
/// admin API's `resend`); operator or admin role.
pub(super) async fn retry(
    State(engine): State<AppState>,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let what = format!("retry log {id}");
        let token = operator(&engine, &headers, &what)?;
        let outcome = async {
            check_org(&engine, &org)?;
            engine.resend(log_id(&id)?, &actor(&token)).await
        }
        .await;
        let log = uuid::Uuid::parse_str(&id).ok();
        let mut log = refusal_audited(&engine, &token, &what, log, outcome)?;
        crate::engine::access::mask_log(&mut log, token.role);
        Ok(json!({ "log": log }))
    }
    .await;
    answer(result)
}
