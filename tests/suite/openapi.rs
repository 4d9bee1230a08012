//! `GET /openapi.json`: served without a token, OpenAPI 3.1, naming exactly the routes
//! the router serves, and real answers valid against the schemas it documents.

use crate::common;

use common::{TestEngine, payload};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use switchboard::model::Role;

const LAB: &str = r#"
[[sources]]
name = "Lab"
environment = "development"

[[subscriptions]]
source = "Lab"
destination = "Sandbox EHR"
data_models = ["*"]
"#;

async fn engine() -> TestEngine {
    // The sandbox is built in; a source of our own is subscribed to it.
    TestEngine::start(LAB).await
}

async fn document(te: &TestEngine) -> Value {
    let response = common::client()
        .get(te.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200, "served without a token");
    let media = response.headers()["content-type"].to_str().expect("text");
    assert!(media.starts_with("application/json"), "{media}");
    response.json().await.expect("a JSON document")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_served_without_a_token() {
    let te = engine().await;
    let doc = document(&te).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");
    for scheme in ["sourceToken", "adminToken", "metricsToken"] {
        assert_eq!(
            doc["components"]["securitySchemes"][scheme]["scheme"], "bearer",
            "{scheme}"
        );
    }
    // The derived schemas are there, with their wire names.
    let log = &doc["components"]["schemas"]["LogRecord"]["properties"];
    for field in ["id", "requestId", "type", "status", "createdAt"] {
        assert!(log.get(field).is_some(), "LogRecord.{field} in {log}");
    }
}

/// `(METHOD, /path/{param})` of every route the router serves, read from the routers'
/// source (axum cannot list a router's routes). A `.route(` this cannot read fails the
/// test rather than being skipped.
fn served_routes() -> BTreeSet<(String, String)> {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = Vec::new();
    collect(&api, &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let relative = file.strip_prefix(&api).expect("under src/api");
        let in_admin = relative.starts_with("admin") || relative == Path::new("admin.rs");
        let prefix = if in_admin { "/admin/v1" } else { "" };
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            let call = &rest[at + ".route(".len()..];
            let end = closing(call).unwrap_or_else(|| panic!("{file:?}: unclosed .route("));
            let (path_arg, methods) = call[..end].split_once(',').expect("two arguments");
            let paths = route_paths(path_arg.trim())
                .unwrap_or_else(|| panic!("{file:?}: cannot read the route {path_arg}"));
            let methods = methods_of(methods);
            assert!(
                !methods.is_empty(),
                "{file:?}: no method in {}",
                &call[..end]
            );
            for path in paths {
                for method in &methods {
                    routes.insert((method.clone(), format!("{prefix}{path}")));
                }
            }
            rest = &call[end..];
        }
    }
    routes
}

fn collect(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The index of the parenthesis that closes a call whose arguments start `text`.
fn closing(text: &str) -> Option<usize> {
    let mut depth = 1;
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A route's path: a literal, or the Platform API's `format!("{base}…")` under v0 and
/// v1 (see `api::platform_api::routes`).
fn route_paths(arg: &str) -> Option<Vec<String>> {
    if let Some(literal) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        return Some(vec![literal.to_string()]);
    }
    let tail = arg
        .strip_prefix("&format!(\"{base}")?
        .strip_suffix("\")")?
        .replace("{{", "{")
        .replace("}}", "}");
    Some(
        ["v0", "v1"]
            .iter()
            .map(|v| format!("/platform/{v}/organizations/{{org}}{tail}"))
            .collect(),
    )
}

fn methods_of(router: &str) -> Vec<String> {
    let mut out = Vec::new();
    for method in ["get", "post", "put", "patch", "delete"] {
        let mut rest = router;
        while let Some(at) = rest.find(&format!("{method}(")) {
            let before = rest[..at].chars().last();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                out.push(method.to_uppercase());
            }
            rest = &rest[at + method.len()..];
        }
    }
    out
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_route_is_documented_and_every_documented_one_served() {
    let te = engine().await;
    let doc = document(&te).await;
    let served = served_routes();
    // The scan itself must see the routers (a broken scan must not pass by finding none).
    assert!(served.contains(&("POST".into(), "/endpoint".into())));
    assert!(served.contains(&("GET".into(), "/admin/v1/logs/{id}".into())));
    let documented = documented(&doc);
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(extra.is_empty(), "documented but not served: {extra:?}");

    // And each documented operation reaches a handler of the running engine: never the
    // router's "no route" 404 nor its 405 (path parameters filled with a made-up value).
    for (method, path) in &documented {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let response = common::client()
            .request(method.clone(), te.url(&concrete))
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_ne!(status, 405, "{method} {concrete}: {text}");
        assert!(
            !text.contains("There is no route")
                && !text.contains("There is no FHIR route")
                && !text.contains("There is no Platform API route"),
            "{method} {concrete} reached no route: {text}"
        );
    }
}

/// Validates `body` against the schema `doc` gives for that answer.
fn assert_matches(doc: &Value, method: &str, path: &str, status: u16, media: &str, body: &Value) {
    let schema =
        doc["paths"][path][method]["responses"][status.to_string()]["content"][media]["schema"]
            .clone();
    assert!(
        !schema.is_null(),
        "{method} {path} documents no {status} in {media}"
    );
    // The document as the root, so the schema's `#/components/...` references resolve.
    let mut root = doc.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["allOf"] = json!([schema]);
    let validator = jsonschema::draft202012::new(&root).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_their_documented_schemas() {
    let te = engine().await;
    let doc = document(&te).await;
    let json_media = "application/json";

    // Errors in each shape.
    let (status, body) = te.get("/admin/v1/logs", None).await;
    assert_eq!(status, 401);
    assert_matches(&doc, "get", "/admin/v1/logs", 401, json_media, &body);
    let (status, body) = te
        .get("/fhir/R4/sandbox-ehr/Development/metadata", None)
        .await;
    assert_eq!(status, 401);
    let fhir = "application/fhir+json";
    assert_matches(
        &doc,
        "get",
        "/fhir/R4/{slug}/{env}/metadata",
        401,
        fhir,
        &body,
    );
    let (status, body) = te
        .post_raw("/v2/auth/token", None, b"grant_type=password")
        .await;
    assert_eq!(status, 400);
    assert_matches(&doc, "post", "/v2/auth/token", 400, json_media, &body);
    let admin = te.admin_token(Role::Admin);
    let (status, body) = te
        .get("/platform/v1/organizations/nope/environments", Some(&admin))
        .await;
    assert_eq!(status, 404);
    let environments = "/platform/v1/organizations/{org}/environments";
    assert_matches(&doc, "get", environments, 404, json_media, &body);

    // Successes, through the derived schemas.
    let token = te.token("Lab").await;
    let sandbox = te.destination_id("Sandbox EHR");
    let sent = payload("PatientAdmin", "Arrival", &[sandbox], "M1");
    let (status, body) = te.post_json("/endpoint", Some(&token), &sent).await;
    assert_eq!(status, 200, "{body}");
    assert_matches(&doc, "post", "/endpoint", 200, json_media, &body);
    let (status, page) = te.get("/admin/v1/logs", Some(&admin)).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page["logs"].as_array().expect("logs").is_empty(), "{page}");
    assert_matches(&doc, "get", "/admin/v1/logs", 200, json_media, &page);
    let id = page["logs"][0]["id"].as_str().expect("id");
    let (status, body) = te.get(&format!("/admin/v1/logs/{id}"), Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_matches(&doc, "get", "/admin/v1/logs/{id}", 200, json_media, &body);
    let (status, body) = te.get("/admin/v1/status", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_matches(&doc, "get", "/admin/v1/status", 200, json_media, &body);

    // And the schemas do refuse: a log without its ID is not a page of logs.
    let mut broken = page.clone();
    broken["logs"][0].as_object_mut().expect("log").remove("id");
    let result = std::panic::catch_unwind(|| {
        assert_matches(&doc, "get", "/admin/v1/logs", 200, json_media, &broken)
    });
    assert!(result.is_err(), "a log without its id passed the schema");
}
