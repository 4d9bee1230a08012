//! Where things are drawn, and what is under the pointer: [`layout`] is the one
//! function that places the panes for a terminal size (drawing and hit-testing both use
//! it), and [`pointer`] turns a mouse event into the app's message for what it landed on.

use super::{MIN_HEIGHT, MIN_WIDTH, feed_row_lines};
use crate::console::app::{App, Hit, Msg, Pane, Pointer};
use crate::console::theme::Theme;
use crate::model::Environment;
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Position, Rect};

/// Terminals narrower than this give the whole width to a focused Composer.
const COMPOSER_ZOOM_BELOW: u16 = 160;

/// The screen's areas. The left column is empty (zero-sized) while a focused Composer
/// takes the whole width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Screen {
    pub status: Rect,
    pub band: Rect,
    pub banner: Rect,
    /// Under the band: the four panes, or the detail or Developer view.
    pub main: Rect,
    pub bottom: Rect,
    pub environments: Rect,
    pub connections: Rect,
    pub feed: Rect,
    pub composer: Rect,
}

/// The areas of a screen of `area` as drawn now.
pub(crate) fn layout(app: &App, area: Rect) -> Screen {
    let banner = u16::from(app.disconnected.is_some());
    let [status, band, banner, main, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    // Composing on a narrow terminal, the editor needs the width more than the
    // environment and connection lists do: they step aside until focus moves on.
    let zoomed = app.focus == Pane::Composer && main.width < COMPOSER_ZOOM_BELOW;
    let left_width = if zoomed {
        0
    } else {
        (main.width * 3 / 10).clamp(32, 48)
    };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(main);
    let composer_height = super::composer::height(app, right.height);
    let [feed, composer] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(composer_height)]).areas(right);
    let [environments, connections] = if zoomed {
        [Rect::default(), Rect::default()]
    } else {
        Layout::vertical([Constraint::Length(5), Constraint::Min(0)]).areas(left)
    };
    Screen {
        status,
        band,
        banner,
        main,
        bottom,
        environments,
        connections,
        feed,
        composer,
    }
}

/// Inside a pane's border.
fn inner(area: Rect) -> Rect {
    area.inner(ratatui::layout::Margin::new(1, 1))
}

/// What is drawn at column `x`, row `y` of the screen.
pub(crate) fn hit(app: &App, x: u16, y: u16) -> Option<Hit> {
    let (width, height) = app.size;
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return None;
    }
    let screen = layout(app, Rect::new(0, 0, width, height));
    let at = Position::new(x, y);
    if !screen.main.contains(at) {
        return None;
    }
    if app.detail.is_some() {
        return Some(Hit::Detail);
    }
    if app.developer.is_some() {
        return None;
    }
    if screen.environments.contains(at) {
        let inside = inner(screen.environments);
        let line = usize::from(y.saturating_sub(inside.y));
        return Some(if inside.contains(at) && line < Environment::ALL.len() {
            Hit::Environment(line)
        } else {
            Hit::Pane(Pane::Environments)
        });
    }
    if screen.connections.contains(at) {
        return Some(connection_at(app, screen.connections, at));
    }
    if screen.feed.contains(at) {
        return Some(feed_row_at(app, screen.feed, at));
    }
    if screen.composer.contains(at) {
        return Some(Hit::Pane(Pane::Composer));
    }
    None
}

fn feed_row_at(app: &App, area: Rect, at: Position) -> Hit {
    let inner = inner(area);
    if !inner.contains(at) {
        return Hit::Pane(Pane::Feed);
    }
    let lines = feed_row_lines(app, inner.width).max(1);
    let rows = usize::from(inner.height / lines);
    let (start, end) = app.feed.shown(rows);
    let pos = start + usize::from((at.y - inner.y) / lines);
    if pos < end {
        Hit::FeedRow(pos)
    } else {
        Hit::Pane(Pane::Feed)
    }
}

fn connection_at(app: &App, area: Rect, at: Position) -> Hit {
    let inner = inner(area);
    let Some(view) = &app.connections else {
        return Hit::Pane(Pane::Connections);
    };
    if !inner.contains(at) {
        return Hit::Pane(Pane::Connections);
    }
    // The same lines as drawn (the theme does not move them).
    let drawn = super::panes::connection_lines(app, view, &Theme::default(), chrono::Utc::now());
    let scroll = drawn.scroll(usize::from(inner.height));
    let line = scroll + usize::from(at.y - inner.y);
    match drawn.owners.get(line) {
        Some(Some(i)) => Hit::Connection(*i),
        _ => Hit::Pane(Pane::Connections),
    }
}

/// A mouse event as the app's message: a left click or the wheel on something drawn;
/// `None` for the rest (moves, drags, releases, other buttons).
pub fn pointer(app: &App, event: MouseEvent, at: std::time::Instant) -> Option<Msg> {
    let action = match event.kind {
        MouseEventKind::Down(MouseButton::Left) => Pointer::Click,
        MouseEventKind::ScrollUp => Pointer::ScrollUp,
        MouseEventKind::ScrollDown => Pointer::ScrollDown,
        _ => return None,
    };
    let hit = hit(app, event.column, event.row)?;
    Some(Msg::Pointer { hit, action, at })
}
