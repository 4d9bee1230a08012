//! Conformance of the sandbox EHR with the platform's published schemas
//! (`../shared/fixtures/redox-schemas`, JSON Schema draft 4), and the behaviour of its
//! synthetic panel.
//!
//! For every synchronous event of the catalog, requests are built for matched, unmatched
//! and (for searches) multiple-match cases; each request is validated against the query's
//! schema and each answer against the response schema. Every `sample_notification` of the
//! first 200 is validated against its event's schema. Failures are collected and reported
//! together.

mod behaviour;
pub(crate) mod support;

use serde_json::{Value, json};
use support::{
    Schemas, cases, event, json_files, mr, panel, query, response_of, with_meta, without_times,
};
use switchboard::model::catalog::{self, Exchange};
use switchboard::sandbox::answers::{apply, respond, sample_notification};
use switchboard::sandbox::panel::{DEFAULT_SEED, Panel};

#[test]
fn every_answer_matches_its_schema() {
    let panel = panel();
    let mut schemas = Schemas::new();
    let mut failures = Vec::new();
    let mut validated = 0;
    let mut events = 0;
    for query in catalog::all()
        .iter()
        .filter(|e| e.exchange == Exchange::Query)
    {
        let response = response_of(query);
        let list = cases(panel, query.data_model, query.event_type);
        if list.is_empty() {
            failures.push(format!(
                "{} {}: no cases",
                query.data_model, query.event_type
            ));
            continue;
        }
        events += 1;
        for (case, body) in list {
            let label = format!("{} {} ({case})", query.data_model, query.event_type);
            let request = with_meta(query.data_model, query.event_type, body);
            for e in schemas.check(query.schema, &request) {
                failures.push(format!("{label}: request {e}"));
            }
            match respond(panel, &request) {
                Ok(answer) => {
                    for e in schemas.check(response.schema, &answer) {
                        failures.push(format!("{label}: answer {e}"));
                    }
                    let meta = &answer["Meta"];
                    if meta["EventType"] != json!(query.event_type)
                        || meta["DataModel"] != json!(query.data_model)
                    {
                        failures.push(format!("{label}: Meta does not echo the request: {meta}"));
                    }
                    validated += 1;
                }
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
    }
    eprintln!("validated {validated} answers over {events} query events");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(events, 19);
}

#[test]
fn the_validator_catches_a_wrong_answer() {
    // Guards the conformance test itself: a broken answer must not pass.
    let mut schemas = Schemas::new();
    let mut answer = respond(
        panel(),
        &with_meta(
            "Scheduling",
            "Booked",
            json!({"StartDateTime": "2026-11-09T00:00:00.000Z"}),
        ),
    )
    .expect("Booked answers");
    assert!(
        schemas
            .check("scheduling/bookedresponse.json", &answer)
            .is_empty()
    );
    answer["Visits"][0]["Duration"] = json!("thirty");
    answer["Visits"][1]["Patient"] = json!({});
    let errors = schemas.check("scheduling/bookedresponse.json", &answer);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn every_sample_notification_matches_its_schema() {
    let panel = panel();
    let mut schemas = Schemas::new();
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    for n in 0..200 {
        let note = sample_notification(panel, n);
        let meta = &note["Meta"];
        let (Some(model), Some(name)) = (meta["DataModel"].as_str(), meta["EventType"].as_str())
        else {
            failures.push(format!("#{n}: no DataModel/EventType: {meta}"));
            continue;
        };
        *kinds.entry(format!("{model} {name}")).or_insert(0) += 1;
        if meta["Test"] != json!(true)
            || meta.get("Destinations").is_some()
            || !meta["EventDateTime"].is_string()
        {
            failures.push(format!("#{n}: Meta {meta}"));
        }
        for e in schemas.check(event(model, name).schema, &note) {
            failures.push(format!("#{n} {model} {name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for kind in [
        "PatientAdmin Arrival",
        "PatientAdmin Transfer",
        "PatientAdmin Discharge",
        "Results New",
        "Notes New",
        "Scheduling New",
    ] {
        assert!(
            kinds.contains_key(kind),
            "no {kind} in the stream: {kinds:?}"
        );
    }
}

#[test]
fn notifications_are_deterministic_in_n() {
    let panel = panel();
    for n in [0, 1, 17, 199] {
        let (mut a, mut b) = (sample_notification(panel, n), sample_notification(panel, n));
        without_times(&mut a);
        without_times(&mut b);
        assert_eq!(a, b, "notification {n}");
    }
    // A panel with no patients still streams.
    let empty = Panel::generate(DEFAULT_SEED, 0);
    assert!(sample_notification(&empty, 3)["Meta"]["DataModel"].is_string());
}

#[test]
fn platform_examples_are_answered_and_applied() {
    let examples = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/redox-examples"
    );
    let mut files = Vec::new();
    json_files(std::path::Path::new(examples), &mut files);
    files.sort();
    assert!(files.len() >= 50, "examples missing under {examples}");
    let mut panel = panel().clone();
    let mut schemas = Schemas::new();
    let mut failures = Vec::new();
    let (mut answered, mut applied) = (0, 0);
    for file in files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let request: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let meta = &request["Meta"];
        let Ok(info) = catalog::lookup(
            meta["DataModel"].as_str().unwrap_or(""),
            meta["EventType"].as_str().unwrap_or(""),
        ) else {
            failures.push(format!("{name}: unknown event"));
            continue;
        };
        match info.exchange {
            Exchange::Query => match respond(&panel, &request) {
                Ok(answer) => {
                    answered += 1;
                    for e in schemas.check(response_of(info).schema, &answer) {
                        failures.push(format!("{name}: answer {e}"));
                    }
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            },
            Exchange::Response => {}
            _ => match apply(&mut panel, &request) {
                Ok(()) => applied += 1,
                Err(e) => failures.push(format!("{name}: {e}")),
            },
        }
    }
    eprintln!("examples: {answered} queries answered, {applied} notifications applied");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The examples' Notes New (patient 0000000001) is returned by a Notes Query.
    let notes = query(
        &panel,
        "Notes",
        "Query",
        json!({"Patients": [mr("0000000001")], "DocumentTypes": ["Empty File"]}),
    );
    assert!(
        !notes["Notes"].as_array().expect("Notes").is_empty(),
        "{notes}"
    );
}
