//! The built-in Development connection: a mock EHR ("Sandbox EHR") and a mock sender
//! ("Sandbox Dev Tools"), so a new installation can send and query before anything is
//! configured. The sandbox is an ordinary push destination reached over HTTP on
//! loopback (its router is served by the engine's own listener under [`PATH`]), so it
//! exercises the real delivery and query paths.
//!
//! It answers every synchronous event from a deterministic synthetic patient panel
//! ([`panel`], [`answers`]), acknowledges notifications and applies writebacks to the
//! panel (a Notes New is returned by a later Notes Query; a Scheduling New books the
//! slot). Panel changes live in memory and are gone at restart.
//!
//! The same panel is also served as FHIR R4 under `{PATH}/fhir` ([`fhir`]): reads,
//! searches and FHIR messages.
//!
//! Failure on demand, for testing how receivers and operators cope: put
//! `"Extensions": {"sandbox-failure": {"url": "https://switchboard.local/extensions/sandbox-failure", "string": MODE}}`
//! in a request's `Meta`, where MODE is `500` (answer HTTP 500), `timeout` (never
//! answer; the engine's timeout fires) or `errors` (answer 200 with `Meta.Errors`).

pub mod answers;
pub mod fhir;
pub mod panel;
pub mod simulate;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// Where the sandbox EHR listens on the engine's own address.
pub const PATH: &str = "/sandbox/ehr";
pub const DESTINATION_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0e4e);
pub const DESTINATION_NAME: &str = "Sandbox EHR";
pub const SOURCE_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0002);
pub const SOURCE_NAME: &str = "Sandbox Dev Tools";
/// The sandbox EHR's verification token (it checks it like a real receiver would).
pub const VERIFICATION_TOKEN: &str = "switchboard-sandbox";
/// Largest request the sandbox EHR reads (the engine's own default limit).
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;
/// The `Meta.Extensions` key that asks for a failure.
pub const FAILURE_EXTENSION: &str = "sandbox-failure";
/// How long the `timeout` failure mode holds a request: longer than any default bound,
/// so the caller's own timeout decides.
pub const TIMEOUT_HOLD: Duration = Duration::from_secs(600);

/// A failure the sender asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Status500,
    Timeout,
    MetaErrors,
}

/// Reads the failure marker of a request, if any.
pub fn requested_failure(request: &Value) -> Option<Failure> {
    let ext = request
        .get("Meta")?
        .get("Extensions")?
        .get(FAILURE_EXTENSION)?;
    let mode = ext
        .get("string")
        .or_else(|| ext.get("value"))
        .and_then(Value::as_str)
        .or_else(|| ext.as_str())?;
    match mode.trim().to_ascii_lowercase().as_str() {
        "500" | "error" | "http-500" => Some(Failure::Status500),
        "timeout" => Some(Failure::Timeout),
        "errors" | "meta-errors" => Some(Failure::MetaErrors),
        _ => None,
    }
}

/// The sandbox EHR: the panel (built on first use) and its HTTP face.
#[derive(Default)]
pub struct Sandbox {
    panel: OnceLock<RwLock<panel::Panel>>,
}

impl Sandbox {
    pub fn new() -> Arc<Sandbox> {
        Arc::new(Sandbox::default())
    }

    fn panel(&self) -> &RwLock<panel::Panel> {
        self.panel.get_or_init(|| {
            RwLock::new(panel::Panel::generate(
                panel::DEFAULT_SEED,
                panel::DEFAULT_PATIENTS,
            ))
        })
    }

    /// Routes to mount at [`PATH`].
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/", post(receive).get(verify_get))
            .merge(fhir::routes())
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(self)
    }

    /// Answers one request as the EHR would: the query's answer, or an acknowledgement
    /// after applying a notification or writeback. A query that lacks what its event
    /// needs (a PatientSearch with neither identifiers nor demographics) is a 400 with
    /// `Meta.Errors`, as the platform's sandbox answers it; other problems are reported
    /// in `Meta.Errors` of a 200, the way an EHR does.
    pub fn handle(&self, request: &Value) -> (StatusCode, Value) {
        let event = request
            .get("Meta")
            .and_then(|m| Some((m.get("DataModel")?.as_str()?, m.get("EventType")?.as_str()?)))
            .and_then(|(m, e)| crate::model::catalog::lookup(m, e).ok());
        let Some(event) = event else {
            return (
                StatusCode::OK,
                meta_errors(
                    request,
                    "The sandbox cannot read Meta.DataModel / Meta.EventType.",
                ),
            );
        };
        if event.exchange.is_sync() {
            let panel = self.panel().read().unwrap_or_else(|e| e.into_inner());
            match answers::respond(&panel, request) {
                Ok(answer) => (StatusCode::OK, answer),
                Err(e @ answers::AnswerError::BadRequest(_)) => (
                    StatusCode::BAD_REQUEST,
                    meta_errors(request, &e.to_string()),
                ),
                Err(e) => (StatusCode::OK, meta_errors(request, &e.to_string())),
            }
        } else {
            let mut panel = self.panel().write().unwrap_or_else(|e| e.into_inner());
            match answers::apply(&mut panel, request) {
                Ok(()) => (StatusCode::OK, json!({})),
                Err(e) => (StatusCode::OK, meta_errors(request, &e.to_string())),
            }
        }
    }
}

/// An answer carrying `Meta.Errors`, the way an EHR reports a problem with a request.
fn meta_errors(request: &Value, text: &str) -> Value {
    let mut meta = request
        .get("Meta")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    meta.insert(
        "Errors".into(),
        json!([{"ID": 1, "Text": text, "Type": "sandbox", "Module": DESTINATION_NAME}]),
    );
    json!({ "Meta": meta })
}

fn token_ok(headers: &HeaderMap) -> bool {
    headers
        .get("verification-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == VERIFICATION_TOKEN)
}

async fn receive(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "body is not JSON"})),
        )
            .into_response();
    };
    // The verification challenge comes without the header, with the token in the body.
    if let Some(challenge) = request.get("challenge").and_then(Value::as_str)
        && request.get("verification-token").and_then(Value::as_str) == Some(VERIFICATION_TOKEN)
    {
        return challenge.to_string().into_response();
    }
    if !token_ok(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "verification-token header missing or wrong"})),
        )
            .into_response();
    }
    match requested_failure(&request) {
        Some(Failure::Status500) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": "sandbox failure requested: 500"})),
            )
                .into_response();
        }
        Some(Failure::Timeout) => {
            tokio::time::sleep(TIMEOUT_HOLD).await;
        }
        Some(Failure::MetaErrors) => {
            return axum::Json(meta_errors(
                &request,
                "Sandbox failure requested: Meta.Errors",
            ))
            .into_response();
        }
        None => {}
    }
    // Panel work is CPU-bound and short; keep it off the async workers anyway.
    let answer = tokio::task::spawn_blocking(move || sandbox.handle(&request)).await;
    match answer {
        Ok((status, answer)) => (status, axum::Json(answer)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct Challenge {
    challenge: String,
    #[serde(rename = "verification-token")]
    verification_token: String,
}

async fn verify_get(Query(c): Query<Challenge>) -> Response {
    if c.verification_token == VERIFICATION_TOKEN {
        c.challenge.into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_markers_are_read() {
        let with = |mode: &str| json!({"Meta": {"Extensions": {FAILURE_EXTENSION: {"url": "x", "string": mode}}}});
        assert_eq!(requested_failure(&with("500")), Some(Failure::Status500));
        assert_eq!(requested_failure(&with("timeout")), Some(Failure::Timeout));
        assert_eq!(
            requested_failure(&with("errors")),
            Some(Failure::MetaErrors)
        );
        assert_eq!(requested_failure(&with("nonsense")), None);
        assert_eq!(requested_failure(&json!({"Meta": {}})), None);
    }
}
