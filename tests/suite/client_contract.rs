//! One contract, two implementations: the console's `Engine` trait answered by an
//! engine in the same process (`Local`) and by one over the admin API (`Remote`).

use crate::common;

use common::bin::{BIN, Served, spawn_serve};
use common::{TestEngine, closed_url, destination_toml, payload, source_toml, subscription_toml};
use std::time::Duration;
use switchboard::client::send::{PlatformPath, Sender};
use switchboard::client::{Action, ClientError, Engine, FeedEvent, Local, Remote, Revoke};
use switchboard::model::filter::Filter;
use switchboard::model::view::{NewKey, NewKeyKind};
use switchboard::model::{Environment, Role};
use switchboard::store::LogQuery;
use switchboard::store::composer_history::Sent;
use uuid::Uuid;

fn config() -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &source_toml("Prod Lab", "production", None);
    c += &destination_toml("EHR", "development", &closed_url());
    c += "retry_schedule_seconds = [600]\n";
    c += &destination_toml("Prod EHR", "production", &closed_url());
    c += "retry_schedule_seconds = [600]\n";
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["*"]);
    c
}

async fn send(te: &TestEngine, source: &str, destination: &str, mrn: &str) -> Uuid {
    let token = te.token(source).await;
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(&token),
            &payload(
                "PatientAdmin",
                "Arrival",
                &[te.destination_id(destination)],
                mrn,
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["Meta"]["Logs"][0]["ID"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("log id")
}

async fn next_log(
    feed: &mut tokio::sync::mpsc::Receiver<FeedEvent>,
) -> switchboard::model::LogRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, feed.recv()).await {
            Ok(Some(FeedEvent::Log(log))) => return *log,
            Ok(Some(_)) => continue,
            _ => panic!("no log event arrived"),
        }
    }
}

/// What every implementation must do, for a client with the admin role.
async fn admin_contract(client: &dyn Engine, te: &TestEngine) {
    let status = client.status().await.expect("status");
    assert_eq!(status.role, Role::Admin);
    assert!(status.phi_visible);

    let envs = client.environments().await.expect("environments");
    assert_eq!(envs.len(), 3);
    assert!(
        envs.iter()
            .any(|e| e.name == Environment::Development && e.sources >= 3)
    );

    let dev = client
        .connections(Some(Environment::Development))
        .await
        .expect("connections");
    assert!(
        dev.sources
            .iter()
            .all(|s| s.source.environment == Environment::Development)
    );
    assert!(
        dev.destinations
            .iter()
            .any(|d| d.destination.name == "Sandbox EHR")
    );
    assert!(dev.destinations.iter().any(|d| d.destination.name == "EHR"));

    // The feed is filtered at the engine.
    let mut feed = client
        .subscribe(Filter::parse("src:Lab dm:PatientAdmin").expect("filter"))
        .await
        .expect("subscribe");
    let prod_id = send(te, "Prod Lab", "Prod EHR", "MRN-P").await;
    let id = send(te, "Lab", "EHR", "MRN-D").await;
    let seen = next_log(&mut feed).await;
    assert_eq!(seen.id, id, "only Lab's logs pass the filter");
    assert_eq!(seen.source_name, "Lab");

    let page = client
        .logs(LogQuery {
            source: Some(te.source_id("Lab")),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("logs");
    assert_eq!(page.logs.first().map(|l| l.id), Some(id));

    let detail = client.log(prod_id).await.expect("log").expect("exists");
    assert!(!detail.masked);
    assert_eq!(detail.detail.log.patient_id.as_deref(), Some("MRN-P"));
    assert!(detail.detail.request.is_some());
    assert!(client.log(Uuid::now_v7()).await.expect("log").is_none());

    let ehr = te.destination_id("EHR");
    client.act(Action::Pause(ehr)).await.expect("pause");
    let view = client
        .connections(Some(Environment::Development))
        .await
        .expect("connections");
    let d = view
        .destinations
        .iter()
        .find(|d| d.destination.id == ehr)
        .expect("EHR");
    assert!(d.paused);
    assert_eq!(d.queue_depth, 1);
    client.act(Action::Resume(ehr)).await.expect("resume");
    let refused = client.act(Action::Release(id)).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 409, .. })),
        "{refused:?}"
    );

    // The composer's way out: the platform API as a source, with a token from the engine.
    let sender = Sender::new(&te.base).expect("sender");
    let body = payload("PatientAdmin", "Arrival", &[ehr], "MRN-C").to_string();
    let answer = sender
        .send(client, te.source_id("Lab"), PlatformPath::Endpoint, body)
        .await
        .expect("send");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.logs.len(), 1);
    let sent = client
        .log(answer.logs[0])
        .await
        .expect("log")
        .expect("exists");
    assert_eq!(sent.detail.log.source_name, "Lab");
    let query = serde_json::json!({
        "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                 "Destinations": [{"ID": "5b7c0a11-c0de-4e57-8a00-000000000e4e"}]},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
    });
    let console = te.source_id("Switchboard Console");
    let answer = sender
        .send(client, console, PlatformPath::Query, query.to_string())
        .await
        .expect("query");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let body = answer.body.expect("JSON answer");
    assert_eq!(
        body["Patient"]["Demographics"]["FirstName"], "Abigail",
        "{body}"
    );
    // The composer's history: recorded, then listed newest first, bodies kept.
    let sent = |env: Environment, body: &str| Sent {
        environment: env,
        source_id: console,
        source_name: "Switchboard Console".into(),
        destination_id: te.destination_id("Sandbox EHR"),
        destination_name: "Sandbox EHR".into(),
        data_model: "PatientSearch".into(),
        event_type: "Query".into(),
        body: Some(body.into()),
        status: Some(200),
        elapsed_ms: 3,
        log_ids: answer.logs.clone(),
        error: None,
        summary: None,
    };
    client
        .record_sent(sent(Environment::Development, "{\"dev\": 1}"))
        .await
        .expect("record");
    client
        .record_sent(sent(
            Environment::Production,
            "{\"MRN\": \"PHI-IN-HISTORY\"}",
        ))
        .await
        .expect("record");
    let history = client.sent_history(None, 10).await.expect("history");
    assert_eq!(history.entries.len(), 2);
    assert_eq!(
        history.entries[0].sent.body.as_deref(),
        Some("{\"MRN\": \"PHI-IN-HISTORY\"}"),
        "newest first, and an admin keeps and sees Production bodies"
    );
    let page = client.sent_history(None, 1).await.expect("page");
    let older = client.sent_history(page.next, 1).await.expect("older page");
    assert_eq!(older.entries[0].sent.environment, Environment::Development);
    // A source that does not exist is said plainly.
    let refused = client.source_token(Uuid::now_v7()).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 404, .. })),
        "{refused:?}"
    );
    revoke_contract(client, te).await;
    keys_contract(client, te).await;
}

/// An admin revokes a key (its token ends at once) and admin tokens by name.
async fn revoke_contract(client: &dyn Engine, te: &TestEngine) {
    let (api_key, secret) = te.api_key("Lab");
    let (status, grant) = te
        .post_json(
            "/auth/authenticate",
            None,
            &serde_json::json!({"apiKey": api_key, "secret": secret}),
        )
        .await;
    assert_eq!(status, 200, "{grant}");
    let access = grant["accessToken"].as_str().expect("accessToken");
    let report = client
        .revoke(Revoke::Key(api_key.clone()))
        .await
        .expect("revoke key");
    assert_eq!(report.revoked.len(), 1, "{report:?}");
    assert_eq!(report.revoked[0].id, api_key);
    let (status, body) = te
        .post_json(
            "/endpoint",
            Some(access),
            &payload("PatientAdmin", "Arrival", &[te.destination_id("EHR")], "M"),
        )
        .await;
    assert_eq!(status, 401, "a revoked key's token ends at once: {body}");

    let name = format!("contract-{}", Uuid::new_v4().simple());
    let token = te
        .engine
        .credentials()
        .create_token(Role::Operator, &name)
        .expect("token")
        .1;
    let report = client
        .revoke(Revoke::Token(name.clone()))
        .await
        .expect("revoke token");
    assert_eq!(report.revoked.len(), 1, "{report:?}");
    let (status, body) = te.get("/admin/v1/status", Some(&token)).await;
    assert_eq!(status, 401, "{body}");
    let refused = client.revoke(Revoke::Token(name)).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 404, .. })),
        "{refused:?}"
    );
}

/// Keys: created with the secret once, listed without it, verification runs.
async fn keys_contract(client: &dyn Engine, te: &TestEngine) {
    let created = client
        .create_key(NewKey {
            source: "Lab".into(),
            kind: NewKeyKind::Hs384,
        })
        .await
        .expect("create a key");
    assert_eq!(created.kind, "hs384");
    let secret = created.secret.clone().expect("the secret, once");
    let keys = client.keys().await.expect("keys");
    assert!(
        keys.iter()
            .any(|k| k.api_key == created.api_key && k.kind == "hs384" && !k.revoked),
        "{keys:?}"
    );
    assert!(!format!("{keys:?}").contains(&secret));
    let refused = client
        .create_key(NewKey {
            source: "Nobody".into(),
            kind: NewKeyKind::Legacy,
        })
        .await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 404, .. })),
        "{refused:?}"
    );
    // The EHR's URL is closed: verification is tried and refused with the reason.
    let refused = client.act(Action::Verify(te.destination_id("EHR"))).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { .. })),
        "{refused:?}"
    );
}

/// A viewer sees Production metadata only and may not act.
async fn viewer_contract(client: &dyn Engine, te: &TestEngine) {
    let prod_id = send(te, "Prod Lab", "Prod EHR", "MRN-SECRET").await;
    let detail = client.log(prod_id).await.expect("log").expect("exists");
    assert!(detail.masked);
    assert!(detail.detail.request.is_none());
    assert!(detail.detail.log.patient_id.is_none());
    let page = client
        .logs(LogQuery {
            environment: Some(Environment::Production),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("logs");
    assert!(page.logs.iter().all(|l| l.patient_id.is_none()));
    // The composer history shows a viewer no Production body, and takes nothing from it.
    let history = client.sent_history(None, 50).await.expect("history");
    assert!(
        history
            .entries
            .iter()
            .filter(|e| e.sent.environment == Environment::Production)
            .all(|e| e.sent.body.is_none()),
        "{history:?}"
    );
    assert!(
        history
            .entries
            .iter()
            .all(|e| e.sent.body.as_deref() != Some("{\"MRN\": \"PHI-IN-HISTORY\"}"))
    );
    let mut sent = history.entries[0].sent.clone();
    sent.environment = Environment::Production;
    let refused = client.record_sent(sent).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "a viewer sends nothing, so records nothing: {refused:?}"
    );
    let refused = client.source_token(te.source_id("Prod Lab")).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "a viewer may not send: {refused:?}"
    );
    let refused = client.revoke(Revoke::Token("test-admin".into())).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "only an admin revokes: {refused:?}"
    );
    let refused = client
        .act(Action::Pause(te.destination_id("Prod EHR")))
        .await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let refused = client
        .logs(LogQuery {
            patient_id: Some("MRN-SECRET".into()),
            limit: 10,
            ..Default::default()
        })
        .await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let refused = client.keys().await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
}

async fn local_honours_the_contract() {
    let te = TestEngine::start(&config()).await;
    admin_contract(
        &Local::new(te.engine.clone(), Role::Admin, "test", &te.base),
        &te,
    )
    .await;
    viewer_contract(
        &Local::new(te.engine.clone(), Role::Viewer, "test", &te.base),
        &te,
    )
    .await;
}

async fn remote_honours_the_contract() {
    let te = TestEngine::start(&config()).await;
    let admin = Remote::new(&te.base, &te.admin_token(Role::Admin)).expect("client");
    admin_contract(&admin, &te).await;
    let viewer = Remote::new(&te.base, &te.admin_token(Role::Viewer)).expect("client");
    viewer_contract(&viewer, &te).await;
}

async fn the_composers_sender_reads_at_most_its_answer_limit() {
    // The platform it posts to answers without end; the token still comes from the
    // engine. Before the bound the sender read until its own 180 s timeout.
    let te = TestEngine::start(&config()).await;
    let local = Local::new(te.engine.clone(), Role::Admin, "test", &te.base);
    let sender = Sender::new(&common::endless_answer().await).expect("sender");
    let ehr = te.destination_id("EHR");
    let body = payload("PatientAdmin", "Arrival", &[ehr], "MRN-E").to_string();
    let send = sender.send(&local, te.source_id("Lab"), PlatformPath::Endpoint, body);
    let answer = tokio::time::timeout(Duration::from_secs(60), send)
        .await
        .expect("the sender stops reading at its limit")
        .expect("an answer");
    assert_eq!(answer.status, 200);
    let text = answer.body.expect_err("a cut answer is shown as text");
    assert_eq!(text.len(), switchboard::client::send::ANSWER_LIMIT);
}

/// `switchboard serve` on `data` with no configuration (its history on the shared
/// store at `store` when given).
fn serve(data: &std::path::Path, listen: &str, store: Option<&str>) -> (Served, String) {
    let mut command = std::process::Command::new(BIN);
    if let Some(url) = store {
        command.env("SWITCHBOARD_STORE", url);
    }
    command
        .args(["serve", "--listen", listen])
        .arg("--data-dir")
        .arg(data)
        // No config file there: the built-in Development setup.
        .env_remove("SWITCHBOARD_CONFIG")
        .env("XDG_CONFIG_HOME", data.join("no-config"))
        .env("SWITCHBOARD_LOG", "warn");
    spawn_serve(command)
}

async fn wait_for(
    feed: &mut tokio::sync::mpsc::Receiver<FeedEvent>,
    want: impl Fn(&FeedEvent) -> bool,
) -> FeedEvent {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match feed.recv().await {
                Some(event) if want(&event) => return event,
                Some(_) => continue,
                None => panic!("feed closed"),
            }
        }
    })
    .await
    .expect("the expected feed event")
}

async fn remote_survives_an_engine_restart_and_sigterm_is_not_held_by_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let store = match common::backing() {
        common::Backing::Sled => None,
        common::Backing::Postgres => Some(common::postgres::database().await.url),
    };
    let mut tokens = std::process::Command::new(BIN);
    if let Some(url) = &store {
        tokens.env("SWITCHBOARD_STORE", url);
    }
    let token = tokens
        .args([
            "tokens",
            "create",
            "--role",
            "admin",
            "--name",
            "t",
            "--json",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .expect("token");
    let token: serde_json::Value = serde_json::from_slice(&token.stdout).expect("json");
    let token = token["token"].as_str().expect("token").to_string();

    let (mut engine, base) = serve(&data, "127.0.0.1:0", store.as_deref());
    let client = Remote::new(&base, &token).expect("client");
    let mut feed = client
        .subscribe(Filter::default())
        .await
        .expect("subscribe");

    // SIGTERM with a live event stream attached: the engine still stops promptly.
    engine.terminate(Duration::from_secs(15)).await;
    wait_for(&mut feed, |e| matches!(e, FeedEvent::Disconnected { .. })).await;
    let refused = client.status().await;
    assert!(
        matches!(refused, Err(ClientError::Unreachable { .. })),
        "{refused:?}"
    );

    // The engine comes back on the same address: the feed reconnects by itself.
    let listen = base.trim_start_matches("http://").to_string();
    let (_engine, _) = serve(&data, &listen, store.as_deref());
    wait_for(&mut feed, |e| matches!(e, FeedEvent::Reconnected)).await;
    assert_eq!(client.status().await.expect("status").role, Role::Admin);
}

crate::on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] local_honours_the_contract;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] remote_honours_the_contract;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] the_composers_sender_reads_at_most_its_answer_limit;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] remote_survives_an_engine_restart_and_sigterm_is_not_held_by_streams;
}
