//! Handing the terminal to `$EDITOR` and taking it back: the input thread is parked so
//! it does not steal the editor's keystrokes, the alternate screen and raw mode are
//! left, and on return everything is restored and the next frame is drawn whole.

use crossterm::ExecutableCommand;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tempfile::NamedTempFile;

/// How often the input thread looks at the gate while no key arrives.
pub const INPUT_POLL: Duration = Duration::from_millis(25);

/// Lets the event loop stop the input thread from reading the terminal.
#[derive(Debug, Default)]
pub struct InputGate {
    closed: AtomicBool,
    /// Set by the input thread while it is parked behind a closed gate.
    parked: AtomicBool,
}

impl InputGate {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn park(&self) {
        self.parked.store(true, Ordering::Release);
    }

    pub fn unpark(&self) {
        self.parked.store(false, Ordering::Release);
    }

    /// Closes the gate and waits (bounded) until the input thread is parked.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for _ in 0..40 {
            if self.parked.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(INPUT_POLL / 2);
        }
    }

    pub(crate) fn open(&self) {
        self.closed.store(false, Ordering::Release);
    }
}

/// `$VISUAL`, else `$EDITOR`, else `vi`; split on spaces so `code -w` works.
fn editor_command() -> Vec<String> {
    let chosen = std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".into());
    chosen.split_whitespace().map(String::from).collect()
}

/// The file the editor opens: in the temp directory under a random name, readable by
/// its owner only (mode 0600: it may hold a Production body), removed when dropped.
fn scratch_file(text: &str) -> std::io::Result<NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("switchboard-compose-")
        .suffix(".json")
        .tempfile()?;
    file.write_all(text.as_bytes())?;
    file.flush()?;
    Ok(file)
}

/// Runs the editor on `text` and returns what it saved. Blocks; call it from
/// `block_in_place` on the event loop.
pub fn edit(text: &str, gate: &InputGate) -> Result<String, String> {
    let scratch = scratch_file(text).map_err(|e| {
        format!(
            "cannot write the scratch file in {} ({e}); set $TMPDIR to a writable directory",
            std::env::temp_dir().display()
        )
    })?;
    let path = scratch.path();
    gate.close();
    let mut out = std::io::stdout();
    let _ = out.execute(crossterm::cursor::Show);
    let _ = out.execute(LeaveAlternateScreen);
    let _ = disable_raw_mode();

    let command = editor_command();
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .arg(path)
        .status();

    let _ = enable_raw_mode();
    let _ = out.execute(EnterAlternateScreen);
    let _ = out.execute(crossterm::cursor::Hide);
    gate.open();
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {} back: {e}", path.display())),
        Ok(s) => Err(format!(
            "{} exited with {s}; the body is unchanged",
            command[0]
        )),
        Err(e) => Err(format!(
            "cannot run \"{}\" ({e}); set $EDITOR to your editor",
            command[0]
        )),
    };
    // Removed now, whatever the editor did with it (an editor that saves by renaming
    // leaves a new file at the same path, removed all the same).
    drop(scratch);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_file_is_private_unpredictable_and_removed() {
        let one = scratch_file("{\"Meta\":{}}").expect("scratch");
        let two = scratch_file("{}").expect("scratch");
        assert_eq!(
            std::fs::read_to_string(one.path()).expect("read"),
            "{\"Meta\":{}}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(one.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        }
        let name = |f: &NamedTempFile| {
            f.path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let (a, b) = (name(&one), name(&two));
        assert_ne!(a, b);
        // Nothing in the name that another local user could guess (pid, a counter).
        assert!(!a.contains(&std::process::id().to_string()), "{a}");
        let path = one.path().to_path_buf();
        drop(one);
        assert!(!path.exists(), "{} left behind", path.display());
    }
}
