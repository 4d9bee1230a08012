//! A real terminal for the console's end-to-end tests: the binary runs in a detached
//! tmux session (on a tmux server of its own), keys go in with `send-keys` and the
//! screen comes back with `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (`tmux -L NAME`), so tests running at once never share
/// one, with one session of the same name.
pub struct Session(pub String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.tmux_output(&["kill-server"]);
    }
}

impl Session {
    pub fn tmux_output(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.0)
            .args(args)
            .output()
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = self
            .tmux_output(args)
            .expect("tmux runs (is it installed?)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A detached 120×40 tmux session running `command`.
pub fn start(name: &str, command: &str) -> Session {
    start_sized(name, command, 120, 40)
}

/// A detached tmux session of `width`×`height` running `command`.
pub fn start_sized(name: &str, command: &str, width: u16, height: u16) -> Session {
    let (width, height) = (width.to_string(), height.to_string());
    let session = Session(name.to_string());
    let out = session
        .tmux_output(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &width,
            "-y",
            &height,
            command,
        ])
        .expect("tmux runs (is it installed?)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    session
}

pub fn screen(session: &Session) -> String {
    session.tmux(&["capture-pane", "-p", "-t", &session.0])
}

/// Waits (bounded) until the screen shows `text`; every screen seen on the way is
/// handed to `each` (so a test can check that something never appears).
pub fn wait_for_checking(session: &Session, text: &str, mut each: impl FnMut(&str)) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = screen(session);
        each(&now);
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

pub fn wait_for(session: &Session, text: &str) -> String {
    wait_for_checking(session, text, |_| {})
}

/// Waits (bounded) until tmux's paste buffer, where the console's OSC 52 copies land,
/// satisfies `ok`; returns it. Copies are checked here rather than by their notice,
/// which expires after a few seconds and can be missed on a loaded machine.
pub fn wait_for_copy(session: &Session, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let buffer = session
            .tmux_output(&["show-buffer"])
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        if ok(&buffer) {
            return buffer;
        }
        assert!(
            Instant::now() < deadline,
            "nothing suitable was copied; the buffer holds:\n{buffer}\nscreen:\n{}",
            screen(session)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn keys(session: &Session, keys: &[&str]) {
    let mut args = vec!["send-keys", "-t", &session.0];
    args.extend_from_slice(keys);
    session.tmux(&args);
}

/// The composer's FHIR requests end to end (for the tmux composer test, once the
/// engine's FHIR API and the sandbox's FHIR server are both in): in a console started
/// as `composer_tmux.rs` starts one, `:compose FHIR {request}` (`Patient search`,
/// `Observation-New`…), the pre-filled form or message as it is, `ctrl-s`, and the
/// screen once `expect` shows. For example:
///
/// ```text
/// let screen = compose_fhir_and_send(&session, "Patient search", "1 patient: Baker, Abigail");
/// assert!(screen.contains("HTTP 200"));
/// let screen = compose_fhir_and_send(&session, "Observation-New", "feed follows req:");
/// assert!(screen.contains("information: Accepted"));
/// // The message shows up in the next Observation search.
/// let screen = compose_fhir_and_send(&session, "Observation search", "observations");
/// ```
pub fn compose_fhir_and_send(session: &Session, request: &str, expect: &str) -> String {
    keys(session, &[":", &format!("compose FHIR {request}"), "Enter"]);
    wait_for(
        session,
        &format!("FHIR {request} · Switchboard Console → Sandbox EHR"),
    );
    wait_for(session, "✔ valid");
    keys(session, &["C-s"]);
    wait_for(session, expect)
}
