//! Issue 18's operator points through `update`: actions that say what they did (6),
//! search in the detail (8), notices that expire (9), the Connections pane's actions
//! (18), a log copied as curl (19), and `g` to the oldest log in history (20).

use super::*;
use crate::client::send::Answer;
use crate::console::fixtures::{builtin_development, builtin_environments};
use chrono::{TimeDelta, TimeZone, Utc};

fn at(seconds: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .single()
        .unwrap_or_default()
        + TimeDelta::seconds(seconds)
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn detail(env: Environment, request: Option<serde_json::Value>, masked: bool) -> VisibleDetail {
    VisibleDetail {
        detail: LogDetail {
            log: log(1, env),
            attempts: Vec::new(),
            request,
            response: Some(serde_json::json!({"Meta": {"DataModel": "PatientAdmin"},
                "Patient": {"Demographics": {"FirstName": "Abigail"}}})),
            next_attempt_at: None,
        },
        masked,
    }
}

/// `d` as the answer to the latest detail request.
fn detail_answer(app: &mut App, d: VisibleDetail) {
    let tag = app.detail_tag();
    update(app, Msg::Detail(tag, Some(Box::new(d))));
}

fn request_body() -> serde_json::Value {
    serde_json::json!({
        "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                 "Destinations": [{"ID": DEST}], "Logs": [{"ID": "x"}]},
        "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}],
                    "Demographics": {"FirstName": "Abigail", "LastName": "Baker"}}
    })
}

fn info(app: &App) -> String {
    match &app.notice {
        Some(Notice::Info(m)) => m.clone(),
        other => panic!("no info notice: {other:?}"),
    }
}

fn error(app: &App) -> String {
    match &app.notice {
        Some(Notice::Error(m)) => m.clone(),
        other => panic!("no error notice: {other:?}"),
    }
}

// --- point 6: operator actions say something ------------------------------------------

#[test]
fn an_action_says_it_is_asked_then_done_and_rereads_the_detail() {
    let mut app = detail_open(Role::Operator, Environment::Development);
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, false)),
    );
    assert_eq!(
        send(&mut app, [ch('r')]),
        vec![Effect::Act(Action::RetryNow(DEST))]
    );
    assert!(
        info(&app).contains("retry requested for Sandbox EHR"),
        "{}",
        info(&app)
    );
    let effects = update(&mut app, Msg::Acted(Action::RetryNow(DEST), Ok(())));
    assert!(
        info(&app).starts_with("Sandbox EHR: retrying"),
        "{}",
        info(&app)
    );
    assert_eq!(
        effects,
        vec![
            Effect::OpenLog(app.detail_tag(), Uuid::from_u128(1)),
            Effect::LoadConnections(Some(Environment::Development)),
        ]
    );

    send(&mut app, [ch('Q')]);
    assert_eq!(info(&app), "quarantining the log…");
    let effects = update(
        &mut app,
        Msg::Acted(
            Action::Quarantine(Uuid::from_u128(1)),
            Err("Log 1 is not queued, so it cannot be quarantined.".into()),
        ),
    );
    assert_eq!(
        error(&app),
        "quarantine refused: Log 1 is not queued, so it cannot be quarantined."
    );
    assert!(effects.contains(&Effect::OpenLog(app.detail_tag(), Uuid::from_u128(1))));
}

#[test]
fn a_confirmed_production_action_says_it_is_asked() {
    let mut app = detail_open(Role::Admin, Environment::Production);
    send(&mut app, [ch('p')]);
    assert!(app.confirm.is_some());
    assert_eq!(
        send(&mut app, [ch('y')]),
        vec![Effect::Act(Action::Pause(DEST))]
    );
    assert_eq!(info(&app), "pausing Sandbox EHR…");
    update(&mut app, Msg::Acted(Action::Pause(DEST), Ok(())));
    assert!(info(&app).starts_with("Sandbox EHR paused"));
}

#[test]
fn a_countdown_on_screen_redraws_on_each_tick() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    app.take_dirty();
    update(&mut app, Msg::Tick);
    assert!(!app.take_dirty(), "nothing moves: no redraw");
    let mut d = detail(Environment::Development, None, false);
    d.detail.next_attempt_at = Some(at(18));
    detail_answer(&mut app, d);
    app.take_dirty();
    update(&mut app, Msg::Tick);
    assert!(app.take_dirty(), "the next-try countdown moves");
}

// --- point 9: notices expire ------------------------------------------------------------

#[test]
fn information_goes_after_a_few_seconds_or_at_the_next_action() {
    let mut app = app(Role::Admin);
    app.clock = Some(at(0));
    update(&mut app, Msg::Info("theme light".into()));
    app.clock = Some(at(3));
    update(&mut app, Msg::Tick);
    assert_eq!(info(&app), "theme light");
    app.clock = Some(at(4));
    app.take_dirty();
    update(&mut app, Msg::Tick);
    assert_eq!(app.notice, None);
    assert!(app.take_dirty(), "the cleared line is drawn");

    update(&mut app, Msg::Info("copied".into()));
    // A key that does nothing is not an action.
    send(&mut app, [key(KeyCode::F(9))]);
    assert_eq!(info(&app), "copied");
    send(&mut app, [ch('f')]);
    assert_eq!(app.notice, None);
}

#[test]
fn errors_stay_until_their_cause_changes() {
    let mut app = app(Role::Admin);
    app.clock = Some(at(0));
    // An error from an action stays however long, until the user does something else.
    update(&mut app, Msg::Failed("retry refused".into()));
    app.clock = Some(at(600));
    update(&mut app, Msg::Tick);
    assert_eq!(error(&app), "retry refused");
    send(&mut app, [ch('f')]);
    assert_eq!(app.notice, None);

    // A failed load stays through keys and ticks, until a load succeeds.
    update(&mut app, Msg::LoadFailed("cannot reach the engine".into()));
    send(&mut app, [ch('f'), ch('f')]);
    update(&mut app, Msg::Tick);
    assert_eq!(error(&app), "cannot reach the engine");
    page_answer(&mut app, LogPage::default());
    assert_eq!(app.notice, None);
}

#[test]
fn invalid_json_stays_until_the_json_is_valid() {
    let mut app = app(Role::Admin);
    update(&mut app, Msg::Environments(builtin_environments()));
    update(&mut app, Msg::Connections(builtin_development()));
    send(&mut app, [ch(':')]);
    send(&mut app, typed("compose PatientSearch Query"));
    send(&mut app, [key(KeyCode::Enter)]);
    let valid = app.composer.text();
    update(&mut app, Msg::Edited(Ok(format!("x{valid}"))));
    send(&mut app, [ctrl('s')]);
    assert!(error(&app).contains("the JSON is invalid"));
    // Moving about, editing and time passing do not clear it while it is invalid.
    send(
        &mut app,
        [key(KeyCode::Tab), key(KeyCode::BackTab), ch('i')],
    );
    update(&mut app, Msg::Tick);
    assert!(error(&app).contains("the JSON is invalid"));
    // Deleting the stray `x` makes it valid: the error goes.
    send(&mut app, [key(KeyCode::Delete)]);
    assert_eq!(app.composer.text(), valid);
    assert_eq!(app.notice, None);
    send(&mut app, [key(KeyCode::Esc)]);

    // A send that succeeds clears it too.
    update(&mut app, Msg::Edited(Ok("{".into())));
    send(&mut app, [ctrl('s')]);
    assert!(error(&app).contains("the JSON is invalid"));
    let answer = Answer {
        status: 200,
        elapsed: std::time::Duration::from_millis(3),
        body: Ok(serde_json::json!({})),
        logs: Vec::new(),
    };
    update(&mut app, Msg::Sent(Ok(answer)));
    assert!(info(&app).starts_with("HTTP 200"));
}

// --- point 18: Connections pane actions -------------------------------------------------

fn on_connections(role: Role, env: Environment, paused: bool) -> App {
    let mut app = app(role);
    if env != Environment::Development {
        send(&mut app, [ch(':')]);
        send(&mut app, typed(&format!("env {env}")));
        send(&mut app, [key(KeyCode::Enter)]);
    }
    update(&mut app, Msg::Connections(connections(env, paused)));
    send(&mut app, [ch('2')]);
    app
}

#[test]
fn enter_on_a_destination_filters_the_feed_to_it() {
    let mut app = on_connections(Role::Viewer, Environment::Development, false);
    let effects = send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(app.filter_text, "dst:\"Sandbox EHR\"");
    assert_eq!(app.focus, Pane::Feed);
    assert!(effects.contains(&Effect::Subscribe(scoped(
        "dst:\"Sandbox EHR\" env:development"
    ))));
}

#[test]
fn p_and_r_act_on_the_selected_destination() {
    let mut app = on_connections(Role::Operator, Environment::Development, false);
    assert_eq!(
        send(&mut app, [ch('p')]),
        vec![Effect::Act(Action::Pause(DEST))]
    );
    assert_eq!(
        send(&mut app, [ch('r')]),
        vec![Effect::Act(Action::RetryNow(DEST))]
    );
    let mut app = on_connections(Role::Operator, Environment::Development, true);
    assert_eq!(
        send(&mut app, [ch('p')]),
        vec![Effect::Act(Action::Resume(DEST))]
    );
    // A viewer is told, not obeyed.
    let mut app = on_connections(Role::Viewer, Environment::Development, false);
    assert!(send(&mut app, [ch('r')]).is_empty());
    assert!(error(&app).contains("viewer"));
}

#[test]
fn production_connection_actions_ask_first() {
    let mut app = on_connections(Role::Admin, Environment::Production, false);
    assert!(send(&mut app, [ch('r')]).is_empty());
    let confirm = app.confirm.clone().expect("a confirmation");
    assert_eq!(confirm.effect, Effect::Act(Action::RetryNow(DEST)));
    assert!(confirm.question.contains("Sandbox EHR"));
    assert_eq!(
        send(&mut app, [ch('y')]),
        vec![Effect::Act(Action::RetryNow(DEST))]
    );
}

// --- point 19: a log's request as curl --------------------------------------------------

fn copied(effects: &[Effect]) -> String {
    match effects {
        [Effect::Copy { text, .. }] => text.clone(),
        other => panic!("nothing copied: {other:?}"),
    }
}

#[test]
fn c_in_the_feed_copies_the_logs_request_as_curl() {
    let mut app = app(Role::Admin);
    row(&mut app, 1);
    assert_eq!(
        send(&mut app, [ch('C')]),
        vec![Effect::CopyLogCurl(Uuid::from_u128(1))]
    );
    let found = detail(Environment::Development, Some(request_body()), false);
    let text = copied(&update(
        &mut app,
        Msg::LogForCurl(Ok(Some(Box::new(found)))),
    ));
    assert!(
        text.starts_with("curl -sS -X POST 'http://127.0.0.1:8443/endpoint'"),
        "{text}"
    );
    assert!(text.contains("Bearer ${SWITCHBOARD"), "{text}");
    assert!(text.contains("\"FirstName\": \"Abigail\""), "{text}");
    assert!(
        !text.contains("\"Logs\""),
        "the engine's log IDs are not the source's"
    );
}

#[test]
fn c_in_the_detail_copies_what_it_holds() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    detail_answer(
        &mut app,
        detail(Environment::Development, Some(request_body()), false),
    );
    let text = copied(&send(&mut app, [ch('C')]));
    assert!(text.contains("/endpoint"), "{text}");
}

#[test]
fn a_hidden_body_is_never_copied() {
    // Production without the PHI permission: refused before anything is read.
    let mut app = app(Role::Operator);
    send(&mut app, [ch(':')]);
    send(&mut app, typed("env production"));
    send(&mut app, [key(KeyCode::Enter)]);
    row(&mut app, 1);
    assert!(send(&mut app, [ch('C')]).is_empty());
    assert!(error(&app).contains("hidden"));

    // A masked answer copies nothing either.
    let mut app = app_admin_dev_row();
    let masked = detail(Environment::Development, None, true);
    assert!(update(&mut app, Msg::LogForCurl(Ok(Some(Box::new(masked))))).is_empty());
    assert!(error(&app).contains("hidden"));
}

fn app_admin_dev_row() -> App {
    let mut app = app(Role::Admin);
    row(&mut app, 1);
    app
}

// --- point 20: g goes to the oldest log in history ------------------------------------

fn page(ids: std::ops::RangeInclusive<u128>, next: Option<u128>) -> LogPage {
    LogPage {
        logs: ids
            .rev()
            .map(|n| log(n, Environment::Development))
            .collect(),
        next: next.map(Uuid::from_u128),
    }
}

/// The page older than log `n`, as the latest page request.
fn before(app: &App, n: u128) -> Effect {
    let mut query = page_query(Environment::Development);
    query.before = Some(Uuid::from_u128(n));
    Effect::LoadPage(app.page_tag(), query)
}

/// `page` as the answer to the latest page request.
fn page_answer(app: &mut App, page: LogPage) -> Vec<Effect> {
    let tag = app.page_tag();
    update(app, Msg::Page(tag, page))
}

#[test]
fn g_pages_through_history_to_the_oldest_log() {
    let mut app = app(Role::Admin);
    page_answer(&mut app, page(7..=9, Some(7)));
    assert_eq!(send(&mut app, [ch('g')]), vec![before(&app, 7)]);
    assert!(info(&app).contains("loading older history"));
    assert_eq!(
        page_answer(&mut app, page(4..=6, Some(4))),
        vec![before(&app, 4)]
    );
    assert!(page_answer(&mut app, page(1..=3, None)).is_empty());
    assert_eq!(app.feed.len(), 9);
    assert_eq!(
        app.feed.selected_log().map(|l| l.id),
        Some(Uuid::from_u128(1))
    );
    assert_eq!(info(&app), "oldest log in history");
}

#[test]
fn g_stops_at_the_feeds_capacity_and_says_so() {
    let mut app = app(Role::Admin);
    app.feed = crate::console::feed::FeedRing::new(5);
    page_answer(&mut app, page(7..=9, Some(7)));
    assert_eq!(send(&mut app, [ch('g')]), vec![before(&app, 7)]);
    assert!(page_answer(&mut app, page(4..=6, Some(4))).is_empty());
    assert_eq!(app.feed.len(), 5);
    assert_eq!(
        app.feed.selected_log().map(|l| l.id),
        Some(Uuid::from_u128(5))
    );
    assert!(info(&app).contains("capacity (5 rows)"), "{}", info(&app));
}

#[test]
fn another_key_ends_the_paging() {
    let mut app = app(Role::Admin);
    page_answer(&mut app, page(7..=9, Some(7)));
    send(&mut app, [ch('g'), ch('G')]);
    assert!(page_answer(&mut app, page(4..=6, Some(4))).is_empty());
    assert!(app.feed.is_following());
}

// --- point 8: search in the detail ------------------------------------------------------

fn tree_path(app: &App, side: BodySide) -> String {
    let open = app.detail.as_ref().expect("detail");
    open.tree(side).map(|t| t.cursor_path()).unwrap_or_default()
}

#[test]
fn slash_searches_both_bodies_and_n_moves_between_matches() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    detail_answer(
        &mut app,
        detail(Environment::Development, Some(request_body()), false),
    );
    // Fold everything first: a match is opened all the same.
    send(&mut app, [ch('z')]);
    send(&mut app, [ch('/')]);
    // While typing, keys are text: `q` does not close the detail.
    send(&mut app, typed("abiGAIL q"));
    send(&mut app, (0..2).map(|_| key(KeyCode::Backspace)));
    send(&mut app, [key(KeyCode::Enter)]);
    assert!(app.detail.is_some());
    assert_eq!(
        tree_path(&app, BodySide::Request),
        "Patient.Demographics.FirstName"
    );
    assert_eq!(
        info(&app),
        "match 1 of 2 for \"abiGAIL\" · n next · N previous"
    );
    // n goes on into the response, and wraps; N goes back.
    send(&mut app, [ch('n')]);
    assert_eq!(
        app.detail.as_ref().map(|d| d.side),
        Some(BodySide::Response)
    );
    assert_eq!(
        tree_path(&app, BodySide::Response),
        "Patient.Demographics.FirstName"
    );
    send(&mut app, [ch('n')]);
    assert_eq!(app.detail.as_ref().map(|d| d.side), Some(BodySide::Request));
    send(&mut app, [ch('N')]);
    assert_eq!(
        app.detail.as_ref().map(|d| d.side),
        Some(BodySide::Response)
    );

    send(&mut app, [ch('/')]);
    send(&mut app, typed("zzz"));
    send(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(info(&app), "no match for \"zzz\" in the bodies");
    // esc leaves the line, not the detail.
    send(&mut app, [ch('/'), key(KeyCode::Esc)]);
    assert!(
        app.detail
            .as_ref()
            .is_some_and(|d| d.search.typing.is_none())
    );
}

#[test]
fn n_before_any_search_says_how_to_search() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    send(&mut app, [ch('n')]);
    assert!(error(&app).contains("/ searches"));
}
