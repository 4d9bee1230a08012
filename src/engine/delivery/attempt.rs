//! One delivery attempt: POST the payload, classify the answer, keep a bounded excerpt.

use super::retry::parse_retry_after;
use crate::engine::config::Destination;
use crate::engine::http::{ATTEMPT_BODY_LIMIT, error_chain, read_prefix};
use crate::engine::outbound_auth::{SendError, Tokens};
use crate::model::{Attempt, AttemptOutcome};
use chrono::Utc;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub(super) struct Outcome {
    pub attempt: Attempt,
    /// The peer asked for this wait (429/503 with `Retry-After`).
    pub retry_after: Option<Duration>,
}

/// Where one item goes and as what: the destination's `url` as JSON, or for a FHIR
/// message (`FHIR.Message.*`) its FHIR server's `$process-message` as FHIR JSON.
pub(super) fn target(destination: &Destination, data_model: &str) -> (String, &'static str) {
    match &destination.fhir_url {
        Some(base) if crate::engine::fhir::is_message_data_model(data_model) => (
            format!("{base}/{}", crate::engine::fhir::PROCESS_MESSAGE),
            "application/fhir+json",
        ),
        _ => (
            destination.url.clone().unwrap_or_default(),
            "application/json",
        ),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn deliver(
    client: &reqwest::Client,
    auth: &Tokens,
    destination: &Destination,
    target: &str,
    content_type: &'static str,
    log_id: Uuid,
    attempt_id: Uuid,
    number: u32,
    payload: Vec<u8>,
) -> Outcome {
    let started_at = Utc::now();
    let clock = Instant::now();
    let mut attempt = Attempt {
        id: attempt_id,
        log_id,
        number,
        started_at,
        outcome: AttemptOutcome::Failed,
        http_status: None,
        latency_ms: 0.0,
        response_body: None,
        response_truncated: false,
        error: None,
    };
    let mut retry_after = None;
    let url = target;
    // The body is copied only when a 401 may have it sent a second time.
    let mut payload = Some(payload);
    let sent = auth
        .send(destination, |last| {
            let body = if last {
                payload.take()
            } else {
                payload.clone()
            };
            client
                .post(url)
                .header("verification-token", &destination.verification_token)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header("Switchboard-Log-Id", log_id.to_string())
                .body(body.unwrap_or_default())
        })
        .await;
    match sent {
        // No token, no request: a transient failure (no status), retried on the schedule.
        Err(SendError::Token(e)) => attempt.error = Some(e.to_string()),
        Err(SendError::Transport(e)) => {
            attempt.error = Some(if e.is_timeout() {
                format!(
                    "no answer within {:.1} s",
                    destination.delivery.timeout.as_secs_f64()
                )
            } else {
                error_chain(&e)
            });
        }
        Ok(response) => {
            let status = response.status();
            attempt.http_status = Some(status.as_u16());
            if matches!(status.as_u16(), 429 | 503) {
                retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()));
            }
            let read = read_prefix(response, ATTEMPT_BODY_LIMIT).await;
            attempt.response_body = Some(String::from_utf8_lossy(&read.bytes).into_owned());
            attempt.response_truncated = read.cut;
            match read.error {
                // A 2xx whose body broke off still acknowledged: the status line is the answer.
                Some(e) if !status.is_success() => attempt.error = Some(error_chain(&e)),
                _ => {}
            }
            if status.is_success() {
                attempt.outcome = AttemptOutcome::Succeeded;
            } else if attempt.error.is_none() {
                attempt.error = Some(format!("HTTP {}", status.as_u16()));
            }
        }
    }
    attempt.latency_ms = (clock.elapsed().as_secs_f64() * 1e6).round() / 1000.0;
    Outcome {
        attempt,
        retry_after,
    }
}
