//! Keys without leaving the console (issue 17), with the real binary in a real terminal:
//! `K` opens the Keys tab, `n` makes a legacy key whose secret shows once, `x` then
//! `y` revokes it; `switchboard keys list --json` sees the key live, then revoked.

use crate::common;

use common::bin::BIN;
use common::tmux::{keys, start, wait_for};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `switchboard keys list --json` on the console's data (engine or not, it reads the
/// files).
fn listed(home: &Path, key: &str) -> Option<Value> {
    let out = Command::new(BIN)
        .args(["keys", "list", "--json"])
        .env("XDG_CONFIG_HOME", home.join("c"))
        .env("XDG_DATA_HOME", home.join("d"))
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_DATA_DIR")
        .output()
        .expect("keys list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Value = serde_json::from_slice(&out.stdout).expect("keys JSON");
    all.as_array()?.iter().find(|k| k["apiKey"] == key).cloned()
}

#[test]
fn a_key_is_created_and_revoked_from_the_console() {
    let home = tempfile::tempdir().expect("tempdir");
    let xdg = format!(
        "XDG_CONFIG_HOME={h}/c XDG_DATA_HOME={h}/d",
        h = home.path().display()
    );
    let name = format!("sbkeys-{}", std::process::id());
    let session = start(
        &name,
        &format!(
            "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR -u NO_COLOR {xdg} {BIN} --listen 127.0.0.1:0; echo CONSOLE-EXITED-$?; sleep 30"
        ),
    );
    wait_for(&session, "role admin");
    wait_for(&session, "Connections");

    keys(&session, &["K"]);
    wait_for(&session, "SOURCE / KEY");
    keys(&session, &["n"]);
    let modal = wait_for(&session, "Shown only now");
    let key = modal
        .lines()
        .find_map(|l| l.split("key     ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no key in the modal:\n{modal}"));
    assert!(modal.contains("secret  "), "{modal}");
    let live = listed(home.path(), &key).unwrap_or_else(|| panic!("{key} is not listed"));
    assert_eq!(live["revoked"], false, "{live}");
    assert_eq!(live["kind"], "legacy");

    keys(&session, &["Enter"]);
    // The window closes (its notice expires after a few seconds, so it is not waited on).
    wait_until_gone(&session, "Shown only now");
    // Row 0 is the source the key was made for; its key is the row below.
    keys(&session, &["j", "x"]);
    let question = wait_for(&session, "Revoke: confirm");
    assert!(question.contains(&key[..8]), "{question}");
    keys(&session, &["y"]);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = listed(home.path(), &key).expect("still listed");
        if now["revoked"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "never revoked: {now}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Separately: tmux reads `esc q` sent at once as alt-q.
    keys(&session, &["Escape"]);
    wait_for(&session, "Live feed");
    // ctrl-c quits from anywhere, even the command line, and gives the terminal back.
    keys(&session, &[":"]);
    wait_for(&session, "\n:");
    keys(&session, &["C-c"]);
    let end = wait_for(&session, "CONSOLE-EXITED-0");
    assert!(!end.contains("Live feed"), "{end}");
}

/// Waits (bounded) until the screen no longer shows `text`.
fn wait_until_gone(session: &common::tmux::Session, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = common::tmux::screen(session);
        if !now.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "{text:?} stayed; screen:\n{now}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
