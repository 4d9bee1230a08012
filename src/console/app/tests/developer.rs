//! The Developer view's update logic: create → the secret in a modal → closed and
//! forgotten; revoke asks first; endpoints act through the usual rules.

use super::*;
use crate::client::wire::{CreatedKey, KeyView, SourceView};
use crate::console::app::{CreateKind, DevTab};

const LAB: Uuid = Uuid::from_u128(7);
const SECRET: &str = "5ec7e7-not-for-anyone-else";

fn with_source(role: Role) -> App {
    let mut app = app(role);
    let mut view = connections(Environment::Development, false);
    view.sources = vec![SourceView {
        source: fixtures::source(LAB, "Lab", Environment::Development),
        health: Default::default(),
    }];
    update(&mut app, Msg::Connections(view));
    app
}

fn key_view(id: &str, revoked: bool) -> KeyView {
    KeyView {
        api_key: id.into(),
        kind: "legacy".into(),
        source_id: Some(LAB),
        source: Some("Lab".into()),
        environment: Some(Environment::Development),
        created: Some("2026-12-01T10:00:00.000Z".into()),
        last_used: None,
        revoked,
        revoked_at: None,
    }
}

fn created() -> CreatedKey {
    CreatedKey {
        api_key: "0b8f0000-0000-4000-8000-000000000001".into(),
        kind: "legacy".into(),
        source_id: LAB,
        source: "Lab".into(),
        environment: Environment::Development,
        kids: Vec::new(),
        secret: Some(SECRET.into()),
    }
}

#[test]
fn k_opens_the_keys_tab_and_loads_the_keys() {
    let mut app = with_source(Role::Admin);
    assert_eq!(send(&mut app, [ch('K')]), vec![Effect::LoadKeys]);
    assert_eq!(app.developer.as_ref().map(|d| d.tab), Some(DevTab::Keys));
    let effects = send(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(
        app.developer.as_ref().map(|d| d.tab),
        Some(DevTab::Endpoints)
    );
    assert_eq!(
        effects,
        vec![Effect::LoadConnections(Some(Environment::Development))]
    );
    send(&mut app, [key(KeyCode::Esc)]);
    assert!(app.developer.is_none());
    let mut effects = send(&mut app, [ch(':')]);
    effects.extend(send(&mut app, typed("endpoints")));
    effects.extend(send(&mut app, [key(KeyCode::Enter)]));
    assert_eq!(
        app.developer.as_ref().map(|d| d.tab),
        Some(DevTab::Endpoints)
    );
}

#[test]
fn create_shows_the_secret_once_and_closing_forgets_it() {
    let mut app = with_source(Role::Admin);
    send(&mut app, [ch('K')]);
    let effects = send(&mut app, [ch('n')]);
    assert_eq!(
        effects,
        vec![Effect::CreateKey {
            source: LAB,
            kind: CreateKind::Legacy
        }]
    );
    update(&mut app, Msg::KeyCreated(Ok(created())));
    assert!(app.developer.as_ref().is_some_and(|d| d.secret.is_some()));
    // `y` copies it; other keys do not leak through to the view behind.
    let copied = send(&mut app, [ch('y')]);
    assert_eq!(
        copied,
        vec![Effect::Copy {
            text: SECRET.into(),
            what: "the secret".into()
        }]
    );
    assert!(send(&mut app, [ch('x'), ch('c')]).is_empty());
    assert!(app.confirm.is_none() && app.focus != Pane::Composer);
    let closed = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(closed, vec![Effect::LoadKeys]);
    assert!(app.developer.as_ref().is_some_and(|d| d.secret.is_none()));
    assert!(
        !format!("{app:?}").contains(SECRET),
        "the console still holds the secret"
    );
}

#[test]
fn the_secrets_debug_form_hides_it() {
    assert!(!format!("{:?}", created()).contains(SECRET));
}

#[test]
fn revoke_asks_first_and_only_for_a_live_key() {
    let mut app = with_source(Role::Admin);
    send(&mut app, [ch('K')]);
    let live = "0b8f0000-0000-4000-8000-000000000002";
    update(
        &mut app,
        Msg::Keys(Ok(vec![key_view(live, false), key_view("gone", true)])),
    );
    // Row 0 is the source: nothing to revoke there.
    assert!(send(&mut app, [ch('x')]).is_empty());
    assert!(app.confirm.is_none());
    send(&mut app, [ch('j')]);
    assert!(send(&mut app, [ch('x')]).is_empty(), "asked first");
    let confirm = app.confirm.clone().expect("a question");
    assert!(confirm.question.contains(live), "{}", confirm.question);
    assert_eq!(
        send(&mut app, [ch('y')]),
        vec![Effect::Revoke(Revoke::Key(live.into()))]
    );
    // The revoked key's row offers nothing.
    send(&mut app, [ch('j'), ch('x')]);
    assert!(app.confirm.is_none());
}

#[test]
fn jwks_takes_a_path_on_the_command_line_for_the_selected_source() {
    let mut app = with_source(Role::Admin);
    send(&mut app, [ch('K'), ch('J')]);
    assert!(matches!(&app.prompt, Some(Prompt::Command { line }) if line.text == "jwks "));
    send(&mut app, typed("/tmp/jwks.json"));
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(
        effects,
        vec![Effect::CreateKey {
            source: LAB,
            kind: CreateKind::JwksFile("/tmp/jwks.json".into())
        }]
    );
}

#[test]
fn other_roles_cannot_create_keys_and_viewers_cannot_act_on_endpoints() {
    let mut app = with_source(Role::Operator);
    send(&mut app, [ch('K')]);
    assert!(send(&mut app, [ch('n')]).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("admin")));
    let mut viewer = with_source(Role::Viewer);
    send(&mut viewer, [ch('E')]);
    assert!(send(&mut viewer, [ch('v')]).is_empty());
    assert!(matches!(&viewer.notice, Some(Notice::Error(e)) if e.contains("viewer")));
}

#[test]
fn endpoints_verify_pause_and_resume_the_selected_destination() {
    let mut app = with_source(Role::Operator);
    send(&mut app, [ch('E')]);
    let reload = Effect::LoadConnections(Some(Environment::Development));
    assert_eq!(
        send(&mut app, [ch('v')]),
        vec![Effect::Act(Action::Verify(DEST)), reload.clone()]
    );
    assert_eq!(
        send(&mut app, [ch('p')]),
        vec![Effect::Act(Action::Pause(DEST)), reload.clone()]
    );
    assert_eq!(
        send(&mut app, [ch('r')]),
        vec![Effect::Act(Action::Resume(DEST)), reload]
    );
}

#[test]
fn reload_is_for_admins() {
    let run = |app: &mut App| {
        send(app, [ch(':')]);
        send(app, "reload".chars().map(ch).collect::<Vec<_>>());
        send(app, [key(KeyCode::Enter)])
    };
    assert_eq!(run(&mut app(Role::Admin)), vec![Effect::Reload]);
    let mut viewer = app(Role::Viewer);
    assert!(run(&mut viewer).is_empty());
    assert!(
        matches!(&viewer.notice, Some(Notice::Error(m)) if m.contains("may not reload")),
        "{:?}",
        viewer.notice
    );
}
