//! The harness of the sandbox's FHIR tests: the FHIR R4 JSON Schema (compiled once per
//! test binary), the checks beyond it (no empty elements), and a sandbox served on a
//! loopback port the way the engine mounts it. Each test binary uses a part of it.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use switchboard::sandbox::panel::{DEFAULT_PATIENTS, DEFAULT_SEED, Panel};
use switchboard::sandbox::{PATH, Sandbox};

pub fn schema() -> &'static jsonschema::Validator {
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
pub fn assert_fhir(resource: &Value) {
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

pub struct Fhir {
    pub base: String,
    pub client: reqwest::Client,
    pub _server: tokio::task::JoinHandle<()>,
}

impl Fhir {
    pub async fn start() -> Fhir {
        let app = axum::Router::new().nest_service(PATH, Sandbox::new().router());
        let (url, server) = crate::common::serve_stub(app).await;
        let root = url.trim_end_matches("/redox");
        Fhir {
            base: format!("{root}{PATH}/fhir"),
            client: crate::common::client(),
            _server: server,
        }
    }

    pub async fn answer(&self, response: reqwest::Response) -> (StatusCode, Value) {
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

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{path}", self.base)
        };
        let response = self.client.get(url).send().await.expect("GET");
        self.answer(response).await
    }

    /// `POST {type}/_search` with a form body.
    pub async fn search_post(&self, kind: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
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

    pub async fn search(&self, kind: &str, form: &[(&str, &str)]) -> Value {
        let query = serde_urlencoded::to_string(form).expect("query");
        let (status, bundle) = self.get(&format!("{kind}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{kind}?{query}: {bundle}");
        self.check_bundle(kind, &bundle);
        bundle
    }

    #[track_caller]
    pub fn check_bundle(&self, kind: &str, bundle: &Value) {
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

    pub async fn message(&self, bundle: &Value, token: Option<&str>) -> (StatusCode, Value) {
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

pub fn resources(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|list| list.iter().map(|e| e["resource"].clone()).collect())
        .unwrap_or_default()
}

pub fn ids(bundle: &Value) -> Vec<String> {
    resources(bundle)
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

/// Every relative reference (`Type/id`) in a resource.
pub fn references(value: &Value, out: &mut BTreeSet<String>) {
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

pub fn panel() -> &'static Panel {
    static PANEL: OnceLock<Panel> = OnceLock::new();
    PANEL.get_or_init(|| Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS))
}
