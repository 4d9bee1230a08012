//! Clicks and the wheel, once the view has said what they landed on: a click focuses
//! the pane and selects the row under it, two clicks on the same row within
//! [`DOUBLE_CLICK`] open it (a feed row's detail, an environment), and the wheel moves
//! through the list under the pointer as the arrow keys would.

use super::{App, Effect, Pane};
use crate::console::keymap::{self, Command, Context};
use crate::model::Environment;
use std::time::{Duration, Instant};

/// Two clicks on the same thing within this are a double-click.
pub const DOUBLE_CLICK: Duration = Duration::from_millis(400);

/// What is drawn where the pointer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// A row of the Environments pane (in `Environment::ALL` order).
    Environment(usize),
    /// A destination of the Connections pane (its index in the view).
    Connection(usize),
    /// A feed row (its position in the ring, oldest first).
    FeedRow(usize),
    /// A pane, not on a row.
    Pane(Pane),
    /// The detail view.
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    Click,
    ScrollUp,
    ScrollDown,
}

impl App {
    /// `None` when the pointer did nothing (an overlay has the keys, or nothing there).
    pub(super) fn on_pointer(
        &mut self,
        hit: Hit,
        action: Pointer,
        at: Instant,
    ) -> Option<Vec<Effect>> {
        if self.overlay_open() {
            return None;
        }
        let command = match action {
            Pointer::Click => {
                let double = self.last_click.is_some_and(|(last, when)| {
                    last == hit && at.saturating_duration_since(when) <= DOUBLE_CLICK
                });
                // A third click starts over rather than opening again.
                self.last_click = if double { None } else { Some((hit, at)) };
                return self.click(hit, double);
            }
            Pointer::ScrollUp => Command::Up,
            Pointer::ScrollDown => Command::Down,
        };
        // The wheel is the key the keymap binds to moving there.
        match hit {
            Hit::Detail => self.detail_key(keymap::key_for(Context::Detail, command)?),
            Hit::Pane(Pane::Composer) => None,
            Hit::Environment(_) | Hit::Pane(Pane::Environments) => {
                self.focus = Pane::Environments;
                self.pane_key(keymap::key_for(Context::Environments, command)?)
            }
            Hit::Connection(_) | Hit::Pane(Pane::Connections) => {
                self.focus = Pane::Connections;
                self.pane_key(keymap::key_for(Context::Connections, command)?)
            }
            Hit::FeedRow(_) | Hit::Pane(Pane::Feed) => {
                self.focus = Pane::Feed;
                self.pane_key(keymap::key_for(Context::Feed, command)?)
            }
        }
    }

    fn click(&mut self, hit: Hit, double: bool) -> Option<Vec<Effect>> {
        match hit {
            Hit::Detail => return None,
            Hit::Pane(pane) => self.focus = pane,
            Hit::Environment(i) => {
                self.focus = Pane::Environments;
                self.environment_cursor = i.min(Environment::ALL.len() - 1);
                if double {
                    return Some(
                        self.choose_environment(Environment::ALL[self.environment_cursor]),
                    );
                }
            }
            Hit::Connection(i) => {
                self.focus = Pane::Connections;
                let count = self
                    .connections
                    .as_ref()
                    .map_or(0, |c| c.destinations.len());
                self.connection_cursor = i.min(count.saturating_sub(1));
            }
            Hit::FeedRow(pos) => {
                self.focus = Pane::Feed;
                self.feed.select_row(pos);
                if double {
                    return self.feed_key(keymap::key_for(Context::Feed, Command::Choose)?);
                }
            }
        }
        Some(Vec::new())
    }

    /// Something over the panes has the keys: the pointer leaves the panes alone.
    fn overlay_open(&self) -> bool {
        let c = &self.composer;
        self.help
            || self.confirm.is_some()
            || self.prompt.is_some()
            || self.developer.is_some()
            || c.picker.is_some()
            || c.guard.is_some()
            || c.list.is_some()
            || c.naming.is_some()
    }
}
