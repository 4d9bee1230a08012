//! The console's event loop, on any ratatui backend: input events from a stream, the
//! effects carried out through the `Engine` trait (`run::effects`), and the frame
//! pacing. [`run`] is the loop itself, driven in process by tests with a `TestBackend`
//! and scripted events; [`terminal::in_terminal`] wraps it for a real terminal
//! (crossterm, raw mode, the alternate screen, the input thread, suspending).
//!
//! Workers (feed subscription, answers to requests, periodic refresh) only send small
//! messages. The loop waits for one message or input event, drains everything else
//! pending, applies it all with [`update`], then draws at most once per
//! [`FRAME_INTERVAL`] and only when something visible changed.

mod effects;
pub mod terminal;

use super::app::{App, Effect, Msg, update};
use super::feed::FeedRing;
use super::theme::Theme;
use super::view;
use crate::client::send::Sender;
use crate::client::{ClientError, Engine};
use crate::model::Role;
use crossterm::event::Event;
use effects::Effects;
use futures_util::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// At most 60 frames a second.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);
/// How often status, environments and connections are refreshed.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the clock ticks for what counts down on screen (the reconnection).
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);
/// Messages waiting for the loop; workers wait (answers) or drop (refresh) beyond it.
pub const MESSAGE_QUEUE: usize = 8192;
pub use effects::EFFECTS_DRAIN;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("the terminal could not be used: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Engine(#[from] ClientError),
}

pub struct ConsoleOptions {
    pub role: Role,
    pub theme: Theme,
    /// Where `:theme NAME` looks for the user's own themes.
    pub themes_dir: std::path::PathBuf,
    pub feed_capacity: usize,
    /// Nothing is sent from this console.
    pub read_only: bool,
    /// The saved-requests directory.
    pub collection: std::path::PathBuf,
    /// Clicks and the wheel (`--no-mouse` turns them off; `:mouse on|off` at run time).
    pub mouse: bool,
    /// Where the `:` and `/` prompts' history is kept (in the data directory).
    pub prompt_history: Option<std::path::PathBuf>,
    /// A CA to trust for an `https://` engine (`--ca`): the composer sends there too.
    pub ca: Option<crate::client::setup::Ca>,
}

/// What the loop needs of the terminal beyond drawing: a real terminal
/// ([`terminal::in_terminal`]) does these; a test stands in with its own.
pub trait Host: Send {
    /// Before and after one frame (a real terminal wraps it in synchronized output).
    fn begin_frame(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn end_frame(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Hands the terminal to `$EDITOR` with `text`; what it saved.
    fn edit(&mut self, text: &str) -> Result<String, String>;
    /// `ctrl-z`: gives the terminal back and stops until the shell's `fg`.
    fn suspend(&mut self) -> std::io::Result<()>;
    /// Mouse capture on or off.
    fn set_mouse(&mut self, on: bool) -> std::io::Result<()>;
    /// Writes an escape sequence to the terminal (OSC 52 for copies).
    fn write_sequence(&mut self, sequence: &str) -> std::io::Result<()>;
}

/// A backend's error as the console's.
fn drawing(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Terminal(std::io::Error::other(e.to_string()))
}

/// Refreshes status, environments and connections every [`REFRESH_INTERVAL`]; drops
/// a refresh rather than queue behind a busy loop.
fn spawn_refresh(effects: &Effects, env: tokio::sync::watch::Receiver<crate::model::Environment>) {
    let (client, tx, stop) = (
        effects.client.clone(),
        effects.tx.clone(),
        effects.stop.clone(),
    );
    effects.tasks.spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            if tx.is_closed() {
                return;
            }
            if let Ok(status) = client.status().await {
                let _ = tx.try_send(Msg::Status(status));
            }
            if let Ok(envs) = client.environments().await {
                let _ = tx.try_send(Msg::Environments(envs));
            }
            let current = *env.borrow();
            if let Ok(view) = client.connections(Some(current)).await {
                let _ = tx.try_send(Msg::Connections(view));
            }
        }
    });
}

fn draw<B: Backend>(
    terminal: &mut Terminal<B>,
    host: &mut dyn Host,
    app: &mut App,
    theme: &Theme,
) -> Result<(), ConsoleError> {
    host.begin_frame()?;
    let result = terminal.draw(|frame| view::draw(frame, app, theme));
    host.end_frame()?;
    result.map(|_| ()).map_err(drawing)
}

/// One thing for the loop: a worker's message, an input event, or the clock.
enum Incoming {
    Msg(Msg),
    Input(Event),
    Tick,
    /// The input stream ended: nobody can type any more.
    InputEnded,
}

/// An input event as the app's message (the view says what a mouse event landed on).
fn apply_input(app: &mut App, event: Event) -> Vec<Effect> {
    let msg = match event {
        Event::Key(key) => Msg::Key(key),
        Event::Resize(w, h) => Msg::Resize(w, h),
        Event::Mouse(m) if app.mouse => match view::pointer(app, m, std::time::Instant::now()) {
            Some(msg) => msg,
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    update(app, msg)
}

/// The clipboard: OSC 52 through the terminal, which works over SSH.
fn copy(host: &mut dyn Host, text: &str, what: &str) -> Msg {
    match crate::console::clipboard::osc52(text) {
        Ok(sequence) => match host.write_sequence(&sequence) {
            Ok(()) => Msg::Info(format!(
                "copied {what} ({} bytes) to the clipboard",
                text.len()
            )),
            Err(e) => Msg::Failed(format!("copy failed: {e}")),
        },
        Err(e) => Msg::Failed(format!("not copied: {e}")),
    }
}

/// Waits for the next message or input event (or the frame slot `frame_due`, or the
/// clock), then takes everything else already pending.
async fn next_batch<I>(
    rx: &mut mpsc::Receiver<Msg>,
    input: &mut I,
    tick: &mut tokio::time::Interval,
    frame_due: Option<Instant>,
) -> Vec<Incoming>
where
    I: Stream<Item = Event> + Unpin,
{
    let first = tokio::select! {
        msg = rx.recv() => msg.map(Incoming::Msg),
        event = input.next() => Some(event.map_or(Incoming::InputEnded, Incoming::Input)),
        _ = tick.tick() => Some(Incoming::Tick),
        _ = tokio::time::sleep_until(frame_due.unwrap_or_else(Instant::now)), if frame_due.is_some() => None,
    };
    let mut pending: Vec<Incoming> = first.into_iter().collect();
    while let Ok(more) = rx.try_recv() {
        pending.push(Incoming::Msg(more));
    }
    while let Some(event) = input.next().now_or_never() {
        let Some(event) = event else {
            pending.push(Incoming::InputEnded);
            break;
        };
        pending.push(Incoming::Input(event));
    }
    pending
}

/// What the loop does after an effect.
enum Next {
    Answer(Msg),
    Nothing,
    Quit,
}

/// The loop's own things an effect may need.
struct Here<'a> {
    host: &'a mut dyn Host,
    theme: &'a mut Theme,
    themes_dir: &'a std::path::Path,
}

/// Carries out one effect: the terminal's and the theme's here, the rest as tasks.
fn carry_out<B: Backend>(
    effect: Effect,
    terminal: &mut Terminal<B>,
    here: &mut Here<'_>,
    effects: &mut Effects,
) -> Result<Next, ConsoleError> {
    Ok(Next::Answer(match effect {
        Effect::EditExternally(text) => {
            let edited = here.host.edit(&text);
            // The editor drew over everything: the next frame is drawn whole.
            terminal.clear().map_err(drawing)?;
            Msg::Edited(edited)
        }
        Effect::SetTheme(name) => match Theme::load(&name, here.themes_dir) {
            Ok(chosen) => {
                *here.theme = chosen;
                Msg::Info(format!("theme {}", here.theme.name))
            }
            Err(e) => Msg::Failed(e.to_string()),
        },
        Effect::Copy { text, what } => copy(here.host, &text, &what),
        Effect::Suspend => {
            here.host.suspend()?;
            // Back from `fg`: whatever the shell drew is gone, draw it all.
            terminal.clear().map_err(drawing)?;
            return Ok(Next::Nothing);
        }
        Effect::SetMouse(on) => match here.host.set_mouse(on) {
            Ok(()) => Msg::Info(format!("mouse {}", if on { "on" } else { "off" })),
            Err(e) => Msg::Failed(format!("the mouse could not be set: {e}")),
        },
        other => {
            return Ok(if effects.apply(other) {
                Next::Nothing
            } else {
                Next::Quit
            });
        }
    }))
}

/// Runs the console on `terminal` with `input` until the user quits (or the input
/// ends). `host` does what needs the real terminal: `$EDITOR`, suspending, the mouse,
/// copies.
pub async fn run<B, I>(
    terminal: &mut Terminal<B>,
    mut input: I,
    host: &mut dyn Host,
    client: Arc<dyn Engine>,
    options: ConsoleOptions,
) -> Result<(), ConsoleError>
where
    B: Backend,
    I: Stream<Item = Event> + Unpin,
{
    let (tx, mut rx) = mpsc::channel(MESSAGE_QUEUE);
    let (mut app, initial) = App::new(options.role, client.address());
    app.feed = FeedRing::new(options.feed_capacity);
    app.read_only = options.read_only;
    if let Some(path) = &options.prompt_history {
        match crate::console::recall::PromptHistory::load(path) {
            Ok(history) => {
                app.prompt_history = history;
                app.history_file = Some(path.clone());
            }
            // The console works without it (and leaves the file for the user to look
            // at); the notice says how to fix it.
            Err(e) => app.notice = Some(crate::console::Notice::Error(e.to_string())),
        }
    }
    app.mouse = options.mouse;
    host.set_mouse(app.mouse)?;
    let size = terminal.size().map_err(drawing)?;
    update(&mut app, Msg::Resize(size.width, size.height));
    let (env_tx, env_rx) = tokio::sync::watch::channel(app.environment);
    let sender = Arc::new(Sender::with_ca(&app.platform_url(), options.ca.as_ref())?);
    let mut effects = Effects {
        client,
        tx,
        subscription: None,
        sender,
        collection: options.collection.clone(),
        tasks: TaskTracker::new(),
        stop: CancellationToken::new(),
    };
    spawn_refresh(&effects, env_rx);
    for effect in initial {
        effects.apply(effect);
    }

    let mut theme = options.theme.clone();
    terminal.clear().map_err(drawing)?;
    draw(terminal, host, &mut app, &theme)?;
    let mut last_frame = Instant::now();
    let mut tick = tokio::time::interval(TICK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        // Wait for work, or for the next frame slot if a change is waiting to be drawn.
        let frame_due = app.is_dirty().then_some(last_frame + FRAME_INTERVAL);
        let pending = next_batch(&mut rx, &mut input, &mut tick, frame_due).await;
        for incoming in pending {
            let mut queue = VecDeque::from(match incoming {
                Incoming::Msg(msg) => update(&mut app, msg),
                Incoming::Input(event) => apply_input(&mut app, event),
                Incoming::Tick => update(&mut app, Msg::Tick),
                Incoming::InputEnded => vec![Effect::Quit],
            });
            while let Some(effect) = queue.pop_front() {
                let mut here = Here {
                    host: &mut *host,
                    theme: &mut theme,
                    themes_dir: &options.themes_dir,
                };
                match carry_out(effect, terminal, &mut here, &mut effects)? {
                    Next::Answer(msg) => queue.extend(update(&mut app, msg)),
                    Next::Nothing => {}
                    Next::Quit => {
                        effects.finish().await;
                        return Ok(());
                    }
                }
            }
        }
        if *env_tx.borrow() != app.environment {
            let _ = env_tx.send(app.environment);
        }
        if app.is_dirty() && last_frame.elapsed() >= FRAME_INTERVAL {
            app.take_dirty();
            draw(terminal, host, &mut app, &theme)?;
            last_frame = Instant::now();
        }
    }
}
