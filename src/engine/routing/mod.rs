//! The one routing rule, for every path a request can take into the engine (`/endpoint`,
//! `/query`, and the composer, which checks the same rule ahead of sending):
//! - [`route`]: `Meta.Destinations` resolved to configured destinations the source may
//!   reach: same environment, a subscription for the data model, and for a query a
//!   destination that can answer (the pure part is `config::reach::blocked`, which the
//!   composer's offer uses too, so the rule is written once);
//! - [`prepare`]: the payload normalized, the engine's Meta fields filled, one log per
//!   destination;
//! - [`legacy`]: the platform's deprecated numeric `Meta.Message.ID` and
//!   `Meta.Transmission.ID`, given to a prepared request and put on what it sends;
//! - [`lane`]: the queue a log waits in at its destination;
//! - [`Rejection`]: a refused request, echoing the sender's Meta.
//!
//! Ingest and query forwarding both build on this module and on nothing of each other.

mod lane;
pub(crate) mod legacy;
mod prepare;

pub use lane::lane;
pub(crate) use prepare::{Prepared, prepare};

use super::config::reach::{self, Blocked};
use super::{Destination, Registry, Source};
use crate::model::ApiError;
use crate::model::catalog::EventInfo;
use crate::model::meta::{Envelope, EnvelopeError};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A refused request: the error and the sender's Meta to echo in the error body.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub error: ApiError,
    pub meta: Option<Box<Map<String, Value>>>,
}

impl From<EnvelopeError> for Rejection {
    fn from(e: EnvelopeError) -> Self {
        Rejection {
            error: e.error,
            meta: e.meta,
        }
    }
}

impl Rejection {
    pub(crate) fn new(error: ApiError, envelope: &Envelope) -> Self {
        Rejection {
            error,
            meta: envelope
                .payload
                .get("Meta")
                .and_then(Value::as_object)
                .cloned()
                .map(Box::new),
        }
    }

    /// A refusal that does not depend on what was sent (storage, capacity).
    pub(crate) fn bare(error: ApiError) -> Self {
        Rejection { error, meta: None }
    }
}

/// Resolves `Meta.Destinations` to configured destinations `source` may reach with the
/// envelope's event. Unknown destinations (404) are reported before refused ones (403),
/// every one of a kind in one answer.
pub(crate) fn route(
    registry: &Registry,
    source: &Source,
    envelope: &Envelope,
) -> Result<Vec<Destination>, ApiError> {
    if let Some(claimed) = &envelope.meta.source_id
        && Uuid::parse_str(claimed.trim()).ok() != Some(source.id)
    {
        return Err(ApiError::forbidden(format!(
            "Meta.Source.ID {claimed} is not the source this token belongs to ({} \"{}\"). \
             Leave Meta.Source out or use this source's ID.",
            source.id, source.name
        )));
    }
    let mut unknown: Option<ApiError> = None;
    let mut refused: Option<ApiError> = None;
    let mut found = Vec::new();
    for (i, wanted) in envelope.meta.destinations.iter().enumerate() {
        let destination = Uuid::parse_str(&wanted.id)
            .ok()
            .and_then(|id| registry.destination(id));
        let Some(destination) = destination else {
            let e = ApiError::not_found(format!(
                "Meta.Destinations[{i}].ID {} is not a destination of this engine. \
                 `switchboard connections` lists destination IDs.",
                wanted.id
            ));
            unknown = Some(match unknown {
                Some(prev) => prev.and(e),
                None => e,
            });
            continue;
        };
        match refusal(registry, source, destination, envelope.meta.event) {
            Some(e) => {
                refused = Some(match refused {
                    Some(prev) => prev.and(e),
                    None => e,
                })
            }
            None => found.push(destination.clone()),
        }
    }
    match (unknown, refused) {
        (Some(e), _) | (None, Some(e)) => Err(e),
        (None, None) => Ok(found),
    }
}

/// Why `destination` may not take `event` from `source`, as the answer to the sender.
fn refusal(
    registry: &Registry,
    source: &Source,
    destination: &Destination,
    event: &EventInfo,
) -> Option<ApiError> {
    if destination.environment != source.environment {
        tracing::warn!(
            source = %source.name, destination = %destination.name,
            "refused: request across environments"
        );
        return Some(ApiError::forbidden(format!(
            "Destination \"{}\" is in {}, but source \"{}\" is in {}. Requests only \
             flow between a source and a destination of the same environment type.",
            destination.name, destination.environment, source.name, source.environment
        )));
    }
    match reach::blocked(&registry.subscriptions, source, destination, event)? {
        Blocked::NoSubscription { data_model, .. } => {
            tracing::warn!(
                source = %source.name, destination = %destination.name, data_model,
                "refused: no subscription"
            );
            Some(ApiError::forbidden(format!(
                "Source \"{}\" has no subscription to send {data_model} to destination \
                 \"{}\". Add a [[subscriptions]] entry for this pair and data model.",
                source.name, destination.name
            )))
        }
        Blocked::CannotAnswerQueries { .. } => Some(ApiError::bad_request(format!(
            "Destination \"{}\" receives by polling and cannot answer queries. \
             Query a push destination.",
            destination.name
        ))),
    }
}

/// The answer to a query's reply event (`…Response`) sent in: nobody sends those.
pub(crate) fn response_event_error(envelope: &Envelope) -> ApiError {
    let event = envelope.meta.event;
    ApiError::bad_request(format!(
        "{} {} is the reply to a query; it comes back from the destination and cannot be \
         sent. Send the query event (e.g. {} {}) to /query instead.",
        event.data_model,
        event.event_type,
        event.data_model,
        event
            .event_type
            .strip_suffix("Response")
            .filter(|s| !s.is_empty())
            .unwrap_or("Query")
    ))
}

/// The answer to an asynchronous event sent to `/query`.
pub(crate) fn not_a_query_error(envelope: &Envelope) -> ApiError {
    let event = envelope.meta.event;
    ApiError::bad_request(format!(
        "{} {} is an asynchronous {}; SEND it to /endpoint. /query takes \
         synchronous events only.",
        event.data_model,
        event.event_type,
        event.exchange.as_str()
    ))
}

/// The answer to a query naming other than one destination.
pub(crate) fn one_destination_error(envelope: &Envelope) -> Option<ApiError> {
    let n = envelope.meta.destinations.len();
    (n != 1).then(|| {
        ApiError::bad_request(format!(
            "A query goes to exactly one destination, but Meta.Destinations names {n}. \
             Send one query per destination."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Config;
    use crate::model::meta::parse_envelope;
    use crate::model::{Environment, catalog};

    fn config() -> Config {
        crate::engine::config::fixtures::staging("Lab")
    }

    fn envelope(event: &EventInfo, destination: Uuid) -> Envelope {
        let body = serde_json::json!({"Meta": {
            "DataModel": event.data_model,
            "EventType": event.event_type,
            "Destinations": [{"ID": destination}],
        }});
        parse_envelope(body.to_string().as_bytes()).expect("envelope")
    }

    /// The composer offers exactly what the engine then accepts: one rule, two uses.
    #[test]
    fn the_composer_offers_what_routing_accepts() {
        let config = config();
        let registry = &config.registry;
        let lab = registry.source_named("Lab").expect("Lab");
        let events = [
            ("PatientAdmin", "Arrival"),
            ("PatientSearch", "Query"),
            ("Results", "New"),
            ("Results", "Query"),
        ];
        for (model, name) in events {
            let event = catalog::lookup(model, name).expect("known event");
            let offer = registry
                .candidates(Environment::Staging, lab.id, event)
                .expect("candidates");
            for destination in &registry.destinations {
                let offered = offer
                    .iter()
                    .find(|c| c.destination.id == destination.id)
                    .is_some_and(|c| c.is_reachable());
                let routed = route(registry, lab, &envelope(event, destination.id));
                assert_eq!(
                    offered,
                    routed.is_ok(),
                    "{model} {name} to {}: offered {offered}, routed {routed:?}",
                    destination.name
                );
            }
        }
    }

    #[test]
    fn refusals_say_why_with_the_platform_status() {
        let config = config();
        let registry = &config.registry;
        let lab = registry.source_named("Lab").expect("Lab");
        let id = |name: &str| registry.destination_named(name).expect(name).id;
        let status = |model: &str, name: &str, to: Uuid| {
            let event = catalog::lookup(model, name).expect("known event");
            route(registry, lab, &envelope(event, to))
                .map(|_| 200)
                .unwrap_or_else(|e| e.status)
        };
        assert_eq!(status("Results", "New", id("Acme EHR")), 403);
        assert_eq!(status("PatientAdmin", "Arrival", id("Prod EHR")), 403);
        assert_eq!(status("PatientSearch", "Query", id("Billing")), 400);
        assert_eq!(status("PatientAdmin", "Arrival", Uuid::nil()), 404);
        assert_eq!(status("PatientAdmin", "Arrival", id("Billing")), 200);
    }
}
