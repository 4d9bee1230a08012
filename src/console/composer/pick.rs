//! Choosing what to compose: the event, the source and the destination, from lists that
//! offer only what the routing allows. A destination the request could not reach stays
//! in the list, dimmed, with the reason, so "why is Acme EHR not offered?" answers itself.

use super::{Composed, Named};
use crate::client::wire::ConnectionsView;
use crate::console::prompt::LineInput;
use crate::model::Environment;
use crate::model::catalog::{self, EventInfo, Exchange};
use crate::model::fhir::{self, FhirKind};
use crate::model::reach::{CONSOLE_SOURCE_ID, DeliveryMode, Party, blocked};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickStep {
    /// Where to send: the console moves there (its connections are what the next
    /// steps offer).
    Environment,
    Event,
    Source,
    Destination,
}

/// A list being chosen from, with type-to-filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub step: PickStep,
    /// What the user typed to narrow the list (matched against label and detail).
    pub query: LineInput,
    /// Among the options that match the query.
    pub cursor: usize,
    pub event: Option<Composed>,
    pub source: Option<Named>,
    /// Whether formalities are taken without asking (composing from scratch), or every
    /// option is shown (the user asked to choose again with `s` or `d`).
    pub auto: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PickValue {
    Environment(Environment),
    Event(Composed),
    Party(Named),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PickOption {
    pub label: String,
    pub detail: String,
    /// Why this option cannot be chosen; `None` when it can.
    pub unavailable: Option<String>,
    pub value: PickValue,
}

/// Events a client can send: everything but the reply shapes of queries.
pub fn sendable_events() -> impl Iterator<Item = &'static EventInfo> {
    catalog::all()
        .iter()
        .filter(|e| e.exchange != Exchange::Response)
}

fn kind(event: &EventInfo) -> &'static str {
    match event.exchange {
        Exchange::Query => "query → /query",
        Exchange::Writeback => "writeback → /endpoint",
        _ => "notification → /endpoint",
    }
}

fn fhir_kind(kind: FhirKind) -> String {
    match kind {
        FhirKind::Search(resource) => format!("FHIR search → /fhir/R4/…/{resource}/_search"),
        FhirKind::Message(m) => format!("FHIR message → /fhir/R4/…/{}/{}", m.resource, m.operation),
    }
}

/// Why `destination` cannot take a FHIR request from `source`: it has no FHIR slug, or
/// no subscription of the pair covers the request's data model.
fn fhir_blocked(
    view: &ConnectionsView,
    source: &Named,
    destination: &crate::client::wire::DestinationView,
    kind: FhirKind,
) -> Option<String> {
    let d = &destination.destination;
    if d.fhir_slug.is_none() {
        return Some("no FHIR slug: give it fhir_slug and fhir_url in the config".into());
    }
    let data_model = kind.data_model();
    let covered = view.subscriptions.iter().any(|s| {
        s.source_id == source.id
            && s.destination_id == d.id
            && fhir::subscription_covers(&s.data_models, &data_model)
    });
    (!covered).then(|| {
        crate::model::reach::Blocked::NoSubscription {
            source_name: source.name.clone(),
            destination: d.name.clone(),
            data_model,
        }
        .to_string()
    })
}

impl Picker {
    /// From the start: environment, event, source, destination; the cursor on
    /// `current`, the environment the console shows.
    pub fn full(current: Environment) -> Picker {
        Picker {
            step: PickStep::Environment,
            query: LineInput::default(),
            cursor: Environment::ALL
                .iter()
                .position(|&e| e == current)
                .unwrap_or(0),
            event: None,
            source: None,
            auto: true,
        }
    }

    /// Starts at the first step not already decided (in the current environment).
    pub fn new(event: Option<Composed>, source: Option<Named>) -> Picker {
        let step = match (&event, &source) {
            (None, _) => PickStep::Event,
            (Some(_), None) => PickStep::Source,
            (Some(_), Some(_)) => PickStep::Destination,
        };
        Picker {
            step,
            query: LineInput::default(),
            cursor: 0,
            event,
            source,
            auto: true,
        }
    }

    pub fn title(&self) -> String {
        match self.step {
            PickStep::Environment => "Compose: in which environment?".into(),
            PickStep::Event => "Compose: which event?".into(),
            PickStep::Source => "Compose: send as which source?".into(),
            PickStep::Destination => "Compose: to which destination?".into(),
        }
    }

    /// Every option of this step (matching or not the query), from `view`, the current
    /// environment's connections.
    pub fn all_options(&self, view: Option<&ConnectionsView>) -> Vec<PickOption> {
        match self.step {
            PickStep::Environment => Environment::ALL
                .iter()
                .map(|&env| PickOption {
                    label: env.to_string(),
                    detail: match env {
                        Environment::Production => {
                            "real patients: sending asks for the destination's name".into()
                        }
                        _ => "test traffic".into(),
                    },
                    unavailable: None,
                    value: PickValue::Environment(env),
                })
                .collect(),
            PickStep::Event => sendable_events()
                .map(|e| PickOption {
                    label: format!("{} {}", e.data_model, e.event_type),
                    detail: kind(e).into(),
                    unavailable: None,
                    value: PickValue::Event(Composed::Event(e)),
                })
                .chain(FhirKind::all().map(|k| PickOption {
                    label: k.label(),
                    detail: fhir_kind(k),
                    unavailable: None,
                    value: PickValue::Event(Composed::Fhir(k)),
                }))
                .collect(),
            PickStep::Source => {
                let mut sources: Vec<PickOption> = view
                    .map(|v| v.sources.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|s| PickOption {
                        label: s.source.name.clone(),
                        detail: s.source.id.to_string(),
                        unavailable: None,
                        value: PickValue::Party(Named {
                            id: s.source.id,
                            name: s.source.name.clone(),
                        }),
                    })
                    .collect();
                // The console's own source first: it is what test traffic is sent as.
                sources.sort_by_key(
                    |o| !matches!(&o.value, PickValue::Party(p) if p.id == CONSOLE_SOURCE_ID),
                );
                sources
            }
            PickStep::Destination => self.destination_options(view),
        }
    }

    /// The destination step: every destination of `view`, each with why it cannot take
    /// the request when it cannot, reachable ones first.
    fn destination_options(&self, view: Option<&ConnectionsView>) -> Vec<PickOption> {
        let (Some(view), Some(event), Some(chosen)) = (view, self.event, &self.source) else {
            return Vec::new();
        };
        let Some(source) = view.sources.iter().find(|s| s.source.id == chosen.id) else {
            return Vec::new();
        };
        let mut options: Vec<PickOption> = view
            .destinations
            .iter()
            .map(|d| {
                let mut detail = String::from(if d.destination.mode == DeliveryMode::Poll {
                    "poll"
                } else {
                    "push"
                });
                if d.paused {
                    detail.push_str(" · paused: delivery waits");
                }
                if !d.delivery_allowed {
                    detail.push_str(" · unverified: delivery waits for verification");
                }
                let unavailable = match event {
                    Composed::Event(event) => blocked(
                        &view.subscriptions,
                        Party::new(source.source.id, &source.source.name),
                        Party::new(d.destination.id, &d.destination.name),
                        d.destination.mode,
                        event,
                    )
                    .map(|b| b.to_string()),
                    Composed::Fhir(kind) => fhir_blocked(view, chosen, d, kind),
                };
                if let (Composed::Fhir(_), Some(slug)) = (event, &d.destination.fhir_slug) {
                    detail.push_str(&format!(" · fhir {slug}"));
                }
                PickOption {
                    label: d.destination.name.clone(),
                    detail,
                    unavailable,
                    value: PickValue::Party(Named {
                        id: d.destination.id,
                        name: d.destination.name.clone(),
                    }),
                }
            })
            .collect();
        // Reachable destinations first.
        options.sort_by_key(|o| o.unavailable.is_some());
        options
    }

    /// The options the query lets through, in order.
    pub fn options(&self, view: Option<&ConnectionsView>) -> Vec<PickOption> {
        let words: Vec<String> = self
            .query
            .text
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut found: Vec<PickOption> = self
            .all_options(view)
            .into_iter()
            .filter(|o| {
                let hay = format!("{} {}", o.label, o.detail).to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect();
        if !words.is_empty() {
            // What was typed as a prefix ranks first, then the shorter (more general)
            // name: "patientsearch" offers PatientSearch Query before LocationQuery.
            let typed = self.query.text.trim().to_lowercase();
            found.sort_by_key(|o| {
                let label = o.label.to_lowercase();
                (
                    !label.starts_with(&typed),
                    o.unavailable.is_some(),
                    label.len(),
                )
            });
        }
        found
    }

    /// The one option there is to take, when choosing would be a formality: a single
    /// reachable destination, or the console's own source.
    pub fn obvious(&self, view: Option<&ConnectionsView>) -> Option<PickValue> {
        if !self.auto {
            return None;
        }
        let options = self.all_options(view);
        match self.step {
            PickStep::Environment | PickStep::Event => None,
            PickStep::Source => options.into_iter().find_map(|o| match o.value {
                PickValue::Party(p) if p.id == CONSOLE_SOURCE_ID => Some(PickValue::Party(p)),
                _ => None,
            }),
            PickStep::Destination => {
                let mut open = options.into_iter().filter(|o| o.unavailable.is_none());
                match (open.next(), open.next()) {
                    (Some(only), None) => Some(only.value),
                    _ => None,
                }
            }
        }
    }

    /// Takes `value` for this step; returns true when every step is decided.
    pub fn take(&mut self, value: PickValue) -> bool {
        self.query = LineInput::default();
        self.cursor = 0;
        match (self.step, value) {
            (PickStep::Environment, PickValue::Environment(_)) => {
                self.step = PickStep::Event;
                false
            }
            (PickStep::Event, PickValue::Event(e)) => {
                self.event = Some(e);
                self.step = if self.source.is_some() {
                    PickStep::Destination
                } else {
                    PickStep::Source
                };
                false
            }
            (PickStep::Source, PickValue::Party(p)) => {
                self.source = Some(p);
                self.step = PickStep::Destination;
                false
            }
            (PickStep::Destination, PickValue::Party(_)) => true,
            _ => false,
        }
    }
}
