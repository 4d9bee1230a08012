//! The Developer view: the Keys and Endpoints tabs and the secret's modal, at 80×24
//! and 200×60, in the dark and light themes.

use super::*;
use crate::client::wire::{CreatedKey, KeyView};

fn light() -> Theme {
    Theme::load("light", std::path::Path::new("/nonexistent")).expect("the light theme")
}

pub(super) fn developer(tab: char) -> App {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Char(tab)));
    let source = app
        .connections
        .as_ref()
        .and_then(|c| c.sources.first())
        .map(|s| (s.source.id, s.source.name.clone()))
        .expect("a source in the fixture");
    let key_view = |n: u128, kind: &str, used: Option<&str>, revoked: bool| KeyView {
        api_key: Uuid::from_u128(n).to_string(),
        kind: kind.into(),
        source_id: Some(source.0),
        source: Some(source.1.clone()),
        environment: Some(Environment::Development),
        created: Some("2026-12-01T10:00:00.000Z".into()),
        last_used: used.map(str::to_string),
        revoked,
        revoked_at: None,
    };
    update(
        &mut app,
        Msg::Keys(Ok(vec![
            key_view(0xa1, "legacy", Some("2026-12-02T05:40:00.000Z"), false),
            key_view(0xa2, "hs384", None, false),
            key_view(0xa3, "legacy", None, true),
        ])),
    );
    app
}

#[test]
fn keys_tab_dark_80x24() {
    let mut app = developer('K');
    let terminal = render(&mut app, &Theme::dark(), 80, 24);
    let text = screen(&terminal);
    assert!(text.contains("Keys") && text.contains("legacy"), "{text}");
    assert_snapshot!(terminal.backend());
}

#[test]
fn keys_tab_light_200x60() {
    let mut app = developer('K');
    let terminal = render(&mut app, &light(), 200, 60);
    let text = screen(&terminal);
    assert!(text.contains("LAST USED") && text.contains("never") && text.contains("revoked"));
    assert_snapshot!(terminal.backend());
}

#[test]
fn endpoints_tab_dark_80x24() {
    let mut app = developer('E');
    let terminal = render(&mut app, &Theme::dark(), 80, 24);
    assert!(screen(&terminal).contains("VERIFIED"));
    assert_snapshot!(terminal.backend());
}

#[test]
fn endpoints_tab_light_200x60() {
    let mut app = developer('E');
    assert_snapshot!(render(&mut app, &light(), 200, 60).backend());
}

#[test]
fn the_new_secret_in_its_modal_dark_80x24() {
    let mut app = developer('K');
    update(
        &mut app,
        Msg::KeyCreated(Ok(CreatedKey {
            api_key: Uuid::from_u128(0xa4).to_string(),
            kind: "legacy".into(),
            source_id: Uuid::from_u128(1),
            source: "Lab".into(),
            environment: Environment::Development,
            kids: Vec::new(),
            secret: Some("c0ffee".repeat(8)),
        })),
    );
    let terminal = render(&mut app, &Theme::dark(), 80, 24);
    assert!(screen(&terminal).contains(&"c0ffee".repeat(8)));
    assert_snapshot!(terminal.backend());
    update(&mut app, key(KeyCode::Esc));
    assert!(!screen(&render(&mut app, &Theme::dark(), 80, 24)).contains("c0ffee"));
}

#[test]
fn help_lists_the_developer_keys() {
    let mut app = developer('K');
    update(&mut app, key(KeyCode::Char('?')));
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(
        text.contains("Help · Keys") && text.contains("revoke"),
        "{text}"
    );
    update(&mut app, key(KeyCode::Esc));
    let main = console(Role::Admin, Environment::Development);
    let mut main = main;
    update(&mut main, key(KeyCode::Char('?')));
    assert!(screen(&render(&mut main, &Theme::dark(), 120, 40)).contains("K / E"));
}
