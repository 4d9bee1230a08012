//! The main view's keys (leaving, help, focus, the prompts) and the help overlay's,
//! looked up in the keymap; the panes' own keys are in `pane_key` and their modules.

use super::{App, Confirm, DevTab, Effect, Pane, Prompt};
use crate::console::keymap::{self, Command, Context};
use crate::console::prompt::LineInput;
use crossterm::event::KeyEvent;

impl App {
    /// The main view's keys, then the focused pane's.
    pub(super) fn main_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let Some(command) = keymap::lookup_in(&[Context::Global, Context::Always], &key) else {
            return self.pane_key(key);
        };
        match command {
            Command::Quit => return Some(self.quit()),
            Command::Back if self.focus == Pane::Composer => self.focus = Pane::Feed,
            // Nothing to go back from: esc never quits.
            Command::Back => return None,
            Command::Help => self.open_help(),
            Command::Compose => return Some(self.open_composer(None)),
            Command::OpenKeys => return Some(self.open_developer(DevTab::Keys)),
            Command::OpenEndpoints => return Some(self.open_developer(DevTab::Endpoints)),
            Command::Filter => {
                let line = LineInput::prefilled(self.filter_text.clone());
                self.prompt = Some(Prompt::Filter { line, error: None });
                self.reset_recall();
            }
            Command::CommandLine => {
                self.prompt = Some(Prompt::Command {
                    line: LineInput::default(),
                });
                self.reset_recall();
            }
            Command::NextPane => self.focus = self.focus.step(1),
            Command::PrevPane => self.focus = self.focus.step(-1),
            Command::FocusEnvironments => self.focus = Pane::Environments,
            Command::FocusConnections => self.focus = Pane::Connections,
            Command::FocusFeed => self.focus = Pane::Feed,
            Command::FocusComposer => self.focus = Pane::Composer,
            _ => return self.pane_key(key),
        }
        Some(Vec::new())
    }

    /// `q` and `:quit`: at once, unless the composer holds edits that would be lost.
    pub(super) fn quit(&mut self) -> Vec<Effect> {
        if self.composer.unsaved() {
            self.confirm = Some(Confirm {
                effect: Effect::Quit,
                question: "Quit and lose the unsaved request?".into(),
            });
            return Vec::new();
        }
        vec![Effect::Quit]
    }

    pub(super) fn open_help(&mut self) {
        self.help = true;
        self.help_scroll = 0;
    }

    /// Scrolling and closing the help overlay (drawing clamps the scroll to its lines).
    pub(super) fn help_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let page = usize::from(self.size.1 / 2).max(1);
        let top = self.help_scroll;
        self.help_scroll = match keymap::lookup(Context::Help, &key)? {
            Command::Back => {
                self.help = false;
                0
            }
            Command::Down => top.saturating_add(1),
            Command::Up => top.saturating_sub(1),
            Command::PageDown => top.saturating_add(page),
            Command::PageUp => top.saturating_sub(page),
            Command::First => 0,
            Command::Last => usize::from(u16::MAX),
            _ => return None,
        };
        Some(Vec::new())
    }
}
