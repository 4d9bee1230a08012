//! The composer's reachability rule, pure: whether a destination can take an event from
//! a source, and why not. The engine applies it to its registry
//! (`engine::config::Registry::candidates`) and the console to the connections view it
//! was given (it has no registry), so both offer exactly what the engine accepts:
//! - the source needs a subscription to the destination for the event's data model;
//! - a query needs a destination that can answer it: one in `push` mode (a `poll`
//!   destination fetches its queue and cannot reply synchronously).
//!
//! ```
//! use switchboard::model::catalog;
//! use switchboard::model::reach::{Blocked, DeliveryMode, Party, Subscription, blocked};
//! use uuid::Uuid;
//! let (lab, ehr) = (Uuid::from_u128(1), Uuid::from_u128(2));
//! let subs = [Subscription { source_id: lab, destination_id: ehr, data_models: vec![] }];
//! let query = catalog::lookup("PatientSearch", "Query").unwrap();
//! let (source, destination) = (Party::new(lab, "Lab"), Party::new(ehr, "EHR"));
//! assert_eq!(blocked(&subs, source, destination, DeliveryMode::Push, query), None);
//! assert!(matches!(
//!     blocked(&subs, source, destination, DeliveryMode::Poll, query),
//!     Some(Blocked::CannotAnswerQueries { .. })
//! ));
//! ```

use crate::model::catalog::{EventInfo, Exchange};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The built-in Development source the console composes from. Fixed so that scripts and
/// saved requests can name it in every installation.
pub const CONSOLE_SOURCE_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0001);
pub const CONSOLE_SOURCE_NAME: &str = "Switchboard Console";

/// How a destination gets its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// The engine POSTs to its URL.
    Push,
    /// It fetches its queue from the engine.
    Poll,
}

/// (source, destination, data models) allowed to flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub source_id: Uuid,
    pub destination_id: Uuid,
    /// Empty means every data model.
    pub data_models: Vec<String>,
}

impl Subscription {
    /// Whether it lets `data_model` flow: every data model when empty; `FHIR.*` covers
    /// every FHIR data model (`FHIR.Patient`, `FHIR.Message.Observation`, …).
    pub fn covers(&self, data_model: &str) -> bool {
        self.data_models.is_empty()
            || self
                .data_models
                .iter()
                .any(|m| m == data_model || (m == "FHIR.*" && data_model.starts_with("FHIR.")))
    }
}

/// Why one destination cannot receive the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error(
        "no subscription: \"{source_name}\" may not send {data_model} to \"{destination}\"; add a \
         [[subscriptions]] entry for this pair and data model"
    )]
    NoSubscription {
        source_name: String,
        destination: String,
        data_model: String,
    },
    #[error(
        "\"{destination}\" receives by polling and cannot answer a query; query a push destination"
    )]
    CannotAnswerQueries { destination: String },
}

/// A source or destination as the rule sees it: what it matches on and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party<'a> {
    pub id: Uuid,
    pub name: &'a str,
}

impl<'a> Party<'a> {
    pub fn new(id: Uuid, name: &'a str) -> Party<'a> {
        Party { id, name }
    }
}

/// Why `destination` (delivered to in `mode`) cannot take `event` from `source` under
/// `subscriptions`, if it cannot.
pub fn blocked(
    subscriptions: &[Subscription],
    source: Party<'_>,
    destination: Party<'_>,
    mode: DeliveryMode,
    event: &EventInfo,
) -> Option<Blocked> {
    let subscribed = subscriptions.iter().any(|s| {
        s.source_id == source.id && s.destination_id == destination.id && s.covers(event.data_model)
    });
    if !subscribed {
        return Some(Blocked::NoSubscription {
            source_name: source.name.to_string(),
            destination: destination.name.to_string(),
            data_model: event.data_model.to_string(),
        });
    }
    if event.exchange == Exchange::Query && mode == DeliveryMode::Poll {
        return Some(Blocked::CannotAnswerQueries {
            destination: destination.name.to_string(),
        });
    }
    None
}
