//! The FHIR R4 API's rules (`/fhir/R4/{slug}/{environment}/…`; the HTTP adapter is
//! `api::fhir`): who may call ([`Engine::fhir_party`]: the token's source, the
//! destination named by its slug, the same environment, a subscription for the FHIR
//! data model), what is supported ([`params`]: one table for validation and the
//! CapabilityStatement), reads and searches forwarded to the destination's FHIR server
//! and logged as `FHIR.<Resource>` REQUEST logs ([`forward`], with the Bundle links
//! rewritten by [`links`]), and FHIR messages accepted durably and delivered through
//! the push queues ([`message`]).

pub mod forward;
pub mod links;
pub mod message;
pub mod params;

use super::{Destination, Engine, Source};
use crate::model::log::new_log_id;
use crate::model::{ApiError, Environment, LogRecord, LogStatus, LogType, catalog::Exchange};
use crate::store::StoredRequest;
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

/// The answer to send back: its status and FHIR JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct FhirAnswer {
    pub status: u16,
    pub body: Value,
    /// The log that records it, when one does.
    pub log_id: Option<Uuid>,
}

/// Who is asking, and of which destination: resolved by [`Engine::fhir_party`].
#[derive(Debug, Clone)]
pub struct Party {
    pub source: Source,
    pub destination: Destination,
    /// `{public_url}/fhir/R4/{slug}/{Environment}`: the base of the engine's links.
    pub base: String,
}

/// Where FHIR messages are delivered, under the destination's FHIR base.
pub const PROCESS_MESSAGE: &str = "$process-message";

/// A data model of the FHIR API: `FHIR.<Resource>` or `FHIR.Message.<Model>`.
pub fn is_fhir_data_model(data_model: &str) -> bool {
    data_model.starts_with("FHIR.")
}

/// A FHIR message's data model (`FHIR.Message.<Model>`): delivered to `$process-message`.
pub fn is_message_data_model(data_model: &str) -> bool {
    data_model.starts_with("FHIR.Message.")
}

impl Engine {
    /// The source behind `token` (either kind: legacy sessions and the JWT flow's are
    /// the same sessions), checked against `Redox-Source-Id` when sent, and the
    /// destination named by `slug`, in `environment` (the path's; it must be the
    /// source's). Order of refusal: 401, 404 (slug, environment name), 403.
    pub async fn fhir_party(
        &self,
        token: &str,
        source_header: Option<&str>,
        slug: &str,
        environment: &str,
    ) -> Result<Party, ApiError> {
        let source = self.source_for_token(token).await?;
        // A key acts for one source here; the header may only confirm it.
        if let Some(claimed) = source_header.map(str::trim)
            && Uuid::parse_str(claimed).ok() != Some(source.id)
        {
            return Err(ApiError::forbidden(format!(
                "Redox-Source-Id {claimed} is not the source this token belongs to ({}). \
                 Leave the header out or send this source's ID.",
                source.id
            )));
        }
        let destination = self
            .registry()
            .destinations
            .iter()
            .find(|d| d.fhir_slug.as_deref() == Some(slug))
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "No destination has the FHIR slug \"{slug}\". `switchboard connections \
                     --json` shows each destination's fhirSlug."
                ))
            })?;
        let wanted = [
            Environment::Development,
            Environment::Staging,
            Environment::Production,
        ]
        .into_iter()
        .find(|e| e.to_string() == environment)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "\"{environment}\" is not an environment: use Development, Staging or Production \
                 (capitalized) in the path."
            ))
        })?;
        if wanted != source.environment || destination.environment != source.environment {
            return Err(ApiError::forbidden(format!(
                "Source \"{}\" is in {}, but this request names {wanted} and destination \"{}\" \
                 is in {}. Requests only flow within one environment; use /fhir/R4/{slug}/{}/.",
                source.name,
                source.environment,
                destination.name,
                destination.environment,
                source.environment
            )));
        }
        let base = format!(
            "{}/fhir/R4/{slug}/{wanted}",
            self.settings
                .public_url
                .as_deref()
                .unwrap_or("")
                .trim_end_matches('/')
        );
        Ok(Party {
            source,
            destination,
            base,
        })
    }

    /// A 403 unless the source has a subscription to the destination covering
    /// `data_model` (`FHIR.Patient`, `FHIR.*`, or every data model).
    pub fn fhir_allowed(&self, party: &Party, data_model: &str) -> Result<(), ApiError> {
        let subscribed = self.registry().subscriptions.iter().any(|s| {
            s.source_id == party.source.id
                && s.destination_id == party.destination.id
                && s.covers(data_model)
        });
        if subscribed {
            return Ok(());
        }
        tracing::warn!(
            source = %party.source.name, destination = %party.destination.name, data_model,
            "refused: no FHIR subscription"
        );
        Err(ApiError::forbidden(format!(
            "Source \"{}\" has no subscription for {data_model} to destination \"{}\". Add a \
             [[subscriptions]] entry with data_models = [\"{data_model}\"] or [\"FHIR.*\"].",
            party.source.name, party.destination.name
        )))
    }

    /// `GET …/metadata`: what this API supports, answered by the engine itself.
    pub fn fhir_metadata(&self, party: &Party) -> FhirAnswer {
        FhirAnswer {
            status: 200,
            body: params::capability_statement(&party.base),
            log_id: None,
        }
    }
}

/// The stored request of a FHIR interaction: what was asked, as JSON (masked like any
/// body in Production for roles without PHI).
fn stored_request(source: &Source, exchange: Exchange, payload: Value) -> StoredRequest {
    StoredRequest {
        id: Uuid::now_v7(),
        received_at: Utc::now(),
        environment: source.environment,
        source_id: source.id,
        exchange,
        payload,
    }
}

/// A PENDING log of a FHIR interaction.
fn new_log(
    party: &Party,
    request: &StoredRequest,
    data_model: String,
    event_type: String,
    log_type: LogType,
    patient_id: Option<String>,
) -> LogRecord {
    let (id, created_at) = new_log_id();
    LogRecord {
        id,
        request_id: request.id,
        attempt_id: Uuid::now_v7(),
        log_type,
        status: LogStatus::Pending,
        exchange: request.exchange,
        environment: party.source.environment,
        source_id: party.source.id,
        source_name: party.source.name.clone(),
        destination_id: party.destination.id,
        destination_name: party.destination.name.clone(),
        data_model,
        event_type,
        test: false,
        created_at,
        updated_at: created_at,
        attempts: 0,
        latency_ms: None,
        patient_id,
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    }
}
