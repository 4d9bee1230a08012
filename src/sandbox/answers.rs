//! What the sandbox EHR says: answers to every synchronous event of SPEC.md, built from
//! the [`Panel`]; the application of notifications and writebacks to the panel; and the
//! notification stream of `switchboard simulate`.
//!
//! # `Meta` of an answer, and its `EventType`
//!
//! An answer's `Meta.DataModel` is the request's, and its `Meta.EventType` is the
//! **request's event type, echoed** (a PatientSearch `Query` is answered with EventType
//! `Query`, not `Response`), because that is what recorded live platform traffic does;
//! SPEC.md asks receivers to accept both that and the schemas' `...Response` names.
//! `EventDateTime` is now; `Test` is the request's (true when absent); `Source`,
//! `Destinations` and `FacilityCode` are copied from the request when present. The
//! deprecated `Message` and `Transmission` blocks are never emitted.
//!
//! # Shapes
//!
//! Every answer is shaped as the event's response schema in
//! `../shared/fixtures/redox-schemas` says (the conformance test in
//! `tests/suite/sandbox_schemas.rs` validates each one), and carries no field the schema does
//! not list (`tests/suite/sandbox_strict.rs` validates with additional properties forbidden:
//! model classes generated from the schemas reject extras). A request for a patient the panel does
//! not know gets the schema's empty shape (`"Patient": {}`, empty lists), not an error.
//! A request that lacks what the event needs (no patient for a PatientQuery, no
//! StartDateTime for AvailableSlots) is an [`AnswerError::BadRequest`] whose text says
//! what to send. Long lists are cut at documented limits ([`MAX_ITEMS`] slots,
//! appointments or visits; [`MAX_MATCHES`] potential matches).
//!
//! # Writebacks
//!
//! [`apply`] changes the panel in memory so later answers reflect it; what it keeps is
//! bounded ([`MAX_NOTES`], [`MAX_WRITTEN`] per patient, `panel::slots::MAX_BOOKINGS`), so
//! a simulator left running cannot grow it without end.

mod cda;
mod decisions;
mod records;
mod render;
mod request;
mod schedule;
mod search;
mod sections;
mod stream;
mod summary;
mod writeback;

pub use schedule::MAX_ITEMS;
pub use search::MAX_MATCHES;
pub use sections::{VitalSign, vital_signs};
pub use stream::sample_notification;
pub use writeback::{MAX_NOTES, MAX_WRITTEN};

use super::panel::Panel;
use crate::model::catalog::{self, Exchange};
use request::Request;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    /// The request is malformed for this event (missing search criteria…).
    #[error("{0}")]
    BadRequest(String),
    /// An event the sandbox does not answer.
    #[error("{0}")]
    Unsupported(String),
}

/// Answers a synchronous request (a query event) from the panel.
pub fn respond(panel: &Panel, request: &Value) -> Result<Value, AnswerError> {
    let req = Request::parse(request)?;
    let info = catalog::lookup(req.model, req.event)
        .map_err(|e| AnswerError::Unsupported(e.to_string()))?;
    match info.exchange {
        Exchange::Query => {}
        Exchange::Response => {
            return Err(AnswerError::Unsupported(format!(
                "{} is the reply to a query, not a query; send the query event instead.",
                req.label()
            )));
        }
        Exchange::Notification | Exchange::Writeback => {
            return Err(AnswerError::Unsupported(format!(
                "{} is a {}, not a query: send it to /endpoint (the sandbox acknowledges it there).",
                req.label(),
                info.exchange.as_str()
            )));
        }
    }
    match (req.model, req.event) {
        ("PatientSearch", "Query") => search::patient_search(panel, &req),
        ("PatientSearch", "LocationQuery") => search::location_query(panel, &req),
        ("Vaccination", "PatientQuery") => search::vaccinations(panel, &req),
        ("Provider", "ProviderQuery") => search::providers(panel, &req),
        ("Organization", "Query") => search::organizations(panel, &req),
        ("Clinical Summary", "PatientQuery") => summary::patient_query(panel, &req),
        ("Clinical Summary", "VisitQuery") => summary::visit_query(panel, &req),
        ("Clinical Summary", "DocumentQuery") => summary::document_query(panel, &req),
        ("Clinical Summary", "DocumentGet") => summary::document_get(panel, &req),
        ("ClinicalDecisions", "Request") => decisions::request(panel, &req, request),
        ("Results", "Query") => records::results(panel, &req),
        ("Order", "Query") => records::orders(panel, &req),
        ("Referral", "Query") => records::referrals(panel, &req),
        ("Notes", "Query") => records::notes(panel, &req),
        ("Media", "Query") => records::media(panel, &req),
        ("Scheduling", "AvailableSlots") => schedule::available_slots(panel, &req),
        ("Scheduling", "Booked") => schedule::booked(panel, &req),
        ("PatientAdmin", "CensusQuery") => schedule::census(panel, &req),
        ("PatientAdmin", "VisitQuery") => schedule::visit_query(panel, &req),
        _ => Err(AnswerError::Unsupported(format!(
            "The sandbox does not answer {}.",
            req.label()
        ))),
    }
}

/// Applies an asynchronous notification or writeback to the panel: Notes New/Replace/Delete change
/// the patient's notes (a later Notes Query returns them), Scheduling New/Cancel/Reschedule book or
/// free the slot (a later AvailableSlots no longer lists a booked slot; Booked lists it), Results
/// New adds results, Media New adds media, PatientAdmin NewPatient/PatientUpdate add/update a
/// patient, Clinical Summary PatientPush adds to the record; everything else is acknowledged
/// without change. Errors only for a payload it cannot use (e.g. a writeback for no patient).
pub fn apply(panel: &mut Panel, request: &Value) -> Result<(), AnswerError> {
    let req = Request::parse(request)?;
    writeback::apply(panel, &req)
}
