//! The terminal console's core: its state and the one function that changes it.
//!
//! [`app::update`] takes the [`App`] and one [`Msg`] (a key, a feed event, an engine
//! answer) and returns [`Effect`] values (subscribe, load a page, act on a destination,
//! quit) for the event loop to carry out through the `Engine` trait. Nothing here touches
//! the terminal, the network or a task, so tests drive it directly.
//!
//! - [`feed`]: the bounded ring of live-feed rows with follow/freeze and selection.
//! - [`prompt`]: the one-line editor every prompt shares, and the `:` commands.
//! - [`recall`]: the `:` and `/` prompts' history (kept across runs) and Tab completion.
//! - [`keymap`]: every key binding in one table, read by the handlers, help and hints.
//! - [`view`]: drawing the screen from the state (and what is under a click);
//!   [`theme`]: its semantic colours.
//! - [`run`]: the event loop on any ratatui backend, and `run::terminal`, the real
//!   terminal around it (raw mode, input thread, `$EDITOR`, `ctrl-z`, the mouse).
//! - [`app`]: panes, environment scope, filter line, detail view, confirmations, the
//!   `:` commands' effects (`app::commands`) and the Developer view of keys and endpoints
//!   (`app::developer`).

pub mod app;
pub mod clipboard;
pub mod collection;
pub mod composer;
pub mod external;
pub mod feed;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod json_tree;
pub mod keymap;
pub mod prompt;
pub mod recall;
pub mod run;
pub mod theme;
pub mod view;

pub use app::{App, Effect, Msg, Notice, Pane, Prompt, update};
pub use feed::{DEFAULT_FEED_CAPACITY, FeedRing};
