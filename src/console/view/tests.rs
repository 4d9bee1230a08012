//! Snapshots of the screen drawn from an `App` driven through `update`, with fixed
//! timestamps, ids and figures (ages are measured from a fixed `NOW`).
//! `contrast` checks every theme's drawn colour pairs against WCAG; `look` what fits at
//! 80×24, small wordings and the feed's one-line rows.

use super::*;
use crate::client::wire::VisibleDetail;
use crate::client::wire::{
    ConnectionsView, DestinationHealth, DestinationInfo, DestinationView, EnvironmentView,
    LastAttempt, LogDetail, SourceHealth, SourceView,
};
use crate::client::{FeedEvent, Status};
use crate::console::app::{Msg, update};
use crate::console::feed::tests::log;
use crate::console::fixtures;
use crate::console::keymap::{self, Context};
use crate::model::reach::DeliveryMode;
use crate::model::{Attempt, AttemptOutcome, LogType, Role};
use chrono::{Duration, TimeZone};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use uuid::Uuid;

const PATIENT: &str = "0000000001";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 10, 0)
        .single()
        .unwrap_or_default()
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, key(KeyCode::Char(c)));
    }
}

/// A console in `env` for `role`, with status, environments, connections and a feed of
/// one log of each status (the newest selected). Production rows still carry a patient
/// identifier, as if the engine had failed to mask them.
fn console(role: Role, env: Environment) -> App {
    let mut app = App::new(role, "127.0.0.1:8443".into()).0;
    if env != app.environment {
        keys(&mut app, &format!(":env {env}"));
        update(&mut app, key(KeyCode::Enter));
    }
    update(
        &mut app,
        Msg::Status(Status {
            uptime_seconds: 3 * 3600 + 12 * 60 + 7,
            accepted_per_second: 42.0,
            delivered_per_second: 41.4,
            role,
            phi_visible: role.sees_phi(),
            overloaded: 0,
            queue_full: 0,
        }),
    );
    update(&mut app, Msg::Environments(environments()));
    update(&mut app, Msg::Connections(connections(env)));
    for log in feed_logs(env) {
        update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(log))));
    }
    app
}

fn environments() -> Vec<EnvironmentView> {
    Environment::ALL
        .iter()
        .zip([(3, 4, 12.0, 0), (2, 2, 0.5, 1), (5, 9, 1_250.0, 17)])
        .map(
            |(&name, (sources, destinations, rpm, failures))| EnvironmentView {
                name,
                sources,
                destinations,
                requests_per_minute: rpm,
                failures_5m: failures,
                variables: Default::default(),
                samples: None,
            },
        )
        .collect()
}

fn destination(n: u128, name: &str, env: Environment, mode: DeliveryMode) -> DestinationInfo {
    fixtures::destination(Uuid::from_u128(n), name, env, mode)
}

fn connections(env: Environment) -> ConnectionsView {
    let healthy = DestinationHealth {
        last_attempt: Some(LastAttempt {
            at: now() - Duration::seconds(3),
            succeeded: true,
            http_status: Some(200),
        }),
        attempts_5m: 40,
        failures_5m: 0,
        success_rate_5m: Some(1.0),
    };
    let failing = DestinationHealth {
        last_attempt: Some(LastAttempt {
            at: now() - Duration::seconds(18),
            succeeded: false,
            http_status: Some(503),
        }),
        attempts_5m: 20,
        failures_5m: 9,
        success_rate_5m: Some(0.55),
    };
    let view =
        |d, paused, allowed, depth, oldest: Option<i64>, quarantined, health| DestinationView {
            destination: d,
            paused,
            delivery_allowed: allowed,
            queue_depth: depth,
            queue_depth_capped: false,
            oldest_queued_at: oldest.map(|s| now() - Duration::seconds(s)),
            quarantined,
            health,
            delivered_by: None,
        };
    ConnectionsView {
        sources: vec![SourceView {
            source: fixtures::source(Uuid::from_u128(77), "Console", env),
            health: SourceHealth {
                last_request: Some(now() - Duration::seconds(3)),
                requests_per_minute: 12.0,
            },
        }],
        destinations: vec![
            view(
                destination(88, "Sandbox EHR", env, DeliveryMode::Push),
                false,
                true,
                0,
                None,
                0,
                healthy,
            ),
            view(
                destination(89, "Acme EHR", env, DeliveryMode::Push),
                true,
                true,
                37,
                Some(4 * 60 + 10),
                2,
                failing,
            ),
            view(
                destination(90, "Billing", env, DeliveryMode::Poll),
                false,
                false,
                1_204,
                Some(3 * 3600),
                0,
                DestinationHealth::default(),
            ),
        ],
        subscriptions: Vec::new(),
        organizations: Vec::new(),
    }
}

fn feed_logs(env: Environment) -> Vec<LogRecord> {
    let rows = [
        (
            LogType::Send,
            LogStatus::Succeeded,
            "PatientAdmin",
            "Arrival",
            1,
            Some(2.1),
        ),
        (
            LogType::Request,
            LogStatus::Succeeded,
            "PatientSearch",
            "Query",
            1,
            Some(4.8),
        ),
        (
            LogType::Send,
            LogStatus::Pending,
            "Results",
            "New",
            3,
            Some(30_012.0),
        ),
        (
            LogType::Send,
            LogStatus::Failed,
            "Scheduling",
            "Booked",
            5,
            Some(120.0),
        ),
    ];
    rows.into_iter()
        .enumerate()
        .map(|(i, (log_type, status, dm, event, attempts, latency))| {
            let mut l = log(i as u128 + 1, env);
            l.created_at += Duration::milliseconds(208 * i as i64);
            l.updated_at = l.created_at;
            l.log_type = log_type;
            l.status = status;
            l.data_model = dm.into();
            l.event_type = event.into();
            l.attempts = attempts;
            l.latency_ms = latency;
            l.patient_id = Some(PATIENT.into());
            l
        })
        .collect()
}

/// Opens the newest row's detail and answers it with attempts and bodies.
fn open_detail(app: &mut App, masked: bool) {
    update(app, key(KeyCode::Enter));
    let Some(open) = &app.detail else {
        panic!("enter opened no detail")
    };
    let log = open.row.clone();
    let attempts = (1..=log.attempts)
        .map(|n| Attempt {
            id: Uuid::from_u128(3_000_000 + u128::from(n)),
            log_id: log.id,
            number: n,
            started_at: log.created_at + Duration::seconds(i64::from(n) * 30),
            outcome: AttemptOutcome::Failed,
            http_status: Some(503),
            latency_ms: 120.0,
            response_body: (!masked).then(|| r#"{"error":"busy","patient":"0000000001"}"#.into()),
            response_truncated: false,
            error: Some("destination answered 503".into()),
        })
        .collect();
    let body = |kind: &str| {
        serde_json::json!({
            "Meta": {"DataModel": log.data_model, "EventType": kind},
            "Patient": {"Identifiers": [{"ID": PATIENT, "IDType": "MRN"}]}
        })
    };
    let mut record = log.clone();
    if masked {
        record.patient_id = None;
    }
    let tag = app.detail_tag();
    update(
        app,
        Msg::Detail(
            tag,
            Some(Box::new(VisibleDetail {
                detail: LogDetail {
                    log: record,
                    attempts,
                    request: (!masked).then(|| body("Booked")),
                    response: (!masked).then(|| body("Response")),
                    next_attempt_at: None,
                },
                masked,
            })),
        ),
    );
}

fn render(app: &mut App, theme: &Theme, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| draw_at(frame, app, theme, now()))
        .expect("draw");
    terminal
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

#[test]
fn development_main_screen() {
    let mut app = console(Role::Admin, Environment::Development);
    let terminal = render(&mut app, &Theme::dark(), 120, 32);
    assert!(screen(&terminal).contains(PATIENT));
    assert_snapshot!(terminal.backend());
}

#[test]
fn development_main_screen_at_the_minimum_size() {
    let mut app = console(Role::Admin, Environment::Development);
    assert_snapshot!(render(&mut app, &Theme::dark(), 80, 24).backend());
}

#[test]
fn production_viewer_sees_no_patient_field() {
    let mut app = console(Role::Viewer, Environment::Production);
    let terminal = render(&mut app, &Theme::dark(), 120, 32);
    assert!(!screen(&terminal).contains(PATIENT));
    assert_snapshot!(terminal.backend());
}

#[test]
fn production_with_phi_role_shows_patients() {
    let mut app = console(Role::Phi, Environment::Production);
    let terminal = render(&mut app, &Theme::dark(), 120, 32);
    assert!(screen(&terminal).contains(PATIENT));
    assert_snapshot!(terminal.backend());
}

#[test]
fn detail_view_with_attempts_and_bodies() {
    let mut app = console(Role::Admin, Environment::Development);
    open_detail(&mut app, false);
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    assert!(screen(&terminal).contains("\"Patient\""));
    assert_snapshot!(terminal.backend());
}

#[test]
fn detail_shows_a_logs_legacy_numbers() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Enter));
    let mut log = app.detail.as_ref().expect("detail").row.clone();
    log.legacy_ids = Some(crate::model::LegacyIds {
        message: 41,
        transmission: 42,
    });
    let detail = LogDetail {
        log,
        attempts: Vec::new(),
        request: None,
        response: None,
        next_attempt_at: None,
    };
    let tag = app.detail_tag();
    update(
        &mut app,
        Msg::Detail(
            tag,
            Some(Box::new(VisibleDetail {
                detail,
                masked: false,
            })),
        ),
    );
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("message 41 · transmission 42"), "{text}");
}

#[test]
fn detail_response_folded_to_an_outline_with_the_cursor_on_patient() {
    let mut app = console(Role::Admin, Environment::Development);
    open_detail(&mut app, false);
    for c in [
        KeyCode::Tab,
        KeyCode::Char('z'),
        KeyCode::Char('j'),
        KeyCode::Char('j'),
    ] {
        update(&mut app, key(c));
    }
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("▸   \"Patient\": {…} 1 key"), "{text}");
    assert!(text.contains("Response · Patient"), "{text}");
    assert_snapshot!(terminal.backend());
}

#[test]
fn production_viewer_detail_is_masked() {
    let mut app = console(Role::Viewer, Environment::Production);
    open_detail(&mut app, true);
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("hidden: no PHI permission"));
    assert!(!text.contains(PATIENT));
    assert_snapshot!(terminal.backend());
}

#[test]
fn production_viewer_detail_hides_bodies_even_if_the_engine_sent_them() {
    let mut app = console(Role::Viewer, Environment::Production);
    open_detail(&mut app, false);
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("hidden: no PHI permission"));
    assert!(!text.contains(PATIENT));
    assert!(!text.contains("Identifiers"));
    assert!(!text.contains("busy"));
}

#[test]
fn production_phi_detail_shows_bodies() {
    let mut app = console(Role::Phi, Environment::Production);
    open_detail(&mut app, false);
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("Identifiers"));
    assert!(!text.contains("hidden: no PHI permission"));
}

#[test]
fn help_overlay_lists_the_focused_panes_keys() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Char('?')));
    let terminal = render(&mut app, &Theme::dark(), 120, 60);
    let text = screen(&terminal);
    let rows = keymap::rows(Context::Feed)
        .iter()
        .chain(keymap::rows(Context::Global));
    for row in rows {
        assert!(
            text.contains(row.label) && text.contains(row.help),
            "{} {} missing",
            row.label,
            row.help
        );
    }
    assert_snapshot!(terminal.backend());
}

#[test]
fn filter_line_underlines_the_error() {
    let mut app = console(Role::Admin, Environment::Development);
    keys(&mut app, "/status:bogus dm:Results");
    let Some(Prompt::Filter {
        error: Some(error), ..
    }) = &app.prompt
    else {
        panic!("the filter line shows no error")
    };
    let (start, end) = (error.start, error.end);
    assert!(start < end);
    let terminal = render(&mut app, &Theme::dark(), 120, 32);
    let buffer = terminal.backend().buffer();
    let y = buffer.area.height - 1;
    // "/" takes column 0; the filter text is ASCII here.
    for x in 0..30u16 {
        let underlined = buffer[(x, y)].modifier.contains(Modifier::UNDERLINED);
        let in_error = (start + 1..end + 1).contains(&(x as usize));
        assert_eq!(underlined, in_error, "column {x}");
    }
    assert_snapshot!(terminal.backend());
}

#[test]
fn production_action_asks_for_confirmation() {
    let mut app = console(Role::Operator, Environment::Production);
    open_detail(&mut app, true);
    update(&mut app, key(KeyCode::Char('r')));
    assert!(app.confirm.is_some());
    assert_snapshot!(render(&mut app, &Theme::dark(), 120, 32).backend());
}

#[test]
fn a_revocation_asks_in_development_too_and_says_what_it_asks() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Char(':')));
    for c in "revoke-token ops".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::Enter));
    let text = screen(&render(&mut app, &Theme::dark(), 120, 32));
    assert!(text.contains("Revoke: confirm"), "{text}");
    assert!(!text.contains("Production: confirm"), "{text}");
    assert!(text.contains("admin token named \"ops\""), "{text}");
}

#[test]
fn refused_requests_show_in_the_status_line() {
    let mut app = console(Role::Admin, Environment::Development);
    let status = |overloaded, queue_full| Status {
        uptime_seconds: 60,
        accepted_per_second: 1.0,
        delivered_per_second: 1.0,
        role: Role::Admin,
        phi_visible: true,
        overloaded,
        queue_full,
    };
    let first_line = |app: &mut App| {
        let text = screen(&render(app, &Theme::dark(), 160, 32));
        text.lines().next().unwrap_or_default().to_string()
    };
    assert!(!first_line(&mut app).contains("refused"));
    update(&mut app, Msg::Status(status(2, 5)));
    let line = first_line(&mut app);
    assert!(line.contains("refused: busy 2 · queue full 5"), "{line}");
}

#[test]
fn connection_lost_shows_a_banner() {
    let mut app = console(Role::Admin, Environment::Development);
    update(
        &mut app,
        Msg::Feed(FeedEvent::Disconnected {
            reason: "connection refused".into(),
            retry_in: std::time::Duration::from_secs(2),
        }),
    );
    let text = screen(&render(&mut app, &Theme::dark(), 120, 32));
    // In words, with where and when, and what to do; the status bar says it too.
    assert!(
        text.contains("engine unreachable at 127.0.0.1:8443"),
        "{text}"
    );
    assert!(text.contains("r to retry now"), "{text}");
    assert!(text.contains("✖ disconnected"), "{text}");
    assert!(
        !text.contains("  up "),
        "uptime shown while disconnected:\n{text}"
    );
    update(&mut app, Msg::Feed(FeedEvent::Reconnected));
    let text = screen(&render(&mut app, &Theme::dark(), 120, 32));
    assert!(!text.contains("engine unreachable"));
}

#[test]
fn frozen_feed_counts_new_rows() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Char('f')));
    let mut extra = log(9, Environment::Development);
    extra.created_at += Duration::seconds(1);
    update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(extra))));
    let text = screen(&render(&mut app, &Theme::dark(), 120, 32));
    assert!(
        text.contains("frozen · 1 new since freeze · 5 rows"),
        "{text}"
    );
}

#[test]
fn too_small_terminal_shows_only_a_notice() {
    let mut app = console(Role::Admin, Environment::Development);
    assert_snapshot!(render(&mut app, &Theme::dark(), 60, 20).backend());
}

#[test]
fn never_panics_at_any_size() {
    let mut app = console(Role::Admin, Environment::Development);
    for (w, h) in [
        (1, 1),
        (0, 0),
        (79, 24),
        (80, 23),
        (80, 24),
        (200, 50),
        (500, 3),
    ] {
        render(&mut app, &Theme::dark(), w, h);
    }
    update(&mut app, key(KeyCode::Char('?')));
    render(&mut app, &Theme::mono(), 80, 24);
    update(&mut app, key(KeyCode::Esc));
    open_detail(&mut app, false);
    for (w, h) in [(1, 1), (80, 24), (200, 50)] {
        render(&mut app, &Theme::dark(), w, h);
    }
}

#[test]
fn mono_theme_has_no_colour_and_a_visible_selection() {
    let mut app = console(Role::Admin, Environment::Development);
    let terminal = render(&mut app, &Theme::mono(), 120, 32);
    let buffer = terminal.backend().buffer();
    for cell in &buffer.content {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
    // Following: the newest row (created 03:04:05.624) is selected.
    let area = buffer.area;
    let found = (0..area.height).find_map(|y| {
        let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
        line.find("03:04:05.624")
            .map(|i| (line[..i].chars().count() as u16, y))
    });
    let Some((x, y)) = found else {
        panic!("the newest row is not drawn")
    };
    let modifier = buffer[(x, y)].modifier;
    assert!(
        modifier.contains(Modifier::REVERSED | Modifier::BOLD),
        "{modifier:?}"
    );
    // The row below (its status line) is selected too; an unselected row is not.
    assert!(buffer[(x, y + 1)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(x, y - 1)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn production_band_is_red() {
    let mut app = console(Role::Admin, Environment::Production);
    let terminal = render(&mut app, &Theme::dark(), 120, 32);
    let buffer = terminal.backend().buffer();
    let line: String = (0..buffer.area.width)
        .map(|x| buffer[(x, 1)].symbol())
        .collect();
    let Some(i) = line.find("PRODUCTION") else {
        panic!("no Production band: {line}")
    };
    let x = line[..i].chars().count() as u16;
    assert_eq!(buffer[(x, 1)].bg, Color::Red);
}

mod composer;
mod contrast;
mod developer;
mod fhir;
mod help;
mod look;
mod ops;
mod organizations;
