//! The detail view's operator additions on screen: when the next retry is due, and a
//! search's line, count and highlighted matches.

use super::*;
use ratatui::style::Modifier;

/// The open detail answered again, now with a retry due `seconds` from `now()`.
fn retry_due_in(app: &mut App, seconds: i64) {
    let open = app.detail.as_ref().expect("detail");
    let mut detail = open.detail.clone().expect("loaded");
    detail.detail.next_attempt_at = Some(now() + Duration::seconds(seconds));
    let tag = app.detail_tag();
    update(app, Msg::Detail(tag, Some(Box::new(detail))));
}

#[test]
fn the_detail_says_when_the_next_retry_is_due() {
    let mut app = console(Role::Admin, Environment::Development);
    app.clock = Some(now());
    open_detail(&mut app, false);
    assert!(!screen(&render(&mut app, &Theme::dark(), 120, 40)).contains("next try"));
    retry_due_in(&mut app, 78);
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(
        text.contains("next try  in 1m18s (03:11:18 UTC) · r retries now"),
        "{text}"
    );
    retry_due_in(&mut app, -1);
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("next try  due now"), "{text}");
}

#[test]
fn a_search_shows_its_line_then_its_count_and_underlines_the_match() {
    let mut app = console(Role::Admin, Environment::Development);
    open_detail(&mut app, false);
    keys(&mut app, "/mrn");
    let text = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(text.contains("/mrn   search the bodies"), "{text}");
    update(&mut app, key(KeyCode::Enter));
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("/mrn 1/1"), "{text}");
    // The matched value, "MRN", is underlined wherever it is drawn.
    let buffer = terminal.backend().buffer();
    let row: Vec<u16> = (0..buffer.area.height)
        .filter(|&y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .contains("\"MRN\"")
        })
        .collect();
    assert!(!row.is_empty(), "{text}");
    // The cursor's row is drawn as the selection; the other side's match is underlined.
    let underlined = row.iter().any(|&y| {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        line.match_indices("\"MRN\"").any(|(i, _)| {
            let x = line[..i].chars().count() as u16;
            buffer[(x + 1, y)].modifier.contains(Modifier::UNDERLINED)
        })
    });
    assert!(underlined, "{text}");
}
