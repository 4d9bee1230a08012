//! `update` driven directly: keys, the filter line, the feed, commands, confirmations.

use super::*;
use crate::client::wire::{LogDetail, LogPage, VisibleDetail};
use crate::client::{Action, FeedEvent, Revoke};
use crate::console::feed::tests::log;
use crate::console::fixtures;
use crate::model::LogStatus;
use crate::model::reach::DeliveryMode;
use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};

const DEST: Uuid = Uuid::from_u128(88);

fn app(role: Role) -> App {
    App::new(role, "127.0.0.1:8443".into()).0
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn send(app: &mut App, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
    msgs.into_iter().flat_map(|m| update(app, m)).collect()
}

fn typed(text: &str) -> Vec<Msg> {
    text.chars().map(ch).collect()
}

fn row(app: &mut App, n: u128) {
    let env = app.environment;
    update(app, Msg::Feed(FeedEvent::Log(Box::new(log(n, env)))));
}

fn scoped(text: &str) -> Filter {
    Filter::parse(text).expect("test filter")
}

fn page_query(env: Environment) -> LogQuery {
    LogQuery {
        environment: Some(env),
        limit: PAGE_SIZE,
        ..LogQuery::default()
    }
}

fn connections(env: Environment, paused: bool) -> ConnectionsView {
    ConnectionsView {
        sources: Vec::new(),
        destinations: vec![DestinationView {
            paused,
            ..fixtures::idle(fixtures::destination(
                DEST,
                "Sandbox EHR",
                env,
                DeliveryMode::Push,
            ))
        }],
        subscriptions: Vec::new(),
        organizations: Vec::new(),
    }
}

/// An app in `env` with one feed row (log 1) and its detail open.
fn detail_open(role: Role, env: Environment) -> App {
    let mut app = app(role);
    send(&mut app, [ch(':')]);
    send(&mut app, typed(&format!("env {env}")));
    send(&mut app, [key(KeyCode::Enter)]);
    row(&mut app, 1);
    assert_eq!(
        send(&mut app, [key(KeyCode::Enter)]),
        vec![Effect::OpenLog(app.detail_tag(), Uuid::from_u128(1))]
    );
    app
}

#[test]
fn starts_on_development_with_subscription_connections_and_first_page() {
    let (app, effects) = App::new(Role::Admin, "127.0.0.1:8443".into());
    assert_eq!(app.environment, Environment::Development);
    assert_eq!(app.focus, Pane::Feed);
    assert_eq!(
        effects,
        vec![
            Effect::Subscribe(scoped("env:development")),
            Effect::LoadConnections(Some(Environment::Development)),
            Effect::LoadPage(app.page_tag(), page_query(Environment::Development)),
        ]
    );
}

#[test]
fn tab_and_shift_tab_cycle_focus_and_digits_jump() {
    let mut app = app(Role::Admin);
    send(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.focus, Pane::Composer);
    send(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.focus, Pane::Environments);
    send(&mut app, [key(KeyCode::BackTab)]);
    assert_eq!(app.focus, Pane::Composer);
    for (c, pane) in ['1', '2', '3', '4'].into_iter().zip(Pane::ALL) {
        send(&mut app, [ch(c)]);
        assert_eq!(app.focus, pane);
    }
}

#[test]
fn q_and_ctrl_c_quit_at_top_level_and_esc_does_not() {
    let mut app = app(Role::Admin);
    assert_eq!(send(&mut app, [ch('q')]), vec![Effect::Quit]);
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut app, ctrl_c), vec![Effect::Quit]);
}

#[test]
fn help_toggles_and_closes_with_esc_or_q_without_quitting() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch('?')]);
    assert!(app.help);
    send(&mut app, [ch('?')]);
    assert!(!app.help);
    send(&mut app, [ch('?')]);
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(!app.help);
    send(&mut app, [ch('?')]);
    assert!(send(&mut app, [ch('q')]).is_empty());
    assert!(!app.help);
}

#[test]
fn typing_an_invalid_filter_shows_the_error_with_its_range() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch('/')]);
    send(&mut app, typed("status:failed colour:red"));
    let Some(Prompt::Filter { line, error }) = &app.prompt else {
        panic!("filter line open");
    };
    assert_eq!(line.text, "status:failed colour:red");
    let error = error.as_ref().expect("an error while typing");
    assert_eq!((error.start, error.end), (14, 24));
    assert!(error.message.contains("colour"), "{}", error.message);

    // Enter does not apply it: no effects, the line stays open, the old filter stays.
    assert!(send(&mut app, [key(KeyCode::Enter)]).is_empty());
    assert!(matches!(
        app.prompt,
        Some(Prompt::Filter { error: Some(_), .. })
    ));
    assert_eq!(app.filter_text, "");
    assert!(matches!(app.notice, Some(Notice::Error(_))));

    // Fixing it clears the error.
    for _ in 0.."colour:red".len() {
        send(&mut app, [key(KeyCode::Backspace)]);
    }
    assert!(matches!(
        app.prompt,
        Some(Prompt::Filter { error: None, .. })
    ));
}

#[test]
fn enter_applies_a_valid_filter_scoped_to_the_environment() {
    let mut app = app(Role::Admin);
    row(&mut app, 1);
    send(&mut app, [ch('/')]);
    send(&mut app, typed("status:failed dm:PatientAdmin"));
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(
        effects,
        vec![
            Effect::Subscribe(scoped("status:failed dm:PatientAdmin env:development")),
            Effect::LoadPage(app.page_tag(), page_query(Environment::Development)),
        ]
    );
    assert!(app.prompt.is_none());
    assert_eq!(app.filter_text, "status:failed dm:PatientAdmin");
    assert!(app.feed.is_empty(), "a new filter starts a fresh feed");

    // Rows that do not match (a stale event, a page) stay out.
    row(&mut app, 2);
    assert!(app.feed.is_empty());
    let mut failed = log(3, Environment::Development);
    failed.status = LogStatus::Failed;
    update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(failed))));
    assert_eq!(app.feed.len(), 1);

    // `/` again starts from the applied filter.
    send(&mut app, [ch('/')]);
    assert!(
        matches!(&app.prompt, Some(Prompt::Filter { line, .. }) if line.text == app.filter_text)
    );
}

#[test]
fn a_filter_naming_another_environment_moves_the_console_there() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch('/')]);
    send(&mut app, typed("env:production status:failed"));
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(app.environment, Environment::Production);
    assert!(effects.contains(&Effect::LoadConnections(Some(Environment::Production))));
    assert!(effects.contains(&Effect::LoadPage(
        app.page_tag(),
        page_query(Environment::Production)
    )));
    let subscribed = effects
        .iter()
        .find_map(|e| match e {
            Effect::Subscribe(f) => Some(f.clone()),
            _ => None,
        })
        .expect("a subscription");
    assert_eq!(subscribed.environment(), Some(Environment::Production));
}

#[test]
fn esc_cancels_the_filter_line() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch('/')]);
    send(&mut app, typed("status:failed"));
    assert!(send(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(app.prompt.is_none());
    assert_eq!(app.filter_text, "");
}

#[test]
fn freeze_counts_new_rows_and_f_or_g_goes_back_to_live() {
    let mut app = app(Role::Admin);
    for n in 0..5 {
        row(&mut app, n);
    }
    send(&mut app, [ch('f')]);
    assert!(!app.feed.is_following());
    for n in 5..8 {
        row(&mut app, n);
    }
    assert_eq!(app.feed.new_since_freeze(), 3);
    send(&mut app, [ch('f')]);
    assert!(app.feed.is_following());
    assert_eq!(app.feed.new_since_freeze(), 0);

    send(&mut app, [ch('f')]);
    row(&mut app, 8);
    assert_eq!(app.feed.new_since_freeze(), 1);
    send(&mut app, [ch('G')]);
    assert!(app.feed.is_following());
    assert_eq!(app.feed.new_since_freeze(), 0);
}

#[test]
fn moving_the_selection_away_from_the_newest_row_freezes() {
    let mut app = app(Role::Admin);
    for n in 0..10 {
        row(&mut app, n);
    }
    send(&mut app, [ch('j')]);
    assert!(app.feed.is_following());
    send(&mut app, [ch('k')]);
    assert!(!app.feed.is_following());
    assert_eq!(app.feed.selected(), Some(8));
    send(&mut app, [ch('g')]);
    assert_eq!(app.feed.selected(), Some(0));
    send(&mut app, [key(KeyCode::PageDown)]);
    assert_eq!(app.feed.selected(), Some(9));
    send(&mut app, [ch('G')]);
    assert!(app.feed.is_following());
}

#[test]
fn k_at_the_oldest_row_asks_for_older_history_once() {
    let mut app = app(Role::Admin);
    let older = Uuid::from_u128(500);
    let page = LogPage {
        logs: vec![
            log(2, Environment::Development),
            log(1, Environment::Development),
        ],
        next: Some(older),
    };
    let tag = app.page_tag();
    update(&mut app, Msg::Page(tag, page));
    assert_eq!(app.feed.len(), 2);
    // To the oldest row loaded (`g` would page all of history: see `tests::ops`).
    send(&mut app, [ch('k')]);
    let effects = send(&mut app, [ch('k'), ch('k')]);
    let mut query = page_query(Environment::Development);
    query.before = Some(older);
    assert_eq!(effects, vec![Effect::LoadPage(app.page_tag(), query)]);
}

#[test]
fn dropped_events_are_counted_and_disconnects_shown() {
    let mut app = app(Role::Admin);
    send(
        &mut app,
        [
            Msg::Feed(FeedEvent::Dropped(7)),
            Msg::Feed(FeedEvent::Dropped(3)),
        ],
    );
    assert_eq!(app.feed.dropped(), 10);
    update(
        &mut app,
        Msg::Feed(FeedEvent::Disconnected {
            reason: "refused".into(),
            retry_in: std::time::Duration::from_secs(2),
        }),
    );
    assert_eq!(
        app.disconnected.as_ref().map(|d| d.reason.as_str()),
        Some("refused")
    );
    update(&mut app, Msg::Feed(FeedEvent::Reconnected));
    assert_eq!(app.disconnected, None);
}

#[test]
fn the_same_log_again_updates_its_row() {
    let mut app = app(Role::Admin);
    row(&mut app, 1);
    let mut done = log(1, Environment::Development);
    done.status = LogStatus::Succeeded;
    done.attempts = 1;
    update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(done))));
    assert_eq!(app.feed.len(), 1);
    assert_eq!(
        app.feed.get(0).map(|l| l.status),
        Some(LogStatus::Succeeded)
    );
}

#[test]
fn choosing_an_environment_in_its_pane_rescopes_everything() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch('/')]);
    send(&mut app, typed("status:failed"));
    send(&mut app, [key(KeyCode::Enter)]);
    row(&mut app, 1);
    send(&mut app, [ch('1'), ch('j'), ch('j'), ch('j')]);
    assert_eq!(app.environment_cursor, 2);
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(
        effects,
        vec![
            Effect::Subscribe(scoped("status:failed env:production")),
            Effect::LoadConnections(Some(Environment::Production)),
            Effect::LoadPage(app.page_tag(), page_query(Environment::Production)),
        ]
    );
    assert_eq!(app.environment, Environment::Production);
    assert!(app.feed.is_empty());
    assert!(app.connections.is_none());
}

#[test]
fn env_command_rescopes_and_a_bad_name_says_what_to_use() {
    let mut app = app(Role::Admin);
    send(&mut app, [ch(':')]);
    send(&mut app, typed("env staging"));
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(effects[0], Effect::Subscribe(scoped("env:staging")));
    assert_eq!(
        effects[1],
        Effect::LoadConnections(Some(Environment::Staging))
    );
    assert_eq!(app.environment, Environment::Staging);
    assert!(app.prompt.is_none());

    send(&mut app, [ch(':')]);
    send(&mut app, typed("env qa"));
    assert!(send(&mut app, [key(KeyCode::Enter)]).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("qa")));
    assert_eq!(app.environment, Environment::Staging);
}

#[test]
fn commands_return_their_effects() {
    let mut app = app(Role::Admin);
    let run = |app: &mut App, line: &str| {
        send(app, [ch(':')]);
        send(app, typed(line));
        send(app, [key(KeyCode::Enter)])
    };
    assert_eq!(
        run(&mut app, "theme mono"),
        vec![Effect::SetTheme("mono".into())]
    );
    assert_eq!(
        run(&mut app, "filter dst:Billing"),
        vec![
            Effect::Subscribe(scoped("dst:Billing env:development")),
            Effect::LoadPage(app.page_tag(), page_query(Environment::Development)),
        ]
    );
    assert!(run(&mut app, "filter colour:red").is_empty());
    assert_eq!(app.filter_text, "dst:Billing");
    assert_eq!(run(&mut app, "quit"), vec![Effect::Quit]);

    assert!(run(&mut app, "pause \"Sandbox EHR\"").is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("no destination")));
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, false)),
    );
    assert_eq!(
        run(&mut app, "pause \"sandbox ehr\""),
        vec![Effect::Act(Action::Pause(DEST))]
    );
    assert_eq!(
        run(&mut app, &format!("resume {DEST}")),
        vec![Effect::Act(Action::Resume(DEST))]
    );

    assert!(run(&mut app, "launch").is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("unknown command")));
}

#[test]
fn dirty_is_set_by_visible_changes_only() {
    let mut app = app(Role::Admin);
    assert!(app.take_dirty());
    assert!(!app.take_dirty());
    send(&mut app, [ch('x')]);
    assert!(!app.is_dirty(), "an unbound key changes nothing");
    let release = KeyEvent::new_with_kind(KeyCode::Tab, KeyModifiers::NONE, KeyEventKind::Release);
    update(&mut app, Msg::Key(release));
    assert!(!app.is_dirty(), "key releases are ignored");
    update(&mut app, Msg::Resize(80, 24));
    assert!(app.take_dirty());
    row(&mut app, 1);
    assert!(app.take_dirty());
    // The once-a-second refresh redraws only when a figure changed.
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, false)),
    );
    assert!(app.take_dirty());
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, false)),
    );
    assert!(!app.is_dirty(), "the same connections again");
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, true)),
    );
    assert!(app.take_dirty(), "a destination paused");
}

/// Log `n` created `n` seconds after the helper's base time, in `status`.
fn timed(n: u128, status: LogStatus) -> LogRecord {
    let mut l = log(n, Environment::Development);
    l.created_at += chrono::Duration::seconds(n as i64);
    l.status = status;
    l
}

#[test]
fn a_reconnection_loads_what_was_missed_in_order_without_duplicates() {
    let mut app = app(Role::Admin);
    for (n, status) in [
        (1, LogStatus::Succeeded),
        (2, LogStatus::Pending),
        (3, LogStatus::Succeeded),
    ] {
        update(
            &mut app,
            Msg::Feed(FeedEvent::Log(Box::new(timed(n, status)))),
        );
    }
    update(
        &mut app,
        Msg::Feed(FeedEvent::Disconnected {
            reason: "reset".into(),
            retry_in: std::time::Duration::from_secs(1),
        }),
    );
    let effects = update(&mut app, Msg::Feed(FeedEvent::Reconnected));
    // From the oldest row still in flight (2), not only from the newest (3).
    let Some(Effect::CatchUp { query, max, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(query.since, Some(timed(2, LogStatus::Pending).created_at));
    assert_eq!(query.environment, Some(Environment::Development));
    assert_eq!(*max, app.feed.capacity());

    // A live log arriving before the catch-up answers waits, so rows stay in order.
    update(
        &mut app,
        Msg::Feed(FeedEvent::Log(Box::new(timed(9, LogStatus::Pending)))),
    );
    assert_eq!(app.feed.len(), 3);
    // History, newest first: 5 and 4 were missed, 3 is known, 2 finished meanwhile,
    // 9 also came live.
    let history = vec![
        timed(9, LogStatus::Pending),
        timed(5, LogStatus::Succeeded),
        timed(4, LogStatus::Failed),
        timed(3, LogStatus::Succeeded),
        timed(2, LogStatus::Succeeded),
    ];
    let tag = app.catch_up_tag();
    update(&mut app, Msg::CaughtUp(tag, Ok(history)));
    let ids: Vec<u128> = app
        .feed
        .rows(0, app.feed.len())
        .map(|l| l.id.as_u128())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 9]);
    let two = app.feed.get(1).map(|l| l.status);
    assert_eq!(
        two,
        Some(LogStatus::Succeeded),
        "the missed update is applied"
    );
    assert!(matches!(&app.notice, Some(Notice::Info(m)) if m.contains("3 missed logs")));
    // Live rows flow straight into the feed again.
    update(
        &mut app,
        Msg::Feed(FeedEvent::Log(Box::new(timed(10, LogStatus::Pending)))),
    );
    assert_eq!(app.feed.len(), 7);
}

#[test]
fn a_failed_catch_up_still_releases_the_held_live_rows() {
    let mut app = app(Role::Admin);
    update(&mut app, Msg::Feed(FeedEvent::Reconnected));
    update(
        &mut app,
        Msg::Feed(FeedEvent::Log(Box::new(timed(1, LogStatus::Pending)))),
    );
    assert_eq!(app.feed.len(), 0);
    let tag = app.catch_up_tag();
    update(&mut app, Msg::CaughtUp(tag, Err("refused".into())));
    assert_eq!(app.feed.len(), 1);
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("refused")));
}

mod detail;
mod developer;
mod keys;
mod link;
mod ops;
mod pointer;
