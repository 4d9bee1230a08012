//! The audit trail (issue 19, point 3): PHI lists, MRN searches, failed logins, key
//! and token changes and operator actions are recorded with who, from where and which
//! logs; `GET /admin/v1/audit` is for admins, filtered and paged, and append-only;
//! refused operator actions and logins refused at the rate limit are recorded too (see
//! tests/suite/audit_commands.rs for `audit export` and the retention sweeps).

use crate::common;

use common::{TestEngine, closed_url, destination_toml, payload, source_toml, subscription_toml};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard::model::Role;
use uuid::Uuid;

/// A wrong secret sent on purpose: it must never reach the trail.
const WRONG_SECRET: &str = "wrong-secret-7f3a9c";

fn config() -> String {
    let mut c = source_toml("Lab", "development", None);
    c += &source_toml("Prod Lab", "production", None);
    c += &destination_toml("EHR", "development", &closed_url());
    c += &destination_toml("Prod EHR", "production", &closed_url());
    c += &subscription_toml("Lab", "EHR", &["*"]);
    c += &subscription_toml("Prod Lab", "Prod EHR", &["*"]);
    c
}

/// An engine with one Production notification for patient `MRN-P` (held: its
/// destination is paused) and one Development one; their log IDs.
async fn with_traffic() -> (TestEngine, Uuid, Uuid) {
    let te = TestEngine::start(&config()).await;
    for name in ["EHR", "Prod EHR"] {
        let id = te.destination_id(name);
        te.engine.set_paused(id, true, "test").await.expect("pause");
    }
    let mut ids = Vec::new();
    for (source, destination, mrn) in [("Prod Lab", "Prod EHR", "MRN-P"), ("Lab", "EHR", "MRN-D")] {
        let token = te.token(source).await;
        let body = payload(
            "PatientAdmin",
            "Arrival",
            &[te.destination_id(destination)],
            mrn,
        );
        let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
        assert_eq!(status.as_u16(), 200, "{answer}");
        let id = answer["Meta"]["Logs"][0]["ID"].as_str().expect("log id");
        ids.push(Uuid::parse_str(id).expect("uuid"));
    }
    (te, ids[0], ids[1])
}

/// Every entry of the trail through the API, newest first.
async fn trail(te: &TestEngine, admin: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let (status, body) = te.get_query("/admin/v1/audit", admin, query).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    body["entries"].as_array().expect("entries").clone()
}

fn of_action<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

fn logs_of(entry: &Value) -> Vec<String> {
    entry["logs"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn failed_logins(te: &TestEngine) -> String {
    let (api_key, _) = te.api_key("Prod Lab");
    let (status, _) = te
        .post_json(
            "/auth/authenticate",
            None,
            &json!({"apiKey": api_key, "secret": WRONG_SECRET}),
        )
        .await;
    assert_eq!(status.as_u16(), 401);
    let (status, _) = te
        .post_json(
            "/auth/refreshToken",
            None,
            &json!({"apiKey": api_key, "refreshToken": WRONG_SECRET}),
        )
        .await;
    assert_eq!(status.as_u16(), 401);
    let form = format!(
        "grant_type=client_credentials&client_id=unknown-client&client_assertion_type=\
         urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={WRONG_SECRET}"
    );
    let status = common::client()
        .post(te.url("/v2/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("token request")
        .status();
    assert!(status.is_client_error(), "{status}");
    api_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_audited_kind_names_who_from_where_and_which_logs() {
    let (te, prod_log, dev_log) = with_traffic().await;
    let admin = te.admin_token(Role::Admin);
    let phi = te.admin_token(Role::Phi);
    let viewer = te.admin_token(Role::Viewer);
    let operator = te.admin_token(Role::Operator);

    // A PHI list that shows Production MRNs; a viewer's masked list is not one.
    let (status, _) = te
        .get_query("/admin/v1/logs", &viewer, &[("env", "Production")])
        .await;
    assert_eq!(status.as_u16(), 200);
    assert!(of_action(&trail(&te, &admin, &[]).await, "list-phi").is_empty());
    let (status, page) = te.get_query("/admin/v1/logs", &phi, &[]).await;
    assert_eq!(status.as_u16(), 200, "{page}");
    // An MRN search.
    let (status, found) = te
        .get_query("/admin/v1/logs", &phi, &[("mrn", "MRN-P")])
        .await;
    assert_eq!(status.as_u16(), 200, "{found}");
    let api_key = failed_logins(&te).await;

    // Key and token changes.
    let (status, key) = te
        .post_json(
            "/admin/v1/keys",
            Some(&admin),
            &json!({"source": "Lab", "kind": "legacy"}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{key}");
    let new_key = key["apiKey"].as_str().expect("apiKey").to_string();
    let new_secret = key["secret"].as_str().expect("secret").to_string();
    let (status, body) = te
        .post_json(
            &format!("/admin/v1/keys/{new_key}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let (status, body) = te
        .post_json(
            "/admin/v1/tokens/test-viewer/revoke",
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");

    // Operator actions.
    for action in ["resume", "pause", "retry"] {
        let (status, body) = te
            .post_json(
                &format!("/admin/v1/destinations/Prod EHR/{action}"),
                Some(&operator),
                &json!({}),
            )
            .await;
        assert_eq!(status.as_u16(), 200, "{action}: {body}");
    }
    for action in ["quarantine", "release", "resend"] {
        let (status, body) = te
            .post_json(
                &format!("/admin/v1/logs/{prod_log}/{action}"),
                Some(&operator),
                &json!({}),
            )
            .await;
        assert_eq!(status.as_u16(), 200, "{action}: {body}");
    }
    let (status, body) = te
        .post_json("/admin/v1/config/reload", Some(&admin), &json!({}))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");

    let entries = trail(&te, &admin, &[("limit", "500")]).await;
    let one = |action: &str| -> Value {
        let found = of_action(&entries, action);
        assert!(!found.is_empty(), "no {action} entry in {entries:#?}");
        found[0].clone()
    };
    let prod = prod_log.to_string();

    let list = one("list-phi");
    assert_eq!(
        list["logs"],
        json!([prod]),
        "only Production MRNs shown count: {list}"
    );
    assert_eq!(list["role"], "phi");
    assert!(
        list["actor"].as_str().expect("actor").contains("test-phi"),
        "{list}"
    );
    let search = one("search-mrn");
    assert_eq!(logs_of(&search), vec![prod.clone()], "{search}");
    assert!(!search.to_string().contains(&dev_log.to_string()));

    let logins = of_action(&entries, "login-failed");
    assert_eq!(logins.len(), 3, "{logins:#?}");
    for route in ["/auth/authenticate", "/auth/refreshToken", "/v2/auth/token"] {
        assert!(
            logins
                .iter()
                .any(|e| e["detail"].as_str().is_some_and(|d| d.starts_with(route))),
            "no failed login on {route}: {logins:#?}"
        );
    }
    assert!(
        logins
            .iter()
            .any(|e| e["actor"] == format!("key:{api_key}"))
    );
    assert!(logins.iter().any(|e| e["actor"] == "key:unknown-client"));
    assert!(logins.iter().all(|e| e["outcome"] == "refused"));

    assert!(
        one("key.create")["detail"]
            .as_str()
            .expect("detail")
            .contains(&new_key)
    );
    one("revoke-key");
    one("revoke-token");
    for action in ["pause", "resume", "retry-now", "config.reload"] {
        assert!(one(action)["role"].is_string(), "{action}");
    }
    for action in ["quarantine", "release"] {
        assert_eq!(one(action)["logs"], json!([prod]), "{action}");
    }
    let resend = one("resend");
    assert_eq!(
        logs_of(&resend).len(),
        2,
        "the original and the new log: {resend}"
    );
    assert_eq!(logs_of(&resend)[0], prod);

    for entry in &entries {
        // Over HTTP from this test: the client's address, and a UTC time.
        if entry["actor"] != "test" {
            assert_eq!(entry["origin"], "127.0.0.1", "{entry}");
        }
        assert!(entry["at"].as_str().expect("at").ends_with('Z'), "{entry}");
        assert!(
            entry["id"].is_string() && entry["outcome"].is_string(),
            "{entry}"
        );
    }
    let all = serde_json::to_string(&entries).expect("json");
    for secret in [
        WRONG_SECRET,
        new_secret.as_str(),
        admin.as_str(),
        phi.as_str(),
    ] {
        assert!(!all.contains(secret), "a secret in the trail: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_read_the_trail_and_no_route_changes_it() {
    let te = TestEngine::start(&config()).await;
    let admin = te.admin_token(Role::Admin);
    for role in [Role::Viewer, Role::Operator, Role::Phi] {
        let token = te.admin_token(role);
        let (status, body) = te.get("/admin/v1/audit", Some(&token)).await;
        assert_eq!(status.as_u16(), 403, "{role:?}: {body}");
        assert!(body["Meta"]["Errors"][0]["Text"].is_string(), "{body}");
    }
    let (status, _) = te.get("/admin/v1/audit", None).await;
    assert_eq!(status.as_u16(), 401);

    failed_logins(&te).await;
    let entries = trail(&te, &admin, &[]).await;
    let id = entries[0]["id"].as_str().expect("id").to_string();
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let (status, _) = te
            .request(
                method.clone(),
                "/admin/v1/audit",
                Some(&admin),
                Some(b"{}".to_vec()),
            )
            .await;
        assert_eq!(status.as_u16(), 405, "{method} /audit");
        let (status, _) = te
            .request(
                method.clone(),
                &format!("/admin/v1/audit/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert!(
            matches!(status.as_u16(), 404 | 405),
            "{method} /audit/id: {status}"
        );
    }
    // Only the command line on the engine's machine reports entries; an admin token
    // cannot write one.
    let (status, body) = te
        .post_json(
            "/admin/v1/audit",
            Some(&admin),
            &json!({"action": "token.create", "detail": "forged"}),
        )
        .await;
    assert_eq!(status.as_u16(), 403, "{body}");
    // The trail only grew: by the record of that refused attempt.
    let after = trail(&te, &admin, &[]).await;
    assert_eq!(after[1..], entries[..], "the trail changed");
    assert_eq!(after[0]["action"], "refused", "{after:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_filters_by_action_actor_time_and_log_and_pages_newest_first() {
    let (te, prod_log, _) = with_traffic().await;
    let admin = te.admin_token(Role::Admin);
    let phi = te.admin_token(Role::Phi);
    // Times are kept to the millisecond: a few between the window's ends and what
    // falls in or out of it.
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(5));
    pause().await;
    let start = switchboard::model::time::format_utc(chrono::Utc::now());
    pause().await;
    let api_key = failed_logins(&te).await;
    te.get_query("/admin/v1/logs", &phi, &[("mrn", "MRN-P")])
        .await;
    pause().await;
    let end = switchboard::model::time::format_utc(chrono::Utc::now());
    pause().await;
    failed_logins(&te).await;

    let logins = trail(&te, &admin, &[("action", "login-failed")]).await;
    assert_eq!(logins.len(), 6);
    // Each round of failed logins names a new key of its own.
    let mine = trail(&te, &admin, &[("actor", &api_key)]).await;
    assert_eq!(mine.len(), 2, "{mine:#?}");
    let window = trail(&te, &admin, &[("since", &start), ("until", &end)]).await;
    assert_eq!(window.len(), 4, "three logins and a search: {window:#?}");
    let by_log = trail(&te, &admin, &[("log", &prod_log.to_string())]).await;
    assert_eq!(by_log.len(), 1, "{by_log:#?}");
    assert_eq!(by_log[0]["action"], "search-mrn");

    // Pages of 4, newest first, together the whole trail, each entry once.
    let whole = trail(&te, &admin, &[("limit", "500")]).await;
    let mut paged = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut query = vec![("limit", "4".to_string())];
        query.extend(before.clone().map(|b| ("before", b)));
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, page) = te.get_query("/admin/v1/audit", &admin, &query).await;
        assert_eq!(status.as_u16(), 200, "{page}");
        paged.extend(page["entries"].as_array().expect("entries").clone());
        match page["next"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, whole);
    let times: Vec<&str> = whole
        .iter()
        .map(|e| e["at"].as_str().expect("at"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {times:?}"
    );

    let (status, body) = te
        .get_query("/admin/v1/audit", &admin, &[("since", "yesterday")])
        .await;
    assert_eq!(status.as_u16(), 400);
    assert!(body.to_string().contains("ISO 8601"), "{body}");
}

/// The engine's audit entries of `action`, newest first.
fn entries_of(te: &TestEngine, action: &str) -> Vec<switchboard::store::AuditEntry> {
    let trail = te.store().audit_trail(1000).expect("audit trail");
    trail.into_iter().filter(|e| e.action == action).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_refused_at_the_rate_limit_is_audited_once_per_window_per_key() {
    let clock = switchboard::engine::throttle::Clock::movable();
    let limits = "[engine]\nauth_failures_per_key = 2\nauth_failure_window_seconds = 600\n";
    let te = TestEngine::start_with(&format!("{limits}{}", config()), |c| {
        c.throttle_clock = clock.clone()
    })
    .await;
    let (api_key, secret) = te.api_key("Lab");
    let login = |secret: String| {
        let te = &te;
        let body = json!({"apiKey": api_key, "secret": secret});
        async move { te.post_json("/auth/authenticate", None, &body).await.0 }
    };
    for window in 1..=2 {
        for _ in 0..2 {
            assert_eq!(login(WRONG_SECRET.into()).await.as_u16(), 401);
        }
        // Hammering on: every attempt is refused, the right secret too, and the trail
        // gains one entry for the whole window, not one a request.
        for _ in 0..5 {
            assert_eq!(login(secret.clone()).await.as_u16(), 429);
        }
        let throttled = entries_of(&te, "login-throttled");
        assert_eq!(throttled.len(), window, "{throttled:#?}");
        let entry = &throttled[0];
        assert_eq!(entry.actor, format!("key:{api_key}"));
        assert_eq!(entry.origin.as_deref(), Some("127.0.0.1"));
        assert_eq!(entry.outcome.as_deref(), Some("refused"));
        let detail = entry.detail.as_deref().unwrap_or_default();
        assert!(detail.starts_with("/auth/authenticate: 429"), "{detail}");
        assert!(!detail.contains(&secret) && !detail.contains(WRONG_SECRET));
        clock.advance(std::time::Duration::from_secs(600));
    }
    assert_eq!(login(secret.clone()).await.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_operator_actions_are_audited_with_who_and_why() {
    let (te, prod_log, _) = with_traffic().await;
    let admin = te.admin_token(Role::Admin);
    let viewer = te.admin_token(Role::Viewer);
    let operator = te.admin_token(Role::Operator);
    let missing = Uuid::new_v4();
    let attempts = [
        (&viewer, "/admin/v1/destinations/EHR/pause", 403),
        (&viewer, "/admin/v1/config/reload", 403),
        (&operator, "/admin/v1/retention/run", 403),
        (&operator, "/admin/v1/backup", 403),
        (&operator, "/admin/v1/keys/some-key/revoke", 403),
        (&operator, "/admin/v1/destinations/Nowhere/resume", 404),
        (&operator, &format!("/admin/v1/logs/{missing}/release"), 404),
        // Released without being quarantined: a state that forbids it.
        (
            &operator,
            &format!("/admin/v1/logs/{prod_log}/release"),
            409,
        ),
        (&admin, "/admin/v1/tokens/no-such-token/revoke", 404),
    ];
    for (token, path, expected) in &attempts {
        let (status, body) = te.post_json(path, Some(token), &json!({})).await;
        assert_eq!(status.as_u16(), *expected, "{path}: {body}");
    }
    let (status, _) = te.get("/admin/v1/audit", Some(&viewer)).await;
    assert_eq!(status.as_u16(), 403);
    // Without a genuine token there is no one to name: not audited, so anyone cannot
    // flood the trail.
    let (status, _) = te
        .post_json(
            "/admin/v1/destinations/EHR/pause",
            Some("made-up"),
            &json!({}),
        )
        .await;
    assert_eq!(status.as_u16(), 401);
    // The console on an embedded engine refuses by the same rule, and records it.
    let console = switchboard::client::Local::new(te.engine.clone(), Role::Viewer, "console", "-");
    let ehr = te.destination_id("EHR");
    let refused =
        switchboard::client::Engine::act(&console, switchboard::client::Action::Pause(ehr)).await;
    assert!(refused.is_err(), "{refused:?}");

    let refusals = of_action(&trail(&te, &admin, &[("limit", "500")]).await, "refused")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(refusals.len(), attempts.len() + 2, "{refusals:#?}");
    let detail = |e: &Value| e["detail"].as_str().unwrap_or_default().to_string();
    let find = |needle: &str| -> Value {
        refusals
            .iter()
            .find(|e| detail(e).contains(needle))
            .unwrap_or_else(|| panic!("no refusal with {needle:?} in {refusals:#?}"))
            .clone()
    };
    let pause = find("pause destination \"EHR\": 403");
    assert!(
        pause["actor"]
            .as_str()
            .unwrap_or_default()
            .contains("test-viewer"),
        "{pause}"
    );
    assert_eq!(pause["role"], "viewer");
    assert_eq!(pause["origin"], "127.0.0.1");
    assert!(
        detail(&pause).contains("may not act on delivery"),
        "{pause}"
    );
    find("reload the configuration: 403 Role viewer may not reload the configuration");
    find("delete history: 403 Role operator");
    find("take backups: 403");
    find("read the audit trail: 403");
    find("resume destination \"Nowhere\": 404 There is no destination");
    let missing_log = find(&format!("release log {missing}: 404"));
    assert_eq!(logs_of(&missing_log), vec![missing.to_string()]);
    assert_eq!(
        find(&format!("release log {prod_log}: 409"))["role"],
        "operator"
    );
    find("revoke token no-such-token: 404");
    let embedded = find(&format!("pause destination {ehr}: 403"));
    assert_eq!(embedded["actor"], "console");
    assert!(refusals.iter().all(|e| e["outcome"] == "refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_engine_in_a_process_names_its_own_actions_outside_requests() {
    let named = TestEngine::start(&config()).await;
    let plain = TestEngine::start(&config()).await;
    named.engine.set_local_origin("engine");
    named.engine.set_local_origin("console-embedded"); // the first name stays
    for te in [&named, &plain] {
        te.engine
            .record_audit(switchboard::store::AuditEntry {
                actor: "test".into(),
                action: "origin-probe".into(),
                ..Default::default()
            })
            .expect("audit");
    }
    let origin = |te: &TestEngine| entries_of(te, "origin-probe")[0].origin.clone();
    assert_eq!(origin(&named).as_deref(), Some("engine"));
    assert_eq!(
        origin(&plain).as_deref(),
        Some("cli"),
        "not the other engine's name"
    );
}
