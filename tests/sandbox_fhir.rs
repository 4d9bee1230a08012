//! The Sandbox EHR speaks FHIR R4 (issue 16): its FHIR server, mounted like the engine
//! mounts it (`{sandbox::PATH}/fhir` on a loopback listener), answers from the same panel
//! as the data-model API, and every resource it returns validates against the FHIR R4
//! JSON Schema (`../shared/fixtures/fhir-r4/fhir.schema.json`, compiled once per test
//! binary), whose resources and datatypes all forbid unknown elements (checked below).
//! Beyond the schema: no empty elements, references that resolve by a read, links
//! absolute under the base the request reached.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use switchboard::sandbox::fhir::{MRN_SYSTEM, TYPES};
use switchboard::sandbox::panel::{DEFAULT_PATIENTS, DEFAULT_SEED, Panel};
use switchboard::sandbox::{PATH, Sandbox, VERIFICATION_TOKEN};

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/fhir-r4/fhir.schema.json");
        let text = std::fs::read_to_string(&path).expect("the FHIR R4 schema fixture");
        let value: Value = serde_json::from_str(&text).expect("schema JSON");
        jsonschema::draft6::new(&value).expect("the FHIR schema compiles")
    })
}

/// The errors of one resource against its own definition (only computed on failure:
/// the root schema's `oneOf` says nothing useful about where).
fn errors_of(resource: &Value) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/fhir-r4/fhir.schema.json");
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("json");
    let kind = resource["resourceType"].as_str().unwrap_or("Resource");
    if let Some(root) = value.as_object_mut() {
        root.remove("oneOf");
        root.remove("discriminator");
        root.insert("$ref".into(), json!(format!("#/definitions/{kind}")));
    }
    let validator = jsonschema::draft6::new(&value).expect("compiles");
    validator
        .iter_errors(resource)
        .map(|e| format!("at '{}': {e}", e.instance_path()))
        .collect()
}

/// Empty elements are not valid FHIR (the schema does not say so for arrays).
fn empties(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(format!("{path} is null")),
        Value::String(s) if s.trim().is_empty() => out.push(format!("{path} is blank")),
        Value::Array(a) if a.is_empty() => out.push(format!("{path} is []")),
        Value::Object(o) if o.is_empty() => out.push(format!("{path} is {{}}")),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| empties(v, &format!("{path}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, v)| empties(v, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

#[track_caller]
fn assert_fhir(resource: &Value) {
    let mut problems = Vec::new();
    empties(resource, "", &mut problems);
    if !schema().is_valid(resource) {
        problems.extend(errors_of(resource));
        for entry in resource["entry"].as_array().into_iter().flatten() {
            if !schema().is_valid(&entry["resource"]) {
                problems.extend(errors_of(&entry["resource"]));
            }
        }
        if problems.is_empty() {
            problems.push("invalid under the root schema".into());
        }
    }
    assert!(
        problems.is_empty(),
        "not valid FHIR R4: {problems:#?}\n{resource:#}"
    );
}

struct Fhir {
    base: String,
    client: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Fhir {
    async fn start() -> Fhir {
        let app = axum::Router::new().nest_service(PATH, Sandbox::new().router());
        let (url, server) = common::serve_stub(app).await;
        let root = url.trim_end_matches("/redox");
        Fhir {
            base: format!("{root}{PATH}/fhir"),
            client: common::client(),
            _server: server,
        }
    }

    async fn answer(&self, response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(kind, "application/fhir+json", "{body}");
        assert_fhir(&body);
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{path}", self.base)
        };
        let response = self.client.get(url).send().await.expect("GET");
        self.answer(response).await
    }

    /// `POST {type}/_search` with a form body.
    async fn search_post(&self, kind: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let body = serde_urlencoded::to_string(form).expect("form");
        let response = self
            .client
            .post(format!("{}/{kind}/_search", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST _search");
        self.answer(response).await
    }

    async fn search(&self, kind: &str, form: &[(&str, &str)]) -> Value {
        let query = serde_urlencoded::to_string(form).expect("query");
        let (status, bundle) = self.get(&format!("{kind}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{kind}?{query}: {bundle}");
        self.check_bundle(kind, &bundle);
        bundle
    }

    #[track_caller]
    fn check_bundle(&self, kind: &str, bundle: &Value) {
        assert_eq!(bundle["type"], "searchset");
        assert!(bundle["total"].is_u64(), "{bundle}");
        let link = bundle["link"][0]["url"].as_str().expect("self link");
        assert_eq!(bundle["link"][0]["relation"], "self");
        assert!(
            link.starts_with(&format!("{}/{kind}?", self.base)),
            "{link}"
        );
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            let id = entry["resource"]["id"].as_str().expect("id");
            assert_eq!(entry["resource"]["resourceType"], kind);
            assert_eq!(entry["fullUrl"], format!("{}/{kind}/{id}", self.base));
            assert_eq!(entry["search"]["mode"], "match");
        }
    }

    async fn message(&self, bundle: &Value, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/$process-message", self.base))
            .header("content-type", "application/fhir+json")
            .body(bundle.to_string());
        if let Some(token) = token {
            request = request.header("verification-token", token);
        }
        let response = request.send().await.expect("POST $process-message");
        self.answer(response).await
    }
}

fn resources(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|list| list.iter().map(|e| e["resource"].clone()).collect())
        .unwrap_or_default()
}

fn ids(bundle: &Value) -> Vec<String> {
    resources(bundle)
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

/// Every relative reference (`Type/id`) in a resource.
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("reference")
                && r.split('/').count() == 2
            {
                out.insert(r.clone());
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

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

fn panel() -> &'static Panel {
    static PANEL: OnceLock<Panel> = OnceLock::new();
    PANEL.get_or_init(|| Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS))
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

fn message(event: &str, resources: Vec<(&str, Value)>) -> Value {
    let mut entry = vec![json!({
        "fullUrl": "urn:uuid:5f0c3a43-1b7e-4d55-9a0e-5d2f0d6b0c01",
        "resource": {
            "resourceType": "MessageHeader",
            "id": "header-1",
            "eventCoding": {"system": "urn:redox:event-type", "code": event},
            "source": {"endpoint": "urn:switchboard:test"},
        },
    })];
    entry.extend(
        resources
            .into_iter()
            .map(|(url, r)| json!({"fullUrl": url, "resource": r})),
    );
    json!({"resourceType": "Bundle", "id": "bundle-1", "type": "message",
        "timestamp": "2026-11-20T10:00:00Z", "entry": entry})
}

fn glucose(subject: Value, when: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "subject": subject,
        "effectiveDateTime": when,
        "valueQuantity": {"value": 101, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
    })
}

#[tokio::test]
async fn messages_are_applied_and_visible_in_the_next_search() {
    let fhir = Fhir::start().await;
    let token = Some(VERIFICATION_TOKEN);
    let glucose_search = [
        ("patient", "0000000001"),
        ("code", "http://loinc.org|2345-7"),
        ("date", "2026-11-20"),
    ];
    assert_eq!(
        fhir.search("Observation", &glucose_search).await["total"],
        0
    );
    let bundle = message(
        "Observation-New",
        vec![(
            "urn:uuid:0b1",
            glucose(
                json!({"reference": "Patient/0000000001"}),
                "2026-11-20T10:00:00Z",
            ),
        )],
    );
    let (status, reply) = fhir.message(&bundle, token).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["type"], "message");
    let header = &reply["entry"][0]["resource"];
    assert_eq!(header["response"]["code"], "ok");
    assert_eq!(header["response"]["identifier"], "header-1");
    assert_eq!(header["eventCoding"]["code"], "Observation-New");
    let written = header["focus"][0]["reference"]
        .as_str()
        .expect("focus")
        .to_string();
    let found = fhir.search("Observation", &glucose_search).await;
    assert_eq!(found["total"], 1, "{found}");
    let id = ids(&found).remove(0);
    assert_eq!(written, format!("Observation/{id}"));
    let (status, read) = fhir.get(&written).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["subject"]["reference"], "Patient/0000000001");
    assert_eq!(read["valueQuantity"]["value"], 101);

    // The platform's operation URL takes the same message; a DocumentReference too.
    let note = json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Outside Records"},
        "subject": {"reference": "Patient/0000000001"},
        "date": "2026-11-21T08:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "data": "SGVsbG8="}}],
    });
    let before = fhir
        .search("DocumentReference", &[("patient", "0000000001")])
        .await["total"]
        .clone();
    let response = fhir
        .client
        .post(format!("{}/DocumentReference/$write", fhir.base))
        .header("verification-token", VERIFICATION_TOKEN)
        .body(message("Media-New", vec![("urn:uuid:0d1", note)]).to_string())
        .send()
        .await
        .expect("POST");
    let (status, _) = fhir.answer(response).await;
    assert_eq!(status, StatusCode::OK);
    let after = fhir
        .search(
            "DocumentReference",
            &[("patient", "0000000001"), ("date", "2026-11-21")],
        )
        .await;
    assert_eq!(after["total"], 1, "{after}");
    let total = fhir
        .search("DocumentReference", &[("patient", "0000000001")])
        .await["total"]
        .clone();
    assert_eq!(total.as_u64(), before.as_u64().map(|b| b + 1));
}

#[tokio::test]
async fn a_new_patient_by_message_is_in_both_apis() {
    let fhir = Fhir::start().await;
    let patient = json!({
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": "7700000001"}],
        "name": [{"family": "Quartz", "given": ["Wren"]}],
        "gender": "female",
        "birthDate": "1990-04-05",
    });
    let problem = json!({
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]},
        "subject": {"reference": "urn:uuid:7f1d2c3b-0000-4000-8000-000000000001"},
    });
    let bundle = message(
        "Patient-Admin",
        vec![
            ("urn:uuid:7f1d2c3b-0000-4000-8000-000000000001", patient),
            ("urn:uuid:c1", problem),
        ],
    );
    let (status, reply) = fhir.message(&bundle, Some(VERIFICATION_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let found = fhir
        .search("Patient", &[("identifier", "7700000001")])
        .await;
    assert_eq!(ids(&found), ["7700000001"]);
    let conditions = fhir
        .search("Condition", &[("patient", "Patient/7700000001")])
        .await;
    assert_eq!(conditions["total"], 1);
    // The data-model API sees the same person.
    let query = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query"},
        "Patient": {"Identifiers": [{"ID": "7700000001", "IDType": "MR"}]},
    });
    let root = fhir.base.trim_end_matches("/fhir");
    let answer: Value = fhir
        .client
        .post(root)
        .header("verification-token", VERIFICATION_TOKEN)
        .json(&query)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let d = &answer["Patient"]["Demographics"];
    assert_eq!(d["LastName"], "Quartz", "{answer}");
    assert_eq!(d["FirstName"], "Wren");
    assert_eq!(d["DOB"], "1990-04-05");
    assert_eq!(d["Sex"], "Female");
}

#[tokio::test]
async fn bad_messages_are_refused_and_change_nothing() {
    let fhir = Fhir::start().await;
    let good = message(
        "Observation-New",
        vec![(
            "urn:uuid:0b1",
            glucose(
                json!({"reference": "Patient/0000000001"}),
                "2026-11-20T10:00:00Z",
            ),
        )],
    );
    let (status, body) = fhir.message(&good, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = fhir.message(&good, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let mut collection = good.clone();
    collection["type"] = json!("collection");
    let mut headless = good.clone();
    headless["entry"].as_array_mut().expect("entries").remove(0);
    let naive = message(
        "Observation-New",
        vec![(
            "urn:uuid:0b1",
            glucose(
                json!({"reference": "Patient/0000000001"}),
                "2026-11-20T10:00:00",
            ),
        )],
    );
    let nobody = message(
        "Observation-New",
        vec![
            (
                "urn:uuid:0b1",
                glucose(
                    json!({"reference": "Patient/0000000001"}),
                    "2026-11-20T10:00:00Z",
                ),
            ),
            (
                "urn:uuid:0b2",
                glucose(
                    json!({"reference": "Patient/9999999999"}),
                    "2026-11-20T10:00:00Z",
                ),
            ),
        ],
    );
    for (bundle, want) in [
        (json!({"resourceType": "Patient"}), StatusCode::BAD_REQUEST),
        (collection, StatusCode::BAD_REQUEST),
        (headless, StatusCode::BAD_REQUEST),
        (naive, StatusCode::BAD_REQUEST),
        (nobody, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = fhir.message(&bundle, Some(VERIFICATION_TOKEN)).await;
        assert_eq!(status, want, "{body}");
        assert_eq!(body["resourceType"], "OperationOutcome");
    }
    let after = fhir
        .search(
            "Observation",
            &[
                ("patient", "0000000001"),
                ("code", "http://loinc.org|2345-7"),
                ("date", "2026-11-20"),
            ],
        )
        .await;
    assert_eq!(after["total"], 0, "a refused bundle wrote nothing: {after}");
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

#[tokio::test]
async fn a_data_model_result_is_in_the_next_fhir_observation_search() {
    let fhir = Fhir::start().await;
    let search = [("patient", "0000000002"), ("date", "2026-11-22")];
    assert_eq!(fhir.search("Observation", &search).await["total"], 0);
    let results_new = json!({
        "Meta": {"DataModel": "Results", "EventType": "New"},
        "Patient": {"Identifiers": [{"ID": "0000000002", "IDType": "MR"}]},
        "Orders": [{
            "ID": "ORD-77",
            "CollectionDateTime": "2026-11-22T09:00:00.000Z",
            "ResultsStatus": "Final",
            "Results": [
                {"Code": "2345-7", "Codeset": "LOINC", "Description": "Glucose", "Value": "140",
                 "ValueType": "Numeric", "Units": "mg/dL", "AbnormalFlag": "High", "Status": "Final",
                 "CompletionDateTime": "2026-11-22T12:00:00.000Z",
                 "ReferenceRange": {"Low": 70, "High": 99, "Text": null}},
                {"Code": "X1", "Codeset": "Local", "Description": "Specimen comment", "Value": "Fasting",
                 "ValueType": "String", "CompletionDateTime": "2026-11-22T10:00:00"},
            ],
        }],
    });
    let root = fhir.base.trim_end_matches("/fhir");
    let status = fhir
        .client
        .post(root)
        .header("verification-token", VERIFICATION_TOKEN)
        .json(&results_new)
        .send()
        .await
        .expect("POST")
        .status();
    assert_eq!(status, StatusCode::OK);
    let found = fhir.search("Observation", &search).await;
    assert_eq!(found["total"], 2, "{found}");
    let list = resources(&found);
    let glucose = list
        .iter()
        .find(|r| r["code"]["coding"][0]["code"] == "2345-7")
        .expect("the glucose result");
    assert_eq!(glucose["valueQuantity"]["value"], 140);
    assert_eq!(glucose["interpretation"][0]["coding"][0]["code"], "H");
    assert_eq!(glucose["category"][0]["coding"][0]["code"], "laboratory");
    let comment = list
        .iter()
        .find(|r| r["valueString"] == "Fasting")
        .expect("the comment");
    assert!(
        comment.get("issued").is_none(),
        "a naive time is left out: {comment}"
    );
    for r in &list {
        let id = r["id"].as_str().expect("id");
        let (status, read) = fhir.get(&format!("Observation/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&read, r);
    }
}

#[tokio::test]
async fn data_model_notes_and_appointments_are_fhir_too() {
    let fhir = Fhir::start().await;
    let root = fhir.base.trim_end_matches("/fhir").to_string();
    let post = |body: Value| {
        let (client, root) = (fhir.client.clone(), root.clone());
        async move {
            client
                .post(root)
                .header("verification-token", VERIFICATION_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("POST")
                .status()
        }
    };
    let who = json!({"Identifiers": [{"ID": "0000000003", "IDType": "MR"}]});
    let note = json!({
        "Meta": {"DataModel": "Notes", "EventType": "New"},
        "Patient": who,
        "Note": {"DocumentID": "note 42/b", "ContentType": "Plain Text", "FileContents": "Seen today.",
                 "DocumentType": "Telephone Encounter", "DocumentationDateTime": "2026-11-23T08:00:00.000Z"},
    });
    assert_eq!(post(note).await, StatusCode::OK);
    let docs = fhir
        .search(
            "DocumentReference",
            &[("patient", "0000000003"), ("date", "2026-11-23")],
        )
        .await;
    assert_eq!(docs["total"], 1, "{docs}");
    let doc = &resources(&docs)[0];
    assert_eq!(doc["type"]["text"], "Telephone Encounter");
    assert_eq!(doc["content"][0]["attachment"]["data"], "U2VlbiB0b2RheS4=");
    let npi = panel()
        .providers()
        .iter()
        .enumerate()
        .find(|(i, _)| panel().schedulable(*i))
        .map(|(_, p)| p.npi.clone())
        .expect("a schedulable provider");
    let booking = json!({
        "Meta": {"DataModel": "Scheduling", "EventType": "New"},
        "Patient": who,
        "Visit": {"VisitNumber": "APPT-9", "VisitDateTime": "2026-11-10T10:00:00.000Z", "Duration": 30,
                  "Reason": "Follow-up visit", "AttendingProvider": {"ID": npi}},
    });
    assert_eq!(post(booking).await, StatusCode::OK);
    let found = fhir
        .search(
            "Appointment",
            &[("patient", "0000000003"), ("date", "2026-11-10")],
        )
        .await;
    let ours: Vec<Value> = resources(&found)
        .into_iter()
        .filter(|a| a["identifier"][0]["value"] == "APPT-9")
        .collect();
    assert_eq!(ours.len(), 1, "{found}");
    assert_eq!(ours[0]["start"], "2026-11-10T10:00:00.000Z");
    let actors: Vec<&str> = ours[0]["participant"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["actor"]["reference"].as_str())
        .collect();
    assert!(actors.contains(&"Patient/0000000003"));
    assert!(
        actors.contains(&format!("Practitioner/{npi}").as_str()),
        "{actors:?}"
    );
    let id = ours[0]["id"].as_str().expect("id");
    assert_eq!(
        fhir.get(&format!("Appointment/{id}")).await.0,
        StatusCode::OK
    );
}
