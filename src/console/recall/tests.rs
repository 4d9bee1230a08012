//! The prompts' history (bounded, deduplicated, on disk) and Tab completion, alone and
//! through `update` across an App restart.

use super::*;
use crate::console::app::{App, Effect, Msg, Prompt, update};
use crate::console::fixtures::{builtin_development, builtin_environments};
use crate::model::Role;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| update(app, key(KeyCode::Char(c))))
        .collect()
}

fn line(app: &App) -> String {
    match &app.prompt {
        Some(Prompt::Filter { line, .. } | Prompt::Command { line }) => line.text.clone(),
        None => panic!("no prompt open"),
    }
}

/// A console that keeps its prompt history in `path`, as `run` sets it up.
fn console(path: &Path) -> App {
    let (mut app, _) = App::new(Role::Admin, "127.0.0.1:8443".into());
    app.prompt_history = PromptHistory::load(path).expect("history readable");
    app.history_file = Some(path.to_path_buf());
    update(&mut app, Msg::Environments(builtin_environments()));
    update(&mut app, Msg::Connections(builtin_development()));
    app
}

/// Carries out the save effects as the loop would.
fn save(effects: &[Effect]) {
    for effect in effects {
        if let Effect::SavePromptHistory { path, history } = effect {
            history.save(path).expect("history written");
        }
    }
}

#[test]
fn history_is_newest_first_deduplicated_and_bounded() {
    let mut h = PromptHistory::default();
    assert!(h.record(PromptKind::Command, "env staging"));
    assert!(h.record(PromptKind::Command, " theme light "));
    assert!(
        !h.record(PromptKind::Command, "theme light"),
        "already the newest"
    );
    assert!(!h.record(PromptKind::Command, "   "));
    assert!(h.record(PromptKind::Command, "env staging"));
    assert_eq!(h.lines(PromptKind::Command), ["env staging", "theme light"]);
    assert!(h.lines(PromptKind::Filter).is_empty(), "kept per prompt");
    for n in 0..HISTORY_LIMIT + 10 {
        h.record(PromptKind::Filter, &format!("mrn:{n}"));
    }
    let filters = h.lines(PromptKind::Filter);
    assert_eq!(filters.len(), HISTORY_LIMIT);
    assert_eq!(filters[0], format!("mrn:{}", HISTORY_LIMIT + 9));
}

#[test]
fn a_broken_history_file_says_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(HISTORY_FILE);
    assert_eq!(
        PromptHistory::load(&path).ok(),
        Some(PromptHistory::default())
    );
    std::fs::write(&path, "{ not json").expect("write");
    let err = PromptHistory::load(&path)
        .expect_err("not JSON")
        .to_string();
    assert!(err.contains("delete the file"), "{err}");
}

#[test]
fn prompt_lines_come_back_with_up_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join(HISTORY_FILE);
    let mut app = console(&path);
    update(&mut app, key(KeyCode::Char(':')));
    typed(&mut app, "theme light");
    save(&update(&mut app, key(KeyCode::Enter)));
    update(&mut app, key(KeyCode::Char('/')));
    typed(&mut app, "status:failed");
    save(&update(&mut app, key(KeyCode::Enter)));
    update(&mut app, key(KeyCode::Char(':')));
    typed(&mut app, "env staging");
    save(&update(&mut app, key(KeyCode::Enter)));

    // A new console on the same data directory.
    let mut app = console(&path);
    update(&mut app, key(KeyCode::Char(':')));
    typed(&mut app, "re");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(line(&app), "env staging", "newest first");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(line(&app), "theme light");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(line(&app), "theme light", "stays at the oldest");
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Down));
    assert_eq!(line(&app), "re", "back to what was being typed");
    update(&mut app, key(KeyCode::Esc));

    // The filter prompt has its own lines (and opens with the applied filter selected).
    update(&mut app, key(KeyCode::Char('/')));
    update(&mut app, key(KeyCode::Up));
    assert_eq!(line(&app), "status:failed");
}

#[test]
fn tab_completes_commands_filter_keys_and_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = console(&dir.path().join(HISTORY_FILE));
    let tab = || key(KeyCode::Tab);

    update(&mut app, key(KeyCode::Char(':')));
    typed(&mut app, "re");
    update(&mut app, tab());
    assert_eq!(line(&app), "reload");
    update(&mut app, tab());
    assert_eq!(line(&app), "resume", "tab cycles");
    update(&mut app, tab());
    assert_eq!(line(&app), "revoke-key");
    update(&mut app, key(KeyCode::BackTab));
    assert_eq!(line(&app), "resume", "shift-tab goes back");
    typed(&mut app, " sand");
    update(&mut app, tab());
    assert_eq!(
        line(&app),
        "resume \"Sandbox EHR\"",
        "destination names, quoted"
    );
    update(&mut app, key(KeyCode::Esc));

    update(&mut app, key(KeyCode::Char(':')));
    typed(&mut app, "compose PatientS");
    update(&mut app, tab());
    assert_eq!(line(&app), "compose PatientSearch");
    typed(&mut app, " ");
    update(&mut app, tab());
    assert_eq!(
        line(&app),
        "compose PatientSearch LocationQuery",
        "that model's events only"
    );
    update(&mut app, tab());
    assert_eq!(line(&app), "compose PatientSearch Query");
    update(&mut app, key(KeyCode::Esc));

    update(&mut app, key(KeyCode::Char('/')));
    typed(&mut app, "st");
    update(&mut app, tab());
    assert_eq!(line(&app), "status:");
    typed(&mut app, "fa");
    update(&mut app, tab());
    assert_eq!(line(&app), "status:failed");
    typed(&mut app, " env:p");
    update(&mut app, tab());
    assert_eq!(line(&app), "status:failed env:production");
    typed(&mut app, " dm:PatientA");
    update(&mut app, tab());
    assert_eq!(line(&app), "status:failed env:production dm:PatientAdmin");
    typed(&mut app, " dst:");
    update(&mut app, tab());
    assert_eq!(
        line(&app),
        "status:failed env:production dm:PatientAdmin dst:\"Sandbox EHR\""
    );
    // Nothing to complete: the line stays.
    typed(&mut app, " zz");
    update(&mut app, tab());
    assert!(line(&app).ends_with(" zz"));
}
