//! The mouse through `view::pointer` (what is drawn where) and `update`: at 120×40 the
//! left column is 36 wide; the panes start under the status line and the band (row 2).

use super::*;
use crate::console::view;
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use std::time::{Duration, Instant};

fn mouse(app: &App, kind: MouseEventKind, column: u16, row: u16, at: Instant) -> Option<Msg> {
    let event = MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    view::pointer(app, event, at)
}

fn click(app: &mut App, column: u16, row: u16, at: Instant) -> Vec<Effect> {
    let kind = MouseEventKind::Down(MouseButton::Left);
    match mouse(app, kind, column, row, at) {
        Some(msg) => update(app, msg),
        None => Vec::new(),
    }
}

fn sized(app: &mut App) {
    update(app, Msg::Resize(120, 40));
}

#[test]
fn a_click_selects_the_feed_row_under_it_and_a_double_click_opens_it() {
    let mut app = app(Role::Admin);
    sized(&mut app);
    for n in 1..=5 {
        row(&mut app, n);
    }
    app.focus = Pane::Environments;
    let t0 = Instant::now();
    // The feed's first row is on screen row 3 (under its border), two lines a row:
    // row 7 is the third row, log 3.
    assert!(click(&mut app, 60, 7, t0).is_empty());
    assert_eq!(app.focus, Pane::Feed);
    assert_eq!(app.feed.selected_log().map(|l| l.id.as_u128()), Some(3));
    // Its second line is the same row; twice within 400 ms opens it.
    let effects = click(&mut app, 60, 8, t0 + Duration::from_millis(300));
    assert_eq!(
        effects,
        vec![Effect::OpenLog(app.detail_tag(), Uuid::from_u128(3))]
    );
    assert!(app.detail.is_some());
    send(&mut app, [ch('q')]);

    // Two clicks too far apart are two single clicks.
    let t1 = t0 + Duration::from_secs(5);
    click(&mut app, 60, 5, t1);
    let effects = click(
        &mut app,
        60,
        5,
        t1 + DOUBLE_CLICK + Duration::from_millis(1),
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(app.feed.selected_log().map(|l| l.id.as_u128()), Some(2));
    assert!(app.detail.is_none());
}

#[test]
fn clicks_focus_panes_and_select_rows_and_the_wheel_moves_the_list_under_it() {
    let mut app = app(Role::Admin);
    sized(&mut app);
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, false)),
    );
    let t0 = Instant::now();
    // Environments: border on row 2, Development on row 3, Production on row 5.
    click(&mut app, 5, 5, t0);
    assert_eq!(app.focus, Pane::Environments);
    assert_eq!(app.environment_cursor, 2);
    let up = mouse(&app, MouseEventKind::ScrollUp, 5, 4, t0).expect("wheel");
    update(&mut app, up);
    assert_eq!(app.environment_cursor, 1);

    // Connections: its border on row 7, then "Sources", "none", "Destinations", and
    // the destination's three lines from row 11.
    click(&mut app, 5, 12, t0 + Duration::from_secs(1));
    assert_eq!(app.focus, Pane::Connections);
    assert_eq!(app.connection_cursor, 0);

    // The wheel over the feed focuses it and moves its selection as `k` does.
    for n in 1..=3 {
        row(&mut app, n);
    }
    let up = mouse(&app, MouseEventKind::ScrollUp, 60, 10, t0).expect("wheel");
    update(&mut app, up);
    assert_eq!(app.focus, Pane::Feed);
    assert_eq!(app.feed.selected_log().map(|l| l.id.as_u128()), Some(2));
}

#[test]
fn overlays_keep_the_pointer_out_and_mouse_off_is_a_command() {
    let mut app = app(Role::Admin);
    sized(&mut app);
    row(&mut app, 1);
    send(&mut app, [ch('?')]);
    assert!(click(&mut app, 5, 5, Instant::now()).is_empty());
    assert_eq!(app.focus, Pane::Feed, "a click went through the help");
    send(&mut app, [key(KeyCode::Esc)]);

    send(&mut app, [ch(':')]);
    send(&mut app, typed("mouse off"));
    assert_eq!(
        send(&mut app, [key(KeyCode::Enter)]),
        vec![Effect::SetMouse(false)]
    );
    assert!(!app.mouse);
    // Outside the screen's panes (the status line) nothing is hit.
    assert!(
        mouse(
            &app,
            MouseEventKind::Down(MouseButton::Left),
            5,
            0,
            Instant::now()
        )
        .is_none()
    );
}
