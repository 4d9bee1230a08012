//! The composer's FHIR requests on the wire: the sender posts a search as a form body
//! and a message as `application/fhir+json` to the FHIR API's paths, with the source's
//! token and `Redox-Source-Id`, and reads the answer. The engine's FHIR API is built
//! elsewhere; here a stub on loopback answers as it would, and a real engine only hands
//! out the token.

use crate::common;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use common::TestEngine;
use std::sync::{Arc, Mutex};
use switchboard::client::Local;
use switchboard::client::send::Sender;
use switchboard::model::fhir::summary::summary;
use switchboard::model::fhir::{FhirKind, MESSAGES, request};
use switchboard::model::{Environment, Role};

/// The log the stub names for an accepted message.
const ACCEPTED_LOG: &str = "01900000-aaaa-7bbb-8ccc-000000004242";

/// What the stub saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: String,
}

/// A FHIR API stub: a searchset for `_search`, an accepting OperationOutcome for a
/// message with a MessageHeader, a 400 OperationOutcome for anything else; every
/// request recorded.
async fn fhir_stub() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                let search = uri.path().ends_with("/_search");
                let message = String::from_utf8_lossy(&body).contains("MessageHeader");
                log.lock().expect("lock").push(Seen {
                    method,
                    uri: uri.to_string(),
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let (status, answer) = if search {
                    (
                        StatusCode::OK,
                        serde_json::json!({
                            "resourceType": "Bundle", "type": "searchset", "total": 1,
                            "link": [{"relation": "self", "url": "http://engine/fhir/R4/sandbox-ehr/Development/Patient"}],
                            "entry": [{"fullUrl": "http://engine/fhir/R4/sandbox-ehr/Development/Patient/p1",
                                       "search": {"mode": "match"},
                                       "resource": {"resourceType": "Patient", "id": "p1",
                                                    "name": [{"family": "Baker", "given": ["Abigail"]}]}}]
                        }),
                    )
                } else if message {
                    // As the engine accepts a message: the outcome's id is the log's.
                    (
                        StatusCode::OK,
                        serde_json::json!({"resourceType": "OperationOutcome", "id": ACCEPTED_LOG,
                            "issue": [{"severity": "information", "code": "informational",
                                       "details": {"text": "Accepted"}}]}),
                    )
                } else {
                    (
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"resourceType": "OperationOutcome", "issue": [
                            {"severity": "error", "code": "invalid",
                             "details": {"text": "the first entry must be a MessageHeader"}}]}),
                    )
                };
                (
                    status,
                    [("content-type", "application/fhir+json")],
                    answer.to_string(),
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn a_fhir_search_is_posted_as_a_form_and_its_bundle_read() {
    let te = TestEngine::start("").await;
    let local = Local::new(te.engine.clone(), Role::Admin, "test", &te.base);
    let console = te.source_id("Switchboard Console");
    let (stub, seen) = fhir_stub().await;
    let sender = Sender::new(&stub).expect("sender");

    let search = request::build(
        FhirKind::Search("Patient"),
        "Sandbox EHR",
        Some("sandbox-ehr"),
        Environment::Development,
        console,
        "# find her\nfamily=O'Brien\nbirthdate=ge1970-01-01\ngiven=Abigail\n",
    )
    .expect("builds");
    let answer = sender
        .send_fhir(&local, console, search)
        .await
        .expect("answered");
    assert_eq!(answer.status, 200);
    let body = answer.body.expect("JSON");
    assert_eq!(summary(&body).as_deref(), Some("1 patient: Baker, Abigail"));

    let got = seen.lock().expect("lock")[0].clone();
    assert_eq!(got.method, Method::POST);
    // No patient value in the URL: the parameters are the body.
    assert_eq!(got.uri, "/fhir/R4/sandbox-ehr/Development/Patient/_search");
    assert_eq!(
        got.body,
        "family=O%27Brien&birthdate=ge1970-01-01&given=Abigail"
    );
    let header = |name: &str| {
        got.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "application/x-www-form-urlencoded");
    assert_eq!(header("redox-source-id"), console.to_string());
    let token = header("authorization");
    assert!(
        token.starts_with("Bearer ") && token.len() > 20,
        "the source's token: {token}"
    );
}

#[tokio::test]
async fn a_fhir_message_is_posted_as_fhir_json_and_an_outcome_read() {
    let te = TestEngine::start("").await;
    let local = Local::new(te.engine.clone(), Role::Admin, "test", &te.base);
    let console = te.source_id("Switchboard Console");
    let (stub, seen) = fhir_stub().await;
    let sender = Sender::new(&stub).expect("sender");
    let bundle = "{\"resourceType\": \"Bundle\", \"type\": \"message\", \"entry\": []}\n";
    let message = request::build(
        FhirKind::Message(&MESSAGES[0]),
        "Sandbox EHR",
        Some("sandbox-ehr"),
        Environment::Development,
        console,
        bundle,
    )
    .expect("builds");
    let answer = sender
        .send_fhir(&local, console, message)
        .await
        .expect("answered");
    assert_eq!(answer.status, 400);
    let body = answer.body.expect("JSON");
    assert_eq!(
        summary(&body).as_deref(),
        Some("error: the first entry must be a MessageHeader")
    );
    let got = seen.lock().expect("lock")[0].clone();
    assert_eq!(
        got.uri,
        "/fhir/R4/sandbox-ehr/Development/Observation/$observation-create"
    );
    assert_eq!(got.body, bundle, "sent byte for byte");
    assert_eq!(
        got.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/fhir+json")
    );
    assert!(answer.logs.is_empty(), "a refused message made no log");

    // Accepted: the outcome names the log, which the feed then follows.
    let accepted = request::build(
        FhirKind::Message(&MESSAGES[0]),
        "Sandbox EHR",
        Some("sandbox-ehr"),
        Environment::Development,
        console,
        "{\"resourceType\": \"Bundle\", \"type\": \"message\", \"entry\": [{\"resource\": {\"resourceType\": \"MessageHeader\"}}]}",
    )
    .expect("builds");
    let answer = sender
        .send_fhir(&local, console, accepted)
        .await
        .expect("answered");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.logs,
        vec![uuid::Uuid::parse_str(ACCEPTED_LOG).expect("uuid")]
    );
}
