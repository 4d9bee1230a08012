//! The composer end to end in a real terminal: the console with no configuration,
//! `:compose`, the body edited in `$EDITOR` (a script standing in for the user), `ctrl-s`
//! through the platform API to the sandbox, and the answer read off the screen.

use crate::common;

use common::tmux::{Session, keys, start_sized, wait_for, wait_for_copy};
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
    let copied = wait_for_copy(&session, |copied| {
        serde_json::from_str::<serde_json::Value>(copied).is_ok_and(|v| v["Notes"].is_array())
    });
    let answer: serde_json::Value = serde_json::from_str(&copied).expect("the answer as JSON");
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

/// The same query at the smallest size the console draws in: composed, sent and its
/// answer read, in a composer that takes the whole width.
#[test]
fn at_80x24_a_query_is_composed_sent_and_answered() {
    let home = tempfile::tempdir().expect("tempdir");
    let editor = editor_script(home.path());
    let name = format!("sbc80-{}", std::process::id());
    let command = format!(
        "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR -u VISUAL EDITOR={editor} XDG_CONFIG_HOME={h}/c XDG_DATA_HOME={h}/d {bin} --listen 127.0.0.1:0; echo CONSOLE-EXITED-$?; sleep 30",
        editor = editor.display(),
        h = home.path().display(),
        bin = env!("CARGO_BIN_EXE_switchboard"),
    );
    let session = start_sized(&name, &command, 80, 24);
    wait_for(&session, "Live feed");

    let panel = Panel::generate(DEFAULT_SEED, 1_000);
    let second = samples(&panel, 1);
    let screen = compose_and_send(
        &session,
        home.path(),
        "PatientSearch Query",
        &format!("s/{{{{mrn}}}}/{}/\n", second.mrn),
    );
    assert!(screen.contains("HTTP 200"), "{screen}");
    // The answer pane is short here: move into it and down to the patient's name.
    keys(&session, &["a"]);
    let mut screen = String::new();
    for _ in 0..40 {
        screen = common::tmux::screen(&session);
        if screen.contains(&format!("\"{}\"", second.last_name)) {
            break;
        }
        keys(&session, &["j"]);
        // One step at a time, so the cursor never runs past the name unseen.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        screen.contains(&format!("\"{}\"", second.last_name)),
        "{screen}"
    );
    keys(&session, &["a", "q"]);
    wait_for(&session, "CONSOLE-EXITED-0");
}

/// Waits until the feed's row for `FHIR observation-created` says it succeeded: on its
/// own line in columns (a wide feed), or on the line below (two-line rows, where a
/// narrow feed keeps the mark and drops the word).
fn wait_until_delivered(session: &Session) {
    let succeeded = |line: &str| line.contains("SUCCEEDED") || line.contains("│  ✔ 1×");
    let delivered = |screen: &str| {
        let lines: Vec<&str> = screen.lines().collect();
        lines.iter().enumerate().any(|(i, l)| {
            l.contains("FHIR observation-created")
                && (succeeded(l) || lines.get(i + 1).is_some_and(|n| succeeded(n)))
        })
    };
    for _ in 0..300 {
        if delivered(&common::tmux::screen(session)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "the message was never delivered:\n{}",
        common::tmux::screen(session)
    );
}

/// The total an Observation searchset's summary line gives ("57 observations", or "50 of
/// 58 observations" when the page is smaller than the total).
fn observation_total(screen: &str) -> u64 {
    let line = screen
        .lines()
        .find(|l| l.contains(" observations"))
        .unwrap_or_else(|| panic!("no observation summary on the screen:\n{screen}"));
    let words: Vec<&str> = line
        .split(" observations")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    words
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

#[test]
fn a_fhir_search_and_a_fhir_message_run_end_to_end_through_the_sandbox() {
    use common::tmux::compose_fhir_and_send;
    let home = tempfile::tempdir().expect("tempdir");
    let name = format!("sbfhir-{}", std::process::id());
    let command = format!(
        "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR -u NO_COLOR XDG_CONFIG_HOME={h}/c \
         XDG_DATA_HOME={h}/d {bin} --listen 127.0.0.1:0; echo CONSOLE-EXITED-$?; sleep 30",
        h = home.path().display(),
        bin = env!("CARGO_BIN_EXE_switchboard"),
    );
    let session = start_sized(&name, &command, 200, 60);
    wait_for(&session, "Live feed");

    // A search, as a form through /fhir/R4/sandbox-ehr/Development/Patient/_search.
    let screen = compose_fhir_and_send(&session, "Patient search", "1 patient: Baker, Abigail");
    assert!(screen.contains("HTTP 200"), "{screen}");
    // The feed, beside the composer, shows the search's log.
    wait_for(&session, "REQUEST FHIR Patient search");

    // A message changes what the next search finds.
    let before = observation_total(&compose_fhir_and_send(
        &session,
        "Observation search",
        " observations",
    ));
    let screen = compose_fhir_and_send(&session, "Observation-New", "feed follows req:");
    assert!(screen.contains("HTTP 200"), "{screen}");
    // Delivered asynchronously to the sandbox's $process-message: the feed's row for it
    // says so once the delivery succeeded.
    wait_for(&session, "FHIR observation-created");
    wait_until_delivered(&session);
    let after = observation_total(&compose_fhir_and_send(
        &session,
        "Observation search",
        " observations",
    ));
    assert_eq!(after, before + 1, "the message's Observation is found next");
    keys(&session, &["q"]);
    wait_for(&session, "CONSOLE-EXITED-0");
}
