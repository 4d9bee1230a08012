//! A small FHIR server for the FHIR API tests: canned Patient answers (read, search by
//! GET and POST `_search`, paging with `_count=1` and `_offset`), a 404
//! OperationOutcome, a 500, a slow answer, and `$process-message`, recording every
//! request it gets; and the config and assertions the FHIR tests share.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone)]
struct Stub {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

pub struct FhirStub {
    /// `http://127.0.0.1:PORT/fhir`: what `fhir_url` names.
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FhirStub {
    pub async fn start() -> FhirStub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stub = Stub {
            base: base.clone(),
            seen: seen.clone(),
        };
        let app = Router::new()
            .route("/fhir/Patient", get(search))
            .route("/fhir/Patient/_search", post(search_form))
            .route("/fhir/Patient/{id}", get(read))
            .route("/fhir/{op}", post(process))
            .layer(axum::middleware::from_fn_with_state(stub.clone(), record))
            .with_state(stub);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FhirStub { base, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn record(
    State(stub): State<Stub>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    stub.seen.lock().expect("lock").push(Seen {
        method: parts.method.clone(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body: bytes.to_vec(),
    });
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    next.run(request).await
}

fn fhir(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/fhir+json")],
        body.to_string(),
    )
        .into_response()
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id,
           "identifier": [{"system": "urn:mrn", "value": "0000000001"}],
           "name": [{"family": "Baker", "given": ["Ann"]}], "birthDate": "1980-01-02"})
}

async fn read(Path(id): Path<String>) -> Response {
    match id.as_str() {
        "missing" => fhir(
            StatusCode::NOT_FOUND,
            json!({"resourceType": "OperationOutcome",
                   "issue": [{"severity": "error", "code": "not-found",
                              "details": {"text": "no such patient"}}]}),
        ),
        "boom" => fhir(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            fhir(StatusCode::OK, patient(&id))
        }
        _ => fhir(StatusCode::OK, patient(&id)),
    }
}

fn searchset(stub: &Stub, query: &str) -> Value {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let offset = params.iter().any(|(k, v)| k == "_offset" && v == "1");
    let paged = params.iter().any(|(k, v)| k == "_count" && v == "1");
    let id = if offset { "p2" } else { "p1" };
    let mut links =
        vec![json!({"relation": "self", "url": format!("{}/Patient?{query}", stub.base)})];
    if paged && !offset {
        links.push(json!({"relation": "next",
                          "url": format!("{}/Patient?{query}&_offset=1", stub.base)}));
    }
    json!({"resourceType": "Bundle", "type": "searchset", "total": 2, "link": links,
           "entry": [{"fullUrl": format!("{}/Patient/{id}", stub.base),
                      "resource": patient(id), "search": {"mode": "match"}}]})
}

async fn search(State(stub): State<Stub>, RawQuery(query): RawQuery) -> Response {
    fhir(
        StatusCode::OK,
        searchset(&stub, query.as_deref().unwrap_or("")),
    )
}

async fn search_form(State(stub): State<Stub>, body: Bytes) -> Response {
    fhir(
        StatusCode::OK,
        searchset(&stub, &String::from_utf8_lossy(&body)),
    )
}

async fn process(uri: Uri) -> Response {
    if uri.path().ends_with("$process-message") {
        return fhir(
            StatusCode::OK,
            json!({"resourceType": "Bundle", "type": "message"}),
        );
    }
    fhir(
        StatusCode::NOT_FOUND,
        json!({"resourceType": "OperationOutcome", "issue": []}),
    )
}

pub fn config(stub: &str, extra: &str) -> String {
    format!(
        r#"
[engine]
query_timeout_seconds = 2

[[sources]]
name = "Lab"
environment = "development"

[[sources]]
name = "Clinic"
environment = "development"

[[sources]]
name = "Prod App"
environment = "production"

[[destinations]]
name = "Acme FHIR"
environment = "development"
fhir_slug = "acme"
fhir_url = "{stub}"
verification_token = "vt-acme"
verified = true

[[destinations]]
name = "Prod FHIR"
environment = "production"
fhir_slug = "acme-prod"
fhir_url = "{stub}"
verification_token = "vt-prod"
verified = true

[[subscriptions]]
source = "Lab"
destination = "Acme FHIR"
data_models = ["FHIR.*"]

[[subscriptions]]
source = "Clinic"
destination = "Acme FHIR"
data_models = ["FHIR.Practitioner"]

[[subscriptions]]
source = "Prod App"
destination = "Prod FHIR"
data_models = ["FHIR.*"]
{extra}"#
    )
}

/// One request to the engine; the status, content type and JSON body.
pub async fn call(
    _engine: &crate::common::TestEngine,
    request: reqwest::RequestBuilder,
) -> (StatusCode, String, Value) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, kind, body)
}

/// Asserts an OperationOutcome error with `status` whose text mentions `needle`.
pub fn assert_outcome(got: &(StatusCode, String, Value), status: u16, needle: &str) {
    let (s, kind, body) = got;
    assert_eq!(s.as_u16(), status, "{body}");
    assert!(kind.starts_with("application/fhir+json"), "{kind}: {body}");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert!(body.get("Meta").is_none(), "{body}");
    let issue = &body["issue"][0];
    assert!(
        issue["severity"].is_string() && issue["code"].is_string(),
        "{body}"
    );
    let text = issue["details"]["text"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(
        text.contains(&needle.to_lowercase()),
        "{needle:?} not in {body}"
    );
}
