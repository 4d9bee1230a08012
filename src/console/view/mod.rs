//! Drawing: the whole screen from [`App`] state, and nothing else. No state of its own
//! beyond what it tells the feed ring (the height it shows, for PgUp/PgDn), no I/O.
//!
//! - this module: the frame's layout, the status bar, the environment band, the
//!   bottom line (filter, command, notice or hint bar) and the overlays (help,
//!   confirmation, connection-lost banner).
//! - [`panes`]: Environments, Connections, Live feed, Composer.
//! - [`feed`]: the Live feed pane: its title and its one- or two-line rows.
//! - [`detail`]: one log's metadata, attempts and bodies.
//! - [`keys`]: the hint bar, the help overlay and the confirmation.
//! - [`developer`]: the Developer view (Keys and Endpoints tabs, the new secret's modal).
//! - [`hit`]: what a click or the wheel landed on, found on the same layout.
//!
//! PHI: the engine masks what a role may not see; drawing masks again, so no patient
//! field or Production body reaches the screen for a role without the permission even
//! if unmasked data slipped through.

mod composer;
mod detail;
mod developer;
mod feed;
mod hit;
mod keys;
mod panes;
#[cfg(test)]
mod tests;

use super::app::{App, Notice, Pane, Prompt};
use super::theme::Theme;
use crate::model::{Environment, LogRecord, LogStatus};
use chrono::{DateTime, Utc};
use keys::{confirmation, help, hint};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

/// Lines per feed row for a feed pane of inner width `width`: 1 (columns) from 120
/// columns on, 2 below; `v` flips it. Mouse hit-testing relies on it too.
pub(crate) fn feed_row_lines(app: &App, width: u16) -> u16 {
    feed::row_lines(app, width)
}

pub use hit::pointer;

/// The smallest terminal the console draws in; smaller gets a notice.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Draws the whole screen as of now.
pub fn draw(frame: &mut Frame, app: &mut App, theme: &Theme) {
    draw_at(frame, app, theme, Utc::now());
}

/// Draws the whole screen with ages ("4m ago") measured from `now`, so tests are
/// deterministic.
pub fn draw_at(frame: &mut Frame, app: &mut App, theme: &Theme, now: DateTime<Utc>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, theme);
        return;
    }
    let screen = layout(app, area);
    let (main, bottom) = (screen.main, screen.bottom);
    status_bar(frame, screen.status, app, theme);
    environment_band(frame, screen.band, app, theme);
    if let Some(lost) = &app.disconnected {
        let when = match lost.seconds_left(now) {
            0 => "retrying now…".to_string(),
            n => format!("retrying in {n} s, r to retry now"),
        };
        let text = format!(" engine unreachable at {} — {when}", app.address);
        let style = theme
            .error
            .add_modifier(Modifier::REVERSED | Modifier::BOLD);
        frame.render_widget(Paragraph::new(text).style(style), screen.banner);
    }
    if app.detail.is_some() {
        detail::draw(frame, main, app, theme);
    } else if let Some(dev) = &app.developer {
        developer::draw(frame, main, app, dev, theme);
    } else {
        panes::draw(frame, &screen, app, theme, now);
        composer::picker(frame, main, app, theme);
        composer::guard(frame, main, app, theme);
        composer::list(frame, main, app, theme);
        composer::naming(frame, main, app, theme);
    }
    bottom_line(frame, bottom, app, theme);
    if app.help {
        app.help_scroll = help(frame, main, app, theme);
    }
    if let Some(confirm) = &app.confirm {
        // Revocations ask in every environment; other actions only in Production.
        let title = match confirm.effect {
            super::app::Effect::Revoke(_) => " Revoke: confirm ",
            super::app::Effect::Quit => " Quit: confirm ",
            _ => " Production: confirm ",
        };
        confirmation(frame, main, title, &confirm.question, theme);
    }
}

fn too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let top = area.height / 2;
    let rest = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    let notice = Paragraph::new("terminal too small (need 80×24)")
        .style(theme.error)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    frame.render_widget(notice, rest);
}

// --- the layout -----------------------------------------------------------------------

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
/// Drawing and hit-testing ([`hit`]) both place things with it.
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
    let composer_height = composer::height(app, right.height);
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

// --- shared helpers -----------------------------------------------------------------

/// Whether `log`'s patient fields may be drawn.
fn shows_patient(app: &App, env: Environment) -> bool {
    !env.may_hold_phi() || app.phi_allowed()
}

/// The patient identifier of `log` if it may be drawn.
fn patient<'a>(app: &App, log: &'a LogRecord) -> Option<&'a str> {
    if shows_patient(app, log.environment) {
        log.patient_id.as_deref()
    } else {
        None
    }
}

/// A pane's frame, its border in the focused colour when it has the keyboard.
fn pane_block<'a>(app: &App, pane: Pane, title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    let focused = app.focus == pane;
    let border = if focused {
        theme.border_focused
    } else {
        theme.border
    };
    Block::bordered().title(title).border_style(border)
}

/// A row as drawn: a selected one wholly in the selection's style (its spans' own
/// colours would fight the selection's background: grey on grey, red on blue), any
/// other on the plain text style.
fn paint<'a>(line: Line<'a>, selected: bool, theme: &Theme) -> Line<'a> {
    if !selected {
        return line.style(theme.text);
    }
    let spans = line
        .spans
        .into_iter()
        .map(|s| Span::styled(s.content, theme.selection))
        .collect::<Vec<_>>();
    Line::from(spans).style(theme.selection)
}

fn status_symbol(status: LogStatus, theme: &Theme) -> Span<'static> {
    let (symbol, style) = match status {
        LogStatus::Succeeded => ("✔", theme.status_ok),
        LogStatus::Pending => ("⟳", theme.status_pending),
        LogStatus::Failed => ("✖", theme.status_failed),
        LogStatus::Filtered => ("·", theme.dim),
    };
    Span::styled(format!("{symbol} {}", status.as_str()), style)
}

fn band_style(env: Environment, theme: &Theme) -> Style {
    match env {
        Environment::Development => theme.band_development,
        Environment::Staging => theme.band_staging,
        Environment::Production => theme.band_production,
    }
}

/// `45s`, `4m`, `3h12m`, `2d3h`.
fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h:02}h"),
    }
}

/// The age of `at` at `now`, or `–`.
fn age(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(at) => duration(u64::try_from((now - at).num_seconds()).unwrap_or(0)),
        None => "–".into(),
    }
}

/// `0.4`, `12`, `1.3k`: short, for narrow columns.
fn rate(per: f64) -> String {
    if per < 10.0 {
        format!("{per:.1}")
    } else if per < 1_000.0 {
        format!("{per:.0}")
    } else {
        format!("{:.1}k", per / 1_000.0)
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn latency(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms < 1_000.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{:.2} s", ms / 1_000.0),
        None => "–".into(),
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

// --- top and bottom lines -----------------------------------------------------------

fn status_bar(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (uptime, accepted, delivered, role) = match &app.status {
        Some(s) => (
            duration(s.uptime_seconds),
            rate(s.accepted_per_second),
            rate(s.delivered_per_second),
            s.role,
        ),
        None => ("–".into(), "–".into(), "–".into(), app.role),
    };
    // The product name gives way first when the line is short.
    let brand = if area.width >= 100 {
        " switchboard "
    } else {
        ""
    };
    // While the engine is out of reach its last figures are stale: none are shown.
    let figures = if app.disconnected.is_some() {
        Span::styled("  ✖ disconnected", theme.status_failed)
    } else {
        Span::styled(
            format!("  up {uptime}  in {accepted}/s  out {delivered}/s"),
            theme.dim,
        )
    };
    let mut left = Line::from(vec![
        Span::styled(brand, theme.accent.add_modifier(Modifier::BOLD)),
        Span::styled(format!(" {}", app.address), theme.text),
        figures,
    ]);
    // Requests the engine refused for overload, only once there are any.
    if let Some(s) = app
        .status
        .as_ref()
        .filter(|s| s.overloaded + s.queue_full > 0)
    {
        left.push_span(Span::styled(
            format!(
                "  refused: busy {} · queue full {}",
                s.overloaded, s.queue_full
            ),
            theme.status_failed,
        ));
    }
    let mut right = Line::from(Span::styled(format!("role {}", role.as_str()), theme.text));
    // Only Production may hold PHI: elsewhere there is nothing hidden or shown to say.
    if app.environment.may_hold_phi() {
        right.push_span(Span::styled(" · ", theme.text));
        right.push_span(if app.phi_allowed() {
            Span::styled("PHI visible", theme.status_pending)
        } else {
            Span::styled("PHI hidden", theme.status_ok)
        });
    }
    right.push_span(Span::raw(" "));
    let right_width = u16::try_from(right.width() + 1).unwrap_or(u16::MAX);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(left), left_area);
    frame.render_widget(
        Paragraph::new(right).alignment(Alignment::Right),
        right_area,
    );
}

fn environment_band(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    for env in Environment::ALL {
        if env == app.environment {
            let name = env.as_str().to_uppercase();
            spans.push(Span::styled(format!("▌{name}▐"), band_style(env, theme)));
        } else {
            spans.push(Span::styled(format!(" {env} "), theme.dim));
        }
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let keys = Line::styled("? help  : cmd ", theme.dim);
    frame.render_widget(Paragraph::new(keys).alignment(Alignment::Right), area);
}

fn bottom_line(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(line) = app.detail.as_ref().and_then(|d| d.search.typing.as_ref()) {
        return detail::search_line(frame, area, line, theme);
    }
    let (prefix, line, error) = match &app.prompt {
        Some(Prompt::Filter { line, error }) => ("/", line, error.as_ref()),
        Some(Prompt::Command { line }) => (":", line, None),
        None => {
            let line = match &app.notice {
                Some(Notice::Info(text)) => Line::styled(format!(" {text}"), theme.text),
                Some(Notice::Error(text)) => Line::styled(format!(" {text}"), theme.error),
                None => fit_items(hint(app, theme), usize::from(area.width)),
            };
            frame.render_widget(Paragraph::new(line), area);
            return;
        }
    };
    let text = line.text.as_str();
    let mut spans = vec![Span::styled(prefix, theme.accent)];
    match error {
        Some(e) => {
            let start = floor_boundary(text, e.start);
            let end = floor_boundary(text, e.end.max(start));
            let marked = theme.error.add_modifier(Modifier::UNDERLINED);
            spans.push(Span::styled(&text[..start], theme.text));
            if start == end {
                // An error at the end ("a value is missing"): underline where it goes.
                spans.push(Span::styled(&text[start..], theme.text));
                spans.push(Span::styled(" ", marked));
            } else {
                spans.push(Span::styled(&text[start..end], marked));
                spans.push(Span::styled(&text[end..], theme.text));
            }
            spans.push(Span::styled(format!("   {}", e.message), theme.error));
        }
        // A pre-filled value typing would replace.
        None if line.selected => spans.push(Span::styled(
            text,
            theme.text.add_modifier(Modifier::REVERSED),
        )),
        None => spans.push(Span::styled(text, theme.text)),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let before = Span::raw(&text[..floor_boundary(text, line.cursor)]).width();
    let x = area.x.saturating_add(1).saturating_add(before as u16);
    if x < area.right() {
        frame.set_cursor_position(Position::new(x, area.y));
    }
}

/// A line of keys (the hint bar, a pane's footer) shortened to `width`: the items of its
/// last span (" · "-separated) give way from the end, `? help` and the way back kept, so
/// no item is cut in the middle.
fn fit_items(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut spans = line.spans;
    let Some(last) = spans.pop() else {
        return Line::from(spans);
    };
    let prefix: usize = spans.iter().map(Span::width).sum();
    let mut items: Vec<&str> = last.content.split(" · ").collect();
    let fits = |items: &[&str]| prefix + Span::raw(items.join(" · ")).width() <= width;
    while items.len() > 1 && !fits(&items) {
        // Drop the last item that is not the way to the full list or the way out.
        let kept = |i: &&str| i.starts_with("? ") || i.starts_with("esc ") || i.ends_with(" back");
        match items.iter().rposition(|i| !kept(i)) {
            Some(at) => {
                items.remove(at);
            }
            None => break,
        }
    }
    spans.push(Span::styled(items.join(" · "), last.style));
    Line::from(spans)
}

/// The largest char boundary of `text` at or before `i`.
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
