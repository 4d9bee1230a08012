//! The FHIR R4 API: `/fhir/R4/{slug}/{Development|Staging|Production}/…`, a thin adapter
//! over `engine::fhir`. Every answer is FHIR JSON (`application/fhir+json`), every
//! error an `OperationOutcome` with its HTTP status (see [`outcome`]), never the
//! platform's `Meta.Errors` (the router's 404 and 405 under `/fhir/` too).
//!
//! Choices **(ours)**: `_format` may be `json`, `application/json` or
//! `application/fhir+json`; anything else is a 406. A message body must be sent as
//! `application/fhir+json` or `application/json`, a `_search` body as a form; anything
//! else is a 415.

use super::{AppState, bearer, read_body};
use crate::engine::fhir::params::known_resource;
use crate::engine::fhir::{FhirAnswer, Party, forward::Interaction};
use crate::model::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The path every FHIR route is under.
pub const PREFIX: &str = "/fhir/";

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/R4/{slug}/{env}/metadata", get(metadata))
        .route("/fhir/R4/{slug}/{env}/{resource}", get(search_get))
        .route(
            "/fhir/R4/{slug}/{env}/{resource}/{id}",
            get(read).post(operation),
        )
}

/// A FHIR answer with its status, and the log that records it in `Switchboard-Log-Id`
/// **(ours)**.
fn answer(a: FhirAnswer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, axum::Json(a.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    if let Some(id) = a.log_id
        && let Ok(v) = HeaderValue::from_str(&id.to_string())
    {
        headers.insert("switchboard-log-id", v);
    }
    response
}

/// A read's or search's answer given to the console's composer in Production is
/// audited as a reveal, as `/query`'s are (no audit, no answer).
fn audited(
    engine: &AppState,
    headers: &HeaderMap,
    party: &Party,
    answer: FhirAnswer,
) -> Result<FhirAnswer, ApiError> {
    let token = bearer(headers)?;
    let logs = json!({"Meta": {"Logs": [{"ID": answer.log_id}]}});
    engine.audit_composer_answer(token, &party.source, &logs)?;
    Ok(answer)
}

/// The FHIR issue type of an error's status.
fn issue_code(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        405 | 406 | 415 => "not-supported",
        408 | 504 => "timeout",
        413 => "too-costly",
        429 | 503 | 507 => "throttled",
        502 => "transient",
        _ => "exception",
    }
}

/// An error as an OperationOutcome, with the error's status and headers. The
/// diagnostics name only the status and the engine's class of problem: the texts say
/// what was wrong without echoing values, which may be PHI.
pub fn outcome(error: &ApiError) -> Response {
    let issues: Vec<Value> = error
        .entries
        .iter()
        .map(|e| {
            json!({
                "severity": "error",
                "code": issue_code(error.status),
                "details": {"text": e.text},
                "diagnostics": format!("HTTP {} ({}, {})", error.status, e.kind, e.module),
            })
        })
        .collect();
    let mut response = answer(FhirAnswer {
        status: error.status,
        body: json!({"resourceType": "OperationOutcome", "issue": issues}),
        log_id: None,
    });
    for (name, value) in &error.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}

fn reply(result: Result<FhirAnswer, ApiError>) -> Response {
    match result {
        Ok(a) => answer(a),
        Err(e) => outcome(&e),
    }
}

/// The query string's parameters, in order, `_format` checked and left out.
fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("The query string is not readable ({e}).")))?;
    strip_format(params)
}

/// A `_search` form body's parameters, in order, `_format` checked and left out.
pub(crate) fn search_form(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::bad_request(format!("The form body is not readable ({e}).")))?;
    strip_format(form)
}

fn strip_format(params: Vec<(String, String)>) -> Result<Vec<(String, String)>, ApiError> {
    let mut kept = Vec::with_capacity(params.len());
    for (name, value) in params {
        if name != "_format" {
            kept.push((name, value));
            continue;
        }
        // A `+` in a query string reads as a space.
        let format = value.trim().replace(' ', "+");
        if !matches!(
            format.as_str(),
            "json" | "application/json" | "application/fhir+json"
        ) {
            return Err(ApiError::new(
                406,
                "request",
                "FHIR",
                "_format must be json, application/json or application/fhir+json; this API \
                 answers in JSON only.",
            ));
        }
    }
    Ok(kept)
}

/// The caller and destination of a request (401, 404, 403 otherwise).
async fn party(
    engine: &AppState,
    headers: &HeaderMap,
    slug: &str,
    env: &str,
) -> Result<Party, ApiError> {
    let token = bearer(headers)?;
    let source_header = headers.get("redox-source-id").and_then(|v| v.to_str().ok());
    engine.fhir_party(token, source_header, slug, env).await
}

/// The media type of a request body, without parameters, lowercased.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

fn unsupported_media(wanted: &str) -> ApiError {
    ApiError::new(
        415,
        "request",
        "FHIR",
        format!("Send the body with Content-Type {wanted}."),
    )
}

async fn metadata(
    State(engine): State<AppState>,
    Path((slug, env)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        query_params(query.as_deref())?;
        let party = party(&engine, &headers, &slug, &env).await?;
        Ok(engine.fhir_metadata(&party))
    };
    reply(result.await)
}

async fn search_get(
    State(engine): State<AppState>,
    Path((slug, env, resource)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let params = query_params(query.as_deref())?;
        let party = party(&engine, &headers, &slug, &env).await?;
        let resource = known_resource(&resource)?;
        let interaction = Interaction::Search {
            resource,
            params,
            posted: false,
        };
        let found = engine.fhir_forward(&party, interaction).await?;
        audited(&engine, &headers, &party, found)
    };
    reply(result.await)
}

async fn read(
    State(engine): State<AppState>,
    Path((slug, env, resource, id)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        query_params(query.as_deref())?;
        let party = party(&engine, &headers, &slug, &env).await?;
        let resource = known_resource(&resource)?;
        let read = engine
            .fhir_forward(&party, Interaction::Read { resource, id })
            .await?;
        audited(&engine, &headers, &party, read)
    };
    reply(result.await)
}

/// `POST {Resource}/_search` (a form) or `POST {Resource}/$operation` (a message).
async fn operation(
    State(engine): State<AppState>,
    Path((slug, env, resource, op)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let mut params = query_params(query.as_deref())?;
        let party = party(&engine, &headers, &slug, &env).await?;
        let limit = engine.settings().max_body_bytes;
        if op == "_search" {
            let resource = known_resource(&resource)?;
            if media_type(&headers).as_deref() != Some("application/x-www-form-urlencoded") {
                return Err(unsupported_media("application/x-www-form-urlencoded"));
            }
            let bytes = read_body(&headers, body, limit).await?;
            params.extend(search_form(&bytes)?);
            let interaction = Interaction::Search {
                resource,
                params,
                posted: true,
            };
            let found = engine.fhir_forward(&party, interaction).await?;
            return audited(&engine, &headers, &party, found);
        }
        let Some(operation) = op.strip_prefix('$').filter(|o| !o.is_empty()) else {
            return Err(ApiError::new(
                405,
                "request",
                "FHIR",
                format!(
                    "POST {resource}/{op} is not supported: POST {resource}/_search searches, \
                     POST {resource}/$<operation> sends a message Bundle; GET reads."
                ),
            ));
        };
        if !matches!(
            media_type(&headers).as_deref(),
            Some("application/fhir+json" | "application/json")
        ) {
            return Err(unsupported_media("application/fhir+json"));
        }
        if !resource.starts_with(|c: char| c.is_ascii_uppercase())
            || !resource.chars().all(|c| c.is_ascii_alphabetic())
        {
            return Err(ApiError::not_found(format!(
                "\"{resource}\" is not a FHIR resource type."
            )));
        }
        let bytes = read_body(&headers, body, limit).await?;
        engine
            .fhir_message(&party, &resource, operation, &bytes)
            .await
    };
    reply(result.await)
}
