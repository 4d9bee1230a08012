//! Leaving things (issue 18, point 1): `esc` goes back and never quits, `q` quits only
//! from the main view, `ctrl-c` quits from anywhere; and `?` opens help in every view.

use super::*;
use crate::console::app::DevTab;

fn ctrl_c() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
}

#[test]
fn esc_never_quits_it_goes_back() {
    let mut app = app(Role::Admin);
    // In the feed there is nothing to go back from.
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    // From the Composer pane: back to the feed.
    send(&mut app, [ch('4')]);
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert_eq!(app.focus, Pane::Feed);
    // Each press closes one thing, and nothing more.
    row(&mut app, 1);
    send(&mut app, [key(KeyCode::Enter), ch('?')]);
    assert!(app.help && app.detail.is_some());
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(!app.help && app.detail.is_some());
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(app.detail.is_none());
    send(&mut app, [ch('K')]);
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(app.developer.is_none());
    send(&mut app, [ch(':')]);
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(app.prompt.is_none());
    for _ in 0..3 {
        assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    }
}

#[test]
fn q_quits_only_from_the_main_view() {
    let mut app = app(Role::Admin);
    row(&mut app, 1);
    send(&mut app, [key(KeyCode::Enter)]);
    assert!(send(&mut app, [ch('q')]).is_empty(), "q closes the detail");
    send(&mut app, [ch('E')]);
    assert!(
        send(&mut app, [ch('q')]).is_empty(),
        "q closes the developer view"
    );
    assert!(app.developer.is_none());
    send(&mut app, [ch('?')]);
    assert!(send(&mut app, [ch('q')]).is_empty(), "q closes the help");
    send(&mut app, [ch('/')]);
    assert!(
        send(&mut app, [ch('q')]).is_empty(),
        "q is text in a prompt"
    );
    assert!(matches!(&app.prompt, Some(Prompt::Filter { line, .. }) if line.text == "q"));
    send(&mut app, [key(KeyCode::Esc)]);
    app.confirm = Some(Confirm {
        effect: Effect::Reload,
        question: "Reload?".into(),
    });
    assert!(send(&mut app, [ch('q')]).is_empty(), "q answers no");
    assert!(app.confirm.is_none());
    assert_eq!(send(&mut app, [ch('q')]), vec![Effect::Quit]);
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch(':')]);
    assert_eq!(update(&mut app, ctrl_c()), vec![Effect::Quit], "a prompt");
    let mut app = super::app(Role::Admin);
    send(&mut app, [ch('?')]);
    assert_eq!(update(&mut app, ctrl_c()), vec![Effect::Quit], "the help");
    let mut app = detail_open(Role::Admin, Environment::Development);
    assert_eq!(update(&mut app, ctrl_c()), vec![Effect::Quit], "a detail");
    let mut app = super::app(Role::Admin);
    send(&mut app, [ch('K')]);
    assert_eq!(update(&mut app, ctrl_c()), vec![Effect::Quit], "developer");
    app.confirm = Some(Confirm {
        effect: Effect::Reload,
        question: "Reload?".into(),
    });
    assert_eq!(update(&mut app, ctrl_c()), vec![Effect::Quit], "a question");
}

#[test]
fn help_opens_in_every_view_and_scrolls() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    send(&mut app, [ch('?')]);
    assert!(app.help, "the detail view");
    send(&mut app, [ch('j'), ch('j'), key(KeyCode::PageDown)]);
    assert!(app.help_scroll > 2, "j and PgDn scroll the help");
    let scrolled = app.help_scroll;
    send(&mut app, [ch('k')]);
    assert_eq!(app.help_scroll, scrolled - 1);
    send(&mut app, [ch('g')]);
    assert_eq!(app.help_scroll, 0);
    send(&mut app, [ch('?')]);
    assert!(!app.help && app.detail.is_some());

    let mut app = super::app(Role::Admin);
    for tab in ['K', 'E'] {
        send(&mut app, [ch(tab)]);
        send(&mut app, [ch('?')]);
        assert!(app.help, "the developer view");
        send(&mut app, [key(KeyCode::Esc)]);
        assert!(app.developer.is_some());
    }
    assert_eq!(
        app.developer.as_ref().map(|d| d.tab),
        Some(DevTab::Endpoints)
    );
    send(&mut app, [key(KeyCode::Esc), ch('4'), ch('?')]);
    assert!(app.help && app.focus == Pane::Composer, "the composer");
}
