//! What the composer may offer: for an environment, a source and an event, every
//! destination of that environment, each either reachable or with the reason it is
//! not. The rules are those `engine::routing::route` applies when the request arrives
//! (it calls [`blocked`]), checked ahead so the composer never offers a destination the
//! engine would refuse:
//! - the destination must be in the source's environment (traffic never crosses);
//! - the source needs a subscription to the destination for the event's data model;
//! - a query needs a destination that can answer it: one in `push` mode (a `poll`
//!   destination fetches its queue and cannot reply synchronously);
//! - a query's reply event (`…Response`) is never sent by anyone.
//!
//! ```
//! use switchboard::engine::config::{CONSOLE_SOURCE_ID, Config};
//! use switchboard::model::{Environment, catalog};
//! let config = Config::builtin();
//! let event = catalog::lookup("PatientSearch", "Query").unwrap();
//! let offer = config
//!     .registry
//!     .candidates(Environment::Development, CONSOLE_SOURCE_ID, event)
//!     .unwrap();
//! assert!(offer.iter().any(|c| c.destination.name == "Sandbox EHR" && c.is_reachable()));
//! ```

use super::{Destination, Registry, Source, Subscription};
use crate::model::Environment;
use crate::model::catalog::{self, EventInfo, Exchange};
pub use crate::model::reach::Blocked;
use crate::model::reach::Party;
use uuid::Uuid;

/// Why nothing can be offered at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("source {0} is not configured; `switchboard connections` lists sources")]
    UnknownSource(Uuid),
    #[error("source \"{source_name}\" is in {actual}, not {wanted}; choose a source of {wanted}")]
    OtherEnvironment {
        source_name: String,
        actual: Environment,
        wanted: Environment,
    },
    #[error(
        "{data_model} {event_type} is the reply to a query and is never sent; compose the query instead"
    )]
    ReplyEvent {
        data_model: String,
        event_type: String,
    },
}

/// A saved request's names resolved against this configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'a> {
    pub source: &'a Source,
    /// The saved destination, as offered now (reachable, or why not).
    pub candidate: Candidate<'a>,
    pub event: &'static EventInfo,
}

/// Why a saved request does not fit this configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("the saved source \"{0}\" is not configured here; choose another source")]
    UnknownSource(String),
    #[error(
        "the saved destination \"{0}\" is not a destination of {1} here; choose another destination"
    )]
    UnknownDestination(String, Environment),
    #[error("{0}")]
    UnknownEvent(String),
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// What a saved request names, as written in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedNames<'a> {
    pub environment: Environment,
    pub source: &'a str,
    pub destination: &'a str,
    pub data_model: &'a str,
    pub event: &'a str,
}

/// One destination of the environment, and whether the request may go to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub destination: &'a Destination,
    /// `None`: reachable.
    pub blocked: Option<Blocked>,
}

impl Candidate<'_> {
    pub fn is_reachable(&self) -> bool {
        self.blocked.is_none()
    }
}

impl Registry {
    /// The sources of `environment`, in configuration order (the built-in ones first).
    pub fn sources_in(&self, environment: Environment) -> impl Iterator<Item = &Source> {
        self.sources
            .iter()
            .filter(move |s| s.environment == environment)
    }

    /// Every destination of `environment`, in configuration order, each reachable from
    /// `source` with `event` or not (and why). Destinations of other environments are
    /// left out: they are never an option, so listing them would only be noise.
    pub fn candidates(
        &self,
        environment: Environment,
        source: Uuid,
        event: &EventInfo,
    ) -> Result<Vec<Candidate<'_>>, ComposeError> {
        let source = self
            .source(source)
            .ok_or(ComposeError::UnknownSource(source))?;
        if source.environment != environment {
            return Err(ComposeError::OtherEnvironment {
                source_name: source.name.clone(),
                actual: source.environment,
                wanted: environment,
            });
        }
        if event.exchange == Exchange::Response {
            return Err(ComposeError::ReplyEvent {
                data_model: event.data_model.to_string(),
                event_type: event.event_type.to_string(),
            });
        }
        Ok(self
            .destinations
            .iter()
            .filter(|d| d.environment == environment)
            .map(|destination| Candidate {
                destination,
                blocked: self.blocked(source, destination, event),
            })
            .collect())
    }

    /// Resolves a saved request's environment, source and destination (by name or ID)
    /// and event, and says whether it may be sent as saved. The saved file is the
    /// console's (`console::collection`); only its names come here.
    pub fn resolve_saved(&self, saved: &SavedNames<'_>) -> Result<Resolved<'_>, ResolveError> {
        let source = self
            .source_named(saved.source.trim())
            .ok_or_else(|| ResolveError::UnknownSource(saved.source.to_string()))?;
        let event = catalog::lookup(saved.data_model, saved.event)
            .map_err(|e| ResolveError::UnknownEvent(e.to_string()))?;
        let wanted = self
            .destination_named(saved.destination.trim())
            .map(|d| d.id);
        let candidate = self
            .candidates(saved.environment, source.id, event)?
            .into_iter()
            .find(|c| Some(c.destination.id) == wanted)
            .ok_or_else(|| {
                ResolveError::UnknownDestination(saved.destination.to_string(), saved.environment)
            })?;
        Ok(Resolved {
            source,
            candidate,
            event,
        })
    }

    fn blocked(
        &self,
        source: &Source,
        destination: &Destination,
        event: &EventInfo,
    ) -> Option<Blocked> {
        blocked(&self.subscriptions, source, destination, event)
    }
}

/// Why `destination` cannot take `event` from `source` under `subscriptions`, if it
/// cannot: the rule of [`crate::model::reach::blocked`] on the registry's records.
pub fn blocked(
    subscriptions: &[Subscription],
    source: &Source,
    destination: &Destination,
    event: &EventInfo,
) -> Option<Blocked> {
    crate::model::reach::blocked(
        subscriptions,
        Party::new(source.id, &source.name),
        Party::new(destination.id, &destination.name),
        destination.mode,
        event,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{CONSOLE_SOURCE_ID, Config};
    use super::*;
    use crate::model::catalog;

    fn config() -> Config {
        crate::engine::config::fixtures::staging("Console Staging")
    }

    fn event(model: &str, name: &str) -> &'static EventInfo {
        catalog::lookup(model, name).expect("known")
    }

    fn offer(config: &Config, model: &str, name: &str) -> Vec<(String, Option<Blocked>)> {
        let source = config
            .registry
            .source_named("Console Staging")
            .expect("source")
            .id;
        config
            .registry
            .candidates(Environment::Staging, source, event(model, name))
            .expect("candidates")
            .into_iter()
            .map(|c| (c.destination.name.clone(), c.blocked))
            .collect()
    }

    #[test]
    fn subscriptions_decide_and_say_why() {
        let config = config();
        let arrival = offer(&config, "PatientAdmin", "Arrival");
        assert_eq!(
            arrival,
            vec![
                ("Acme EHR".to_string(), None),
                ("Billing".to_string(), None)
            ]
        );
        let results = offer(&config, "Results", "New");
        assert_eq!(results[1], ("Billing".to_string(), None));
        let why = results[0].1.as_ref().expect("blocked").to_string();
        assert!(
            why.contains("no subscription") && why.contains("Results") && why.contains("Acme EHR"),
            "{why}"
        );
    }

    #[test]
    fn queries_need_a_push_destination() {
        let config = config();
        let search = offer(&config, "PatientSearch", "Query");
        assert_eq!(search[0], ("Acme EHR".to_string(), None));
        assert!(matches!(
            search[1].1,
            Some(Blocked::CannotAnswerQueries { .. })
        ));
    }

    #[test]
    fn wrong_sources_and_reply_events_are_errors() {
        let config = config();
        let r = &config.registry;
        let arrival = event("PatientAdmin", "Arrival");
        assert!(matches!(
            r.candidates(Environment::Staging, CONSOLE_SOURCE_ID, arrival),
            Err(ComposeError::OtherEnvironment { .. })
        ));
        assert!(matches!(
            r.candidates(Environment::Staging, Uuid::nil(), arrival),
            Err(ComposeError::UnknownSource(_))
        ));
        let reply = event("PatientSearch", "Response");
        let err = r
            .candidates(Environment::Development, CONSOLE_SOURCE_ID, reply)
            .unwrap_err();
        assert!(err.to_string().contains("compose the query"), "{err}");
        // The built-in Development setup offers the sandbox for everything.
        let dev = r
            .candidates(Environment::Development, CONSOLE_SOURCE_ID, arrival)
            .expect("dev");
        assert_eq!(dev.len(), 1);
        assert!(dev[0].is_reachable());
        assert_eq!(r.sources_in(Environment::Staging).count(), 1);
    }

    #[test]
    fn saved_requests_resolve_by_name() {
        let config = config();
        let saved = SavedNames {
            environment: Environment::Staging,
            source: "console staging",
            destination: "Acme EHR",
            data_model: "PatientAdmin",
            event: "Arrival",
        };
        let resolved = config.registry.resolve_saved(&saved).expect("resolves");
        assert_eq!(resolved.source.name, "Console Staging");
        assert!(resolved.candidate.is_reachable());
        assert_eq!(resolved.event.event_type, "Arrival");
        let blocked = SavedNames {
            data_model: "Results",
            event: "New",
            ..saved
        };
        let resolved = config.registry.resolve_saved(&blocked).expect("resolves");
        assert!(!resolved.candidate.is_reachable());
        let elsewhere = SavedNames {
            destination: "Prod EHR",
            ..saved
        };
        assert!(matches!(
            config.registry.resolve_saved(&elsewhere),
            Err(ResolveError::UnknownDestination(..))
        ));
        let gone = SavedNames {
            source: "Lab",
            ..saved
        };
        assert!(matches!(
            config.registry.resolve_saved(&gone),
            Err(ResolveError::UnknownSource(_))
        ));
        let typo = SavedNames {
            event: "Arival",
            ..saved
        };
        let err = config
            .registry
            .resolve_saved(&typo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Did you mean \"Arrival\""), "{err}");
    }
}
