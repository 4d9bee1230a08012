//! What fits at 80×24, the wording of small things, and the feed's one-line rows on a
//! wide pane.

use super::composer::{composing, draft, template};
use super::*;
use crate::model::schema::SchemaIssue;

fn lines(terminal: &Terminal<TestBackend>) -> Vec<String> {
    screen(terminal)
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

/// The Live feed's title line (the one its top border is on).
fn feed_title(terminal: &Terminal<TestBackend>) -> String {
    lines(terminal)
        .into_iter()
        .find(|l| l.contains(" 3 "))
        .unwrap_or_default()
}

#[test]
fn at_80x24_the_feed_title_keeps_the_filter_and_the_dropped_counter() {
    let mut app = console(Role::Admin, Environment::Development);
    keys(&mut app, "/dm:Results");
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, Msg::Feed(FeedEvent::Dropped(3)));
    let terminal = render(&mut app, &Theme::dark(), 80, 24);
    let title = feed_title(&terminal);
    assert!(title.contains("⚑ dm:Results"), "{title}");
    assert!(title.contains("↓3"), "{title}");
    assert!(title.contains("live"), "{title}");
    // Wide enough, the title spells it all out.
    let title = feed_title(&render(&mut app, &Theme::dark(), 200, 40));
    assert!(title.contains("dropped 3"), "{title}");
    assert!(title.contains("filter dm:Results"), "{title}");
}

#[test]
fn at_80x24_a_long_filter_is_shortened_before_the_dropped_counter_goes() {
    let mut app = console(Role::Admin, Environment::Development);
    keys(
        &mut app,
        "/dm:Results src:Console dst:\"Sandbox EHR\" type:send",
    );
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Char('f')));
    let title = feed_title(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(title.contains("↓0"), "{title}");
    assert!(title.contains("frozen +0"), "{title}");
    assert!(title.contains("⚑ dm:Results"), "{title}");
    assert!(title.contains('…'), "{title}");
}

#[test]
fn at_80x24_the_hint_bar_drops_whole_items_and_keeps_help() {
    let mut app = console(Role::Admin, Environment::Development);
    let all = lines(&render(&mut app, &Theme::dark(), 80, 24));
    let bottom = all.last().cloned().unwrap_or_default();
    assert!(bottom.trim_end().ends_with("? help"), "{bottom}");
    assert!(bottom.contains("f freeze"), "{bottom}");
    // Every pane's hint ends on a whole item.
    for pane in ["1", "2", "4"] {
        keys(&mut app, pane);
        let all = lines(&render(&mut app, &Theme::dark(), 80, 24));
        let bottom = all.last().cloned().unwrap_or_default();
        let bottom = bottom.trim_end();
        assert!(
            bottom.ends_with("? help") || bottom.ends_with("tab next pane"),
            "{pane}: {bottom}"
        );
    }
}

#[test]
fn environments_count_sources_and_destinations_in_words() {
    let mut app = console(Role::Admin, Environment::Development);
    let text = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(text.contains("Development 3 src · 4 dst ✖0"), "{text}");
    assert!(text.contains("Production 5 src · 9 dst ✖17"), "{text}");
    assert!(!text.contains("3s 4d"), "{text}");
    // With room, the rate is shown too.
    let text = screen(&render(&mut app, &Theme::dark(), 200, 40));
    assert!(text.contains("3 src · 4 dst 12/m ✖0"), "{text}");
}

#[test]
fn one_schema_warning_is_singular() {
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut app = composing(d, &text);
    let issue = SchemaIssue {
        json_path: "/Patient".into(),
        path: "Patient".into(),
        line: 2,
        message: "is missing".into(),
    };
    app.composer.validation.syntax_error = None;
    app.composer.validation.schema_issues = vec![issue.clone()];
    let shown = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(shown.contains("⚠ 1 schema warning "), "{shown}");
    app.composer.validation.schema_issues = vec![issue.clone(), issue];
    let shown = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(shown.contains("⚠ 2 schema warnings"), "{shown}");
}

/// A detail whose one attempt was answered `status` with `body`, and whose log kept no
/// response of its own.
fn answered_detail(status: u16, error: Option<&str>, body: Option<&str>) -> App {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Enter));
    let log = app.detail.as_ref().expect("detail").row.clone();
    let attempt = Attempt {
        id: Uuid::from_u128(3_000_001),
        log_id: log.id,
        number: 1,
        started_at: log.created_at,
        outcome: if status < 300 {
            AttemptOutcome::Succeeded
        } else {
            AttemptOutcome::Failed
        },
        http_status: Some(status),
        latency_ms: 4.0,
        response_body: body.map(str::to_string),
        response_truncated: false,
        error: error.map(str::to_string),
    };
    let detail = LogDetail {
        log,
        attempts: vec![attempt],
        request: Some(serde_json::json!({"Meta": {"DataModel": "Scheduling"}})),
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
    app
}

#[test]
fn the_attempt_line_says_the_http_status_once() {
    let mut app = answered_detail(500, Some("HTTP 500"), None);
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    let line = text
        .lines()
        .find(|l| l.contains("#1"))
        .unwrap_or_default()
        .to_string();
    assert_eq!(line.matches("HTTP 500").count(), 1, "{line}");
    // An error with more to say keeps what follows the code.
    let mut app = answered_detail(401, Some("HTTP 401: answer refused (401)"), None);
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("answer refused"), "{text}");
}

#[test]
fn the_response_pane_shows_what_the_attempt_was_answered_with() {
    let mut app = answered_detail(200, None, Some("{}"));
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    let response = text
        .lines()
        .skip_while(|l| !l.contains("Response"))
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(response.contains("{}"), "{text}");
    assert!(!response.contains("none"), "{text}");

    let mut app = answered_detail(200, None, Some(""));
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("empty body"), "{text}");
}

#[test]
fn the_empty_feed_says_how_to_make_traffic() {
    let mut app = App::new(Role::Admin, "127.0.0.1:8443".into()).0;
    let text = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(text.contains("c to compose"), "{text}");
    assert!(text.contains("switchboard simulate"), "{text}");
}

#[test]
fn phi_is_mentioned_only_where_it_can_be() {
    for (role, env, expected) in [
        (Role::Admin, Environment::Development, None),
        (Role::Viewer, Environment::Staging, None),
        (Role::Viewer, Environment::Production, Some("PHI hidden")),
        (Role::Phi, Environment::Production, Some("PHI visible")),
    ] {
        let mut app = console(role, env);
        let text = screen(&render(&mut app, &Theme::dark(), 120, 32));
        let first = text.lines().next().unwrap_or_default();
        match expected {
            Some(marker) => assert!(first.contains(marker), "{env}: {first}"),
            None => assert!(!first.contains("PHI"), "{env}: {first}"),
        }
    }
}

/// A Development console with `n` logs in the feed.
fn busy(n: u128) -> App {
    let mut app = console(Role::Admin, Environment::Development);
    for i in 0..n {
        let mut l = crate::console::feed::tests::log(100 + i, Environment::Development);
        l.created_at += Duration::seconds(10 + i as i64);
        l.status = LogStatus::Succeeded;
        l.attempts = 1;
        l.latency_ms = Some(3.5);
        update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(l))));
    }
    app
}

/// How many feed rows (time stamps) are on screen.
fn rows_shown(terminal: &Terminal<TestBackend>) -> usize {
    lines(terminal)
        .iter()
        .filter(|l| l.contains(" 03:0") || l.contains("│03:0"))
        .count()
}

#[test]
fn a_wide_feed_shows_one_line_per_log_in_columns() {
    let mut app = busy(100);
    assert_eq!(feed_row_lines(&app, 152), 1);
    assert_eq!(feed_row_lines(&app, 119), 2);
    let terminal = render(&mut app, &Theme::dark(), 200, 60);
    let text = screen(&terminal);
    assert!(
        text.contains("TIME") && text.contains("SOURCE → DESTINATION") && text.contains("ATT"),
        "{text}"
    );
    // 60 lines less the bars, the borders, the composer and the header: ~50 rows,
    // where two-line rows fit ~26.
    let shown = rows_shown(&terminal);
    assert!(shown >= 40, "{shown} rows\n{text}");
    let row = lines(&terminal)
        .into_iter()
        .find(|l| l.contains("03:05:54.000"))
        .unwrap_or_default();
    for column in [
        "SEND",
        "PatientAdmin Arrival",
        "Console → Sandbox EHR",
        "✔ SUCCEEDED",
    ] {
        assert!(row.contains(column), "{column}: {row}");
    }
    assert!(row.contains("3.5 ms"), "{row}");

    // `v` goes back to two lines a log, and again to one.
    keys(&mut app, "v");
    let two = rows_shown(&render(&mut app, &Theme::dark(), 200, 60));
    assert!(two < 30 && two > 15, "{two}");
    keys(&mut app, "v");
    assert_eq!(
        rows_shown(&render(&mut app, &Theme::dark(), 200, 60)),
        shown
    );
}

#[test]
fn a_narrow_feed_keeps_two_lines_per_log_and_v_switches_to_one() {
    let mut app = busy(40);
    let terminal = render(&mut app, &Theme::dark(), 80, 24);
    let text = screen(&terminal);
    assert!(!text.contains("SOURCE → DESTINATION"), "{text}");
    // The route moves to the second line, whose figures get short, so it is not cut.
    assert!(text.contains("✔ 1× 3.5 ms Console → Sandbox EHR"), "{text}");
    let two = rows_shown(&terminal);
    keys(&mut app, "v");
    let terminal = render(&mut app, &Theme::dark(), 80, 24);
    let one = rows_shown(&terminal);
    assert!(one > two, "{one} one-line rows vs {two} two-line rows");
    assert!(screen(&terminal).contains("TIME"));
}

#[test]
fn at_80x24_the_detail_still_shows_the_attempts() {
    let mut app = answered_detail(500, Some("HTTP 500"), None);
    let text = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(text.contains("Attempts"), "{text}");
    assert!(text.contains("#1"), "{text}");
    assert!(text.contains("status ✖ FAILED"), "{text}");
    assert!(text.contains("UTC · updated 2026"), "{text}");
    assert!(text.contains("Response"), "{text}");
    // With room, one field a line.
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("updated   2026"), "{text}");
}

#[test]
fn at_80x24_the_composer_footers_drop_whole_items() {
    let mut app = console(Role::Admin, Environment::Development);
    let text = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(text.contains("│c compose a request "), "{text}");
    assert!(!text.contains(":compose PatientSearch Q"), "{text}");
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let body = template(&d);
    let mut app = composing(d, &body);
    let text = screen(&render(&mut app, &Theme::dark(), 80, 24));
    let footer = text
        .lines()
        .find(|l| l.contains("✔ valid"))
        .unwrap_or_default();
    let inside = footer.trim_matches(['"', '│', ' ']);
    assert!(inside.ends_with("· h history"), "{footer}");
    assert!(!footer.contains("ctrl-w sav"), "{footer}");
}
