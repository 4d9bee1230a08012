//! What is under the pointer, found on the one layout drawing uses ([`super::layout`]):
//! [`pointer`] turns a mouse event into the app's message for what it landed on.

use super::{MIN_HEIGHT, MIN_WIDTH, feed_row_lines, layout};
use crate::console::app::{App, Hit, Msg, Pane, Pointer};
use crate::console::theme::Theme;
use crate::model::Environment;
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

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
    // One-line rows sit under a line of column names.
    let header = u16::from(lines == 1);
    if at.y < inner.y + header {
        return Hit::Pane(Pane::Feed);
    }
    let rows = usize::from(inner.height.saturating_sub(header) / lines);
    let (start, end) = app.feed.shown(rows);
    let pos = start + usize::from((at.y - inner.y - header) / lines);
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
