//! The console's seam end to end: both clients hand the console the same wire types,
//! the admin API serializes them, and what the console needs from an engine (the sample
//! values its templates are filled with) comes from that engine.

use crate::common;

use common::{TestEngine, destination_toml, source_toml, subscription_toml, verification_token};
use switchboard::client::wire::{ConnectionsView, EnvironmentView};
use switchboard::client::{Engine, Local, Remote};
use switchboard::model::{Environment, Role};

fn config() -> String {
    let mut c = source_toml("Lab", "staging", None);
    c += &destination_toml("Acme EHR", "staging", &common::closed_url());
    c += &subscription_toml("Lab", "Acme EHR", &["*"]);
    c
}

async fn environments(client: &dyn Engine) -> Vec<EnvironmentView> {
    client.environments().await.expect("environments")
}

/// Development carries the engine's sandbox samples; Staging and Production carry none
/// (no test patient there to name), and both clients say the same.
#[tokio::test]
async fn the_engines_samples_travel_in_the_development_view() {
    let te = TestEngine::start(&config()).await;
    let local = Local::new(te.engine.clone(), Role::Viewer, "test", &te.base);
    let remote = Remote::new(&te.base, &te.admin_token(Role::Viewer)).expect("client");
    let (by_local, by_remote) = (environments(&local).await, environments(&remote).await);
    for envs in [&by_local, &by_remote] {
        let dev = envs
            .iter()
            .find(|e| e.name == Environment::Development)
            .expect("Development");
        let samples = dev.samples.as_ref().expect("Development has samples");
        // The profile's `{{mrn}}` is the samples' patient: one patient throughout.
        assert_eq!(dev.variables.get("mrn"), Some(&samples.mrn));
        assert!(!samples.first_name.is_empty());
        for other in envs.iter().filter(|e| e.name != Environment::Development) {
            assert_eq!(other.samples, None, "{}", other.name);
        }
    }
    assert_eq!(
        by_local.iter().map(|e| &e.samples).collect::<Vec<_>>(),
        by_remote.iter().map(|e| &e.samples).collect::<Vec<_>>()
    );

    // The JSON field is what the console reads; an answer without it (an older
    // engine's) still parses.
    let (status, body) = te
        .get(
            "/admin/v1/environments",
            Some(&te.admin_token(Role::Viewer)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["name"], "Development");
    assert_eq!(body[0]["samples"]["mrn"], body[0]["variables"]["mrn"]);
    assert!(body[1].get("samples").is_none(), "{body}");
    let mut older = body.clone();
    for env in older.as_array_mut().expect("array") {
        env.as_object_mut().expect("object").remove("samples");
    }
    let parsed: Vec<EnvironmentView> = serde_json::from_value(older).expect("older answer");
    assert!(parsed.iter().all(|e| e.samples.is_none()));
}

/// A destination reaches the console without its verification token, through either
/// client, and the admin API's JSON reads back as the same wire type.
#[tokio::test]
async fn connections_are_the_same_wire_type_at_both_ends_and_carry_no_secret() {
    let te = TestEngine::start(&config()).await;
    let token = te.admin_token(Role::Admin);
    let local = Local::new(te.engine.clone(), Role::Admin, "test", &te.base);
    let remote = Remote::new(&te.base, &token).expect("client");
    let by_local = local.connections(None).await.expect("local");
    let by_remote = remote.connections(None).await.expect("remote");
    assert_eq!(by_local, by_remote);
    let (status, body) = te.get("/admin/v1/connections", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let secret = verification_token("Acme EHR");
    assert!(!body.to_string().contains(&secret), "{body}");
    let acme = body["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == "Acme EHR")
        .expect("Acme EHR");
    assert!(acme.get("verificationToken").is_none(), "{acme}");
    assert_eq!(acme["mode"], "push");
    assert_eq!(acme["delivery"]["queueKey"], "pair");
    let parsed: ConnectionsView = serde_json::from_value(body).expect("wire type");
    assert_eq!(parsed, by_local);
}
