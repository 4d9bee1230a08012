//! The console's event loop: the terminal, the input thread, the effects carried out
//! through the `Engine` trait (`run::effects`), and the frame pacing.
//!
//! Workers (input, feed subscription, answers to requests, periodic refresh) only send
//! small messages. The loop waits for one, drains everything else pending, applies it
//! all with [`update`], then draws at most once per [`FRAME_INTERVAL`] and only when
//! something visible changed. Frames are wrapped in synchronized output so a slow SSH
//! link never shows half a frame. The terminal is restored on every exit path, panics
//! included.

mod effects;

use super::app::{App, Effect, Msg, update};
use super::external::{INPUT_POLL, InputGate, edit};
use super::feed::FeedRing;
use super::theme::Theme;
use super::view;
use crate::client::send::Sender;
use crate::client::{ClientError, Engine};
use crate::model::Role;
use crossterm::ExecutableCommand;
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use effects::Effects;
use std::io::{Stdout, Write};
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
/// Messages waiting for the loop; workers wait (input) or drop (refresh) beyond it.
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
    /// Where the `:` and `/` prompts' history is kept (in the data directory).
    pub prompt_history: Option<std::path::PathBuf>,
}

/// Puts the terminal back however the console ends.
struct TerminalGuard;

impl TerminalGuard {
    fn enter(out: &mut Stdout) -> std::io::Result<TerminalGuard> {
        enable_raw_mode()?;
        out.execute(EnterAlternateScreen)?;
        out.execute(crossterm::cursor::Hide)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(TerminalGuard)
    }
}

fn restore() {
    let mut out = std::io::stdout();
    let _ = out.execute(EndSynchronizedUpdate);
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
/// park behind the gate while `$EDITOR` owns the terminal.
fn spawn_input(tx: mpsc::Sender<Msg>, gate: Arc<InputGate>) {
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
            let msg = match crossterm::event::read() {
                Ok(crossterm::event::Event::Key(key)) => Msg::Key(key),
                Ok(crossterm::event::Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "terminal input failed");
                    return;
                }
            };
            if tx.blocking_send(msg).is_err() {
                return;
            }
        }
    });
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

fn draw(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    theme: &Theme,
) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    out.execute(BeginSynchronizedUpdate)?;
    let result = terminal
        .draw(|frame| view::draw(frame, app, theme))
        .map(|_| ());
    out.execute(EndSynchronizedUpdate)?;
    out.flush()?;
    result
}

/// Runs the console until the user quits.
pub async fn run(client: Arc<dyn Engine>, options: ConsoleOptions) -> Result<(), ConsoleError> {
    let mut stdout = std::io::stdout();
    let _guard = TerminalGuard::enter(&mut stdout)?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut terminal = ratatui::Terminal::new(backend)?;
    terminal.clear()?;

    let (tx, mut rx) = mpsc::channel(MESSAGE_QUEUE);
    let gate = Arc::new(InputGate::default());
    spawn_input(tx.clone(), gate.clone());
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
    let size = terminal.size()?;
    update(&mut app, Msg::Resize(size.width, size.height));
    let (env_tx, env_rx) = tokio::sync::watch::channel(app.environment);
    let sender = Arc::new(Sender::new(&app.platform_url())?);
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
    draw(&mut terminal, &mut app, &theme)?;
    let mut last_frame = Instant::now();
    loop {
        // Wait for work, or for the next frame slot if a change is waiting to be drawn.
        let msg = if app.is_dirty() {
            tokio::select! {
                msg = rx.recv() => msg,
                _ = tokio::time::sleep_until(last_frame + FRAME_INTERVAL) => None,
            }
        } else {
            rx.recv().await
        };
        let mut pending: Vec<Msg> = msg.into_iter().collect();
        while let Ok(more) = rx.try_recv() {
            pending.push(more);
        }
        for msg in pending {
            let mut queue = std::collections::VecDeque::from(update(&mut app, msg));
            while let Some(effect) = queue.pop_front() {
                if let Effect::EditExternally(text) = &effect {
                    let edited = tokio::task::block_in_place(|| edit(text, &gate));
                    // The editor drew over everything: the next frame is drawn whole.
                    terminal.clear()?;
                    queue.extend(update(&mut app, Msg::Edited(edited)));
                } else if let Effect::SetTheme(name) = &effect {
                    let answer = match Theme::load(name, &options.themes_dir) {
                        Ok(chosen) => {
                            theme = chosen;
                            Msg::Info(format!("theme {}", theme.name))
                        }
                        Err(e) => Msg::Failed(e.to_string()),
                    };
                    queue.extend(update(&mut app, answer));
                } else if !effects.apply(effect) {
                    effects.finish().await;
                    return Ok(());
                }
            }
        }
        if *env_tx.borrow() != app.environment {
            let _ = env_tx.send(app.environment);
        }
        if app.is_dirty() && last_frame.elapsed() >= FRAME_INTERVAL {
            app.take_dirty();
            draw(&mut terminal, &mut app, &theme)?;
            last_frame = Instant::now();
        }
    }
}
