//! The console's colours as semantic slots, so drawing code asks for "the selection" or
//! "a failed status" and never for a colour. `Theme::mono` carries all meaning through
//! modifiers (reverse, bold, underline) for `NO_COLOR` terminals.

use ratatui::style::{Color, Modifier, Style};
use std::ffi::OsStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub band_development: Style,
    pub band_staging: Style,
    pub band_production: Style,
    pub status_ok: Style,
    pub status_pending: Style,
    pub status_failed: Style,
    pub selection: Style,
    pub border: Style,
    pub border_focused: Style,
    pub error: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

impl Theme {
    pub fn dark() -> Theme {
        let band = |bg| {
            Style::new()
                .fg(Color::Black)
                .bg(bg)
                .add_modifier(Modifier::BOLD)
        };
        Theme {
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            accent: Style::new().fg(Color::Cyan),
            band_development: band(Color::Green),
            band_staging: band(Color::Yellow),
            band_production: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            status_ok: Style::new().fg(Color::Green),
            status_pending: Style::new().fg(Color::Yellow),
            status_failed: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            selection: Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            error: Style::new().fg(Color::Red),
        }
    }

    /// No colours at all: the selection is reversed and bold, focus is bold, the
    /// environment band is reversed, failures are bold.
    pub fn mono() -> Theme {
        let plain = Style::new();
        Theme {
            text: plain,
            dim: plain.add_modifier(Modifier::DIM),
            accent: plain.add_modifier(Modifier::BOLD),
            band_development: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            band_staging: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            band_production: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            status_ok: plain,
            status_pending: plain,
            status_failed: plain.add_modifier(Modifier::BOLD),
            selection: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            border: plain,
            border_focused: plain.add_modifier(Modifier::BOLD),
            error: plain.add_modifier(Modifier::BOLD),
        }
    }

    /// `mono` when `NO_COLOR` is set to anything non-empty (no-color.org), else `dark`.
    pub fn from_env() -> Theme {
        Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// `from_env`'s choice for a given value of `NO_COLOR`.
    pub fn for_no_color(no_color: Option<&OsStr>) -> Theme {
        match no_color {
            Some(v) if !v.is_empty() => Theme::mono(),
            _ => Theme::dark(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_non_empty_chooses_mono() {
        assert_eq!(Theme::for_no_color(Some(OsStr::new("1"))), Theme::mono());
        assert_eq!(Theme::for_no_color(Some(OsStr::new(""))), Theme::dark());
        assert_eq!(Theme::for_no_color(None), Theme::dark());
    }

    #[test]
    fn mono_has_no_colours_but_a_visible_selection() {
        let t = Theme::mono();
        for style in [
            t.text,
            t.dim,
            t.accent,
            t.band_development,
            t.band_staging,
            t.band_production,
            t.status_ok,
            t.status_pending,
            t.status_failed,
            t.selection,
            t.border,
            t.border_focused,
            t.error,
        ] {
            assert_eq!((style.fg, style.bg), (None, None));
        }
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
        assert!(t.border_focused.add_modifier.contains(Modifier::BOLD));
    }
}
