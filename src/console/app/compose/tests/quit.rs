//! `q` over unsaved edits (issue 18, point 1): edits since the last load, send or save
//! are asked about before quitting; none, and `q` quits at once.

use super::*;

#[test]
fn q_asks_before_losing_unsaved_edits() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    assert!(!app.composer.unsaved(), "a fresh template is not an edit");
    update(&mut app, key(KeyCode::Char('i')));
    typed(&mut app, " ");
    update(&mut app, key(KeyCode::Esc));
    assert!(app.composer.unsaved());
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
    let question = app.confirm.as_ref().map(|c| c.question.clone());
    assert_eq!(
        question.as_deref(),
        Some("Quit and lose the unsaved request?")
    );
    // Anything but y keeps the console and the edits.
    assert!(update(&mut app, key(KeyCode::Char('n'))).is_empty());
    assert!(app.confirm.is_none() && app.composer.unsaved());
    // :quit asks too.
    assert!(command(&mut app, "quit").is_empty());
    assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
    update(&mut app, key(KeyCode::Char('q')));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![Effect::Quit]
    );
}

#[test]
fn edits_from_the_editor_count_and_sending_clears_them() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let text = app.composer.text();
    edit(&mut app, &text);
    assert!(!app.composer.unsaved(), "the same text back is no edit");
    edit(&mut app, &text.replacen('{', "{ ", 1));
    assert!(app.composer.unsaved());
    let effects = update(&mut app, ctrl('s'));
    assert!(sent(&effects).is_some(), "{effects:?}");
    update(
        &mut app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(serde_json::json!({"Meta": {}})),
            elapsed: std::time::Duration::from_millis(12),
            logs: Vec::new(),
        })),
    );
    assert!(!app.composer.unsaved(), "what was sent is in the history");
    assert_eq!(
        update(&mut app, key(KeyCode::Char('q'))),
        vec![Effect::Quit]
    );
}

#[test]
fn saving_clears_the_unsaved_mark() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let text = app.composer.text();
    edit(&mut app, &text.replacen('{', "{ ", 1));
    assert!(app.composer.unsaved());
    update(&mut app, ctrl('w'));
    let effects = update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::SaveRequest { .. }]),
        "{effects:?}"
    );
    assert!(!app.composer.unsaved());
}
