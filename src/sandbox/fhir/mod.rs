//! The Sandbox EHR's FHIR R4 server, mounted under `/fhir` in the sandbox's router (so at
//! `{sandbox::PATH}/fhir` on the engine's listener): the **same** synthetic panel as the
//! data-model API, as FHIR resources.
//!
//! - `GET metadata`: the CapabilityStatement (`capability`);
//! - `GET {type}/{id}`: a read (404 OperationOutcome when unknown);
//! - `GET {type}?…` and `POST {type}/_search` (form body; query-string parameters are
//!   added to it): a `searchset` Bundle (`search`, [`params`]);
//! - `POST $process-message` (and `POST {type}/${operation}`, for the platform's
//!   operation URLs): a FHIR message applied to the panel (`message`); it needs the
//!   sandbox's `verification-token` header, as its data-model endpoint does. Reads and
//!   searches do not (the engine forwards them without it).
//!
//! Answers are `application/fhir+json`; errors are `OperationOutcome`. Links and
//! `fullUrl`s are absolute under the base the request reached: `http://{Host}` (or the
//! `X-Forwarded-Proto` scheme) and the path up to `/fhir`. Resources are built as
//! `serde_json::Value` by small typed helpers (`shape`) and checked against the FHIR
//! R4 JSON Schema by `tests/suite/sandbox_fhir.rs` (the generated-types crates cost minutes of
//! compile time; see the README).
//!
//! Ids ([`ids`]): a Patient is its MRN, a Practitioner its NPI, a Location its facility
//! code; a patient's records are `{patient id}-{kind}-{n}`, stable across restarts.
//!
//! The resources: `people` (Patient, Practitioner, Location), `clinical` (the chart),
//! `appointments`, `results` (what data-model Results New writebacks wrote, as
//! Observations); [`records`] says which exist and reads one by id.

mod appointments;
mod capability;
mod clinical;
pub mod ids;
mod message;
pub mod params;
mod people;
pub mod records;
mod results;
mod search;
mod shape;

use super::Sandbox;
use axum::Extension;
use axum::Router;
use axum::extract::{NestedPath, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::sync::Arc;

pub use ids::MRN_SYSTEM;
pub use message::EVENT_SYSTEM;
pub use records::TYPES;

/// The media type of every answer.
pub const CONTENT_TYPE: &str = "application/fhir+json";

/// What a FHIR request can get wrong; each becomes an OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotSupported(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Internal(String),
}

impl FhirError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            FhirError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            FhirError::NotSupported(_) => (StatusCode::BAD_REQUEST, "not-supported"),
            FhirError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            FhirError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "processing"),
            FhirError::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, "not-supported"),
            FhirError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "security"),
            FhirError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "not-supported"),
            FhirError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "exception"),
        }
    }
}

/// An OperationOutcome with one error issue.
pub fn outcome(code: &str, text: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "details": {"text": text}, "diagnostics": text}],
    })
}

fn fhir(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        fhir(status, outcome(code, &self.to_string()))
    }
}

/// Routes to merge into the sandbox's router (their paths start with `/fhir`).
pub(super) fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/{kind}", get(search_get).post(post_type))
        .route("/fhir/{kind}/{id}", get(read).post(post_instance))
        .route("/fhir/{kind}/{id}/{*rest}", any(unknown_path))
}

/// Deeper paths (`_history`, compartments) are not served: a 404 OperationOutcome rather
/// than an empty one.
async fn unknown_path(Path((kind, id, rest)): Path<(String, String, String)>) -> Response {
    FhirError::NotFound(format!(
        "{kind}/{id}/{rest} is not served: the sandbox answers metadata, {{type}}/{{id}}, \
         {{type}}?params, {{type}}/_search and $process-message."
    ))
    .into_response()
}

/// The base the request reached: scheme, Host and the path the sandbox is mounted at,
/// then `/fhir`.
fn base(headers: &HeaderMap, nested: Option<&Extension<NestedPath>>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let prefix = nested.map_or("", |n| n.0.as_str()).trim_end_matches('/');
    format!("{scheme}://{host}{prefix}/fhir")
}

fn supported(kind: &str) -> Result<(), FhirError> {
    if TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(FhirError::NotFound(format!(
            "The sandbox does not serve {kind}; it serves {}.",
            TYPES.join(", ")
        )))
    }
}

fn pairs(text: &str) -> Result<Vec<(String, String)>, FhirError> {
    serde_urlencoded::from_str(text).map_err(|e| {
        FhirError::Invalid(format!(
            "The search parameters cannot be read ({e}); send name=value pairs, URL-encoded."
        ))
    })
}

/// Runs panel work off the async workers (building a page of resources is CPU-bound).
async fn with_panel<T: Send + 'static>(
    sandbox: Arc<Sandbox>,
    work: impl FnOnce(&Sandbox) -> Result<T, FhirError> + Send + 'static,
) -> Result<T, FhirError> {
    tokio::task::spawn_blocking(move || work(&sandbox))
        .await
        .unwrap_or_else(|_| {
            Err(FhirError::Internal(
                "The sandbox failed on this request; try again.".into(),
            ))
        })
}

async fn metadata(headers: HeaderMap, nested: Option<Extension<NestedPath>>) -> Response {
    fhir(
        StatusCode::OK,
        capability::statement(&base(&headers, nested.as_ref())),
    )
}

async fn run_search(
    sandbox: Arc<Sandbox>,
    base: String,
    kind: String,
    pairs: Vec<(String, String)>,
) -> Response {
    let answer = with_panel(sandbox, move |s| {
        supported(&kind)?;
        let search = params::parse(&kind, pairs)?;
        let panel = s.panel().read().unwrap_or_else(|e| e.into_inner());
        let matches = search::run(&panel, &kind, &search)?;
        Ok(search::bundle(&base, &kind, &search, matches))
    })
    .await;
    match answer {
        Ok(bundle) => fhir(StatusCode::OK, bundle),
        Err(e) => e.into_response(),
    }
}

async fn search_get(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    nested: Option<Extension<NestedPath>>,
    Path(kind): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let base = base(&headers, nested.as_ref());
    match pairs(query.as_deref().unwrap_or("")) {
        Ok(p) => run_search(sandbox, base, kind, p).await,
        Err(e) => e.into_response(),
    }
}

async fn read(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    nested: Option<Extension<NestedPath>>,
    Path((kind, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    // GET {type}/_search?… is a search too.
    if id == "_search" {
        let base = base(&headers, nested.as_ref());
        return match pairs(query.as_deref().unwrap_or("")) {
            Ok(p) => run_search(sandbox, base, kind, p).await,
            Err(e) => e.into_response(),
        };
    }
    let answer = with_panel(sandbox, move |s| {
        supported(&kind)?;
        let panel = s.panel().read().unwrap_or_else(|e| e.into_inner());
        records::read(&panel, &kind, &id)
            .ok_or_else(|| FhirError::NotFound(format!("{kind}/{id} is not known to the sandbox.")))
    })
    .await;
    match answer {
        Ok(resource) => fhir(StatusCode::OK, resource),
        Err(e) => e.into_response(),
    }
}

async fn post_type(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    nested: Option<Extension<NestedPath>>,
    Path(kind): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if kind.starts_with('$') {
        let base = base(&headers, nested.as_ref());
        return process_message(sandbox, &headers, base, &body).await;
    }
    FhirError::MethodNotAllowed(format!(
        "The sandbox does not create resources: POST {kind}/_search searches, and writes are \
         FHIR messages to $process-message."
    ))
    .into_response()
}

async fn post_instance(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    nested: Option<Extension<NestedPath>>,
    Path((kind, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let base = base(&headers, nested.as_ref());
    if id == "_search" {
        let form = String::from_utf8_lossy(&body).into_owned();
        let mut all = match pairs(&form) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        match pairs(query.as_deref().unwrap_or("")) {
            Ok(p) => all.extend(p),
            Err(e) => return e.into_response(),
        }
        return run_search(sandbox, base, kind, all).await;
    }
    if id.starts_with('$') {
        return process_message(sandbox, &headers, base, &body).await;
    }
    FhirError::MethodNotAllowed(format!(
        "POST {kind}/{id} is not supported: the sandbox's writes are FHIR messages to \
         $process-message."
    ))
    .into_response()
}

async fn process_message(
    sandbox: Arc<Sandbox>,
    headers: &HeaderMap,
    base: String,
    body: &[u8],
) -> Response {
    if !super::token_ok(headers) {
        return FhirError::Unauthorized(
            "The verification-token header is missing or wrong (the sandbox's is \
             switchboard-sandbox)."
                .into(),
        )
        .into_response();
    }
    let bundle: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return FhirError::Invalid(format!(
                "The body is not JSON ({e}); send a message Bundle."
            ))
            .into_response();
        }
    };
    let answer = with_panel(sandbox, move |s| {
        let mut panel = s.panel().write().unwrap_or_else(|e| e.into_inner());
        message::process(&mut panel, &base, &bundle)
    })
    .await;
    match answer {
        Ok(reply) => fhir(StatusCode::OK, reply),
        Err(e) => e.into_response(),
    }
}
