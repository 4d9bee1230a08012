//! The Sandbox EHR speaks FHIR R4 (issue 16), reads and searches: its FHIR server, mounted
//! like the engine mounts it (`{sandbox::PATH}/fhir` on a loopback listener), answers from
//! the same panel as the data-model API, and every resource it returns validates against
//! the FHIR R4 JSON Schema (`../shared/fixtures/fhir-r4/fhir.schema.json`), whose
//! resources and datatypes all forbid unknown elements (checked below). Beyond the
//! schema: no empty elements, references that resolve by a read, links absolute under
//! the base the request reached. Writes (FHIR messages, and data-model writebacks seen
//! through FHIR) are in `tests/suite/sandbox_fhir_writes.rs`.

use crate::common;
pub(crate) mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use support::{Fhir, ids, panel, references, resources, schema};
use switchboard::sandbox::PATH;
use switchboard::sandbox::fhir::{MRN_SYSTEM, TYPES};

#[test]
fn the_schema_forbids_unknown_elements_and_bad_codes() {
    let ok = json!({"resourceType": "Patient", "id": "x1", "gender": "female", "birthDate": "1980-02-29"});
    assert!(schema().is_valid(&ok));
    let extra = json!({"resourceType": "Patient", "id": "x1", "favouriteColour": "blue"});
    assert!(!schema().is_valid(&extra), "unknown element accepted");
    let nested = json!({"resourceType": "Patient", "name": [{"family": "A", "nickname": "B"}]});
    assert!(
        !schema().is_valid(&nested),
        "unknown datatype element accepted"
    );
    let code = json!({"resourceType": "Patient", "gender": "Male"});
    assert!(
        !schema().is_valid(&code),
        "a code outside the value set accepted"
    );
    let naive = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "effectiveDateTime": "2026-11-02T10:00:00"});
    assert!(!schema().is_valid(&naive), "a naive dateTime accepted");
}

/// Patients whose charts hold every kind of record between them: MRN 0000000001, one
/// in house (an in-progress encounter), one with immunizations, allergies, resolved
/// problems and a written (Base64) discharge summary, and a few more for variety.
fn spread() -> Vec<String> {
    let p = panel().patients();
    let first = |f: &dyn Fn(&switchboard::sandbox::panel::Patient) -> bool| {
        p.iter().position(f).expect("a panel patient of that kind")
    };
    let mut picks = vec![
        0,
        first(&|x| x.visits.iter().any(|v| v.end.is_none())),
        first(&|x| !x.immunizations.is_empty() && !x.allergies.is_empty()),
        first(&|x| x.problems.iter().any(|c| c.end.is_some())),
        first(&|x| x.notes.iter().any(|n| n.content_type == "Base64 Encoded")),
        15,
        99,
        641,
    ];
    picks.sort_unstable();
    picks.dedup();
    picks
        .into_iter()
        .map(|i| format!("{:010}", i + 1))
        .collect()
}

#[tokio::test]
async fn every_type_is_searched_and_read_and_every_reference_resolves() {
    let fhir = Fhir::start().await;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut refs = BTreeSet::new();
    for mrn in spread() {
        let (status, patient) = fhir.get(&format!("Patient/{mrn}")).await;
        assert_eq!(status, StatusCode::OK, "{patient}");
        references(&patient, &mut refs);
        for kind in TYPES
            .iter()
            .filter(|k| !matches!(**k, "Patient" | "Practitioner" | "Location"))
        {
            let by_get = fhir
                .search(
                    kind,
                    &[("patient", &format!("Patient/{mrn}")), ("_count", "500")],
                )
                .await;
            let (status, by_post) = fhir
                .search_post(kind, &[("patient", mrn.as_str()), ("_count", "500")])
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                ids(&by_get),
                ids(&by_post),
                "{kind} by GET and by POST _search"
            );
            assert_eq!(by_get["total"].as_u64(), Some(ids(&by_get).len() as u64));
            for resource in resources(&by_get) {
                *seen.entry(kind).or_default() += 1;
                let id = resource["id"].as_str().expect("id");
                let (status, read) = fhir.get(&format!("{kind}/{id}")).await;
                assert_eq!(status, StatusCode::OK, "read {kind}/{id}");
                assert_eq!(read, resource, "a read gives what the search gave");
                references(&resource, &mut refs);
            }
        }
    }
    for kind in TYPES
        .iter()
        .filter(|k| !matches!(**k, "Patient" | "Practitioner" | "Location"))
    {
        assert!(
            seen.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in the spread: {seen:?}"
        );
    }
    let kinds: BTreeSet<&str> = refs.iter().filter_map(|r| r.split('/').next()).collect();
    for kind in ["Patient", "Practitioner", "Location", "Encounter"] {
        assert!(kinds.contains(kind), "no reference to a {kind}: {kinds:?}");
    }
    for reference in &refs {
        let (status, body) = fhir.get(reference).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{reference} does not resolve: {body}"
        );
    }
}

#[tokio::test]
async fn the_fhir_patient_is_the_data_model_patient() {
    let fhir = Fhir::start().await;
    for mrn in spread() {
        let request = json!({
            "Meta": {"DataModel": "PatientSearch", "EventType": "Query"},
            "Patient": {"Identifiers": [{"ID": mrn, "IDType": "MR"}]},
        });
        let answer = switchboard::sandbox::answers::respond(panel(), &request).expect("answer");
        let d = &answer["Patient"]["Demographics"];
        let (_, p) = fhir.get(&format!("Patient/{mrn}")).await;
        assert_eq!(p["name"][0]["family"], d["LastName"], "{mrn}");
        assert_eq!(p["name"][0]["given"][0], d["FirstName"], "{mrn}");
        if !d["MiddleName"].is_null() {
            assert_eq!(p["name"][0]["given"][1], d["MiddleName"], "{mrn}");
        }
        assert_eq!(p["birthDate"], d["DOB"], "{mrn}");
        let sex = d["Sex"].as_str().expect("Sex").to_ascii_lowercase();
        assert_eq!(p["gender"], sex.as_str(), "{mrn}");
        let mr = p["identifier"]
            .as_array()
            .expect("identifiers")
            .iter()
            .find(|i| i["system"] == MRN_SYSTEM)
            .expect("the MR identifier");
        assert_eq!(mr["value"], mrn.as_str());
    }
}

#[tokio::test]
async fn metadata_lists_exactly_what_is_served() {
    let fhir = Fhir::start().await;
    let (status, cap) = fhir.get("metadata").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cap["resourceType"], "CapabilityStatement");
    assert!(
        cap["fhirVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("4.0."))
    );
    let listed: Vec<&str> = cap["rest"][0]["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(listed, TYPES);
    assert_eq!(cap["rest"][0]["operation"][0]["name"], "process-message");
    // Every listed parameter is taken (no 400); the rest are refused.
    let mrn = "0000000001";
    for r in cap["rest"][0]["resource"].as_array().expect("resources") {
        let kind = r["type"].as_str().expect("type");
        for p in r["searchParam"].as_array().expect("params") {
            let name = p["name"].as_str().expect("name");
            let value = match (name, p["type"].as_str()) {
                ("_count" | "_offset", _) => "1",
                ("patient" | "subject", _) => mrn,
                ("gender", _) => "female",
                (_, Some("date")) => "ge2000-01-01",
                _ => "x",
            };
            let mut form = vec![(name, value)];
            if kind == "Patient" && matches!(name, "_count" | "_offset") {
                form.push(("gender", "female"));
            } else if kind != "Patient"
                && !matches!(kind, "Practitioner" | "Location")
                && name != "patient"
            {
                form.push(("patient", mrn));
            }
            fhir.search(kind, &form).await;
        }
        let (status, outcome) = fhir.get(&format!("{kind}?not-a-parameter=1")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}: {outcome}");
    }
}

#[tokio::test]
async fn searches_match_one_none_or_several() {
    let fhir = Fhir::start().await;
    let p = &panel().patients()[99];
    let d = &p.demographics;
    let (first, last, dob) = (
        d.first_name.clone().expect("first"),
        d.last_name.clone().expect("last"),
        d.dob.clone().expect("dob"),
    );
    let one = |b: &Value| b["total"].as_u64();
    // Identifier: bare value, system|value; _id.
    let system_value = format!("{MRN_SYSTEM}|0000000100");
    for form in [
        vec![("identifier", "0000000100")],
        vec![("identifier", system_value.as_str())],
        vec![("_id", "0000000100")],
    ] {
        let b = fhir.search("Patient", &form).await;
        assert_eq!(one(&b), Some(1), "{form:?}");
        assert_eq!(ids(&b), ["0000000100"]);
    }
    // The declared duplicates: same name and birth date, three patients.
    let b = fhir
        .search(
            "Patient",
            &[("family", &last), ("given", &first), ("birthdate", &dob)],
        )
        .await;
    assert_eq!(ids(&b), ["0000000100", "0000000900", "0000000950"]);
    let b = fhir
        .search(
            "Patient",
            &[("family:exact", &last), ("birthdate", &format!("eq{dob}"))],
        )
        .await;
    assert!(one(&b).unwrap_or(0) >= 3, "{b}");
    let common = fhir.search("Patient", &[("family", &last)]).await;
    assert!(
        one(&common).unwrap_or(0) > 3,
        "a common family name matches several"
    );
    let ne = fhir
        .search(
            "Patient",
            &[("family", &last), ("birthdate", &format!("ne{dob}"))],
        )
        .await;
    assert_eq!(one(&ne).unwrap_or(0) + 3, one(&common).unwrap_or(0));
    let before = fhir
        .search(
            "Patient",
            &[("family", &last), ("birthdate", &format!("lt{dob}"))],
        )
        .await;
    let after = fhir
        .search(
            "Patient",
            &[("family", &last), ("birthdate", &format!("gt{dob}"))],
        )
        .await;
    assert_eq!(
        one(&before).unwrap_or(0) + one(&after).unwrap_or(0) + 3,
        one(&common).unwrap_or(0)
    );
    let gender = d.sex.clone().expect("sex").to_ascii_lowercase();
    let b = fhir
        .search("Patient", &[("family", &last), ("gender", &gender)])
        .await;
    for r in resources(&b) {
        assert_eq!(r["gender"], gender.as_str());
    }
    // Unmatched, for every type.
    for form in [
        vec![("identifier", "9999999999")],
        vec![("family", "Nosuchname")],
        vec![("identifier", "urn:other|0000000100")],
    ] {
        let b = fhir.search("Patient", &form).await;
        assert_eq!(one(&b), Some(0), "{form:?}");
        assert!(b.get("entry").is_none());
    }
    for kind in TYPES
        .iter()
        .filter(|k| !matches!(**k, "Patient" | "Practitioner" | "Location"))
    {
        let b = fhir
            .search(kind, &[("patient", "Patient/9999999999")])
            .await;
        assert_eq!(one(&b), Some(0), "{kind}");
    }
    // Observation by category, code and date.
    let all = fhir
        .search(
            "Observation",
            &[("patient", "0000000001"), ("_count", "500")],
        )
        .await;
    let labs = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                ("category", "laboratory"),
                ("_count", "500"),
            ],
        )
        .await;
    let vitals = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                (
                    "category",
                    "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
                ),
                ("_count", "500"),
            ],
        )
        .await;
    assert!(one(&labs).unwrap_or(0) > 0 && one(&vitals).unwrap_or(0) > 0);
    assert_eq!(
        one(&labs).unwrap_or(0) + one(&vitals).unwrap_or(0),
        one(&all).unwrap_or(0)
    );
    let height = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                ("code", "http://loinc.org|8302-2"),
            ],
        )
        .await;
    assert_eq!(
        one(&height),
        Some(panel().patients()[0].visits.len() as u64)
    );
    let first_visit = panel().patients()[0].visits[0].start;
    let day = first_visit.format("%Y-%m-%d").to_string();
    let on_day = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                ("category", "vital-signs"),
                ("date", &day),
            ],
        )
        .await;
    assert!(one(&on_day).unwrap_or(0) >= 6, "{on_day}");
    for r in resources(&on_day) {
        assert!(
            r["effectiveDateTime"]
                .as_str()
                .is_some_and(|t| t.starts_with(&day))
        );
    }
    // The directory.
    let doc = &panel().providers()[0];
    let b = fhir
        .search("Practitioner", &[("identifier", &doc.npi)])
        .await;
    assert_eq!(ids(&b).as_slice(), std::slice::from_ref(&doc.npi));
    let b = fhir
        .search("Practitioner", &[("name", &doc.last_name)])
        .await;
    assert!(ids(&b).contains(&doc.npi));
    let b = fhir
        .search("Location", &[("name", "Sandbox General")])
        .await;
    assert_eq!(ids(&b), ["SGH"]);
    let b = fhir.search("Location", &[]).await;
    assert_eq!(one(&b), Some(4));
}

#[tokio::test]
async fn paging_follows_next_links_to_every_match() {
    let fhir = Fhir::start().await;
    let all = fhir
        .search(
            "Observation",
            &[("patient", "0000000001"), ("_count", "500")],
        )
        .await;
    let every = ids(&all);
    assert!(every.len() > 12, "enough to page: {}", every.len());
    let mut page = fhir
        .search("Observation", &[("patient", "0000000001"), ("_count", "5")])
        .await;
    let mut paged = Vec::new();
    let mut pages = 0;
    loop {
        assert_eq!(page["total"].as_u64(), Some(every.len() as u64));
        paged.extend(ids(&page));
        pages += 1;
        let next = page["link"]
            .as_array()
            .expect("links")
            .iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
        let Some(next) = next else { break };
        assert!(next.starts_with(&fhir.base), "{next}");
        let (status, body) = fhir.get(&next).await;
        assert_eq!(status, StatusCode::OK);
        page = body;
    }
    assert_eq!(paged, every);
    assert_eq!(pages, every.len().div_ceil(5));
    // The spelling other servers' next links use.
    let b = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                ("_count", "5"),
                ("_getpagesoffset", "5"),
            ],
        )
        .await;
    assert_eq!(ids(&b), every[5..10]);
}

#[tokio::test]
async fn bad_searches_and_reads_are_operation_outcomes() {
    let fhir = Fhir::start().await;
    for (path, status) in [
        ("Patient?foo=bar", StatusCode::BAD_REQUEST),
        ("Patient?family:fuzzy=Baker", StatusCode::BAD_REQUEST),
        ("Patient?gender:text=female", StatusCode::BAD_REQUEST),
        ("Patient?birthdate=sa2000-01-01", StatusCode::BAD_REQUEST),
        (
            "Patient?birthdate=2000-01-01T10:00:00",
            StatusCode::BAD_REQUEST,
        ),
        ("Patient?birthdate=yesterday", StatusCode::BAD_REQUEST),
        ("Patient?_count=many", StatusCode::BAD_REQUEST),
        ("Patient", StatusCode::BAD_REQUEST),
        ("Observation?code=8302-2", StatusCode::BAD_REQUEST),
        (
            "Observation?patient=0000000001&_summary=count",
            StatusCode::BAD_REQUEST,
        ),
        (
            "Patient?_id=0000000001&_format=xml",
            StatusCode::NOT_ACCEPTABLE,
        ),
        ("Patient/9999999999", StatusCode::NOT_FOUND),
        ("Observation/0000000001-lab-99-0", StatusCode::NOT_FOUND),
        ("Observation/0000000001-enc-0", StatusCode::NOT_FOUND),
        ("Encounter/0000000001-enc-00", StatusCode::NOT_FOUND),
        ("Medication/1", StatusCode::NOT_FOUND),
        ("Medication?code=1", StatusCode::NOT_FOUND),
        ("Patient/0000000001/_history", StatusCode::NOT_FOUND),
        ("Patient/0000000001/Observation/x", StatusCode::NOT_FOUND),
    ] {
        let (got, body) = fhir.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["resourceType"], "OperationOutcome", "{path}");
        let text = body["issue"][0]["details"]["text"].as_str().unwrap_or("");
        assert!(
            text.len() > 20,
            "{path}: the outcome says what to do: {text}"
        );
    }
    let (status, body) = fhir.search_post("Patient", &[("nickname", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn ids_are_the_same_in_another_sandbox() {
    let (one, two) = (Fhir::start().await, Fhir::start().await);
    for kind in TYPES
        .iter()
        .filter(|k| !matches!(**k, "Patient" | "Practitioner" | "Location"))
    {
        let form = [("patient", "0000000016"), ("_count", "500")];
        let a = ids(&one.search(kind, &form).await);
        let b = ids(&two.search(kind, &form).await);
        assert_eq!(a, b, "{kind}");
        if let Some(id) = a.first() {
            let (status, _) = two.get(&format!("{kind}/{id}")).await;
            assert_eq!(status, StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn the_engine_serves_it_under_the_sandbox_path() {
    let engine = common::TestEngine::start("").await;
    let fhir = Fhir {
        base: engine.url(&format!("{PATH}/fhir")),
        client: common::client(),
        _server: tokio::spawn(async {}),
    };
    let (status, cap) = fhir.get("metadata").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cap["implementation"]["url"], fhir.base.as_str());
    let (status, patient) = fhir.get("Patient/0000000001").await;
    assert_eq!(status, StatusCode::OK, "{patient}");
    let found = fhir
        .search_post("Patient", &[("identifier", "0000000001")])
        .await
        .1;
    assert_eq!(
        found["entry"][0]["fullUrl"],
        format!("{}/Patient/0000000001", fhir.base)
    );
}
