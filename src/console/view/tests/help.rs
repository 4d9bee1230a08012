//! The `?` overlay drawn from the keymap (issue 18, points 22 and 7): every binding of
//! every context is listed in the help of the view where it works, and the help
//! scrolls when it does not fit (80×24 says "↓ more").

use super::super::keys::help_sections;
use super::*;

fn press(app: &mut App, c: char) {
    update(app, key(KeyCode::Char(c)));
}

/// The console in each view that has help of its own, with the help open.
fn every_view() -> Vec<(&'static str, App)> {
    let mut views = Vec::new();
    for (name, pane) in [
        ("environments", '1'),
        ("connections", '2'),
        ("feed", '3'),
        ("composer", '4'),
    ] {
        let mut app = console(Role::Admin, Environment::Development);
        press(&mut app, pane);
        views.push((name, app));
    }
    let mut detail = console(Role::Admin, Environment::Development);
    update(&mut detail, key(KeyCode::Enter));
    assert!(detail.detail.is_some());
    views.push(("detail", detail));
    for (name, tab) in [("keys", 'K'), ("endpoints", 'E')] {
        let mut app = console(Role::Admin, Environment::Development);
        press(&mut app, tab);
        views.push((name, app));
    }
    for (_, app) in &mut views {
        press(app, '?');
        assert!(app.help);
    }
    views
}

#[test]
fn every_binding_is_listed_in_the_help_of_its_view() {
    let mut covered = Vec::new();
    for (name, mut app) in every_view() {
        let text = screen(&render(&mut app, &Theme::dark(), 200, 120));
        let (_, sections) = help_sections(&app);
        for context in sections {
            let heading = context.title();
            assert!(text.contains(heading), "{name}: no heading {heading}");
            for row in keymap::rows(context) {
                assert!(
                    text.contains(row.label) && text.contains(row.help),
                    "{name}: {context:?} row {} ({}) is not in the help:\n{text}",
                    row.label,
                    row.help
                );
            }
            covered.push(context);
        }
    }
    for context in Context::ALL {
        assert!(
            covered.contains(&context),
            "no view's help lists the {context:?} keys"
        );
    }
}

#[test]
fn help_scrolls_at_80x24_and_says_there_is_more() {
    let mut app = console(Role::Admin, Environment::Development);
    press(&mut app, '4');
    press(&mut app, '?');
    let top = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(
        top.contains("Help · Composer") && top.contains("c / n"),
        "{top}"
    );
    assert!(top.contains("↓ more"), "{top}");
    assert!(!top.contains("ctrl-c"), "the end fits already?\n{top}");

    update(&mut app, key(KeyCode::End));
    let bottom = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(
        bottom.contains("ctrl-c") && bottom.contains("↑ more"),
        "{bottom}"
    );
    assert!(
        !bottom.contains("↓ more") && !bottom.contains("c / n"),
        "{bottom}"
    );
    // Kept in range: one step up shows one more line at the top at once.
    let end = app.help_scroll;
    update(&mut app, key(KeyCode::Up));
    render(&mut app, &Theme::dark(), 80, 24);
    assert_eq!(app.help_scroll, end - 1);

    press(&mut app, 'g');
    let again = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(
        again.contains("c / n") && again.contains("↓ more"),
        "{again}"
    );
    for _ in 0..3 {
        update(&mut app, key(KeyCode::PageDown));
    }
    let paged = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(!paged.contains("c / n"), "{paged}");
}

#[test]
fn the_detail_view_has_help_at_80x24() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Enter));
    press(&mut app, '?');
    let text = screen(&render(&mut app, &Theme::dark(), 80, 24));
    assert!(text.contains("Help · Log detail"), "{text}");
    assert!(text.contains("quarantine the log"), "{text}");
}

#[test]
fn help_rows_wrap_rather_than_cut_at_80_columns() {
    let mut app = console(Role::Admin, Environment::Development);
    press(&mut app, '?');
    let text = screen(&render(&mut app, &Theme::dark(), 80, 60));
    // The longest row of the feed's help ends on the line below its keys.
    assert!(text.contains("filter the feed (status:failed"), "{text}");
    assert!(text.contains("req:)"), "cut at the popup's edge:\n{text}");
}
