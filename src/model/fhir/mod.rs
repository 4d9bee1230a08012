//! FHIR R4 as the console and the composer see it, pure: the resources the composer
//! offers, how FHIR traffic is named in logs (`FHIR.Patient` `search`,
//! `FHIR.Message.Observation` `observation-created`; the filter language takes them as
//! `dm:FHIR.Patient`, `dm:FHIR.*`), and what the composer sends.
//!
//! - [`search`]: the search form (`name=value` lines) with its checks and its form body.
//! - [`message`]: FHIR message templates (a `Bundle` of type `message`).
//! - [`request`]: the HTTP request a composed FHIR request is (path, content type, body).
//! - [`summary`]: the one-line summary of an answer ("2 patients: Baker, Abigail; …").
//!
//! Message data models are named after the event code's first word:
//! `Observation-New` → `FHIR.Message.Observation`, `Media-New` → `FHIR.Message.Media`
//! (the way the data-model API's `Media New` is data model `Media`).

pub mod message;
pub mod request;
pub mod search;
pub mod summary;

pub use message::{MESSAGES, MessageKind};

use crate::model::schema::{SchemaIssue, SyntaxError, Validation};

/// Every FHIR data model starts so.
pub const PREFIX: &str = "FHIR.";
/// FHIR messages' data models start so.
pub const MESSAGE_PREFIX: &str = "FHIR.Message.";

/// The resources the composer's search form offers (those the FHIR API searches).
pub const RESOURCES: [&str; 11] = [
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "MedicationStatement",
    "Immunization",
    "DocumentReference",
    "Appointment",
    "Practitioner",
    "Location",
];

/// A resource name in any case: `patient` is `Patient`.
pub fn resource_loose(name: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .copied()
        .find(|r| r.eq_ignore_ascii_case(name))
}

/// The log data model of a search or read of `resource`.
pub fn search_data_model(resource: &str) -> String {
    format!("{PREFIX}{resource}")
}

/// Whether `data_model` names FHIR traffic.
pub fn is_fhir(data_model: &str) -> bool {
    data_model.len() > PREFIX.len() && starts_with_ci(data_model, PREFIX)
}

/// `s` starts with `prefix` (ASCII), case ignored; never slices inside a character.
fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// How a log reads in the feed: `FHIR Patient search`; a message by its event alone,
/// `FHIR observation-created` (the event names the resource and the log type, SEND,
/// says it is a message; short enough for the feed at 80 columns); `None` for
/// data-model logs.
pub fn label(data_model: &str, event_type: &str) -> Option<String> {
    if !is_fhir(data_model) {
        return None;
    }
    let rest = &data_model[PREFIX.len()..];
    if rest.len() > "Message.".len() && starts_with_ci(rest, "Message.") {
        return Some(format!("FHIR {event_type}"));
    }
    Some(format!("FHIR {rest} {event_type}"))
}

/// The log of an accepted FHIR message: the engine answers one with an
/// `OperationOutcome` of severity `information` whose `id` is the log's ID.
pub fn accepted_log(answer: &serde_json::Value) -> Option<uuid::Uuid> {
    if answer["resourceType"] != "OperationOutcome"
        || answer["issue"][0]["severity"] != "information"
    {
        return None;
    }
    uuid::Uuid::parse_str(answer["id"].as_str()?).ok()
}

/// What the composer composes in FHIR: a search of one resource, or one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FhirKind {
    Search(&'static str),
    Message(&'static MessageKind),
}

impl FhirKind {
    /// Every kind the composer offers: the searches, then the messages.
    pub fn all() -> impl Iterator<Item = FhirKind> {
        RESOURCES
            .iter()
            .map(|r| FhirKind::Search(r))
            .chain(MESSAGES.iter().map(FhirKind::Message))
    }

    /// The data model its log has.
    pub fn data_model(self) -> String {
        match self {
            FhirKind::Search(resource) => search_data_model(resource),
            FhirKind::Message(m) => m.data_model.to_string(),
        }
    }

    /// `search`, or the message's event code (`Observation-New`): what the composer's
    /// history records as the event.
    pub fn event(self) -> &'static str {
        match self {
            FhirKind::Search(_) => "search",
            FhirKind::Message(m) => m.code,
        }
    }

    /// `FHIR Patient search`, `FHIR Observation-New`: as the picker and titles show it.
    pub fn label(self) -> String {
        match self {
            FhirKind::Search(resource) => format!("FHIR {resource} search"),
            FhirKind::Message(m) => format!("FHIR {}", m.code),
        }
    }

    /// Back from what [`FhirKind::data_model`] and [`FhirKind::event`] recorded.
    pub fn from_record(data_model: &str, event: &str) -> Option<FhirKind> {
        if event == "search" {
            let resource = data_model.strip_prefix(PREFIX)?;
            return resource_loose(resource).map(FhirKind::Search);
        }
        MESSAGES
            .iter()
            .find(|m| m.code == event && m.data_model == data_model)
            .map(FhirKind::Message)
    }

    /// From the words after `compose FHIR`: `Patient`, `Patient search`, `Observation-New`
    /// (any case). The error says what is offered.
    pub fn parse_words(words: &[&str]) -> Result<FhirKind, String> {
        let usage = || {
            format!(
                "compose FHIR takes a resource to search ({}) or a message ({})",
                RESOURCES.join(", "),
                MESSAGES
                    .iter()
                    .map(|m| m.code)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match words {
            [one] | [one, _] => {
                if let [_, interaction] = words
                    && !interaction.eq_ignore_ascii_case("search")
                {
                    return Err(format!(
                        "the composer searches with FHIR (\"{interaction}\" is not offered): \
                         compose FHIR {one} search; read an id with _id=… in the form"
                    ));
                }
                if let Some(resource) = resource_loose(one) {
                    return Ok(FhirKind::Search(resource));
                }
                if words.len() == 1
                    && let Some(m) = MESSAGES.iter().find(|m| m.code.eq_ignore_ascii_case(one))
                {
                    return Ok(FhirKind::Message(m));
                }
                let names = RESOURCES
                    .iter()
                    .copied()
                    .chain(MESSAGES.iter().map(|m| m.code));
                Err(match crate::model::catalog::closest(one, names) {
                    Some(near) => format!("\"{one}\" is not offered in FHIR: did you mean {near}?"),
                    None => format!("\"{one}\" is not offered in FHIR; {}", usage()),
                })
            }
            _ => Err(usage()),
        }
    }
}

/// The composer's checks of a FHIR request's text: the search form's (see
/// [`search::check`]), or a message's JSON syntax (an error) and shape (warnings).
pub fn check(kind: FhirKind, text: &str) -> Validation {
    match kind {
        FhirKind::Search(resource) => search::check(resource, text),
        FhirKind::Message(_) => match serde_json::from_str::<serde_json::Value>(text) {
            Err(e) => Validation {
                syntax_error: Some(SyntaxError {
                    message: e.to_string(),
                    line: e.line(),
                    column: e.column(),
                }),
                ..Validation::default()
            },
            Ok(value) => Validation {
                schema_issues: message::shape_issues(&value)
                    .into_iter()
                    .map(|message| SchemaIssue {
                        json_path: String::new(),
                        path: "(root)".into(),
                        line: 1,
                        message,
                    })
                    .collect(),
                ..Validation::default()
            },
        },
    }
}

/// Whether a subscription's data models (empty: every data model) cover FHIR
/// `data_model`: named exactly, or all of FHIR by `FHIR.*` (the engine's rule,
/// `reach::Subscription::covers` on the FHIR API's branch).
pub fn subscription_covers(data_models: &[String], data_model: &str) -> bool {
    data_models.is_empty()
        || data_models
            .iter()
            .any(|m| m == data_model || (m == "FHIR.*" && data_model.starts_with(PREFIX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_labels_read_as_words() {
        assert_eq!(
            label("FHIR.Patient", "search").as_deref(),
            Some("FHIR Patient search")
        );
        assert_eq!(
            label("FHIR.Message.Observation", "observation-created").as_deref(),
            Some("FHIR observation-created")
        );
        assert_eq!(label("PatientSearch", "Query"), None);
        assert_eq!(label("FHIR.", "read"), None);
    }

    #[test]
    fn subscriptions_cover_fhir_by_name_or_pattern() {
        let subs = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(subscription_covers(&[], "FHIR.Patient"));
        assert!(subscription_covers(&subs(&["FHIR.*"]), "FHIR.Patient"));
        assert!(subscription_covers(
            &subs(&["FHIR.Patient"]),
            "FHIR.Patient"
        ));
        assert!(!subscription_covers(
            &subs(&["FHIR.Patient"]),
            "FHIR.Encounter"
        ));
        assert!(!subscription_covers(
            &subs(&["PatientSearch"]),
            "FHIR.Patient"
        ));
    }

    #[test]
    fn an_accepted_message_names_its_log() {
        let id = uuid::Uuid::from_u128(42);
        let accepted = serde_json::json!({"resourceType": "OperationOutcome", "id": id,
            "issue": [{"severity": "information", "code": "informational"}]});
        assert_eq!(accepted_log(&accepted), Some(id));
        let mut refused = accepted.clone();
        refused["issue"][0]["severity"] = "error".into();
        assert_eq!(accepted_log(&refused), None);
        assert_eq!(
            accepted_log(&serde_json::json!({"resourceType": "Bundle", "id": id})),
            None
        );
    }

    #[test]
    fn compose_words_name_a_search_or_a_message() {
        let ok = |w: &[&str]| FhirKind::parse_words(w).expect("parses");
        assert_eq!(ok(&["Patient", "search"]), FhirKind::Search("Patient"));
        assert_eq!(
            ok(&["allergyintolerance"]),
            FhirKind::Search("AllergyIntolerance")
        );
        assert_eq!(ok(&["observation-new"]), FhirKind::Message(&MESSAGES[0]));
        assert_eq!(ok(&["Media-New"]).data_model(), "FHIR.Message.Media");
        let err = FhirKind::parse_words(&["Patiant"]).expect_err("typo");
        assert!(err.contains("did you mean Patient"), "{err}");
        let err = FhirKind::parse_words(&["Patient", "read"]).expect_err("read");
        assert!(err.contains("_id="), "{err}");
        let err = FhirKind::parse_words(&[]).expect_err("nothing");
        assert!(err.contains("Observation-New"), "{err}");
        for kind in FhirKind::all() {
            assert_eq!(
                FhirKind::from_record(&kind.data_model(), kind.event()),
                Some(kind)
            );
        }
    }
}
