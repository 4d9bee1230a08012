//! The catalog of data models and event types the engine accepts, built from the
//! platform's published schemas (`fixtures/redox-schemas/<model>/<event>.json`).
//!
//! Each event is classified by how it is exchanged:
//! - [`Exchange::Query`]: synchronous REQUEST/RESPOND (the list in SPEC.md);
//! - [`Exchange::Response`]: the reply shape of a query, never sent on its own;
//! - [`Exchange::Writeback`]: asynchronous data written back into a connection's system
//!   (documents, notes, media, results, orders, flowsheets, bookings);
//! - [`Exchange::Notification`]: every other asynchronous event.
//!
//! Names are matched exactly (the platform is case-sensitive); a near miss gets a
//! "did you mean" in the error text.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    Notification,
    Writeback,
    Query,
    Response,
}

impl Exchange {
    pub fn is_sync(self) -> bool {
        matches!(self, Exchange::Query | Exchange::Response)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Exchange::Notification => "notification",
            Exchange::Writeback => "writeback",
            Exchange::Query => "query",
            Exchange::Response => "response",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventInfo {
    pub data_model: &'static str,
    pub event_type: &'static str,
    pub exchange: Exchange,
    /// Schema file relative to the schema root, e.g. `clinicalsummary/patientquery.json`.
    pub schema: &'static str,
}

/// (data model as spelled in payloads, schema folder, [(event type, schema file stem, exchange)])
type ModelRow = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, Exchange)],
);

use Exchange::{Notification as N, Query as Q, Response as R, Writeback as W};

const MODELS: &[ModelRow] = &[
    (
        "Claim",
        "claim",
        &[
            ("Payment", "payment", N),
            ("PaymentBatch", "paymentbatch", N),
            ("Submission", "submission", N),
            ("SubmissionBatch", "submissionbatch", N),
        ],
    ),
    (
        "ClinicalDecisions",
        "clinicaldecisions",
        &[("Request", "request", Q), ("Response", "response", R)],
    ),
    (
        "Clinical Summary",
        "clinicalsummary",
        &[
            ("DocumentGet", "documentget", Q),
            ("DocumentGetResponse", "documentgetresponse", R),
            ("DocumentQuery", "documentquery", Q),
            ("DocumentQueryResponse", "documentqueryresponse", R),
            ("PatientPush", "patientpush", W),
            ("PatientQuery", "patientquery", Q),
            ("PatientQueryResponse", "patientqueryresponse", R),
            ("VisitPush", "visitpush", W),
            ("VisitQuery", "visitquery", Q),
            ("VisitQueryResponse", "visitqueryresponse", R),
        ],
    ),
    ("Device", "device", &[("New", "new", N)]),
    (
        "Financial",
        "financial",
        &[
            ("AccountUpdate", "accountupdate", N),
            ("Transaction", "transaction", N),
        ],
    ),
    ("Flowsheet", "flowsheet", &[("New", "new", W)]),
    (
        "Inventory",
        "inventory",
        &[("Deplete", "deplete", N), ("Update", "update", N)],
    ),
    (
        "Media",
        "media",
        &[
            ("Delete", "delete", W),
            ("New", "new", W),
            ("Query", "query", Q),
            ("QueryResponse", "queryresponse", R),
            ("Replace", "replace", W),
        ],
    ),
    (
        "Medications",
        "medications",
        &[
            ("Administration", "administration", N),
            ("Cancel", "cancel", N),
            ("New", "new", N),
            ("Update", "update", N),
        ],
    ),
    (
        "Notes",
        "notes",
        &[
            ("Delete", "delete", W),
            ("New", "new", W),
            ("Query", "query", Q),
            ("QueryResponse", "queryresponse", R),
            ("Replace", "replace", W),
        ],
    ),
    (
        "Order",
        "order",
        &[
            ("Cancel", "cancel", W),
            ("GroupedOrders", "groupedorders", W),
            ("New", "new", W),
            ("Query", "query", Q),
            ("QueryResponse", "queryresponse", R),
            ("Update", "update", W),
        ],
    ),
    (
        "Organization",
        "organization",
        &[
            ("New", "new", N),
            ("Query", "query", Q),
            ("QueryResponse", "queryresponse", R),
            ("Update", "update", N),
        ],
    ),
    (
        "PatientAdmin",
        "patientadmin",
        &[
            ("Arrival", "arrival", N),
            ("Cancel", "cancel", N),
            ("CensusQuery", "censusquery", Q),
            ("CensusQueryResponse", "censusqueryresponse", R),
            ("Discharge", "discharge", N),
            ("NewPatient", "newpatient", N),
            ("PatientMerge", "patientmerge", N),
            ("PatientUpdate", "patientupdate", N),
            ("PreAdmit", "preadmit", N),
            ("Registration", "registration", N),
            ("Transfer", "transfer", N),
            ("VisitMerge", "visitmerge", N),
            ("VisitQuery", "visitquery", Q),
            ("VisitQueryResponse", "visitqueryresponse", R),
            ("VisitUpdate", "visitupdate", N),
        ],
    ),
    (
        "PatientEducation",
        "patienteducation",
        &[
            ("Delete", "delete", N),
            ("New", "new", N),
            ("Update", "update", N),
        ],
    ),
    (
        "PatientSearch",
        "patientsearch",
        &[
            ("LocationQuery", "locationquery", Q),
            ("LocationQueryResponse", "locationqueryresponse", R),
            ("Query", "query", Q),
            ("Response", "response", R),
        ],
    ),
    (
        "Provider",
        "provider",
        &[
            ("Activate", "activate", N),
            ("Deactivate", "deactivate", N),
            ("New", "new", N),
            ("ProviderQuery", "providerquery", Q),
            ("ProviderQueryResponse", "providerqueryresponse", R),
            ("Update", "update", N),
        ],
    ),
    (
        "Referral",
        "referral",
        &[
            ("AuthResponse", "authresponse", N),
            ("AuthReview", "authreview", N),
            ("Cancel", "cancel", N),
            ("Modify", "modify", N),
            ("New", "new", N),
            ("Query", "query", Q),
            ("QueryResponse", "queryresponse", R),
        ],
    ),
    (
        "Research",
        "research",
        &[("Study", "study", N), ("SubjectUpdate", "subjectupdate", N)],
    ),
    (
        "Results",
        "results",
        &[
            ("New", "new", W),
            ("NewUnsolicited", "newunsolicited", W),
            ("Query", "query", Q),
            ("QueryResponse", "queryresponse", R),
        ],
    ),
    (
        "Scheduling",
        "scheduling",
        &[
            ("AvailableSlots", "availableslots", Q),
            ("AvailableSlotsResponse", "availableslotsresponse", R),
            ("Booked", "booked", Q),
            ("BookedResponse", "bookedresponse", R),
            ("Cancel", "cancel", W),
            ("Modification", "modification", W),
            ("New", "new", W),
            ("NoShow", "noshow", N),
            ("PushSlots", "pushslots", N),
            ("Reschedule", "reschedule", W),
        ],
    ),
    ("SSO", "sso", &[("Sign-On", "sign-on", N)]),
    (
        "SurgicalScheduling",
        "surgicalscheduling",
        &[
            ("Cancel", "cancel", N),
            ("Modification", "modification", N),
            ("New", "new", N),
            ("NoShow", "noshow", N),
            ("Reschedule", "reschedule", N),
        ],
    ),
    (
        "Vaccination",
        "vaccination",
        &[
            ("Administration", "administration", N),
            ("New", "new", N),
            ("PatientQuery", "patientquery", Q),
            ("PatientQueryResponse", "patientqueryresponse", R),
        ],
    ),
];

static CATALOG: std::sync::LazyLock<Vec<EventInfo>> = std::sync::LazyLock::new(|| {
    let mut all = Vec::new();
    for (model, folder, events) in MODELS {
        for (event, stem, exchange) in *events {
            all.push(EventInfo {
                data_model: model,
                event_type: event,
                exchange: *exchange,
                schema: Box::leak(format!("{folder}/{stem}.json").into_boxed_str()),
            });
        }
    }
    all
});

/// Every known event, grouped by data model in catalog order.
pub fn all() -> &'static [EventInfo] {
    &CATALOG
}

/// Every data model name as spelled in payloads.
pub fn data_models() -> impl Iterator<Item = &'static str> + Clone {
    MODELS.iter().map(|(model, _, _)| *model)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    UnknownDataModel(String),
    #[error("{0}")]
    UnknownEventType(String),
}

/// Edit distance, for "did you mean" on short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// The closest name by squashed spelling, then by a small edit distance.
pub fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let w = squash(wanted);
    names.clone().find(|n| squash(n) == w).or_else(|| {
        names
            .map(|n| (distance(&squash(n), &w), n))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, n)| n)
    })
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Finds a data model ignoring case, spaces and punctuation ("clinicalsummary").
pub fn data_model_loose(name: &str) -> Option<&'static str> {
    let wanted = squash(name);
    data_models().find(|m| squash(m) == wanted)
}

/// Finds a data model by its exact name.
pub fn data_model(name: &str) -> Result<&'static str, CatalogError> {
    if let Some((model, _, _)) = MODELS.iter().find(|(model, _, _)| *model == name) {
        return Ok(model);
    }
    let hint = closest(name, data_models())
        .map(|model| format!(" Did you mean \"{model}\"?"))
        .unwrap_or_else(|| {
            format!(
                " Known data models: {}.",
                data_models().collect::<Vec<_>>().join(", ")
            )
        });
    Err(CatalogError::UnknownDataModel(format!(
        "Meta.DataModel \"{name}\" is not a known data model.{hint}"
    )))
}

/// Finds an event by exact data model and event type names.
pub fn lookup(model: &str, event: &str) -> Result<&'static EventInfo, CatalogError> {
    let model = data_model(model)?;
    let events = all().iter().filter(|e| e.data_model == model);
    if let Some(info) = events.clone().find(|e| e.event_type == event) {
        return Ok(info);
    }
    let hint = closest(event, events.clone().map(|e| e.event_type))
        .map(|e| format!(" Did you mean \"{e}\"?"))
        .unwrap_or_else(|| {
            format!(
                " {model} event types: {}.",
                events.map(|e| e.event_type).collect::<Vec<_>>().join(", ")
            )
        });
    Err(CatalogError::UnknownEventType(format!(
        "Meta.EventType \"{event}\" is not an event of the {model} data model.{hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_events_are_those_of_the_spec() {
        let queries: Vec<String> = all()
            .iter()
            .filter(|e| e.exchange == Exchange::Query)
            .map(|e| format!("{} {}", e.data_model, e.event_type))
            .collect();
        let expected = [
            "ClinicalDecisions Request",
            "Clinical Summary DocumentGet",
            "Clinical Summary DocumentQuery",
            "Clinical Summary PatientQuery",
            "Clinical Summary VisitQuery",
            "Media Query",
            "Notes Query",
            "Order Query",
            "Organization Query",
            "PatientAdmin CensusQuery",
            "PatientAdmin VisitQuery",
            "PatientSearch LocationQuery",
            "PatientSearch Query",
            "Provider ProviderQuery",
            "Referral Query",
            "Results Query",
            "Scheduling AvailableSlots",
            "Scheduling Booked",
            "Vaccination PatientQuery",
        ];
        assert_eq!(queries.len(), expected.len(), "{queries:?}");
        for e in expected {
            assert!(queries.iter().any(|q| q == e), "missing {e}");
        }
    }

    #[test]
    fn near_misses_get_a_hint() {
        let err = lookup("ClinicalSummary", "PatientQuery").unwrap_err();
        assert!(
            err.to_string()
                .contains("Did you mean \"Clinical Summary\"")
        );
        let err = lookup("PatientAdmin", "arrival").unwrap_err();
        assert!(err.to_string().contains("Did you mean \"Arrival\""));
        let err = lookup("PatientAdmin", "Teleport").unwrap_err();
        assert!(err.to_string().contains("NewPatient"));
        assert_eq!(
            lookup("Notes", "New").map(|e| e.exchange),
            Ok(Exchange::Writeback)
        );
    }
}
