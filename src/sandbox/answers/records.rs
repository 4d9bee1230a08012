//! Record queries: Results Query, Order Query, Referral Query, Notes Query and Media
//! Query. Generated records are rendered to the answer's shape first and written-back
//! ones are kept in it, so one set of filters (on the JSON fields themselves) serves both.

use super::AnswerError;
use super::render::{
    facility, facility_address, null_provider, null_provider_npi, patient_ref, provider,
    provider_npi, set, ts,
};
use super::request::{Request, allowed, borrowed, parse_time, text};
use crate::sandbox::panel::Panel;
use crate::sandbox::panel::codes::{MEDIA_KINDS, PAYERS, PROBLEMS, TestKind};
use crate::sandbox::panel::directory::{COUNTRY, STATE};
use crate::sandbox::panel::files::{base64, pdf};
use crate::sandbox::panel::types::{LabOrder, MediaItem, Patient, PatientClass};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The lab that produces every generated result.
pub(super) fn lab_producer() -> Value {
    json!({
        "ID": "SRL",
        "Name": "Sandbox Reference Laboratory",
        "IDType": "CLIA",
        "Address": {
            "StreetAddress": "4120 Lakeshore Dr",
            "City": "Madison",
            "State": STATE,
            "ZIP": "53703",
            "County": "Dane",
            "Country": COUNTRY,
        },
    })
}

/// Patients a list query names (`Patients[]`): `None` when it names none, else the
/// indices found (possibly none).
fn named_patients(panel: &Panel, req: &Request) -> Option<BTreeSet<usize>> {
    let lists = req.patients();
    if lists.is_empty() {
        return None;
    }
    Some(
        lists
            .iter()
            .filter_map(|ids| panel.find_any(borrowed(ids)))
            .collect(),
    )
}

/// Patients to look at: the named ones, or everyone when the query names records by ID.
fn scope(
    panel: &Panel,
    req: &Request,
    by_id: &[String],
    what: &str,
) -> Result<Vec<usize>, AnswerError> {
    match named_patients(panel, req) {
        Some(set) => Ok(set.into_iter().collect()),
        None if !by_id.is_empty() => Ok((0..panel.patients().len()).collect()),
        None => Err(AnswerError::BadRequest(format!(
            "{} needs Patients[].Identifiers (e.g. MR 0000000001) or {what}.",
            req.label()
        ))),
    }
}

fn field(value: &Value, path: &[&str]) -> Option<String> {
    super::request::at(value, path).and_then(text)
}

/// A generated lab order in the Results shape.
pub(super) fn lab_result(panel: &Panel, p: &Patient, lab: &LabOrder) -> Value {
    let visit = &p.visits[lab.visit];
    let def = lab.panel();
    let urine = def.key == "ua";
    let results: Vec<Value> = lab
        .observations
        .iter()
        .map(|o| {
            let test = lab.test(o);
            let (low, high, numeric) = match test.kind {
                TestKind::Numeric { low, high, .. } => (low, high, true),
                TestKind::Text { .. } => (None, None, false),
            };
            let range_text = match test.kind {
                TestKind::Text { normal, .. } => Some(normal.to_string()),
                TestKind::Numeric { .. } => match (low, high) {
                    (Some(l), Some(h)) => Some(format!("{l}-{h}")),
                    // "<200" for a high of 199: whole-number limits read as the next one.
                    (None, Some(h)) if h.fract() == 0.0 => Some(format!("<{}", h + 1.0)),
                    (None, Some(h)) => Some(format!("<={h}")),
                    (Some(l), None) => Some(format!(">={l}")),
                    (None, None) => None,
                },
            };
            json!({
                "Code": test.loinc,
                "Codeset": "LOINC",
                "Description": test.name,
                "RelatedGroupID": null,
                "Specimen": {"Source": if urine { "Urine" } else { "Blood" }, "BodySite": null, "ID": format!("{}-S1", lab.id)},
                "Value": o.value,
                "ValueType": if numeric { "Numeric" } else { "String" },
                "CompletionDateTime": ts(lab.completed),
                "FileType": null,
                "Units": (!test.units.is_empty()).then_some(test.units),
                "Notes": [],
                "AbnormalFlag": o.flag.as_str(),
                "Status": "Final",
                "PrimaryResultsInterpreter": null_provider_npi(),
                "Producer": lab_producer(),
                "Performer": null_provider(),
                "ReferenceRange": {"Low": low, "High": high, "Text": range_text},
                "ObservationMethod": {"Code": null, "Codeset": null, "Description": null},
            })
        })
        .collect();
    let copy: Vec<Value> = p
        .pcp
        .filter(|pcp| *pcp != lab.provider)
        .map(|pcp| provider(panel, pcp))
        .into_iter()
        .collect();
    json!({
        "Patient": patient_ref(p),
        "Visit": {"VisitNumber": visit.number},
        "ID": lab.id,
        "ApplicationOrderID": null,
        "TransactionDateTime": ts(lab.ordered),
        "CollectionDateTime": ts(lab.collected),
        "CompletionDateTime": ts(lab.completed),
        "Notes": [],
        "ResultsStatus": "Final",
        "Procedure": {"Code": def.loinc, "Codeset": "LOINC", "Description": def.name},
        "Provider": provider_npi(panel, lab.provider),
        "ResultCopyProviders": copy,
        "Status": "Resulted",
        "ResponseFlag": null,
        "Priority": if visit.class == PatientClass::Outpatient { "Routine" } else { "Stat" },
        "Results": results,
    })
}

/// Every results order of a patient: generated ones (unless a writeback replaced one with
/// the same ID) and written-back ones, with the patient attached.
fn results_of(panel: &Panel, p: &Patient) -> Vec<Value> {
    let written_ids: BTreeSet<String> = p
        .written
        .results
        .iter()
        .filter_map(|o| field(o, &["ID"]))
        .collect();
    let mut out: Vec<Value> = p
        .labs
        .iter()
        .filter(|l| !written_ids.contains(&l.id))
        .map(|l| lab_result(panel, p, l))
        .collect();
    for order in &p.written.results {
        let mut order = order.clone();
        super::render::with_first(&mut order, "Patient", patient_ref(p));
        out.push(order);
    }
    out
}

pub(super) fn results(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = req.list(&["OrderIDs"]);
    let scope = scope(panel, req, &ids, "OrderIDs")?;
    let from = req.instant(&["Completion", "StartDateTime"], false)?;
    let to = req.instant(&["Completion", "EndDateTime"], true)?;
    let statuses = req.list(&["ResultStatuses"]);
    let codes = procedure_codes(req);
    let orders: Vec<Value> = scope
        .iter()
        .flat_map(|i| results_of(panel, &panel.patients()[*i]))
        .filter(|o| {
            let done = field(o, &["CompletionDateTime"]).and_then(|t| parse_time(&t, false));
            allowed(&ids, field(o, &["ID"]).as_deref())
                && allowed(&codes, field(o, &["Procedure", "Code"]).as_deref())
                && (statuses.is_empty()
                    || allowed(&statuses, field(o, &["ResultsStatus"]).as_deref())
                    || allowed(&statuses, field(o, &["Status"]).as_deref()))
                && from.is_none_or(|f| done.is_some_and(|d| d >= f))
                && to.is_none_or(|t| done.is_some_and(|d| d < t))
        })
        .collect();
    Ok(req.answer(vec![("Orders", Value::Array(orders))]))
}

fn procedure_codes(req: &Request) -> Vec<String> {
    req.get(&["Procedures"])
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|p| p.get("Code").and_then(text))
                .collect()
        })
        .unwrap_or_default()
}

fn ordering_facility(index: usize) -> Value {
    let f = facility(index);
    json!({"Name": f.name, "Address": facility_address(f), "PhoneNumber": f.phone})
}

fn diagnosis(problem: Option<usize>, when: Value) -> Vec<Value> {
    problem
        .map(|d| {
            let def = &PROBLEMS[d];
            json!({"Code": def.icd10, "Codeset": "ICD-10", "Name": def.name, "Type": "Primary", "DocumentedDateTime": when})
        })
        .into_iter()
        .collect()
}

/// Orders of a patient in the Order shape: lab orders (resulted) and the others.
fn orders_of(panel: &Panel, p: &Patient) -> Vec<Value> {
    let mut out = Vec::new();
    for lab in &p.labs {
        let visit = &p.visits[lab.visit];
        let def = lab.panel();
        out.push(json!({
            "Patient": patient_ref(p),
            "Visit": {"VisitNumber": visit.number},
            "ID": lab.id,
            "ApplicationOrderID": null,
            "Status": "Resulted",
            "TransactionDateTime": ts(lab.ordered),
            "CollectionDateTime": ts(lab.collected),
            "Specimen": {"Source": if def.key == "ua" { "Urine" } else { "Blood" }, "BodySite": null, "ID": format!("{}-S1", lab.id)},
            "Procedure": {"Code": def.loinc, "Codeset": "LOINC", "Description": def.name},
            "Provider": provider_npi(panel, lab.provider),
            "ResultCopyProviders": [],
            "OrderingFacility": ordering_facility(visit.facility),
            "Priority": if visit.class == PatientClass::Outpatient { "Routine" } else { "Stat" },
            "Comments": null,
            "Notes": [],
            "Diagnoses": diagnosis(visit.diagnosis, ts(visit.start)),
            "ClinicalInfo": [],
        }));
    }
    for order in &p.procedures {
        let visit = &p.visits[order.visit];
        out.push(json!({
            "Patient": patient_ref(p),
            "Visit": {"VisitNumber": visit.number},
            "ID": order.id,
            "ApplicationOrderID": null,
            "Status": order.status,
            "TransactionDateTime": ts(order.ordered),
            "CollectionDateTime": null,
            "Specimen": {"Source": null, "BodySite": null, "ID": null},
            "Procedure": {"Code": order.def().cpt, "Codeset": "CPT", "Description": order.def().name},
            "Provider": provider_npi(panel, order.provider),
            "ResultCopyProviders": [],
            "OrderingFacility": ordering_facility(visit.facility),
            "Priority": order.priority,
            "Comments": null,
            "Notes": [],
            "Diagnoses": diagnosis(order.diagnosis, ts(order.ordered)),
            "ClinicalInfo": [],
        }));
    }
    out.sort_by_key(|o| field(o, &["TransactionDateTime"]));
    out
}

pub(super) fn orders(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = req.list(&["OrderIDs"]);
    let visits = req.list(&["VisitNumbers"]);
    let by_id: Vec<String> = ids.iter().chain(&visits).cloned().collect();
    let scope = scope(panel, req, &by_id, "OrderIDs or VisitNumbers")?;
    let from = req.instant(&["StartDateTime"], false)?;
    let to = req.instant(&["EndDateTime"], true)?;
    let codes = procedure_codes(req);
    let orders: Vec<Value> = scope
        .iter()
        .flat_map(|i| orders_of(panel, &panel.patients()[*i]))
        .filter(|o| {
            let when = field(o, &["TransactionDateTime"]).and_then(|t| parse_time(&t, false));
            allowed(&ids, field(o, &["ID"]).as_deref())
                && allowed(&visits, field(o, &["Visit", "VisitNumber"]).as_deref())
                && allowed(&codes, field(o, &["Procedure", "Code"]).as_deref())
                && from.is_none_or(|f| when.is_some_and(|w| w >= f))
                && to.is_none_or(|t| when.is_some_and(|w| w < t))
        })
        .collect();
    Ok(req.answer(vec![("Orders", Value::Array(orders))]))
}

pub(super) fn referrals(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let ids = req.identifiers(&["Patient"]);
    if ids.is_empty() {
        return Err(AnswerError::BadRequest(
            "Referral Query needs Patient.Identifiers (e.g. MR 0000000001).".into(),
        ));
    }
    let Some(index) = panel.find_any(borrowed(&ids)) else {
        return Ok(req.answer(vec![("Referrals", json!([]))]));
    };
    let p = &panel.patients()[index];
    let list: Vec<Value> = p
        .referrals
        .iter()
        .map(|r| {
            let problem = &PROBLEMS[r.problem];
            let to = panel.provider(r.to);
            let spec = to.map(|t| t.specialty());
            let insurance = p.insurance.as_ref().map(|i| PAYERS[i.payer]);
            let mut referred = provider(panel, r.to);
            set(&mut referred, "ContactInfo", json!(to.map(|t| t.phone.clone())));
            set(&mut referred, "Type", json!("ReferredTo"));
            let mut referring = provider(panel, r.from);
            set(&mut referring, "ContactInfo", json!(panel.provider(r.from).map(|t| t.phone.clone())));
            set(&mut referring, "Type", json!("Referring"));
            json!({
                "ID": r.id,
                "IDType": "Sandbox Referral ID",
                "AlternateID": null,
                "Type": "Outgoing",
                "Category": "Consultation",
                "Priority": r.priority,
                "Status": r.status,
                "DateTime": ts(r.created),
                "ExpirationDateTime": ts(r.expires),
                "ProcessDateTime": ts(r.created + chrono::Duration::days(1)),
                "Reason": format!("Evaluation and management of {}", problem.name.to_ascii_lowercase()),
                "ProviderSpecialty": spec.map(|s| s.name),
                "DepartmentSpecialty": spec.map(|s| s.department),
                "Notes": [],
                "Authorization": {
                    "Plan": {"ID": insurance.map(|i| i.2), "IDType": insurance.map(|_| "Payer ID"), "Name": insurance.map(|i| i.3)},
                    "Company": {"ID": insurance.map(|i| i.0), "IDType": insurance.map(|_| "Payer ID"), "Name": insurance.map(|i| i.1)},
                    "DateTime": ts(r.created),
                    "ExpirationDateTime": ts(r.expires),
                    "Number": r.authorization,
                    "ReimbursementLimit": null,
                    "RequestedTreatmentCount": r.visits_authorized.to_string(),
                    "RequestedTreatmentUnits": "Visits",
                    "AuthorizedTreatmentCount": if r.status == "Denied" || r.status == "Pending" { "0".to_string() } else { r.visits_authorized.to_string() },
                    "Notes": [],
                },
                "Diagnoses": [{"Code": problem.icd10, "Codeset": "ICD-10", "Name": problem.name, "Type": "Primary", "DocumentedDateTime": ts(r.created), "Notes": []}],
                "Procedures": [{"Code": "99204", "Codeset": "CPT", "Description": "Office visit, new patient, moderate complexity", "Notes": [], "Quantity": "1", "Units": "Visit", "Modifiers": []}],
                "Providers": [referred, referring],
                "Visit": {"VisitNumber": p.visits.get(r.visit).map(|v| v.number.clone())},
            })
        })
        .collect();
    Ok(req.answer(vec![("Referrals", Value::Array(list))]))
}

/// Filters shared by Notes Query and Media Query.
struct DocumentFilter {
    visits: Vec<String>,
    types: Vec<String>,
    ids: Vec<String>,
}

impl DocumentFilter {
    fn read(req: &Request) -> DocumentFilter {
        DocumentFilter {
            visits: req.list(&["VisitNumbers"]),
            types: req.list(&["DocumentTypes"]),
            ids: req.list(&["DocumentIDs"]),
        }
    }

    fn by_id(&self) -> Vec<String> {
        self.ids.iter().chain(&self.visits).cloned().collect()
    }

    fn keeps(&self, item: &Value) -> bool {
        allowed(
            &self.visits,
            field(item, &["Visit", "VisitNumber"]).as_deref(),
        ) && allowed(&self.types, field(item, &["DocumentType"]).as_deref())
            && allowed(&self.ids, field(item, &["DocumentID"]).as_deref())
    }
}

pub(super) fn notes(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let filter = DocumentFilter::read(req);
    let scope = scope(panel, req, &filter.by_id(), "DocumentIDs or VisitNumbers")?;
    let notes: Vec<Value> = scope
        .iter()
        .flat_map(|i| {
            let p = &panel.patients()[*i];
            p.notes.iter().map(move |n| {
                json!({
                    "Patient": patient_ref(p),
                    "Visit": {"VisitNumber": n.visit_number},
                    "ContentType": n.content_type,
                    "FileName": n.file_name,
                    "FileContents": n.contents,
                    "DocumentType": n.document_type,
                    "DocumentID": n.id,
                    "ServiceDateTime": n.service,
                    "DocumentationDateTime": n.documented,
                })
            })
        })
        .filter(|n| filter.keeps(n))
        .collect();
    Ok(req.answer(vec![("Notes", Value::Array(notes))]))
}

fn media_item(panel: &Panel, p: &Patient, m: &MediaItem) -> Value {
    let (kind, stem) = MEDIA_KINDS[m.kind % MEDIA_KINDS.len()];
    let visit = m.visit.and_then(|v| p.visits.get(v));
    let d = &p.demographics;
    let author = panel
        .provider(m.provider)
        .map(|a| a.display_name())
        .unwrap_or_default();
    let lines = vec![
        format!(
            "Patient: {} {}   MRN: {}   DOB: {}",
            d.first_name.as_deref().unwrap_or(""),
            d.last_name.as_deref().unwrap_or(""),
            p.mrn().unwrap_or(""),
            d.dob.as_deref().unwrap_or("")
        ),
        format!("Document: {kind}   Date: {}", m.created.format("%Y-%m-%d")),
        format!("Filed by: {author}"),
        "Synthetic record from the Switchboard sandbox. Not a real patient.".to_string(),
    ];
    json!({
        "Patient": patient_ref(p),
        "Visit": {"VisitNumber": visit.map(|v| v.number.clone())},
        "FileType": "PDF",
        "FileName": format!("{stem}-{}.pdf", &m.id[..8.min(m.id.len())]),
        "FileContents": base64(&pdf(kind, &lines)),
        "DocumentType": kind,
        "DocumentID": m.id,
        "DocumentDescription": format!("{kind} ({})", visit.map_or("no visit", |v| v.facility().name)),
        "CreationDateTime": ts(m.created),
        "ServiceDateTime": visit.map(|v| ts(v.start)),
    })
}

pub(super) fn media(panel: &Panel, req: &Request) -> Result<Value, AnswerError> {
    let filter = DocumentFilter::read(req);
    let scope = scope(panel, req, &filter.by_id(), "DocumentIDs or VisitNumbers")?;
    let mut items = Vec::new();
    for i in scope {
        let p = &panel.patients()[i];
        // Filter on the cheap fields first: the PDF is only built for items returned.
        for m in &p.media {
            let visit = m
                .visit
                .and_then(|v| p.visits.get(v))
                .map(|v| v.number.clone());
            let probe = json!({
                "Visit": {"VisitNumber": visit},
                "DocumentType": MEDIA_KINDS[m.kind % MEDIA_KINDS.len()].0,
                "DocumentID": m.id,
            });
            if filter.keeps(&probe) {
                items.push(media_item(panel, p, m));
            }
        }
        for written in &p.written.media {
            if filter.keeps(written) {
                let mut item = written.clone();
                super::render::with_first(&mut item, "Patient", patient_ref(p));
                items.push(item);
            }
        }
    }
    Ok(req.answer(vec![("Media", Value::Array(items))]))
}
