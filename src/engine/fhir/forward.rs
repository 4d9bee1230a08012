//! Reads and searches: checked, logged as `FHIR.<Resource>` REQUEST logs (event `read`
//! or `search`, the asked parameters as the request, the answer as the response),
//! forwarded to the destination's FHIR server with its outgoing authentication within
//! the query timeout, and answered with the server's answer, links rewritten.
//! No answer in time is a 504; no connection, a 5xx or an answer that is not FHIR JSON
//! is a 502; the server's 4xx is passed on with its status (its OperationOutcome, or
//! one naming the status).

use super::params::{self, ResourceSpec};
use super::{FhirAnswer, Party, links, new_log, stored_request};
use crate::engine::Engine;
use crate::engine::http::{ATTEMPT_BODY_LIMIT, BodyError, error_chain, excerpt, read_bounded};
use crate::engine::outbound_auth::SendError;
use crate::engine::query::Judged;
use crate::engine::routing::Prepared;
use crate::model::catalog::Exchange;
use crate::model::{ApiError, Attempt, AttemptOutcome, LogType};
use chrono::Utc;
use serde_json::{Value, json};
use std::time::Instant;

/// What a source asks of a FHIR server.
#[derive(Debug, Clone)]
pub enum Interaction {
    Read {
        resource: &'static ResourceSpec,
        id: String,
    },
    /// `posted`: `POST _search` with a form body (forwarded the same way, keeping the
    /// parameters out of URLs).
    Search {
        resource: &'static ResourceSpec,
        params: Vec<(String, String)>,
        posted: bool,
    },
}

impl Interaction {
    fn resource(&self) -> &'static ResourceSpec {
        match self {
            Interaction::Read { resource, .. } | Interaction::Search { resource, .. } => resource,
        }
    }

    fn event_type(&self) -> &'static str {
        match self {
            Interaction::Read { .. } => "read",
            Interaction::Search { .. } => "search",
        }
    }

    /// What the log keeps as its request.
    fn as_json(&self) -> Value {
        match self {
            Interaction::Read { resource, id } => {
                json!({"interaction": "read", "resourceType": resource.name, "id": id})
            }
            Interaction::Search {
                resource,
                params,
                posted,
            } => json!({
                "interaction": "search",
                "resourceType": resource.name,
                "method": if *posted { "POST" } else { "GET" },
                "parameters": params
                    .iter()
                    .map(|(name, value)| json!({"name": name, "value": value}))
                    .collect::<Vec<_>>(),
            }),
        }
    }

    /// The patient it is about, for the log's patient field (masked like any other).
    fn patient(&self) -> Option<String> {
        match self {
            Interaction::Read { resource, id } if resource.name == "Patient" => Some(id.clone()),
            Interaction::Read { .. } => None,
            Interaction::Search { params, .. } => params
                .iter()
                .find(|(k, _)| k == "identifier" || k == "patient" || k == "_id")
                .map(|(_, v)| {
                    let v = v.rsplit('|').next().unwrap_or(v);
                    v.strip_prefix("Patient/").unwrap_or(v).to_string()
                }),
        }
    }
}

/// A FHIR logical id: what may stand in a path segment (FHIR R4's `id` type).
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl Engine {
    /// Checks, logs and forwards one read or search.
    pub async fn fhir_forward(
        &self,
        party: &Party,
        interaction: Interaction,
    ) -> Result<FhirAnswer, ApiError> {
        let resource = interaction.resource();
        let data_model = format!("FHIR.{}", resource.name);
        self.fhir_allowed(party, &data_model)?;
        match &interaction {
            Interaction::Read { id, .. } if !valid_id(id) => {
                return Err(ApiError::bad_request(
                    "The id in the path is not a FHIR id (1 to 64 letters, digits, - and .).",
                ));
            }
            Interaction::Read { .. } => {}
            Interaction::Search { params, .. } => params::validate_search(resource, params)?,
        }
        let Some(server) = party.destination.fhir_url.clone() else {
            return Err(ApiError::new(
                502,
                "destination",
                "FHIR",
                format!(
                    "Destination \"{}\" has no FHIR server URL yet (fhir_url).",
                    party.destination.name
                ),
            ));
        };
        let request = stored_request(&party.source, Exchange::Query, interaction.as_json());
        let log = new_log(
            party,
            &request,
            data_model,
            interaction.event_type().into(),
            LogType::Request,
            interaction.patient(),
        );
        let prepared = Prepared {
            request,
            logs: vec![log.clone()],
        };
        let journal = self.store.journal();
        self.record_pending(journal, &prepared)
            .await
            .map_err(|r| r.error)?;
        let _wake = journal.wake_on_drop();
        self.publish(&log);

        let (judged, answer) = self.fhir_exchange(party, &server, &interaction, &log).await;
        self.stats.request(party.source.id);
        self.record_outcome(journal, &party.destination, &log, &judged)
            .await;
        answer.map(|a| FhirAnswer {
            log_id: Some(log.id),
            ..a
        })
    }

    /// One exchange with the server and its judgement: what the log records, and the
    /// answer for the source.
    async fn fhir_exchange(
        &self,
        party: &Party,
        server: &str,
        interaction: &Interaction,
        log: &crate::model::LogRecord,
    ) -> (Judged, Result<FhirAnswer, ApiError>) {
        let started_at = Utc::now();
        let clock = Instant::now();
        let destination = &party.destination;
        let sent = self.fhir_send(destination, server, interaction).await;
        let mut attempt = Attempt {
            id: log.attempt_id,
            log_id: log.id,
            number: 1,
            started_at,
            outcome: AttemptOutcome::Failed,
            http_status: None,
            latency_ms: 0.0,
            response_body: None,
            response_truncated: false,
            error: None,
        };
        let read = match sent {
            Err(SendError::Token(e)) => Err(failed(format!("could not get a token: {e}"))),
            Err(SendError::Transport(e)) if e.is_timeout() => Err(ApiError::timeout(format!(
                "The FHIR server of \"{}\" did not answer within {} s. The request was logged as \
                 FAILED; try again, or check the server.",
                destination.name,
                self.settings.query_timeout.as_secs_f64()
            ))),
            // Without the URL: a GET search's carries the parameters, maybe PHI.
            Err(SendError::Transport(e)) => Err(failed(format!(
                "could not reach the FHIR server of \"{}\": {}. Check that it is up and its \
                 fhir_url is right.",
                destination.name,
                error_chain(&e.without_url())
            ))),
            Ok(response) => {
                let status = response.status().as_u16();
                attempt.http_status = Some(status);
                match read_bounded(response, self.settings.max_body_bytes).await {
                    Ok(bytes) => Ok((status, bytes)),
                    Err(BodyError::TooLarge { limit }) => Err(failed(format!(
                        "the FHIR server's answer is larger than {limit} bytes (max_body_bytes)"
                    ))),
                    Err(BodyError::Transport(e)) => Err(failed(format!(
                        "the FHIR server's answer broke off: {}",
                        error_chain(&e.without_url())
                    ))),
                }
            }
        };
        attempt.latency_ms = (clock.elapsed().as_secs_f64() * 1e6).round() / 1000.0;
        let answer = read.and_then(|(status, bytes)| {
            judge(status, &bytes, server, &party.base, &destination.name)
        });
        let judged = judged(attempt, &answer);
        (judged, answer)
    }

    /// Sends the interaction to the server with the destination's authorization and
    /// verification token, within the query timeout.
    async fn fhir_send(
        &self,
        destination: &crate::engine::Destination,
        server: &str,
        interaction: &Interaction,
    ) -> Result<reqwest::Response, SendError> {
        self.outbound
            .send(destination, |_| {
                let builder = match interaction {
                    Interaction::Read { resource, id } => {
                        self.http.get(format!("{server}/{}/{id}", resource.name))
                    }
                    Interaction::Search {
                        resource,
                        params,
                        posted: true,
                    } => self
                        .http
                        .post(format!("{server}/{}/_search", resource.name))
                        .form(params),
                    Interaction::Search {
                        resource, params, ..
                    } => self
                        .http
                        .get(format!("{server}/{}", resource.name))
                        .query(params),
                };
                builder
                    .header("verification-token", &destination.verification_token)
                    .header(reqwest::header::ACCEPT, "application/fhir+json")
                    .timeout(self.settings.query_timeout)
            })
            .await
    }
}

/// What the log records of an exchange: the attempt completed from the answer, and
/// the answer stored as the log's response. Failures record the status and the
/// engine's own words, never the server's body (PHI).
fn judged(mut attempt: Attempt, answer: &Result<FhirAnswer, ApiError>) -> Judged {
    let stored_body = answer
        .as_ref()
        .ok()
        .and_then(|a| serde_json::to_vec(&a.body).ok());
    match answer {
        Ok(a) if (200..300).contains(&a.status) => attempt.outcome = AttemptOutcome::Succeeded,
        Ok(a) => attempt.error = Some(format!("HTTP {}", a.status)),
        // The status and the engine's own words; never the server's body (PHI).
        Err(e) => {
            attempt.error = Some(match attempt.http_status {
                Some(s) => format!("HTTP {s}: answer refused ({})", e.status),
                None => e
                    .entries
                    .first()
                    .map(|x| x.text.clone())
                    .unwrap_or_default(),
            })
        }
    }
    if let Some(bytes) = &stored_body {
        let (text, cut) = excerpt(bytes, ATTEMPT_BODY_LIMIT);
        attempt.response_body = Some(text);
        attempt.response_truncated = cut;
    }
    Judged {
        answer: match answer {
            Ok(a) if (200..300).contains(&a.status) => {
                Ok(crate::engine::answer::Answer::Value(Value::Null))
            }
            Ok(a) => Err(ApiError::new(a.status, "destination", "FHIR", "refused")),
            Err(e) => Err(e.clone()),
        },
        attempt,
        stored_body,
    }
}

/// A 502: the FHIR server failed the request.
fn failed(text: String) -> ApiError {
    ApiError::new(502, "destination", "FHIR", text)
}

/// The server's answer as the source gets it.
fn judge(
    status: u16,
    bytes: &[u8],
    server: &str,
    engine_base: &str,
    name: &str,
) -> Result<FhirAnswer, ApiError> {
    let body = serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(|b| b.get("resourceType").and_then(Value::as_str).is_some());
    match (status, body) {
        (200..=299, Some(mut body)) => {
            links::rewrite(&mut body, server, engine_base);
            Ok(FhirAnswer {
                status,
                body,
                log_id: None,
            })
        }
        (400..=499, Some(body))
            if body.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome") =>
        {
            Ok(FhirAnswer {
                status,
                body,
                log_id: None,
            })
        }
        (400..=499, _) => Err(ApiError::new(
            status,
            "destination",
            "FHIR",
            format!("The FHIR server of \"{name}\" refused the request with HTTP {status}."),
        )),
        (200..=299, None) => Err(failed(format!(
            "The FHIR server of \"{name}\" answered with a body that is not a FHIR resource."
        ))),
        _ => Err(failed(format!(
            "The FHIR server of \"{name}\" answered HTTP {status}."
        ))),
    }
}
