//! The admin API (`/admin/v1`): history search with its filters and paging, PHI
//! masking by role with the audit trail, and the connections list.

use crate::common;

use axum::http::StatusCode;
use chrono::{Duration as ChronoDuration, Utc};
use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use switchboard::engine::config::{CONSOLE_SOURCE_ID, CONSOLE_SOURCE_NAME};
use switchboard::model::Role;
use uuid::Uuid;

// ---- setup -----------------------------------------------------------------

/// Development: "Lab" and "Clinic" → "EHR" (answers queries) and "Lab" → "Billing"
/// (fails queries with HTTP 500). Staging: "Stage Lab" → "Stage EHR". Production:
/// "Prod Lab" → "Prod EHR" (answers queries).
fn config(ok_url: &str, failing_url: &str) -> String {
    let mut c = String::new();
    c += &source_toml("Lab", "development", None);
    c += &source_toml("Clinic", "development", None);
    c += &source_toml("Stage Lab", "staging", None);
    c += &source_toml("Prod Lab", "production", None);
    c += &destination_toml("EHR", "development", ok_url);
    c += &destination_toml("Billing", "development", failing_url);
    c += &destination_toml("Stage EHR", "staging", &closed_url());
    c += &destination_toml("Prod EHR", "production", ok_url);
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c += &subscription_toml("Lab", "Billing", &["*"]);
    c += &subscription_toml("Clinic", "EHR", &["PatientAdmin"]);
    c += &subscription_toml("Stage Lab", "Stage EHR", &["*"]);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["*"]);
    c
}

/// The audit trail's payload reveals, newest first (setup pauses are audited too).
fn reveals(te: &TestEngine) -> Vec<switchboard::store::AuditEntry> {
    te.store()
        .audit_trail(100)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "reveal-payload")
        .collect()
}

struct Setup {
    te: TestEngine,
    _ok: StubDestination,
    _failing: StubDestination,
}

async fn setup() -> Setup {
    let ok = StubDestination::start(StubReply::Json(
        200,
        json!({
            "Meta": {"DataModel": "PatientSearch", "EventType": "Query"},
            "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}],
                        "Demographics": {"FirstName": "Timothy", "LastName": "Bixby"}}
        }),
    ))
    .await;
    let failing = StubDestination::start(StubReply::Text(500, "down".into())).await;
    let te = TestEngine::start(&config(&ok.url, &failing.url)).await;
    // History tests want notifications to stay PENDING: hold push delivery (queries,
    // which answer at once, are not affected by a pause).
    for name in ["EHR", "Billing", "Prod EHR"] {
        let id = te.destination_id(name);
        te.engine.set_paused(id, true, "test").await.expect("pause");
    }
    Setup {
        te,
        _ok: ok,
        _failing: failing,
    }
}

/// Sends `body` to `path` as `source` and returns the log IDs of `Meta.Logs`.
async fn send(te: &TestEngine, token: &str, path: &str, body: &Value) -> Vec<Uuid> {
    let (status, answer) = te.post_json(path, Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["Meta"]["Logs"]
        .as_array()
        .expect("Meta.Logs")
        .iter()
        .map(|l| uuid_of(&l["ID"]))
        .collect()
}

fn search_query(destination: Uuid, mrn: &str) -> Value {
    json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Destinations": [{"ID": destination}]},
        "Patient": {"Identifiers": [{"ID": mrn, "IDType": "MR"}]}
    })
}

/// The traffic the filter tests search through. Log IDs by name.
struct Traffic {
    arrival: Uuid,         // Lab → EHR, PatientAdmin Arrival, MRN-1
    results: Uuid,         // Lab → Billing, Results New, MRN-2
    discharge: Uuid,       // Clinic → EHR, PatientAdmin Discharge, MRN-1
    staging: Uuid,         // Stage Lab → Stage EHR, PatientAdmin Arrival, MRN-3
    query_ok: Uuid,        // Lab → EHR, PatientSearch Query, MRN-4, SUCCEEDED
    query_failed: Uuid,    // Lab → Billing, PatientSearch Query, MRN-4, FAILED
    fan_out_ehr: Uuid,     // Lab → EHR, Results New, MRN-5
    fan_out_billing: Uuid, // Lab → Billing, Results New, MRN-5
}

impl Traffic {
    fn all(&self) -> Vec<Uuid> {
        vec![
            self.arrival,
            self.results,
            self.discharge,
            self.staging,
            self.query_ok,
            self.query_failed,
            self.fan_out_ehr,
            self.fan_out_billing,
        ]
    }
}

async fn traffic(te: &TestEngine) -> Traffic {
    let lab = te.token("Lab").await;
    let clinic = te.token("Clinic").await;
    let stage = te.token("Stage Lab").await;
    let (ehr, billing, stage_ehr) = (
        te.destination_id("EHR"),
        te.destination_id("Billing"),
        te.destination_id("Stage EHR"),
    );
    let arrival = send(
        te,
        &lab,
        "/endpoint",
        &payload("PatientAdmin", "Arrival", &[ehr], "MRN-1"),
    )
    .await[0];
    let results = send(
        te,
        &lab,
        "/endpoint",
        &payload("Results", "New", &[billing], "MRN-2"),
    )
    .await[0];
    let discharge = send(
        te,
        &clinic,
        "/endpoint",
        &payload("PatientAdmin", "Discharge", &[ehr], "MRN-1"),
    )
    .await[0];
    let staging = send(
        te,
        &stage,
        "/endpoint",
        &payload("PatientAdmin", "Arrival", &[stage_ehr], "MRN-3"),
    )
    .await[0];
    let query_ok = send(te, &lab, "/query", &search_query(ehr, "MRN-4")).await[0];
    let (status, answer) = te
        .post_json("/query", Some(&lab), &search_query(billing, "MRN-4"))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    let query_failed = uuid_of(&answer["Meta"]["Logs"][0]["ID"]);
    let fan = send(
        te,
        &lab,
        "/endpoint",
        &payload("Results", "New", &[ehr, billing], "MRN-5"),
    )
    .await;
    Traffic {
        arrival,
        results,
        discharge,
        staging,
        query_ok,
        query_failed,
        fan_out_ehr: fan[0],
        fan_out_billing: fan[1],
    }
}

/// `GET /admin/v1/logs` with the given filters: the page's log IDs and `next`.
async fn page(te: &TestEngine, token: &str, query: &[(&str, &str)]) -> (Vec<Uuid>, Option<Uuid>) {
    let (status, body) = te.get_query("/admin/v1/logs", token, query).await;
    assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
    let ids = body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("no logs array: {body}"))
        .iter()
        .map(|l| uuid_of(&l["id"]))
        .collect();
    let next = body.get("next").filter(|n| !n.is_null()).map(uuid_of);
    (ids, next)
}

/// Query-string pairs of `GET /admin/v1/logs`.
type Filter<'a> = Vec<(&'a str, &'a str)>;

/// Newest first: log IDs are UUIDv7, so that is descending ID order.
fn newest_first(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids.reverse();
    ids
}

// ---- access ----------------------------------------------------------------

#[tokio::test]
async fn logs_need_an_admin_token() {
    let s = setup().await;
    let te = &s.te;
    let source_token = te.token("Lab").await;
    for (what, bearer) in [
        ("no token", None),
        ("source access token", Some(source_token.as_str())),
        ("garbage", Some("sbt_0123456789abcdef_nope")),
    ] {
        for path in [
            "/admin/v1/logs".to_string(),
            format!("/admin/v1/logs/{}", Uuid::now_v7()),
            "/admin/v1/connections".to_string(),
        ] {
            let (status, body) = te.get(&path, bearer).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} on {path}: {body}");
            error_texts(&body);
        }
    }
    for role in [Role::Viewer, Role::Phi, Role::Operator, Role::Admin] {
        let token = te.admin_token(role);
        let (status, body) = te.get("/admin/v1/logs", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{role:?}: {body}");
        assert_eq!(body["logs"], json!([]));
    }
}

#[tokio::test]
async fn unknown_admin_routes_and_methods_answer_in_the_platform_shape() {
    let s = setup().await;
    let te = &s.te;
    let admin = te.admin_token(Role::Admin);
    let (status, body) = te.get("/admin/v1/nope", Some(&admin)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no route");
    let (status, body) = te
        .post_json("/admin/v1/logs", Some(&admin), &json!({}))
        .await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "not allowed");
}

#[tokio::test]
async fn one_log_by_id() {
    let s = setup().await;
    let te = &s.te;
    let admin = te.admin_token(Role::Admin);
    let (status, body) = te.get("/admin/v1/logs/not-a-uuid", Some(&admin)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "not a log ID");
    let missing = Uuid::now_v7();
    let (status, body) = te
        .get(&format!("/admin/v1/logs/{missing}"), Some(&admin))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, &missing.to_string());
}

// ---- filters ---------------------------------------------------------------

#[tokio::test]
async fn every_filter_narrows_the_history() {
    let s = setup().await;
    let te = &s.te;
    let t = traffic(te).await;
    let admin = te.admin_token(Role::Admin);
    let clinic_id = te.source_id("Clinic").to_string();
    let billing_id = te.destination_id("Billing").to_string();

    let cases: Vec<(Filter, Vec<Uuid>)> = vec![
        (vec![], t.all()),
        (
            vec![("env", "Development")],
            t.all().into_iter().filter(|id| *id != t.staging).collect(),
        ),
        (vec![("env", "staging")], vec![t.staging]),
        (vec![("env", "PRODUCTION")], vec![]),
        (
            vec![("source", "Lab")],
            vec![
                t.arrival,
                t.results,
                t.query_ok,
                t.query_failed,
                t.fan_out_ehr,
                t.fan_out_billing,
            ],
        ),
        (vec![("source", "clinic")], vec![t.discharge]),
        (vec![("source", &clinic_id)], vec![t.discharge]),
        (
            vec![("destination", "Billing")],
            vec![t.results, t.query_failed, t.fan_out_billing],
        ),
        (
            vec![("destination", &billing_id)],
            vec![t.results, t.query_failed, t.fan_out_billing],
        ),
        (
            vec![("dataModel", "Results")],
            vec![t.results, t.fan_out_ehr, t.fan_out_billing],
        ),
        (
            vec![("dataModel", "PatientAdmin"), ("eventType", "Arrival")],
            vec![t.arrival, t.staging],
        ),
        (vec![("eventType", "Discharge")], vec![t.discharge]),
        (vec![("type", "REQUEST")], vec![t.query_ok, t.query_failed]),
        (
            vec![("type", "send")],
            vec![
                t.arrival,
                t.results,
                t.discharge,
                t.staging,
                t.fan_out_ehr,
                t.fan_out_billing,
            ],
        ),
        (vec![("status", "SUCCEEDED")], vec![t.query_ok]),
        (vec![("status", "failed")], vec![t.query_failed]),
        (
            vec![("status", "PENDING")],
            vec![
                t.arrival,
                t.results,
                t.discharge,
                t.staging,
                t.fan_out_ehr,
                t.fan_out_billing,
            ],
        ),
        (vec![("mrn", "MRN-1")], vec![t.arrival, t.discharge]),
        (vec![("mrn", "MRN-4")], vec![t.query_ok, t.query_failed]),
        (vec![("mrn", "MRN-")], vec![]),
        (
            vec![
                ("source", "Lab"),
                ("dataModel", "Results"),
                ("destination", "EHR"),
            ],
            vec![t.fan_out_ehr],
        ),
        (
            vec![
                ("env", "Development"),
                ("status", "PENDING"),
                ("mrn", "MRN-1"),
            ],
            vec![t.arrival, t.discharge],
        ),
        (vec![("type", "REQUEST"), ("status", "PENDING")], vec![]),
    ];
    for (query, want) in cases {
        let (ids, next) = page(te, &admin, &query).await;
        assert_eq!(ids, newest_first(want), "filter {query:?}");
        assert_eq!(next, None, "filter {query:?}");
    }

    // Every returned log really matches (checked on the records, not the IDs).
    let (status, body) = te
        .get_query(
            "/admin/v1/logs",
            &admin,
            &[("source", "Lab"), ("type", "SEND")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for log in body["logs"].as_array().expect("logs") {
        assert_eq!(log["sourceName"], "Lab", "{log}");
        assert_eq!(log["type"], "SEND", "{log}");
        assert!(is_utc_millis(log["createdAt"].as_str().expect("createdAt")));
    }
}

#[tokio::test]
async fn since_and_until_bound_the_creation_time() {
    let s = setup().await;
    let te = &s.te;
    let t = traffic(te).await;
    let admin = te.admin_token(Role::Admin);
    let logs = te.all_logs();
    let oldest = logs.iter().map(|l| l.created_at).min().expect("logs");
    let newest = logs.iter().map(|l| l.created_at).max().expect("logs");
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();

    let wide = [
        ("since", fmt(oldest - ChronoDuration::seconds(1))),
        ("until", fmt(newest + ChronoDuration::seconds(1))),
    ];
    let wide: Vec<(&str, &str)> = wide.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(page(te, &admin, &wide).await.0, newest_first(t.all()));

    let future = fmt(Utc::now() + ChronoDuration::hours(1));
    assert_eq!(
        page(te, &admin, &[("since", &future)]).await.0,
        Vec::<Uuid>::new()
    );
    let past = fmt(oldest - ChronoDuration::seconds(1));
    assert_eq!(
        page(te, &admin, &[("until", &past)]).await.0,
        Vec::<Uuid>::new()
    );
    // Bounds the wrong way round select nothing (and break nothing).
    let (ids, next) = page(te, &admin, &[("since", &future), ("until", &past)]).await;
    assert!(ids.is_empty() && next.is_none());
    // Offsets other than Z are honoured.
    let past_offset = (oldest - ChronoDuration::seconds(1))
        .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("offset"))
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    assert_eq!(
        page(te, &admin, &[("since", &past_offset)]).await.0,
        newest_first(t.all())
    );
    assert_eq!(
        page(te, &admin, &[("until", &past_offset)]).await.0,
        Vec::<Uuid>::new()
    );

    // Both bounds at one log's creation time include it; whatever else comes back was
    // created within a millisecond of it.
    let pivot = te.store().log(t.discharge).expect("store").expect("log");
    let at = fmt(pivot.created_at);
    let (ids, _) = page(te, &admin, &[("since", &at), ("until", &at)]).await;
    assert!(ids.contains(&t.discharge), "{ids:?}");
    for log in logs.iter().filter(|l| ids.contains(&l.id)) {
        let gap = (log.created_at - pivot.created_at).num_milliseconds().abs();
        assert!(gap <= 1, "log {} is {gap} ms away", log.id);
    }
    // The bounds combine with other filters.
    let (ids, _) = page(te, &admin, &[("since", &at), ("source", "Clinic")]).await;
    assert_eq!(ids, vec![t.discharge]);
    let (ids, _) = page(te, &admin, &[("until", &at), ("source", "Clinic")]).await;
    assert_eq!(ids, vec![t.discharge]);
}

#[tokio::test]
async fn paging_with_before_next_covers_everything_once() {
    let s = setup().await;
    let te = &s.te;
    let t = traffic(te).await;
    let admin = te.admin_token(Role::Admin);

    for (filter, want) in [
        (vec![], t.all()),
        (
            vec![("source", "Lab")],
            vec![
                t.arrival,
                t.results,
                t.query_ok,
                t.query_failed,
                t.fan_out_ehr,
                t.fan_out_billing,
            ],
        ),
    ] {
        for limit in ["1", "3", "4"] {
            let mut seen: Vec<Uuid> = Vec::new();
            let mut before: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut query = filter.clone();
                query.push(("limit", limit));
                if let Some(b) = &before {
                    query.push(("before", b.as_str()));
                }
                let (ids, next) = page(te, &admin, &query).await;
                pages += 1;
                assert!(pages <= 20, "paging does not end");
                assert!(ids.len() <= limit.parse().expect("limit"), "{ids:?}");
                let fresh: HashSet<Uuid> = ids.iter().copied().collect();
                assert!(
                    seen.iter().all(|id| !fresh.contains(id)),
                    "pages overlap: {seen:?} then {ids:?}"
                );
                seen.extend(&ids);
                match next {
                    Some(n) => {
                        assert_eq!(Some(&n), ids.last(), "next is the page's last log");
                        before = Some(n.to_string());
                    }
                    None => break,
                }
            }
            assert_eq!(
                seen,
                newest_first(want.clone()),
                "filter {filter:?} limit {limit}"
            );
        }
    }
}

#[tokio::test]
async fn bad_filter_values_are_400_with_text() {
    let s = setup().await;
    let te = &s.te;
    let admin = te.admin_token(Role::Viewer);
    for (key, value, needle) in [
        ("env", "qa", "env"),
        ("status", "DONE", "status"),
        ("type", "PUSH", "type"),
        ("source", "Nobody", "no source named \"Nobody\""),
        ("destination", "Nowhere", "no destination named \"Nowhere\""),
        ("before", "yesterday", "before"),
        ("since", "yesterday", "since"),
        ("since", "2024-05-01", "since"),
        ("until", "2024-05-01T12:00:00", "until"),
    ] {
        let (status, body) = te
            .get_query("/admin/v1/logs", &admin, &[(key, value)])
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, needle);
    }
}

#[tokio::test]
async fn a_malformed_limit_is_400_in_the_platform_shape() {
    // Every error of the API leaves in the platform's shape; the query-string
    // extractor's own rejection does not.
    let s = setup().await;
    let te = &s.te;
    let admin = te.admin_token(Role::Viewer);
    for limit in ["abc", "-1"] {
        let (status, body) = te
            .get_query("/admin/v1/logs", &admin, &[("limit", limit)])
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "limit");
    }
}

// ---- PHI -------------------------------------------------------------------

/// A Production notification and query, and a Development notification.
async fn phi_traffic(te: &TestEngine) -> (Uuid, Uuid, Uuid) {
    let prod = te.token("Prod Lab").await;
    let lab = te.token("Lab").await;
    let prod_ehr = te.destination_id("Prod EHR");
    let prod_send = send(
        te,
        &prod,
        "/endpoint",
        &payload("PatientAdmin", "Arrival", &[prod_ehr], "MRN-P"),
    )
    .await[0];
    let prod_query = send(te, &prod, "/query", &search_query(prod_ehr, "MRN-Q")).await[0];
    let dev_send = send(
        te,
        &lab,
        "/endpoint",
        &payload(
            "PatientAdmin",
            "Arrival",
            &[te.destination_id("EHR")],
            "MRN-D",
        ),
    )
    .await[0];
    (prod_send, prod_query, dev_send)
}

async fn detail(te: &TestEngine, token: &str, id: Uuid) -> Value {
    let (status, body) = te.get(&format!("/admin/v1/logs/{id}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn production_payloads_are_masked_without_the_phi_role() {
    let s = setup().await;
    let te = &s.te;
    let (prod_send, prod_query, _) = phi_traffic(te).await;

    for role in [Role::Viewer, Role::Operator] {
        let token = te.admin_token(role);
        for id in [prod_send, prod_query] {
            let d = detail(te, &token, id).await;
            assert_eq!(d["masked"], true, "{role:?}: {d}");
            assert!(d.get("request").is_none(), "{role:?} sees the request: {d}");
            assert!(
                d.get("response").is_none(),
                "{role:?} sees the response: {d}"
            );
            assert!(d["log"].get("patientId").is_none(), "{role:?}: {d}");
            for attempt in d["attempts"].as_array().expect("attempts") {
                assert!(attempt.get("responseBody").is_none(), "{role:?}: {d}");
            }
            // The metadata stays visible.
            let log = &d["log"];
            assert_eq!(log["environment"], "Production");
            assert_eq!(log["sourceName"], "Prod Lab");
            assert_eq!(log["destinationName"], "Prod EHR");
            assert!(log["dataModel"].is_string() && log["eventType"].is_string());
            assert!(log["type"].is_string() && log["status"].is_string());
            assert!(is_utc_millis(log["createdAt"].as_str().expect("createdAt")));
        }
        let (status, body) = te
            .get_query("/admin/v1/logs", &token, &[("env", "Production")])
            .await;
        assert_eq!(status, StatusCode::OK);
        let logs = body["logs"].as_array().expect("logs");
        assert_eq!(logs.len(), 2);
        for log in logs {
            assert!(log.get("patientId").is_none(), "{role:?} list: {log}");
        }
    }
    assert!(
        reveals(te).is_empty(),
        "a masked view was audited as a reveal"
    );
}

#[tokio::test]
async fn the_phi_role_sees_production_payloads_and_each_reveal_is_audited() {
    let s = setup().await;
    let te = &s.te;
    let (prod_send, prod_query, _) = phi_traffic(te).await;
    let phi = te.admin_token(Role::Phi);

    let d = detail(te, &phi, prod_send).await;
    assert_eq!(d["masked"], false, "{d}");
    assert_eq!(d["request"]["Patient"]["Identifiers"][0]["ID"], "MRN-P");
    assert_eq!(d["log"]["patientId"], "MRN-P");
    let trail = reveals(te);
    assert_eq!(trail.len(), 1, "{trail:#?}");
    assert_eq!(trail[0].log_id, Some(prod_send));
    assert_eq!(trail[0].action, "reveal-payload");
    assert!(trail[0].actor.contains("test-phi"), "{:?}", trail[0].actor);
    assert!((Utc::now() - trail[0].at).num_seconds().abs() < 5);

    let d = detail(te, &phi, prod_query).await;
    assert_eq!(d["masked"], false);
    assert_eq!(
        d["response"]["Patient"]["Demographics"]["LastName"],
        "Bixby"
    );
    assert!(d["attempts"][0]["responseBody"].is_string(), "{d}");

    // Admin sees too, and is audited as well; newest first.
    let admin = te.admin_token(Role::Admin);
    let d = detail(te, &admin, prod_send).await;
    assert_eq!(d["masked"], false);
    assert!(d.get("request").is_some());
    let trail = reveals(te);
    assert_eq!(trail.len(), 3, "{trail:#?}");
    assert_eq!(trail[0].log_id, Some(prod_send));
    assert!(
        trail[0].actor.contains("test-admin"),
        "{:?}",
        trail[0].actor
    );
    assert_eq!(trail[1].log_id, Some(prod_query));

    // Lists show the patient to the phi role.
    let (_, body) = te
        .get_query("/admin/v1/logs", &phi, &[("env", "Production")])
        .await;
    let logs = body["logs"].as_array().expect("logs");
    assert!(logs.iter().all(|l| l["patientId"].is_string()), "{body}");
}

#[tokio::test]
async fn development_payloads_are_visible_to_a_viewer_without_audit() {
    let s = setup().await;
    let te = &s.te;
    let (_, _, dev_send) = phi_traffic(te).await;
    let viewer = te.admin_token(Role::Viewer);
    let d = detail(te, &viewer, dev_send).await;
    assert_eq!(d["masked"], false, "{d}");
    assert_eq!(d["request"]["Patient"]["Identifiers"][0]["ID"], "MRN-D");
    assert_eq!(d["log"]["patientId"], "MRN-D");
    let (_, body) = te
        .get_query("/admin/v1/logs", &viewer, &[("env", "Development")])
        .await;
    assert_eq!(body["logs"][0]["patientId"], "MRN-D", "{body}");
    assert!(reveals(te).is_empty());
}

#[tokio::test]
async fn a_viewer_cannot_find_production_logs_by_patient_identifier() {
    // The list hides Production patient identifiers from a viewer, but the `mrn`
    // filter still matches on them: a viewer can test whether a given patient appears
    // in Production traffic (and when, where, what event).
    let s = setup().await;
    let te = &s.te;
    let (prod_send, _, _) = phi_traffic(te).await;
    let viewer = te.admin_token(Role::Viewer);
    let (status, body) = te
        .get_query("/admin/v1/logs", &viewer, &[("mrn", "MRN-P")])
        .await;
    if status == StatusCode::OK {
        let ids: Vec<Uuid> = body["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .map(|l| uuid_of(&l["id"]))
            .collect();
        assert!(
            !ids.contains(&prod_send),
            "a viewer found Production log {prod_send} by MRN"
        );
    } else {
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        error_texts(&body);
    }
}

// ---- connections -----------------------------------------------------------

#[tokio::test]
async fn connections_list_the_console_source_and_the_configured_ones() {
    let s = setup().await;
    let te = &s.te;
    let viewer = te.admin_token(Role::Viewer);
    let (status, body) = te.get("/admin/v1/connections", Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let sources = body["sources"].as_array().expect("sources");
    let console = sources
        .iter()
        .find(|s| s["name"] == CONSOLE_SOURCE_NAME)
        .unwrap_or_else(|| panic!("no console source: {body}"));
    assert_eq!(uuid_of(&console["id"]), CONSOLE_SOURCE_ID);
    assert_eq!(console["environment"], "Development");
    for (name, env) in [
        ("Lab", "Development"),
        ("Clinic", "Development"),
        ("Stage Lab", "Staging"),
        ("Prod Lab", "Production"),
    ] {
        let s = sources
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no source {name}: {body}"));
        assert_eq!(uuid_of(&s["id"]), te.source_id(name));
        assert_eq!(s["environment"], env);
    }
    // The configured ones plus the built-in console and sandbox sources.
    assert_eq!(sources.len(), 6, "{body}");
    assert!(sources.iter().any(|s| s["name"] == "Sandbox Dev Tools"));

    let destinations = body["destinations"].as_array().expect("destinations");
    assert_eq!(destinations.len(), 5, "{body}");
    let sandbox = destinations
        .iter()
        .find(|d| d["name"] == "Sandbox EHR")
        .unwrap_or_else(|| panic!("no sandbox: {body}"));
    assert_eq!(sandbox["environment"], "Development");
    assert!(
        sandbox["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&te.base) && u.ends_with("/sandbox/ehr")),
        "{sandbox}"
    );
    for name in ["EHR", "Billing", "Stage EHR", "Prod EHR"] {
        let d = destinations
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("no destination {name}: {body}"));
        assert_eq!(uuid_of(&d["id"]), te.destination_id(name));
        assert!(d["url"].is_string(), "{d}");
    }
    let subscriptions = body["subscriptions"].as_array().expect("subscriptions");
    // Five configured, plus console → sandbox and sandbox dev tools → sandbox.
    assert_eq!(subscriptions.len(), 7, "{body}");
    assert!(subscriptions.iter().any(|s| {
        s["sourceId"] == json!(te.source_id("Clinic"))
            && s["destinationId"] == json!(te.destination_id("EHR"))
            && s["dataModels"] == json!(["PatientAdmin"])
    }));

    // Verification tokens are secrets: never listed.
    let text = body.to_string();
    for name in ["EHR", "Billing", "Stage EHR", "Prod EHR"] {
        assert!(
            !text.contains(&verification_token(name)),
            "verification token listed"
        );
    }
}
