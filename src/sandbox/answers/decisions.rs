//! ClinicalDecisions Request: a small decision-support engine over the panel. It checks
//! the unsigned orders of the request against the patient's chart and answers with
//! advisories: a medication of a class the patient is allergic to, a medication that
//! duplicates an active one, a procedure already ordered and still open, and (as a
//! suggestion) an HbA1c when a diabetic patient has none in the last six months.

use super::AnswerError;
use super::request::{Request, borrowed, text};
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::{LAB_PANELS, MEDICATIONS};
use crate::sandbox::panel::types::Patient;
use chrono::Duration;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// An unsigned order of the request: its ID, code and name.
struct Unsigned {
    id: String,
    id_type: String,
    code: Option<String>,
    name: Option<String>,
}

fn unsigned(req: &Request, list: &str, code_at: &[&str], name_at: &[&str]) -> Vec<Unsigned> {
    req.get(&[list])
        .and_then(Value::as_array)
        .map(|orders| {
            orders
                .iter()
                .map(|o| {
                    let first = o.get("Identifiers").and_then(|i| i.get(0));
                    Unsigned {
                        id: first
                            .and_then(|i| i.get("ID"))
                            .and_then(text)
                            .unwrap_or_default(),
                        id_type: first
                            .and_then(|i| i.get("IDType"))
                            .and_then(text)
                            .unwrap_or_default(),
                        code: super::request::at(o, code_at).and_then(text),
                        name: super::request::at(o, name_at).and_then(text),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The medication of the table an order names, by RxNorm code or by name.
fn medication(order: &Unsigned) -> Option<&'static crate::sandbox::panel::codes::MedicationDef> {
    MEDICATIONS.iter().find(|m| {
        order.code.as_deref() == Some(m.rxnorm)
            || order.name.as_deref().is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                let ingredient = m
                    .name
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                n.contains(&ingredient)
            })
    })
}

fn title(order: &Unsigned) -> String {
    order
        .name
        .clone()
        .or_else(|| order.code.clone())
        .unwrap_or_else(|| order.id.clone())
}

/// A session ID derived from the request, so the same request gets the same session.
fn session(request: &Value) -> String {
    let digest = Sha256::digest(request.to_string().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn advisory(session: &str, description: String, removable: &Unsigned, code: &str) -> Value {
    json!({
        "ShowAlert": true,
        "Session": session,
        "RemovableUnsignedOrders": [{"ID": removable.id, "IDType": removable.id_type, "Title": title(removable)}],
        "AdditionalUnsignedOrders": [],
        "Description": description,
        "Notes": [{"Text": description, "Display": "Alert"}],
        "AdditionalInfo": [{"DecisionSupport": {"Code": code, "Codeset": "Sandbox CDS", "Description": description}, "Link": null}],
        "Errors": [],
    })
}

pub(super) fn request(panel: &Panel, req: &Request, raw: &Value) -> Result<Value, AnswerError> {
    let ids = req.identifiers(&["Patient"]);
    if ids.is_empty() {
        return Err(AnswerError::BadRequest(
            "ClinicalDecisions Request needs Patient.Identifiers (e.g. MR 0000000001) and the \
             UnsignedMedicationOrders / UnsignedProcedureOrders to check."
                .into(),
        ));
    }
    let Some(index) = panel.find_any(borrowed(&ids)) else {
        return Ok(req.answer(vec![("Advisories", json!([]))]));
    };
    let p = &panel.patients()[index];
    let session = session(raw);
    let meds = unsigned(
        req,
        "UnsignedMedicationOrders",
        &["Product", "Code"],
        &["Product", "Name"],
    );
    let procs = unsigned(req, "UnsignedProcedureOrders", &["Code"], &["Description"]);
    let mut advisories = Vec::new();
    for order in &meds {
        let Some(def) = medication(order) else {
            continue;
        };
        if let Some(allergy) = p.allergies.iter().find(|a| a.def().class == def.class) {
            advisories.push(advisory(
                &session,
                format!(
                    "Allergy: the patient is allergic to {} ({} reaction); {} is in the same class ({}).",
                    allergy.def().substance.name,
                    allergy.reaction.name.to_ascii_lowercase(),
                    title(order),
                    def.class
                ),
                order,
                "drug-allergy",
            ));
        }
        if let Some(active) = p
            .medications
            .iter()
            .find(|m| m.end.is_none() && (m.def().key == def.key || m.def().class == def.class))
        {
            advisories.push(advisory(
                &session,
                format!(
                    "Duplicate therapy: the patient already takes {} (since {}).",
                    active.def().name,
                    active.start.format("%Y-%m-%d")
                ),
                order,
                "duplicate-therapy",
            ));
        }
    }
    for order in &procs {
        let Some(code) = &order.code else { continue };
        if let Some(open) = p
            .procedures
            .iter()
            .find(|o| o.status == "New" && o.def().cpt == code)
        {
            advisories.push(advisory(
                &session,
                format!(
                    "Duplicate order: {} was already ordered on {} (order {}).",
                    open.def().name,
                    open.ordered.format("%Y-%m-%d"),
                    open.id
                ),
                order,
                "duplicate-order",
            ));
        }
    }
    if let Some(suggestion) = a1c_suggestion(panel, p, &session) {
        advisories.push(suggestion);
    }
    Ok(req.answer(vec![("Advisories", Value::Array(advisories))]))
}

/// Diabetes without an HbA1c in the six months before the panel's epoch.
fn a1c_suggestion(panel: &Panel, p: &Patient, session: &str) -> Option<Value> {
    if !p.has_problem("dm2") {
        return None;
    }
    let since = panel.epoch() - Duration::days(182);
    if p.labs
        .iter()
        .any(|l| l.panel().key == "a1c" && l.completed >= since)
    {
        return None;
    }
    let a1c = LAB_PANELS.iter().find(|l| l.key == "a1c")?;
    let text = "Diabetes care: no hemoglobin A1c in the last 6 months; consider ordering one.";
    Some(json!({
        "ShowAlert": false,
        "Session": session,
        "RemovableUnsignedOrders": [],
        "AdditionalUnsignedOrders": [{"ID": a1c.loinc, "IDType": "LOINC", "Title": a1c.name, "Questions": []}],
        "Description": text,
        "Notes": [{"Text": text, "Display": "Suggestion"}],
        "AdditionalInfo": [{"DecisionSupport": {"Code": "diabetes-a1c", "Codeset": "Sandbox CDS", "Description": text}, "Link": null}],
        "Errors": [],
    }))
}
