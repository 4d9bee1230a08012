//! The composer end to end in a real terminal: the console with no configuration,
//! `:compose`, the body edited in `$EDITOR` (a script standing in for the user), `ctrl-s`
//! through the platform API to the sandbox, and the answer read off the screen.

mod common;

use common::tmux::{Session, keys, start_sized, wait_for};
use std::path::Path;
use switchboard::sandbox::panel::samples::samples;
use switchboard::sandbox::panel::{DEFAULT_SEED, Panel};

/// `$EDITOR` for the test: applies the sed script the test wrote last.
fn editor_script(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("edit.sh");
    let body = format!(
        "#!/bin/sh\nsed -i -f '{}' \"$1\"\n",
        dir.join("edit.sed").display()
    );
    std::fs::write(&script, body).expect("editor script");
    let _ = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status();
    script
}

/// Composes `event`, lets "the user" change the body with `sed`, sends, and waits for
/// the answer; returns the screen.
fn compose_and_send(session: &Session, dir: &Path, event: &str, sed: &str) -> String {
    keys(session, &[":", &format!("compose {event}"), "Enter"]);
    wait_for(
        session,
        &format!("{event} · Switchboard Console → Sandbox EHR"),
    );
    wait_for(session, "✔ valid");
    std::fs::write(dir.join("edit.sed"), sed).expect("sed script");
    keys(session, &["e"]);
    wait_for(session, "body updated from the editor");
    keys(session, &["C-s"]);
    wait_for(session, "feed follows req:")
}

#[test]
fn support_staff_find_a_patient_miss_an_unknown_one_and_read_back_a_note() {
    let home = tempfile::tempdir().expect("tempdir");
    let editor = editor_script(home.path());
    let name = format!("sbc-{}", std::process::id());
    let command = format!(
        "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR -u VISUAL EDITOR={editor} XDG_CONFIG_HOME={h}/c XDG_DATA_HOME={h}/d {bin} --listen 127.0.0.1:0; echo CONSOLE-EXITED-$?; sleep 30",
        editor = editor.display(),
        h = home.path().display(),
        bin = env!("CARGO_BIN_EXE_switchboard"),
    );
    let session = start_sized(&name, &command, 200, 60);
    // Let the console's OSC 52 copies land in tmux's buffer.
    session.tmux(&["set-option", "-s", "set-clipboard", "on"]);
    wait_for(&session, "Live feed");

    // A patient of the sandbox panel (the second one), by MRN.
    let panel = Panel::generate(DEFAULT_SEED, 1_000);
    let second = samples(&panel, 1);
    let screen = compose_and_send(
        &session,
        home.path(),
        "PatientSearch Query",
        &format!("s/{{{{mrn}}}}/{}/\n", second.mrn),
    );
    assert!(screen.contains("HTTP 200"), "{screen}");
    let screen = wait_for(&session, &format!("\"{}\"", second.last_name));
    assert!(
        screen.contains(&format!("\"{}\"", second.first_name)),
        "{screen}"
    );
    // The feed follows that request: its one log, succeeded.
    assert!(screen.contains("REQUEST PatientSearch Query"), "{screen}");

    // An identifier no patient has: an empty match, not an error.
    let screen = compose_and_send(
        &session,
        home.path(),
        "PatientSearch Query",
        "s/{{mrn}}/9999999999/\n",
    );
    assert!(screen.contains("HTTP 200"), "{screen}");
    assert!(
        !screen.contains(&format!("\"{}\"", second.last_name)),
        "{screen}"
    );
    let screen = wait_for(&session, "\"PotentialMatches\": []");
    assert!(
        !screen.contains("\"Demographics\""),
        "no patient in an empty match:\n{screen}"
    );

    // A writeback, then a query that reads it back.
    let screen = compose_and_send(
        &session,
        home.path(),
        "Notes New",
        "s/\"DocumentID\": \"[^\"]*\"/\"DocumentID\": \"e2e-note-42\"/\n",
    );
    assert!(screen.contains("HTTP 200"), "{screen}");
    let screen = compose_and_send(&session, home.path(), "Notes Query", "");
    assert!(screen.contains("HTTP 200"), "{screen}");
    // The answer is longer than the pane: copy all of it (y at its root) and read it.
    keys(&session, &["a", "y"]);
    wait_for(&session, "copied the answer");
    let answer: serde_json::Value =
        serde_json::from_str(&session.tmux(&["show-buffer"])).expect("the answer as JSON");
    let notes = answer["Notes"].as_array().expect("Notes");
    assert!(
        notes
            .iter()
            .any(|n| n["Note"]["DocumentID"] == "e2e-note-42" || n["DocumentID"] == "e2e-note-42"),
        "the note written back is not in the answer: {answer}"
    );

    keys(&session, &["q"]);
    wait_for(&session, "CONSOLE-EXITED-0");
}
