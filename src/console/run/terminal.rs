//! The console in a real terminal: raw mode and the alternate screen (restored on
//! every exit path, panics included), the input thread, synchronized output so a slow
//! SSH link never shows half a frame, `$EDITOR`, mouse capture, and `ctrl-z`.

use super::{ConsoleError, ConsoleOptions, Host, run};
use crate::client::Engine;
use crate::console::external::{INPUT_POLL, InputGate, edit};
use crossterm::ExecutableCommand;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use std::io::Write;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Input events waiting for the loop; the input thread waits beyond it.
const INPUT_QUEUE: usize = 1024;

/// Puts the terminal back however the console ends.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        take_terminal()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(TerminalGuard)
    }
}

fn take_terminal() -> std::io::Result<()> {
    enable_raw_mode()?;
    let mut out = std::io::stdout();
    out.execute(EnterAlternateScreen)?;
    out.execute(crossterm::cursor::Hide)?;
    Ok(())
}

fn restore() {
    let mut out = std::io::stdout();
    let _ = out.execute(EndSynchronizedUpdate);
    let _ = out.execute(DisableMouseCapture);
    let _ = out.execute(crossterm::cursor::Show);
    let _ = out.execute(LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Reads terminal input on its own thread (crossterm's read blocks). Polls, so it can
/// park behind the gate while `$EDITOR` owns the terminal or the console is suspended.
fn spawn_input(tx: mpsc::Sender<Event>, gate: Arc<InputGate>) {
    std::thread::spawn(move || {
        loop {
            if gate.is_closed() {
                gate.park();
                std::thread::sleep(INPUT_POLL);
                continue;
            }
            gate.unpark();
            match crossterm::event::poll(INPUT_POLL) {
                Ok(true) => {}
                Ok(false) => {
                    if tx.is_closed() {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "terminal input failed");
                    return;
                }
            }
            let event = match crossterm::event::read() {
                Ok(event @ (Event::Key(_) | Event::Resize(..) | Event::Mouse(_))) => event,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "terminal input failed");
                    return;
                }
            };
            if tx.blocking_send(event).is_err() {
                return;
            }
        }
    });
}

/// The real terminal's side of the loop.
struct Crossterm {
    gate: Arc<InputGate>,
    mouse: bool,
}

impl Host for Crossterm {
    fn begin_frame(&mut self) -> std::io::Result<()> {
        std::io::stdout()
            .execute(BeginSynchronizedUpdate)
            .map(|_| ())
    }

    fn end_frame(&mut self) -> std::io::Result<()> {
        let mut out = std::io::stdout();
        out.execute(EndSynchronizedUpdate)?;
        out.flush()
    }

    fn edit(&mut self, text: &str) -> Result<String, String> {
        // The editor may want the mouse; it is given back afterwards.
        let _ = std::io::stdout().execute(DisableMouseCapture);
        let edited = tokio::task::block_in_place(|| edit(text, &self.gate));
        let _ = self.set_mouse(self.mouse);
        edited
    }

    fn suspend(&mut self) -> std::io::Result<()> {
        self.gate.close();
        restore();
        stop_here();
        // `fg`: the terminal is the console's again.
        let taken = take_terminal().and_then(|()| self.set_mouse(self.mouse));
        self.gate.open();
        taken
    }

    fn set_mouse(&mut self, on: bool) -> std::io::Result<()> {
        self.mouse = on;
        let mut out = std::io::stdout();
        if on {
            out.execute(EnableMouseCapture)?;
        } else {
            out.execute(DisableMouseCapture)?;
        }
        Ok(())
    }

    fn write_sequence(&mut self, sequence: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout();
        out.write_all(sequence.as_bytes())?;
        out.flush()
    }
}

/// Stops the console's process group as the terminal's own `ctrl-z` would (raw mode
/// turned that into a key); returns once the shell's `fg` continues it. In a group no
/// shell controls (orphaned), the kernel ignores the signal and this returns at once.
#[cfg(unix)]
fn stop_here() {
    // SAFETY: kill(2) with pid 0 signals the caller's own process group; no memory is
    // shared with the call.
    let sent = unsafe { libc::kill(0, libc::SIGTSTP) };
    if sent != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot suspend");
    }
}

#[cfg(not(unix))]
fn stop_here() {}

/// Runs the console in this process's terminal until the user quits.
pub async fn in_terminal(
    client: Arc<dyn Engine>,
    options: ConsoleOptions,
) -> Result<(), ConsoleError> {
    let _guard = TerminalGuard::enter()?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut terminal = ratatui::Terminal::new(backend)?;
    let gate = Arc::new(InputGate::default());
    let (tx, mut rx) = mpsc::channel(INPUT_QUEUE);
    spawn_input(tx, gate.clone());
    let input = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut host = Crossterm {
        gate,
        mouse: options.mouse,
    };
    run(&mut terminal, input, &mut host, client, options).await
}
