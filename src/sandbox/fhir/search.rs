//! Running a search: the candidates (the patients a clinical search names, the whole
//! directory for Practitioner and Location), the criteria applied to each candidate's
//! JSON (so what FHIR messages wrote is searched exactly like the generated chart), and
//! the `searchset` Bundle with its paging links.

use super::FhirError;
use super::appointments;
use super::ids::{parse_record, patient_index};
use super::params::{
    Criterion, Kind, Range, Search, collect, date_criterion, date_matches, range_of,
    string_matches, strings, token_matches,
};
use super::people::{location, patient, practitioner};
use super::records::{is_clinical, of_patient};
use super::shape::instant;
use crate::sandbox::panel::{FACILITIES, Panel};
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Runs `search` over resources of `kind`; returns the matches in order.
pub fn run(panel: &Panel, kind: &str, search: &Search) -> Result<Vec<Value>, FhirError> {
    let candidates = match kind {
        "Patient" => patients(panel, search)?,
        "Practitioner" => panel.providers().iter().map(practitioner).collect(),
        "Location" => (0..FACILITIES.len()).map(location).collect(),
        _ if is_clinical(kind) => chart(panel, kind, search)?,
        _ => Vec::new(),
    };
    Ok(candidates
        .into_iter()
        .filter(|r| search.criteria.iter().all(|c| matches(panel, c, r)))
        .collect())
}

fn patients(panel: &Panel, search: &Search) -> Result<Vec<Value>, FhirError> {
    if search.criteria.is_empty() {
        return Err(FhirError::Invalid(
            "A Patient search needs at least one of _id, identifier, family, given, birthdate \
             or gender (e.g. identifier=urn:switchboard:sandbox:mrn|0000000001)."
                .into(),
        ));
    }
    // _id and identifier name patients directly: only those are built.
    let named: Option<BTreeSet<usize>> = search
        .criteria
        .iter()
        .find(|c| c.param.name == "_id" || c.param.name == "identifier")
        .map(|c| {
            c.values
                .iter()
                .flat_map(|v| {
                    if c.param.name == "_id" {
                        patient_index(panel, v).into_iter().collect::<Vec<_>>()
                    } else {
                        let value = v.rsplit_once('|').map_or(v.as_str(), |(_, x)| x);
                        panel.find(value, None).into_iter().collect()
                    }
                })
                .collect()
        });
    let scope: Vec<usize> = match named {
        Some(set) => set.into_iter().collect(),
        None => (0..panel.patients().len()).collect(),
    };
    Ok(scope
        .into_iter()
        .filter(|i| panel.patient(*i).is_some_and(|p| cheap_match(search, p)))
        .filter_map(|i| Some(patient(panel, panel.patient(i)?, i)))
        .collect())
}

/// The criteria that read only demographics, checked on the panel before a Patient is
/// built (building every Patient costs more than the search itself); the JSON filter
/// that follows still decides.
fn cheap_match(search: &Search, p: &crate::sandbox::panel::types::Patient) -> bool {
    fn trimmed(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim)
    }
    let d = &p.demographics;
    search.criteria.iter().all(|c| {
        let m = c.modifier.as_deref();
        let any = |have: &[Option<&str>]| {
            c.values
                .iter()
                .any(|v| have.iter().flatten().any(|h| string_matches(v, m, h)))
        };
        match c.param.name {
            "family" => any(&[trimmed(&d.last_name)]),
            "given" => any(&[trimmed(&d.first_name), trimmed(&d.middle_name)]),
            "gender" => {
                let g = super::people::gender(d.sex.as_deref());
                c.values.iter().any(|v| token_matches(v, None, Some(g)))
            }
            "birthdate" => d
                .dob
                .as_deref()
                .and_then(|b| range_of(b, true))
                .is_some_and(|have| {
                    c.values.iter().any(|v| {
                        date_criterion(v)
                            .is_ok_and(|(prefix, want)| date_matches(prefix, want, have))
                    })
                }),
            _ => true,
        }
    })
}

/// The patients a reference criterion names (`Patient/{id}`, `{id}`, or a URL ending in
/// `Patient/{id}`); other targets name none.
fn referenced(panel: &Panel, c: &Criterion) -> BTreeSet<usize> {
    c.values
        .iter()
        .filter_map(|v| {
            let id = match v.rsplit_once('/') {
                Some((head, id)) if head == "Patient" || head.ends_with("/Patient") => id,
                Some(_) => return None,
                None => v.as_str(),
            };
            patient_index(panel, id)
        })
        .collect()
}

fn chart(panel: &Panel, kind: &str, search: &Search) -> Result<Vec<Value>, FhirError> {
    let mut scope: Option<BTreeSet<usize>> = None;
    for c in &search.criteria {
        let found = match c.param.kind {
            Kind::Reference => referenced(panel, c),
            _ if c.param.name == "_id" => c
                .values
                .iter()
                .filter_map(|id| parse_record(panel, id).map(|r| r.patient))
                .collect(),
            _ => continue,
        };
        scope = Some(match scope {
            Some(s) => s.intersection(&found).copied().collect(),
            None => found,
        });
    }
    let Some(scope) = scope else {
        return Err(FhirError::Invalid(format!(
            "A {kind} search needs the patient: patient=Patient/{{id}} (e.g. patient=0000000001), \
             or _id."
        )));
    };
    let window = if kind == "Appointment" {
        window(search)
    } else {
        None
    };
    Ok(scope
        .into_iter()
        .flat_map(|i| of_patient(panel, i, kind, window))
        .collect())
}

/// The time window an Appointment search's dates give: from the latest lower bound to
/// the earliest upper bound; `None` when they bound neither side.
fn window(search: &Search) -> Option<Range> {
    let mut from = None;
    let mut to = None;
    for c in search.criteria.iter().filter(|c| c.param.name == "date") {
        // Only a single value bounds the window (a list is an OR).
        let [value] = c.values.as_slice() else {
            continue;
        };
        let Ok((prefix, (lo, hi))) = date_criterion(value) else {
            continue;
        };
        use super::params::Prefix::{Eq, Ge, Gt, Le, Lt, Ne};
        let (low, high) = match prefix {
            Eq => (Some(lo), Some(hi)),
            Ge | Gt => (Some(lo), None),
            Le | Lt => (None, Some(hi)),
            Ne => (None, None),
        };
        from = from.max(low);
        to = match (to, high) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
    }
    let span = chrono::Duration::days(appointments::DEFAULT_DAYS);
    match (from, to) {
        (None, None) => None,
        (Some(f), Some(t)) => Some((f, t)),
        (Some(f), None) => Some((f, f + span)),
        (None, Some(t)) => Some((t - span, t)),
    }
}

/// The reference of the patient a resource is about.
fn patient_of(r: &Value) -> Option<&str> {
    ["subject", "patient"]
        .iter()
        .find_map(|k| r.get(*k)?.get("reference")?.as_str())
        .or_else(|| {
            strings(r, &["participant", "actor", "reference"])
                .into_iter()
                .find(|s| s.starts_with("Patient/"))
        })
}

/// The range of the date a `date`/`birthdate` parameter looks at.
fn date_of(r: &Value) -> Option<Range> {
    let text = |k: &str| r.get(k).and_then(Value::as_str);
    let span = |start: Option<&str>, end: Option<&str>| {
        let lo = range_of(start?, true)?;
        let hi = end
            .and_then(|e| range_of(e, true))
            .map_or(chrono::DateTime::<Utc>::MAX_UTC, |h| h.1);
        Some((lo.0, hi))
    };
    let period = |k: &str| {
        let p = r.get(k)?;
        span(
            p.get("start").and_then(Value::as_str),
            p.get("end").and_then(Value::as_str),
        )
    };
    match r.get("resourceType").and_then(Value::as_str)? {
        "Patient" => range_of(text("birthDate")?, true),
        "Encounter" => period("period"),
        "Observation" => text("effectiveDateTime")
            .or(text("effectiveInstant"))
            .and_then(|t| range_of(t, true))
            .or_else(|| period("effectivePeriod")),
        "AllergyIntolerance" => range_of(text("recordedDate")?, true),
        "Immunization" => range_of(text("occurrenceDateTime")?, true),
        "DocumentReference" => range_of(text("date")?, true),
        "Appointment" => span(text("start"), text("end")),
        _ => None,
    }
}

fn any_token(c: &Criterion, pairs: &[(Option<&str>, Option<&str>)]) -> bool {
    c.values
        .iter()
        .any(|v| pairs.iter().any(|(s, code)| token_matches(v, *s, *code)))
}

fn codings<'a>(r: &'a Value, path: &[&str]) -> Vec<(Option<&'a str>, Option<&'a str>)> {
    let mut out = Vec::new();
    collect(r, path, &mut |c| {
        out.push((
            c.get("system").and_then(Value::as_str),
            c.get("code").and_then(Value::as_str),
        ))
    });
    out
}

fn matches(panel: &Panel, c: &Criterion, r: &Value) -> bool {
    let m = c.modifier.as_deref();
    let any_string = |have: Vec<&str>| {
        c.values
            .iter()
            .any(|v| have.iter().any(|h| string_matches(v, m, h)))
    };
    match c.param.name {
        "_id" => {
            let id = r.get("id").and_then(Value::as_str);
            c.values.iter().any(|v| Some(v.as_str()) == id)
        }
        "patient" | "subject" => {
            let wanted = referenced(panel, c);
            patient_of(r).is_some_and(|have| {
                wanted.iter().any(|i| {
                    panel
                        .patient(*i)
                        .is_some_and(|p| have == super::ids::patient_reference(p, *i))
                })
            })
        }
        "identifier" => {
            let pairs: Vec<_> = {
                let mut out = Vec::new();
                collect(r, &["identifier"], &mut |i| {
                    out.push((
                        i.get("system").and_then(Value::as_str),
                        i.get("value").and_then(Value::as_str),
                    ))
                });
                out
            };
            any_token(c, &pairs)
        }
        "gender" => any_token(c, &[(None, r.get("gender").and_then(Value::as_str))]),
        "category" => any_token(c, &codings(r, &["category", "coding"])),
        "code" => any_token(c, &codings(r, &["code", "coding"])),
        "family" => any_string(strings(r, &["name", "family"])),
        "given" => any_string(strings(r, &["name", "given"])),
        "name" => {
            let mut have = strings(r, &["name", "family"]);
            have.extend(strings(r, &["name", "given"]));
            if let Some(n) = r.get("name").and_then(Value::as_str) {
                have.push(n);
                have.extend(n.split_whitespace());
            }
            have.extend(strings(r, &["alias"]));
            any_string(have)
        }
        "date" | "birthdate" => date_of(r).is_some_and(|have| {
            c.values.iter().any(|v| {
                date_criterion(v).is_ok_and(|(prefix, wanted)| date_matches(prefix, wanted, have))
            })
        }),
        _ => false,
    }
}

/// The searchset Bundle of one page of `matches`.
pub fn bundle(base: &str, kind: &str, search: &Search, matches: Vec<Value>) -> Value {
    let total = matches.len();
    let link = |offset: usize| {
        let mut pairs = search.echo.clone();
        pairs.push(("_count".into(), search.count.to_string()));
        pairs.push(("_offset".into(), offset.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{base}/{kind}?{query}")
    };
    let mut links = vec![json!({"relation": "self", "url": link(search.offset)})];
    let next = search.offset + search.count;
    if search.count > 0 && next < total {
        links.push(json!({"relation": "next", "url": link(next)}));
    }
    if search.offset > 0 && search.count > 0 {
        links.push(json!({"relation": "previous", "url": link(search.offset.saturating_sub(search.count))}));
    }
    let entries: Vec<Value> = matches
        .into_iter()
        .skip(search.offset)
        .take(search.count)
        .map(|r| {
            let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
            json!({
                "fullUrl": format!("{base}/{kind}/{id}"),
                "resource": r,
                "search": {"mode": "match"},
            })
        })
        .collect();
    let mut out = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": instant(Utc::now())},
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if !entries.is_empty()
        && let Value::Object(map) = &mut out
    {
        map.insert("entry".into(), Value::Array(entries));
    }
    out
}
