//! Answers matched to their requests, `ctrl-z`, and the engine lost and retried.

use super::*;
use crate::console::composer::ComposerFocus;
use std::time::Duration;

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn opened(effects: &[Effect]) -> Option<(Tag, Uuid)> {
    effects.iter().find_map(|e| match e {
        Effect::OpenLog(tag, id) => Some((*tag, *id)),
        _ => None,
    })
}

#[test]
fn a_stale_detail_answer_leaves_the_detail_opened_since_alone() {
    let mut app = app(Role::Admin);
    row(&mut app, 1);
    row(&mut app, 2);
    let (first, id) = opened(&send(&mut app, [key(KeyCode::Enter)])).expect("opened");
    assert_eq!(id, Uuid::from_u128(2));
    send(&mut app, [ch('q'), ch('k')]);
    let (second, id) = opened(&send(&mut app, [key(KeyCode::Enter)])).expect("opened");
    assert_eq!(id, Uuid::from_u128(1));
    assert_ne!(first, second);

    // The first log's answer comes late, saying it is gone: the user is on another.
    update(&mut app, Msg::Detail(first, None));
    assert_eq!(
        app.detail.as_ref().map(|d| d.log_id),
        Some(Uuid::from_u128(1))
    );
    assert_eq!(app.notice, None);
    // The answer to the open one is taken.
    update(&mut app, Msg::Detail(second, None));
    assert!(app.detail.is_none());
}

#[test]
fn a_stale_page_does_not_reset_the_paging_cursor() {
    let (mut app, first) = App::new(Role::Admin, "127.0.0.1:8443".into());
    let Some(Effect::LoadPage(stale, _)) = first.last().cloned() else {
        panic!("{first:?}")
    };
    // A new filter asks for its own first page before the first one answered.
    send(&mut app, [ch('/')]);
    send(&mut app, typed("status:failed"));
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    let Some(Effect::LoadPage(current, _)) = effects.last().cloned() else {
        panic!("{effects:?}")
    };
    let mut failed = log(2, Environment::Development);
    failed.status = LogStatus::Failed;
    let cursor = Some(Uuid::from_u128(500));
    let page = LogPage {
        logs: vec![failed.clone()],
        next: cursor,
    };
    update(&mut app, Msg::Page(current, page));
    assert_eq!(app.older, cursor);

    // The old filter's page arrives last: nothing of it is taken.
    let mut also_failed = log(1, Environment::Development);
    also_failed.status = LogStatus::Failed;
    let late = LogPage {
        logs: vec![also_failed],
        next: None,
    };
    update(&mut app, Msg::Page(stale, late));
    assert_eq!(app.older, cursor, "the stale page reset the paging cursor");
    assert_eq!(app.feed.len(), 1);
}

#[test]
fn ctrl_z_suspends_except_while_text_is_edited() {
    let mut app = app(Role::Admin);
    assert_eq!(send(&mut app, [ctrl('z')]), vec![Effect::Suspend]);
    row(&mut app, 1);
    send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(
        send(&mut app, [ctrl('z')]),
        vec![Effect::Suspend],
        "the detail view suspends too"
    );
    send(&mut app, [ch('q')]);

    // The filter line: ctrl-z is the line's, not a suspension.
    send(&mut app, [ch('/')]);
    assert!(!send(&mut app, [ctrl('z')]).contains(&Effect::Suspend));
    assert!(app.prompt.is_some());
    send(&mut app, [key(KeyCode::Esc)]);

    // The composer's editor: ctrl-z is undo there.
    app.focus = Pane::Composer;
    app.composer.focus = ComposerFocus::Editing;
    assert!(!send(&mut app, [ctrl('z')]).contains(&Effect::Suspend));
    app.composer.focus = ComposerFocus::Body;
    assert_eq!(send(&mut app, [ctrl('z')]), vec![Effect::Suspend]);
}

#[test]
fn the_engine_lost_counts_down_and_r_retries_at_once() {
    let mut app = app(Role::Admin);
    let t0 = chrono::Utc::now();
    app.clock = Some(t0);
    // Connected: `r` in the feed is nothing, and the clock redraws nothing.
    assert!(send(&mut app, [ch('r')]).is_empty());
    app.take_dirty();
    update(&mut app, Msg::Tick);
    assert!(!app.is_dirty(), "a tick redrew with nothing counting down");

    let lost = FeedEvent::Disconnected {
        reason: "connection refused".into(),
        retry_in: Duration::from_secs(2),
    };
    update(&mut app, Msg::Feed(lost));
    let down = app.disconnected.clone().expect("disconnected");
    assert_eq!(down.seconds_left(t0), 2);
    assert_eq!(
        down.seconds_left(t0 + chrono::Duration::milliseconds(1500)),
        1
    );
    app.take_dirty();
    update(&mut app, Msg::Tick);
    assert!(app.is_dirty(), "the countdown is not redrawn");

    assert_eq!(send(&mut app, [ch('r')]), vec![Effect::Reconnect]);
    let down = app.disconnected.clone().expect("still disconnected");
    assert_eq!(down.seconds_left(t0), 0, "r shows the attempt as now");
    update(&mut app, Msg::Feed(FeedEvent::Reconnected));
    assert!(app.disconnected.is_none());
}
