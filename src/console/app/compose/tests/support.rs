//! The composer for daily use: undo/redo while editing, the prompts' line editor, answer
//! summaries in words, the picker not asking what the user chose, `c` asking before it
//! drops edits, the answer scrolled from the body, and the curl's platform token.

use super::*;

fn edit_mode_typed(app: &mut App, text: &str) {
    update(app, key(KeyCode::Char('i')));
    typed(app, text);
}

#[test]
fn ctrl_z_undoes_and_ctrl_y_redoes_while_editing() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let original = app.composer.text();
    edit_mode_typed(&mut app, "x");
    assert!(app.composer.text().starts_with("x{"));
    assert!(app.composer.validation.syntax_error.is_some());
    assert!(update(&mut app, ctrl('z')).is_empty());
    assert_eq!(app.composer.text(), original, "undone");
    assert!(
        app.composer.validation.syntax_error.is_none(),
        "checked again"
    );
    update(&mut app, ctrl('y'));
    assert!(app.composer.text().starts_with("x{"), "redone");
    assert_eq!(app.composer.focus, ComposerFocus::Editing);
}

#[test]
fn the_save_name_is_selected_so_typing_replaces_it() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    update(&mut app, ctrl('w'));
    typed(&mut app, "by-mrn");
    let name = |app: &App| app.composer.naming.as_ref().map(|l| l.text.clone());
    assert_eq!(name(&app).as_deref(), Some("by-mrn"));
    // The usual keys: ctrl-w deletes the word, ctrl-u to the start (not a "u").
    typed(&mut app, " two");
    update(&mut app, ctrl('w'));
    assert_eq!(name(&app).as_deref(), Some("by-mrn "));
    update(&mut app, ctrl('u'));
    assert_eq!(name(&app).as_deref(), Some(""));
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("type a name")));
    typed(&mut app, "mine");
    let effects = update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(effects.first(), Some(Effect::SaveRequest { name, .. }) if name == "mine"),
        "{effects:?}"
    );
}

#[test]
fn the_picker_and_the_guard_edit_like_every_prompt() {
    let mut app = console(Role::Admin);
    update(&mut app, key(KeyCode::Char('c')));
    update(&mut app, key(KeyCode::Enter));
    typed(&mut app, "patient search");
    update(&mut app, ctrl('w'));
    let query = |app: &App| app.composer.picker.as_ref().map(|p| p.query.text.clone());
    assert_eq!(query(&app).as_deref(), Some("patient "));
    update(&mut app, ctrl('u'));
    assert_eq!(query(&app).as_deref(), Some(""));

    let mut app = console(Role::Admin);
    command(&mut app, "env production");
    update(&mut app, Msg::Connections(production()));
    let mut envs = environments();
    envs[2].variables = envs[0].variables.clone();
    update(&mut app, Msg::Environments(envs));
    command(&mut app, "compose PatientAdmin Arrival");
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, ctrl('s'));
    typed(&mut app, "Acme EHRR");
    update(&mut app, ctrl('u'));
    typed(&mut app, "Acme EHR");
    assert!(sent(&update(&mut app, key(KeyCode::Enter))).is_some());
}

fn answer(app: &mut App, body: serde_json::Value) -> Vec<Effect> {
    update(app, ctrl('s'));
    update(
        app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(body),
            elapsed: Duration::from_millis(12),
            logs: Vec::new(),
        })),
    )
}

#[test]
fn an_unknown_mrn_is_answered_in_words_and_the_history_keeps_them() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let effects = answer(
        &mut app,
        serde_json::json!({"Meta": {"DataModel": "PatientSearch"}, "Patient": {}, "PotentialMatches": []}),
    );
    let summary = app.composer.answer.as_ref().and_then(|a| a.summary.clone());
    assert_eq!(
        summary.as_deref(),
        Some("no patient matches MRN 0000000001")
    );
    let Some(Effect::RecordSent(sent)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(sent.summary, summary);
    let mut masked = sent.clone();
    masked.mask_phi();
    assert_eq!(masked.summary, None, "a summary may name a patient");
}

#[test]
fn the_picker_does_not_ask_for_an_environment_already_chosen() {
    let mut app = console(Role::Admin);
    update(&mut app, key(KeyCode::Char('c')));
    let step = |app: &App| app.composer.picker.as_ref().map(|p| p.step);
    assert_eq!(
        step(&app),
        Some(PickStep::Environment),
        "nothing chosen yet"
    );
    update(&mut app, key(KeyCode::Esc));
    command(&mut app, "env staging");
    update(&mut app, key(KeyCode::Char('c')));
    assert_eq!(step(&app), Some(PickStep::Event));
    assert_eq!(app.environment, Environment::Staging);

    // Chosen in the Environments pane.
    let mut app = console(Role::Admin);
    update(&mut app, key(KeyCode::Char('1')));
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Char('c')));
    assert_eq!(step(&app), Some(PickStep::Event));
}

#[test]
fn c_asks_before_it_drops_unsaved_edits() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    // Nothing changed: a new request at once.
    update(&mut app, key(KeyCode::Char('c')));
    assert!(app.composer.picker.is_some());
    update(&mut app, key(KeyCode::Esc));

    edit_mode_typed(&mut app, " ");
    update(&mut app, key(KeyCode::Esc));
    let edited = app.composer.text();
    update(&mut app, key(KeyCode::Char('c')));
    assert!(app.composer.picker.is_none(), "asked first");
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("unsaved edits")));
    update(&mut app, key(KeyCode::Char('n')));
    assert_eq!(app.composer.text(), edited, "kept");
    assert!(app.composer.picker.is_none());

    // From another pane too; `y` discards.
    update(&mut app, key(KeyCode::Char('3')));
    update(&mut app, key(KeyCode::Char('c')));
    assert_eq!(app.focus, Pane::Composer);
    assert!(app.composer.picker.is_none());
    update(&mut app, key(KeyCode::Char('y')));
    assert!(app.composer.picker.is_some());
    update(&mut app, key(KeyCode::Esc));

    // `:compose EVENT` asks too, and opens that event once answered.
    edit_mode_typed(&mut app, " ");
    update(&mut app, key(KeyCode::Esc));
    command(&mut app, "compose PatientAdmin Arrival");
    assert!(app.composer.discard_asked);
    update(&mut app, key(KeyCode::Char('y')));
    let label = app.composer.draft.as_ref().map(|d| d.what.label());
    assert_eq!(label.as_deref(), Some("PatientAdmin Arrival"));

    // Saved edits are not asked about.
    update(&mut app, ctrl('w'));
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Char('c')));
    assert!(app.composer.picker.is_some());
}

#[test]
fn j_and_k_scroll_the_answer_from_the_body() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let rows: Vec<serde_json::Value> = (0..40).map(|n| serde_json::json!({"n": n})).collect();
    answer(&mut app, serde_json::json!({"Meta": {}, "Rows": rows}));
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(
        app.composer.focus,
        ComposerFocus::Body,
        "not in answer mode"
    );
    let a = app.composer.answer.as_ref().expect("answer");
    assert_eq!(a.scroll, 2);
    assert_eq!(a.tree.as_ref().map(|t| t.cursor()), Some(2));
    update(&mut app, key(KeyCode::Char('k')));
    let a = app.composer.answer.as_ref().expect("answer");
    assert_eq!(a.scroll, 1);
}

#[test]
fn the_copied_curl_reads_a_platform_token_and_says_how_to_get_one() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let effects = update(&mut app, key(KeyCode::Char('y')));
    let Some(Effect::Copy { text, what }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert!(text.contains("Bearer ${SWITCHBOARD_API_TOKEN}"), "{text}");
    assert!(
        !text.contains("${SWITCHBOARD_TOKEN}"),
        "not the admin token"
    );
    assert!(what.contains("/auth/authenticate"), "{what}");
}
