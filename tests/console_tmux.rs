//! The real binary in a real terminal: tmux runs `switchboard` (console on an embedded
//! engine, no configuration), keys are sent with `send-keys`, the screen is read with
//! `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux runs (is it installed?)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen(session: &Session) -> String {
    tmux(&["capture-pane", "-p", "-t", &session.0])
}

/// Waits (bounded) until the screen contains `text`.
fn wait_for(session: &Session, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = screen(session);
        if now.contains(text) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {text:?}; screen:\n{now}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn keys(session: &Session, keys: &[&str]) {
    let mut args = vec!["send-keys", "-t", &session.0];
    args.extend_from_slice(keys);
    tmux(&args);
}

#[test]
fn the_console_opens_filters_shows_help_and_gives_the_terminal_back() {
    let home = tempfile::tempdir().expect("tempdir");
    let name = format!("sb-{}", std::process::id());
    let command = format!(
        "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR XDG_CONFIG_HOME={h}/c XDG_DATA_HOME={h}/d {BIN} --listen 127.0.0.1:0; echo CONSOLE-EXITED-$?; sleep 30",
        h = home.path().display()
    );
    let started = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "120",
            "-y",
            "40",
            &command,
        ])
        .status()
        .expect("tmux");
    assert!(started.success());
    let session = Session(name);

    let first = wait_for(&session, "Live feed");
    for pane in [
        "Environments",
        "Connections",
        "Sandbox EHR",
        "DEVELOPMENT",
        "role admin",
    ] {
        assert!(first.contains(pane), "{pane} missing:\n{first}");
    }

    keys(&session, &["?"]);
    wait_for(&session, "Help");
    keys(&session, &["Escape"]);

    keys(&session, &["/", "status:failed", "Enter"]);
    wait_for(&session, "no logs match the filter");

    keys(&session, &["q"]);
    let end = wait_for(&session, "CONSOLE-EXITED-0");
    // The terminal is back: no console frame left on the screen.
    assert!(!end.contains("Live feed"), "{end}");
    // The log went to a file under the data dir, not to the terminal.
    let log = home.path().join("d/switchboard/logs/console.log");
    assert!(log.exists(), "no log file at {}", log.display());
}
