//! Organization records (issue 17): the config's `[[organizations]]` with their errors
//! and kept IDs, the time zones records inherit, `render_time_zone` on real deliveries
//! to loopback stubs (DST edges both ways), `sender-organization-id` on a forwarded
//! query, and the views that show them.

use crate::common;

use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use switchboard::engine::Config;
use switchboard::model::Role;
use uuid::Uuid;

const OWN_BUILTIN: &str = "5b7c0a11-c0de-4e57-8a00-0000000000a0";
const SANDBOX_ORG: &str = "5b7c0a11-c0de-4e57-8a00-0000000000a1";

/// Parses `text` as a config file; the error's text when it is refused.
fn refused(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    match Config::parse(text, &dir.path().join("config.toml"), dir.path()) {
        Ok(_) => panic!("config accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Two organizations ("Acme Health", yours, in Chicago; "Metro Clinic" in New York),
/// a source of each, and a destination of Metro's at `url` rendering in its zone.
fn config(url: &str, render: &str) -> String {
    format!(
        r#"
[[organizations]]
name = "Acme Health"
time_zone = "America/Chicago"
npi = "1234567893"
own = true

[[organizations]]
name = "Metro Clinic"
time_zone = "America/New_York"

[[sources]]
name = "Lab"
environment = "development"

[[sources]]
name = "Metro Sender"
environment = "development"
organization = "Metro Clinic"
timezone = "UTC"

[[destinations]]
name = "Metro EHR"
environment = "development"
organization = "metro clinic"
url = "{url}"
verification_token = "tok-Metro EHR"
{render}

[[subscriptions]]
source = "Lab"
destination = "Metro EHR"
data_models = ["*"]
"#
    )
}

#[test]
fn config_errors_say_which_line() {
    let unknown = refused(
        "[[sources]]\nname = \"Lab\"\nenvironment = \"development\"\norganization = \"Nobody\"\n",
    );
    assert!(
        unknown.contains("line 4") && unknown.contains("organization \"Nobody\" is not configured"),
        "{unknown}"
    );

    let two_own = refused(
        "[[organizations]]\nname = \"A\"\nown = true\n\n[[organizations]]\nname = \"B\"\nown = true\n",
    );
    assert!(
        two_own.contains("line 7") && two_own.contains("only one organization is yours"),
        "{two_own}"
    );

    let zone = refused("[[organizations]]\nname = \"A\"\ntime_zone = \"Mars/Olympus\"\n");
    assert!(
        zone.contains("line 3") && zone.contains("unknown time zone \"Mars/Olympus\""),
        "{zone}"
    );

    let render = refused(
        "[[destinations]]\nname = \"D\"\nenvironment = \"development\"\nurl = \"http://127.0.0.1:9/\"\nverification_token = \"t\"\nrender_time_zone = \"Nowhere\"\n",
    );
    assert!(
        render.contains("line 6") && render.contains("render_time_zone \"Nowhere\""),
        "{render}"
    );

    let builtin = refused("[[organizations]]\nname = \"Sandbox Health System\"\n");
    assert!(
        builtin.contains("line 2") && builtin.contains("built in"),
        "{builtin}"
    );
}

#[tokio::test]
async fn organizations_own_records_and_ids_are_kept_across_restarts() {
    let fixed = "0b1c2d3e-0000-4000-8000-000000000042";
    let text = config(&closed_url(), "").replace(
        "name = \"Metro Clinic\"\n",
        &format!("name = \"Metro Clinic\"\nid = \"{fixed}\"\n"),
    );
    let te = TestEngine::start(&text).await;
    let registry = te.engine.registry();
    let own = registry.own_organization().clone();
    assert_eq!(own.name, "Acme Health");
    assert_ne!(
        own.id.to_string(),
        OWN_BUILTIN,
        "a declared own one replaces it"
    );
    assert!(
        !registry
            .organizations
            .iter()
            .any(|o| o.name == "Switchboard"),
        "the built-in one is gone once yours is declared"
    );
    let metro = registry
        .organizations
        .iter()
        .find(|o| o.name == "Metro Clinic")
        .expect("Metro Clinic")
        .clone();
    assert_eq!(metro.id.to_string(), fixed);
    assert_eq!(
        registry.source_named("Lab").expect("Lab").organization,
        own.id
    );
    assert_eq!(
        registry
            .source_named("Metro Sender")
            .expect("sender")
            .organization,
        metro.id
    );
    assert_eq!(
        registry
            .destination_named("Metro EHR")
            .expect("EHR")
            .organization,
        metro.id
    );
    // The console speaks for you; the sandbox is its own organization.
    let console = registry
        .source_named("Switchboard Console")
        .expect("console source");
    assert_eq!(console.organization, own.id);
    let sandbox = registry
        .destination_named("Sandbox EHR")
        .expect("sandbox EHR");
    assert_eq!(sandbox.organization.to_string(), SANDBOX_ORG);

    let te = te.restart().await;
    assert_eq!(te.engine.registry().own_organization().id, own.id);
}

#[test]
fn without_a_declared_own_organization_yours_is_the_builtin_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(
        common::bin::LAB_TO_EHR,
        &dir.path().join("config.toml"),
        dir.path(),
    )
    .expect("valid");
    let own = config.registry.own_organization();
    assert_eq!(own.id.to_string(), OWN_BUILTIN);
    assert_eq!(own.name, "Switchboard");
    let lab = config.registry.source_named("Lab").expect("Lab");
    assert_eq!(lab.organization, own.id);
    assert_eq!(lab.timezone, chrono_tz::Tz::UTC);
}

/// Waits until `stub` has received `n` requests.
async fn received(stub: &StubDestination, n: usize) -> Vec<Recorded> {
    eventually_within("the stub's requests", Duration::from_secs(20), || {
        let seen = stub.requests().len();
        if seen >= n {
            Ok(())
        } else {
            Err(format!("{seen} of {n}"))
        }
    })
    .await;
    stub.requests()
}

#[tokio::test]
async fn a_source_reads_naive_times_in_its_organizations_zone() {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&stub.url, "")).await;
    // "Lab" sets no timezone: Acme Health's (Chicago, -05:00 in July) applies; the
    // destination sets no render_time_zone: it gets UTC.
    assert_eq!(
        te.engine
            .registry()
            .source_named("Lab")
            .expect("Lab")
            .timezone,
        chrono_tz::America::Chicago
    );
    let token = te.token("Lab").await;
    let mut request = payload(
        "PatientAdmin",
        "Arrival",
        &[te.destination_id("Metro EHR")],
        "M1",
    );
    request["Visit"] = json!({"VisitDateTime": "2026-07-01T10:00:00"});
    let (status, body) = te.post_json("/endpoint", Some(&token), &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = received(&stub, 1).await;
    assert_eq!(
        got[0].body["Visit"]["VisitDateTime"],
        "2026-07-01T15:00:00.000Z"
    );
}

/// Sends one notification from "Lab" (UTC instants at New York's DST edges, a date
/// and a look-alike that is no timestamp) and returns what the destination received.
async fn delivered_with(render: &str) -> Value {
    let stub = StubDestination::start(StubReply::Json(200, json!({}))).await;
    let te = TestEngine::start(&config(&stub.url, render)).await;
    let token = te.token("Lab").await;
    let mut request = payload(
        "PatientAdmin",
        "Arrival",
        &[te.destination_id("Metro EHR")],
        "M1",
    );
    request["Meta"]["EventDateTime"] = json!("2026-03-08T07:30:00Z");
    request["Visit"] = json!({
        "VisitDateTime": "2026-11-01T05:30:00.000Z",
        "DischargeDateTime": "2026-11-01T06:30:00.000Z",
        "AccountingDateTime": "2026-07-01",
        "Location": {"Department": "2026-07-01T10:00:00.000Z"}
    });
    let (status, body) = te.post_json("/endpoint", Some(&token), &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    received(&stub, 1).await[0].body.clone()
}

#[tokio::test]
async fn render_time_zone_writes_deliveries_with_the_zone_offset_across_dst() {
    for render in [
        "render_time_zone = \"America/New_York\"",
        // true: the destination's zone, here its organization's (New York).
        "render_time_zone = true",
    ] {
        let got = delivered_with(render).await;
        // Spring forward (07:00Z): 07:30Z is already EDT.
        assert_eq!(
            got["Meta"]["EventDateTime"], "2026-03-08T03:30:00.000-04:00",
            "{render}"
        );
        // Fall back (06:00Z): 01:30 local twice, told apart by the offset.
        assert_eq!(
            got["Visit"]["VisitDateTime"],
            "2026-11-01T01:30:00.000-04:00"
        );
        assert_eq!(
            got["Visit"]["DischargeDateTime"],
            "2026-11-01T01:30:00.000-05:00"
        );
        assert_eq!(got["Visit"]["AccountingDateTime"], "2026-07-01");
        assert_eq!(
            got["Visit"]["Location"]["Department"],
            "2026-07-01T10:00:00.000Z"
        );
        assert_eq!(got["Patient"]["Demographics"]["DOB"], "2008-01-06");
    }
    // Without it: UTC, the platform's default.
    let got = delivered_with("").await;
    assert_eq!(got["Meta"]["EventDateTime"], "2026-03-08T07:30:00.000Z");
    assert_eq!(got["Visit"]["VisitDateTime"], "2026-11-01T05:30:00.000Z");
}

fn search(destination: Uuid) -> Value {
    json!({
        "Meta": {
            "DataModel": "PatientSearch",
            "EventType": "Query",
            "Test": true,
            "Destinations": [{"ID": destination}]
        },
        "Patient": {"Demographics": {"FirstName": "Ann", "LastName": "Lee", "DOB": "1990-01-02"}}
    })
}

#[tokio::test]
async fn queries_carry_the_senders_organization_id() {
    let answer = json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query"},
        "Patient": {}
    });
    let stub = StubDestination::start(StubReply::Json(200, answer)).await;
    let te = TestEngine::start(&config(&stub.url, "")).await;
    let own = te.engine.registry().own_organization().id;
    let token = te.token("Lab").await;
    let ehr = te.destination_id("Metro EHR");

    let (status, body) = te.post_json("/query", Some(&token), &search(ehr)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = received(&stub, 1).await;
    let extension = &got[0].body["Meta"]["Extensions"]["sender-organization-id"];
    assert_eq!(extension["string"], own.to_string(), "{}", got[0].body);
    assert_eq!(
        extension["url"],
        "https://api.redoxengine.com/extensions/sender-organization-id"
    );

    // One the source set itself is left as it is.
    let mut mine = search(ehr);
    mine["Meta"]["Extensions"] =
        json!({"sender-organization-id": {"url": "x", "string": "theirs"}});
    let (status, body) = te.post_json("/query", Some(&token), &mine).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = received(&stub, 2).await;
    assert_eq!(
        got[1].body["Meta"]["Extensions"]["sender-organization-id"]["string"],
        "theirs"
    );
}

/// Checks a connections view (admin API or `connections --json`) names the
/// organizations and each record's.
fn check_view(view: &Value) {
    let orgs = view["organizations"].as_array().expect("organizations");
    let acme = &orgs[0];
    assert_eq!(acme["name"], "Acme Health", "yours first: {view}");
    assert_eq!(acme["own"], true);
    assert_eq!(acme["timeZone"], "America/Chicago");
    assert_eq!(acme["npi"], "1234567893");
    let named = |name: &str| {
        orgs.iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("no organization {name}: {view}"))
    };
    assert_eq!(named("Sandbox Health System")["id"], SANDBOX_ORG);
    let metro = named("Metro Clinic")["id"].clone();
    let record = |kind: &str, name: &str| {
        view[kind]
            .as_array()
            .expect("records")
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(record("destinations", "Metro EHR")["organization"], metro);
    assert_eq!(record("sources", "Lab")["organization"], acme["id"]);
    assert_eq!(
        record("destinations", "Sandbox EHR")["organization"],
        SANDBOX_ORG
    );
}

#[tokio::test]
async fn connections_views_show_organizations() {
    let te = TestEngine::start(&config(&closed_url(), "")).await;
    let admin = te.admin_token(Role::Admin);
    let (status, view) = te.get("/admin/v1/connections", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    check_view(&view);

    // The CLI reads the same file.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config(&closed_url(), ""))
        .expect("write config");
    check_view(&common::bin::cli_json(dir.path(), &["connections"]));
}
