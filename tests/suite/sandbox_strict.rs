//! Every sandbox answer validates against the platform's schemas with **extra fields
//! forbidden** (issue 15, point 4): a client whose model classes are generated from
//! `../shared/fixtures/redox-schemas` rejects a field the schema does not list, so the
//! sandbox must send none.
//!
//! The rule, applied to this test's copy of each schema, never to the fixture
//! (`support::forbid_additional_properties`): every object schema that lists
//! `properties` and says nothing of `additionalProperties` or `patternProperties` gets
//! `"additionalProperties": false`; an object schema without `properties` (free-form)
//! and one that already decides about extra fields keep what they say.
//!
//! What is checked, enumerated from the catalog so a new event is covered (an event
//! without cases fails):
//! - every query event's answer, for the conformance cases of `tests/suite/sandbox_schemas.rs`
//!   (matched, unmatched, multiple matches where a search can find several), and for a
//!   spread of panel patients: each alone, several in one request where the query takes
//!   a `Patients` list, and each of a patient's visits and documents where the query
//!   names one;
//! - the same queries after every notification and writeback template of the composer
//!   and every example notification were applied, about the patients they wrote to
//!   (what a client wrote comes back in later answers);
//! - the answers to the platform's example requests;
//! - the notifications the sandbox sends (`switchboard simulate`'s stream);
//! - the composer's templates for every event.
//!
//! Not in scope: answers that report an error (`Meta.Errors`, which the platform adds and
//! its schemas do not list) and `Meta.Logs`, which the engine adds on the way back. The
//! sandbox acknowledges notifications and writebacks with an empty `{}`.

use crate::common;
use crate::sandbox_schemas::support;

use serde_json::{Value, json};
use support::{
    Schemas, cases, event, forbid_additional_properties, json_files, panel, response_of, with_meta,
};
use switchboard::engine::config::CONSOLE_SOURCE_NAME;
use switchboard::model::catalog::{self, EventInfo, Exchange};
use switchboard::model::template::{Options, Party, TemplateStyle, template};
use switchboard::sandbox::answers::{apply, respond, sample_notification};
use switchboard::sandbox::panel::samples::default_samples;
use switchboard::sandbox::panel::{Panel, Patient};

/// Every `SPREAD`th patient of the default panel is asked about, besides the
/// conformance cases' patient: the panel's variety (allergies with or without a
/// severity, visits at every kind of location) is where stray fields hide.
const SPREAD: usize = 25;
/// Visits and documents asked about per patient.
const PER_PATIENT: usize = 4;
/// Notifications of the simulator's stream checked.
const NOTIFICATIONS: u64 = 600;

/// How a request names a patient: its first identifier (a patient a writeback added may
/// have no MR).
fn named(p: &Patient) -> Value {
    let first = p
        .identifiers
        .first()
        .expect("every patient has an identifier");
    json!({"Identifiers": [{"ID": first.id, "IDType": first.id_type}]})
}

/// Requests about the given patients for a query, shaped like its first matched
/// conformance case (which names its patient in `Patient` or `Patients`): the same
/// request about each patient, each of their visits where the case names a visit, their
/// documents where it names one, and all of them at once where the query takes a list.
/// Queries not about a patient (slots, directories, census) have none.
fn patient_cases(panel: &Panel, query: &EventInfo, patients: &[&Patient]) -> Vec<(String, Value)> {
    let list = cases(panel, query.data_model, query.event_type);
    let Some((_, base)) = list.into_iter().find(|(c, _)| c.starts_with("matched")) else {
        return Vec::new();
    };
    let by_list = base.get("Patients").is_some();
    let by_one = base["Patient"].get("Identifiers").is_some();
    let by_visit = base["Visit"].get("VisitNumber").is_some();
    let by_document = base["Document"].get("ID").is_some();
    let mut out = Vec::new();
    for p in patients {
        let who = named(p);
        let id = who["Identifiers"][0]["ID"].clone();
        let mut body = base.clone();
        if by_list {
            body["Patients"] = json!([who]);
        } else if by_one {
            body["Patient"] = who;
        } else if by_document {
            for d in p.documents.iter().take(PER_PATIENT) {
                body["Document"]["ID"] = json!(d.id);
                out.push((format!("patient {id} document {}", d.id), body.clone()));
            }
            continue;
        } else {
            return Vec::new();
        }
        if by_visit {
            for v in p.visits.iter().take(PER_PATIENT) {
                body["Visit"] = json!({"VisitNumber": v.number});
                out.push((format!("patient {id} visit {}", v.number), body.clone()));
            }
        } else {
            out.push((format!("patient {id}"), body));
        }
    }
    if by_list && patients.len() > 1 {
        // Several patients in one request: their records come back together.
        let mut body = base.clone();
        body["Patients"] = patients.iter().take(5).map(|p| named(p)).collect();
        out.push(("several patients".into(), body));
    }
    out
}

/// Asks every query event of the catalog its conformance cases and about `patients`,
/// and validates each answer with extra fields forbidden. Returns the answers validated.
fn check_every_query(panel: &Panel, patients: &[&Patient], failures: &mut Vec<String>) -> usize {
    let mut schemas = Schemas::strict();
    let (mut events, mut validated) = (0, 0);
    for query in catalog::all()
        .iter()
        .filter(|e| e.exchange == Exchange::Query)
    {
        let response = response_of(query);
        let mut list: Vec<(String, Value)> = cases(panel, query.data_model, query.event_type)
            .into_iter()
            .map(|(case, body)| (case.to_string(), body))
            .collect();
        let labels: Vec<&str> = list.iter().map(|(c, _)| c.as_str()).collect();
        if !labels.iter().any(|c| c.starts_with("matched"))
            || !labels.iter().any(|c| c.starts_with("unmatched"))
        {
            failures.push(format!(
                "{} {}: no matched and unmatched cases: {labels:?}",
                query.data_model, query.event_type
            ));
        }
        list.extend(patient_cases(panel, query, patients));
        events += 1;
        for (case, body) in list {
            let label = format!("{} {} ({case})", query.data_model, query.event_type);
            match respond(panel, &with_meta(query.data_model, query.event_type, body)) {
                Ok(answer) => {
                    validated += 1;
                    for e in schemas.check(response.schema, &answer) {
                        failures.push(format!("{label}: {e}"));
                    }
                }
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
    }
    assert_eq!(events, 19, "the catalog's query events");
    validated
}

#[test]
fn every_query_answer_has_only_schema_fields() {
    let panel = panel();
    let spread: Vec<&Patient> = panel.patients().iter().step_by(SPREAD).collect();
    let mut failures = Vec::new();
    let validated = check_every_query(panel, &spread, &mut failures);
    eprintln!("validated {validated} answers, extra fields forbidden");
    report(failures);
    assert!(validated > 500, "only {validated} answers validated");
}

#[tokio::test]
async fn answers_over_http_have_only_schema_fields() {
    // The same answers as a client gets them: through the engine's /query on loopback.
    // `Meta.Logs` is removed first: the engine adds it, as the platform does, and the
    // platform's schemas do not list it (that is the platform's envelope, not the EHR's).
    let te = common::TestEngine::start("").await;
    let token = te.token(CONSOLE_SOURCE_NAME).await;
    let mut schemas = Schemas::strict();
    let mut failures = Vec::new();
    let mut answered = 0;
    for query in catalog::all()
        .iter()
        .filter(|e| e.exchange == Exchange::Query)
    {
        let list = cases(panel(), query.data_model, query.event_type);
        let Some((_, mut request)) = list.into_iter().find(|(c, _)| c.starts_with("matched"))
        else {
            failures.push(format!(
                "{} {}: no matched case",
                query.data_model, query.event_type
            ));
            continue;
        };
        request["Meta"] = json!({
            "DataModel": query.data_model,
            "EventType": query.event_type,
            "Destinations": [{"ID": switchboard::sandbox::DESTINATION_ID}],
        });
        let label = format!("{} {} over HTTP", query.data_model, query.event_type);
        let (status, mut answer) = te.post_json("/query", Some(&token), &request).await;
        if status != 200 {
            failures.push(format!("{label}: HTTP {status}: {answer:.300}"));
            continue;
        }
        answered += 1;
        if let Some(meta) = answer["Meta"].as_object_mut() {
            meta.remove("Logs");
        }
        for e in schemas.check(response_of(query).schema, &answer) {
            failures.push(format!("{label}: {e}"));
        }
    }
    report(failures);
    assert_eq!(answered, 19, "the catalog's query events");
}

/// Composer templates in the Values style: what a user sends from the console.
fn template_of(info: &'static EventInfo) -> Result<Value, String> {
    let options = Options {
        event: info,
        now: chrono::Utc::now(),
        source: Some(Party::new(
            switchboard::sandbox::SOURCE_ID.to_string(),
            switchboard::sandbox::SOURCE_NAME,
        )),
        destinations: vec![Party::new(
            switchboard::sandbox::DESTINATION_ID.to_string(),
            switchboard::sandbox::DESTINATION_NAME,
        )],
        samples: default_samples(),
        style: TemplateStyle::Values,
    };
    template(&options).map_err(|e| e.to_string())
}

/// The platform's example requests, parsed, with their event.
fn examples() -> Vec<(String, &'static EventInfo, Value)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/redox-examples"
    );
    let mut files = Vec::new();
    json_files(std::path::Path::new(dir), &mut files);
    files.sort();
    assert!(files.len() >= 50, "examples missing under {dir}");
    files
        .into_iter()
        .filter_map(|file| {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
            let request: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let meta = &request["Meta"];
            let info = catalog::lookup(
                meta["DataModel"].as_str().unwrap_or(""),
                meta["EventType"].as_str().unwrap_or(""),
            )
            .ok()?;
            Some((name, info, request))
        })
        .collect()
}

/// The panel index of the patient a notification or writeback names, if it is there.
fn named_in(panel: &Panel, request: &Value) -> Option<usize> {
    let holders = [
        &request["Patient"],
        &request["Header"]["Patient"],
        &request["Patients"][0],
    ];
    holders.iter().find_map(|h| {
        h["Identifiers"].as_array()?.iter().find_map(|i| {
            let id = i["ID"].as_str()?;
            panel.find(id, i["IDType"].as_str())
        })
    })
}

#[test]
fn answers_after_writebacks_have_only_schema_fields() {
    // What a client wrote (every notification and writeback template of the composer,
    // then the platform's examples) comes back in later answers: those must validate too.
    let mut panel = panel().clone();
    let mut failures = Vec::new();
    let mut requests: Vec<(String, Value)> = catalog::all()
        .iter()
        .filter(|e| matches!(e.exchange, Exchange::Notification | Exchange::Writeback))
        .filter_map(|e| match template_of(e) {
            Ok(t) => Some((format!("template {} {}", e.data_model, e.event_type), t)),
            Err(err) => {
                failures.push(format!("{} {}: {err}", e.data_model, e.event_type));
                None
            }
        })
        .collect();
    requests.extend(
        examples()
            .into_iter()
            .filter(|(_, info, _)| {
                matches!(info.exchange, Exchange::Notification | Exchange::Writeback)
            })
            .map(|(name, _, request)| (name, request)),
    );
    for (name, request) in &requests {
        if let Err(e) = apply(&mut panel, request) {
            failures.push(format!("{name}: {e}"));
        }
    }
    let mut touched: Vec<usize> = requests
        .iter()
        .filter_map(|(_, r)| named_in(&panel, r))
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let patients: Vec<&Patient> = touched.iter().map(|&i| &panel.patients()[i]).collect();
    let validated = check_every_query(&panel, &patients, &mut failures);
    eprintln!(
        "{} writebacks applied to {} patients, then {validated} answers validated",
        requests.len(),
        patients.len()
    );
    report(failures);
    assert!(patients.len() >= 3, "writebacks touched {touched:?}");
}

#[test]
fn the_multiple_match_cases_are_there() {
    // The conformance cases include searches that find several patients; the strict
    // test above runs them, this keeps them from disappearing unnoticed.
    let panel = panel();
    for (model, name) in [("PatientSearch", "Query"), ("Vaccination", "PatientQuery")] {
        let list = cases(panel, model, name);
        let (_, body) = list
            .iter()
            .find(|(c, _)| *c == "multiple")
            .unwrap_or_else(|| panic!("{model} {name}: no multiple-match case"));
        let answer = respond(panel, &with_meta(model, name, body.clone())).expect("answers");
        let found = answer["PotentialMatches"].as_array().map_or(0, Vec::len);
        assert!(found > 1, "{model} {name}: the multiple case found {found}");
    }
}

#[test]
fn answers_to_the_platform_examples_have_only_schema_fields() {
    let mut schemas = Schemas::strict();
    let mut failures = Vec::new();
    let mut answered = 0;
    for (name, info, request) in examples() {
        if info.exchange != Exchange::Query {
            continue;
        }
        match respond(panel(), &request) {
            Ok(answer) => {
                answered += 1;
                for e in schemas.check(response_of(info).schema, &answer) {
                    failures.push(format!("{name}: {e}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    eprintln!("{answered} example queries answered");
    report(failures);
    assert!(answered >= 10, "only {answered} example queries found");
}

#[test]
fn notifications_the_sandbox_sends_have_only_schema_fields() {
    let panel = panel();
    let mut schemas = Schemas::strict();
    let mut failures = Vec::new();
    for n in 0..NOTIFICATIONS {
        let note = sample_notification(panel, n);
        let meta = &note["Meta"];
        let (Some(model), Some(name)) = (meta["DataModel"].as_str(), meta["EventType"].as_str())
        else {
            failures.push(format!("#{n}: no DataModel/EventType: {meta}"));
            continue;
        };
        for e in schemas.check(event(model, name).schema, &note) {
            failures.push(format!("#{n} {model} {name}: {e}"));
        }
    }
    report(failures);
}

#[test]
fn composer_templates_have_only_schema_fields() {
    let mut schemas = Schemas::strict();
    let mut failures = Vec::new();
    for info in catalog::all() {
        let label = format!("{} {}", info.data_model, info.event_type);
        match template_of(info) {
            Ok(value) => {
                for e in schemas.check(info.schema, &value) {
                    failures.push(format!("{label}: {e}"));
                }
            }
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    report(failures);
}

#[test]
fn the_strict_rule_forbids_only_where_a_schema_lists_fields() {
    let mut schema = json!({
        "type": "object",
        "properties": {
            "Listed": {"type": "object", "properties": {"A": {"type": "string"}}},
            "Open": {"type": "object"},
            "Decided": {"type": "object", "properties": {}, "additionalProperties": true},
            "List": {"type": "array", "items": {"type": "object", "properties": {"B": {}}}},
            // A field named like a keyword is a field, not a keyword.
            "properties": {"type": "object", "properties": {"C": {}}},
        },
    });
    forbid_additional_properties(&mut schema);
    let validator = jsonschema::draft4::new(&schema).expect("compiles");
    let ok = json!({
        "Listed": {"A": "a"},
        "Open": {"anything": 1},
        "Decided": {"anything": 1},
        "List": [{"B": 1}],
        "properties": {"C": 1},
    });
    assert!(validator.is_valid(&ok));
    for (path, extra) in [
        ("", "Top"),
        ("/Listed", "Z"),
        ("/List/0", "Z"),
        ("/properties", "Z"),
    ] {
        let mut bad = ok.clone();
        let target = bad.pointer_mut(path).expect("path");
        target[extra] = json!(1);
        assert!(
            !validator.is_valid(&bad),
            "{extra} at '{path}' was accepted"
        );
    }
    assert_eq!(
        schema["properties"]["Open"].get("additionalProperties"),
        None
    );
    assert_eq!(
        schema["properties"]["Decided"]["additionalProperties"],
        json!(true)
    );
}

/// Fails with the distinct problems (array indexes folded to `*`), each with how often
/// it occurred and the first case that showed it, so one stray field is one line.
fn report(failures: Vec<String>) {
    let mut distinct: std::collections::BTreeMap<String, (usize, String)> = Default::default();
    for failure in &failures {
        let problem = failure
            .find(": at '")
            .map_or(failure.as_str(), |i| &failure[i + 2..]);
        let folded: String = problem
            .split('/')
            .map(|part| {
                if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                    "*"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let entry = distinct.entry(folded).or_insert((0, failure.clone()));
        entry.0 += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures, {} distinct:\n{}",
        failures.len(),
        distinct.len(),
        distinct
            .iter()
            .map(|(problem, (n, first))| format!("{n} x {problem}\n    first: {first}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
