//! The console's real loop in process: a ratatui backend the test reads while the loop
//! draws on it, a stand-in for the terminal's other duties, and scripted input.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use switchboard::console::run::Host;
use tokio::sync::mpsc;

/// A `TestBackend` shared between the loop (drawing) and the test (reading).
#[derive(Clone)]
pub struct Shared(Arc<Mutex<TestBackend>>);

impl Shared {
    pub fn new(width: u16, height: u16) -> Shared {
        Shared(Arc::new(Mutex::new(TestBackend::new(width, height))))
    }

    fn lock(&self) -> MutexGuard<'_, TestBackend> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        let backend = self.lock();
        let buffer = backend.buffer();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    pub fn size(&self) -> (u16, u16) {
        let backend = self.lock();
        let area = backend.buffer().area;
        (area.width, area.height)
    }

    /// The terminal changes size (send the matching `Event::Resize` too).
    pub fn resize(&self, width: u16, height: u16) {
        self.lock().resize(width, height);
    }

    /// Waits (bounded) until the screen shows `text`; the screen then.
    pub async fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |s| s.contains(text)).await
    }

    /// Waits (bounded) until `done` holds for the screen; `what` names it on failure.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what:?}; screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Backend for Shared {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.lock().draw(content)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.lock().hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.lock().show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.lock().get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.lock().set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.lock().clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.lock().clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.lock().size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.lock().window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.lock().flush()
    }
}

/// What the loop asked of the terminal beyond drawing.
#[derive(Debug, Default)]
pub struct Asked {
    pub suspended: usize,
    pub mouse: Vec<bool>,
    pub copied: Vec<String>,
}

/// A terminal's other duties, recorded.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Asked>>);

impl Recorder {
    pub fn asked(&self) -> MutexGuard<'_, Asked> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Host for Recorder {
    fn edit(&mut self, _text: &str) -> Result<String, String> {
        Err("no editor in this test".into())
    }

    fn suspend(&mut self) -> std::io::Result<()> {
        self.asked().suspended += 1;
        Ok(())
    }

    fn set_mouse(&mut self, on: bool) -> std::io::Result<()> {
        self.asked().mouse.push(on);
        Ok(())
    }

    fn write_sequence(&mut self, sequence: &str) -> std::io::Result<()> {
        self.asked().copied.push(sequence.to_string());
        Ok(())
    }
}

/// Input for the loop: keys, text, resizes and mouse events, as a terminal sends them.
pub struct Input(pub mpsc::Sender<Event>);

impl Input {
    /// The sender and the stream the loop reads.
    pub fn new() -> (Input, impl futures_util::Stream<Item = Event> + Unpin) {
        let (tx, mut rx) = mpsc::channel(256);
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (Input(tx), stream)
    }

    pub async fn event(&self, event: Event) {
        self.0.send(event).await.expect("the loop reads input");
    }

    pub async fn key(&self, code: KeyCode) {
        self.event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .await;
    }

    pub async fn ctrl(&self, c: char) {
        self.event(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
        .await;
    }

    pub async fn text(&self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c)).await;
        }
    }
}
