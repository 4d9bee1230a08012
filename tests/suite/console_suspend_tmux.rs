//! `ctrl-z` in a real terminal at 80×24: the console gives the terminal back to the
//! shell (its job stopped), and `fg` brings it back drawn whole.

use crate::common;

use common::bin::BIN;
use common::tmux::{keys, screen, start_sized, wait_for};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn ctrl_z_returns_to_the_shell_and_fg_brings_the_console_back_drawn() {
    let home = tempfile::tempdir().expect("tempdir");
    let name = format!("sb-suspend-{}", std::process::id());
    // An interactive shell, so there is job control to come back to.
    let session = start_sized(&name, "env PS1='shell$ ' bash --norc --noprofile", 80, 24);
    wait_for(&session, "shell$");
    let command = format!(
        "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR XDG_CONFIG_HOME={h}/c XDG_DATA_HOME={h}/d {BIN} --listen 127.0.0.1:{port}",
        h = home.path().display(),
        port = free_port()
    );
    keys(&session, &[&command, "Enter"]);
    wait_for(&session, "Live feed");
    wait_for(&session, "Sandbox EHR");

    keys(&session, &["C-z"]);
    let stopped = wait_for(&session, "Stopped");
    assert!(!stopped.contains("Live feed"), "{stopped}");

    keys(&session, &["fg", "Enter"]);
    let back = wait_for(&session, "Live feed");
    // Drawn whole, not only what changed since the suspension.
    for pane in ["Environments", "Connections", "DEVELOPMENT"] {
        assert!(back.contains(pane) || wait_for(&session, pane).contains(pane));
    }
    assert!(
        !screen(&session).contains("Stopped"),
        "{}",
        screen(&session)
    );

    keys(&session, &["q"]);
    // Earlier prompts stay on the restored screen: wait for a fresh one as the last
    // line, so the next keys reach the shell and not a console still closing.
    wait_for_prompt(&session);
    keys(&session, &["echo CONSOLE-EXITED-$?", "Enter"]);
    wait_for(&session, "CONSOLE-EXITED-0");
}

/// Waits (bounded) until the console is gone and the shell's prompt is the last line.
fn wait_for_prompt(session: &common::tmux::Session) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = screen(session);
        let last = now.lines().rev().find(|l| !l.trim().is_empty());
        if !now.contains("Live feed") && last.is_some_and(|l| l.trim() == "shell$") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no fresh prompt; screen:\n{now}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
