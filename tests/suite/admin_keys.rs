//! `GET|POST /admin/v1/keys` (issue 17, keys without leaving the console): admin role
//! only, every creation audited without its secret, no secret in any listing, last use
//! noted when a token is issued, a JWKS that cannot be used is a 400 that says why.

use crate::common;

use common::{TestEngine, closed_url, destination_toml, source_toml, subscription_toml};
use serde_json::{Value, json};
use switchboard::model::Role;

fn config() -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &destination_toml("EHR", "development", &closed_url());
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c
}

async fn create(engine: &TestEngine, token: &str, body: Value) -> (u16, Value) {
    let (status, answer) = engine.post_json("/admin/v1/keys", Some(token), &body).await;
    (status.as_u16(), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_lists_and_revokes_keys_and_other_roles_may_not() {
    let engine = TestEngine::start(&config()).await;
    let admin = engine.admin_token(Role::Admin);
    for role in [Role::Viewer, Role::Operator] {
        let token = engine.admin_token(role);
        let (status, _) = engine.get("/admin/v1/keys", Some(&token)).await;
        assert_eq!(status.as_u16(), 403, "{role:?} listed keys");
        let (status, body) =
            create(&engine, &token, json!({"source": "Lab", "kind": "legacy"})).await;
        assert_eq!(status, 403, "{role:?} created a key: {body}");
    }

    let (status, legacy) =
        create(&engine, &admin, json!({"source": "lab", "kind": "legacy"})).await;
    assert_eq!(status, 200, "{legacy}");
    assert_eq!(legacy["kind"], "legacy");
    assert_eq!(legacy["source"], "Lab");
    let secret = legacy["secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    let (status, hs) = create(&engine, &admin, json!({"source": "Lab", "kind": "hs384"})).await;
    assert_eq!(status, 200, "{hs}");
    assert_eq!(hs["kind"], "hs384");
    let hs_secret = hs["secret"].as_str().expect("the HS384 secret").to_string();

    // The legacy key works, and its use is noted.
    let (status, grant) = engine
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": legacy["apiKey"], "secret": secret}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{grant}");

    let (status, listing) = engine.get("/admin/v1/keys", Some(&admin)).await;
    assert_eq!(status.as_u16(), 200);
    let text = listing.to_string();
    assert!(
        !text.contains(&secret) && !text.contains(&hs_secret),
        "a secret is listed: {text}"
    );
    let keys = listing.as_array().expect("a list");
    let ours = keys
        .iter()
        .find(|k| k["apiKey"] == legacy["apiKey"])
        .unwrap_or_else(|| panic!("the new key is not listed: {listing}"));
    assert_eq!(ours["kind"], "legacy");
    assert_eq!(ours["source"], "Lab");
    assert_eq!(ours["revoked"], false);
    assert!(ours["created"].as_str().is_some(), "{ours}");
    assert!(
        ours["lastUsed"].as_str().is_some(),
        "its use is not noted: {ours}"
    );
    let client = keys
        .iter()
        .find(|k| k["apiKey"] == hs["apiKey"])
        .unwrap_or_else(|| panic!("the HS384 client is not listed: {listing}"));
    assert_eq!(client["kind"], "hs384");
    assert!(client.get("lastUsed").is_none(), "never used: {client}");

    // Revoked: still listed, as revoked.
    let key = legacy["apiKey"].as_str().expect("key");
    let (status, _) = engine
        .post_json(
            &format!("/admin/v1/keys/{key}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(status.as_u16(), 200);
    let (_, listing) = engine.get("/admin/v1/keys", Some(&admin)).await;
    let ours = listing
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["apiKey"] == legacy["apiKey"])
        .cloned()
        .expect("still listed");
    assert_eq!(ours["revoked"], true, "{ours}");

    // Audited, without the secrets.
    let trail = engine.store().audit_trail(100).expect("audit");
    let created: Vec<_> = trail.iter().filter(|e| e.action == "key.create").collect();
    assert_eq!(created.len(), 2, "{trail:?}");
    let all = format!("{trail:?}");
    assert!(!all.contains(&secret) && !all.contains(&hs_secret), "{all}");
    assert!(all.contains(key), "the creation names the key: {all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_to_create_a_key_says_what_was_wrong() {
    let engine = TestEngine::start(&config()).await;
    let admin = engine.admin_token(Role::Admin);
    let (status, body) = create(
        &engine,
        &admin,
        json!({"source": "Nobody", "kind": "legacy"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.to_string().contains("Lab"),
        "names the sources: {body}"
    );
    let (status, body) = create(
        &engine,
        &admin,
        json!({"source": "Lab", "kind": "jwks", "jwks": {"keys": []}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["Meta"]["Errors"][0]["Text"]
            .as_str()
            .is_some_and(|t| t.contains("JWKS")),
        "{body}"
    );
    let (status, body) = create(&engine, &admin, json!({"source": "Lab", "kind": "rsa"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["Meta"]["Errors"][0]["Text"]
            .as_str()
            .is_some_and(|t| t.contains("legacy")),
        "{body}"
    );
}
