//! The four panes of the main screen: Environments and Connections on the left, the
//! Live feed and the Composer's place on the right.

use super::{age, latency, patient, rate, status_symbol, thousands};
use crate::client::wire::{ConnectionsView, DestinationView, SourceView};
use crate::console::app::{App, Pane};
use crate::console::theme::Theme;
use crate::model::reach::DeliveryMode;
use crate::model::{Environment, LogRecord};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Terminals narrower than this give the whole width to a focused Composer.
const COMPOSER_ZOOM_BELOW: u16 = 160;

/// Terminal lines per feed row.
const FEED_ROW_LINES: usize = 2;

pub(super) fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &mut App,
    theme: &Theme,
    now: DateTime<Utc>,
) {
    // Composing on a narrow terminal, the editor needs the width more than the
    // environment and connection lists do: they step aside until focus moves on.
    let zoomed = app.focus == Pane::Composer && area.width < COMPOSER_ZOOM_BELOW;
    let left_width = if zoomed {
        0
    } else {
        (area.width * 3 / 10).clamp(32, 48)
    };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(area);
    let composer_height = super::composer::height(app, right.height);
    let [feed, composer] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(composer_height)]).areas(right);
    if !zoomed {
        let [envs, conns] =
            Layout::vertical([Constraint::Length(5), Constraint::Min(0)]).areas(left);
        environments(frame, envs, app, theme);
        connections(frame, conns, app, theme, now);
    }
    live_feed(frame, feed, app, theme);
    super::composer::draw(frame, composer, app, theme);
}

fn pane_block<'a>(app: &App, pane: Pane, title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    let focused = app.focus == pane;
    let border = if focused {
        theme.border_focused
    } else {
        theme.border
    };
    Block::bordered().title(title).border_style(border)
}

fn title(number: u8, name: &str, app: &App, pane: Pane, theme: &Theme) -> Vec<Span<'static>> {
    let style = if app.focus == pane {
        theme.border_focused
    } else {
        theme.text
    };
    vec![
        Span::styled(format!(" {number} "), theme.dim),
        Span::styled(format!("{name} "), style),
    ]
}

/// Selection only shows in the focused pane, so there is one selection on screen.
fn row_style(app: &App, pane: Pane, selected: bool, theme: &Theme) -> Style {
    if selected && app.focus == pane {
        theme.selection
    } else {
        theme.text
    }
}

fn environments(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines: Vec<Line> = Environment::ALL
        .iter()
        .enumerate()
        .map(|(i, &env)| {
            let marker = if env == app.environment { "▸ " } else { "  " };
            let view = app.environments.iter().find(|v| v.name == env);
            let mut spans = vec![
                Span::styled(marker, theme.accent),
                Span::raw(format!("{:<10}", env.as_str())),
            ];
            match view {
                Some(v) => {
                    let failed = if v.failures_5m > 0 {
                        theme.status_failed
                    } else {
                        theme.dim
                    };
                    spans.push(Span::raw(format!(" {}s {}d", v.sources, v.destinations)));
                    spans.push(Span::styled(
                        format!(" {}/m", rate(v.requests_per_minute)),
                        theme.dim,
                    ));
                    spans.push(Span::styled(format!(" ✖{}", v.failures_5m), failed));
                }
                None => spans.push(Span::styled(" –", theme.dim)),
            }
            let selected = i == app.environment_cursor;
            Line::from(spans).style(row_style(app, Pane::Environments, selected, theme))
        })
        .collect();
    let block = pane_block(
        app,
        Pane::Environments,
        title(1, "Environments", app, Pane::Environments, theme),
        theme,
    );
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn connections(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: DateTime<Utc>) {
    let block = pane_block(
        app,
        Pane::Connections,
        title(2, "Connections", app, Pane::Connections, theme),
        theme,
    );
    let Some(view) = &app.connections else {
        let loading = Line::styled("loading…", theme.dim);
        frame.render_widget(Paragraph::new(loading).block(block), area);
        return;
    };
    let heading = theme.accent.add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled("Sources", heading)];
    if view.sources.is_empty() {
        lines.push(Line::styled("  none", theme.dim));
    }
    lines.extend(view.sources.iter().map(|s| source_line(s, theme, now)));
    // With organizations (an engine that has them), destinations are grouped under
    // theirs, as the platform's Connections page lists them; `update` keeps them in
    // that order, so the cursor walks the groups top to bottom.
    let grouped = !view.organizations.is_empty();
    if !grouped {
        lines.push(Line::styled("Destinations", heading));
    }
    if view.destinations.is_empty() {
        lines.push(Line::styled("  none", theme.dim));
    }
    let mut group = None;
    let mut selected_end = lines.len();
    for (i, d) in view.destinations.iter().enumerate() {
        if grouped && group != Some(d.destination.organization) {
            group = Some(d.destination.organization);
            lines.push(organization_heading(view, d, heading, theme));
        }
        let selected = i == app.connection_cursor;
        let style = row_style(app, Pane::Connections, selected, theme);
        lines.extend(
            destination_lines(d, theme, now)
                .into_iter()
                .map(|l| l.style(style)),
        );
        if grouped && selected {
            // The endpoint ID the platform's clients address it by; `y` copies it whole.
            let id = d.destination.id.to_string();
            lines.push(
                Line::styled(format!("    id {}… y copy", &id[..13]), theme.dim).style(style),
            );
        }
        if i <= app.connection_cursor {
            selected_end = lines.len();
        }
    }
    // Keep the selected destination in view when there are more than fit.
    let height = area.height.saturating_sub(2) as usize;
    let scroll = selected_end.saturating_sub(height);
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

/// An organization's heading in the Connections pane: its name, and whether it is yours.
fn organization_heading(
    view: &ConnectionsView,
    d: &DestinationView,
    heading: Style,
    theme: &Theme,
) -> Line<'static> {
    let org = view
        .organizations
        .iter()
        .find(|o| o.id == d.destination.organization);
    let name = org.map_or("Other", |o| o.name.as_str());
    let mut spans = vec![Span::styled(name.to_string(), heading)];
    if org.is_some_and(|o| o.own) {
        spans.push(Span::styled(" (yours)", theme.dim));
    }
    Line::from(spans)
}

fn source_line(s: &SourceView, theme: &Theme, now: DateTime<Utc>) -> Line<'static> {
    let last = match s.health.last_request {
        Some(at) => format!("{} ago", age(Some(at), now)),
        None => "never".into(),
    };
    Line::from(vec![
        Span::raw(format!("  {}", s.source.name)),
        Span::styled(
            format!("  {last}  {}/m", rate(s.health.requests_per_minute)),
            theme.dim,
        ),
    ])
}

/// Three lines: name, mode and state; queue (and quarantine when any); the last
/// attempt (status, age) and the success rate over 5 minutes.
fn destination_lines(d: &DestinationView, theme: &Theme, now: DateTime<Utc>) -> Vec<Line<'static>> {
    let mode = match d.destination.mode {
        DeliveryMode::Push => "push",
        DeliveryMode::Poll => "poll",
    };
    let mut first = vec![
        Span::raw(format!("  {}", d.destination.name)),
        Span::styled(format!("  {mode} "), theme.dim),
    ];
    if d.delivery_allowed {
        first.push(Span::styled("✔", theme.status_ok));
    } else {
        first.push(Span::styled("✖ unverified", theme.status_failed));
    }
    if d.paused {
        first.push(Span::styled(" paused", theme.status_pending));
    }
    let depth = if d.queue_depth_capped {
        format!("{}+", thousands(d.queue_depth as u64))
    } else {
        thousands(d.queue_depth as u64)
    };
    let mut second = vec![Span::styled(
        format!("    queue {depth} oldest {}", age(d.oldest_queued_at, now)),
        theme.dim,
    )];
    if d.quarantined > 0 {
        second.push(Span::styled(
            format!(" quar {}", d.quarantined),
            theme.status_failed,
        ));
    }
    let mut third = vec![Span::styled("    last ", theme.dim)];
    match &d.health.last_attempt {
        Some(last) => {
            let (symbol, style) = if last.succeeded {
                ("✔", theme.status_ok)
            } else {
                ("✖", theme.status_failed)
            };
            let code = last
                .http_status
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            third.push(Span::styled(format!("{symbol}{code}"), style));
            third.push(Span::styled(
                format!(" {}", age(Some(last.at), now)),
                theme.dim,
            ));
        }
        None => third.push(Span::styled("–", theme.dim)),
    }
    let ok = match d.health.success_percent() {
        Some(percent) => format!(" · 5m {percent}"),
        None => " · 5m –".into(),
    };
    third.push(Span::styled(ok, theme.dim));
    vec![Line::from(first), Line::from(second), Line::from(third)]
}

fn live_feed(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let inner_height = area.height.saturating_sub(2) as usize;
    let (start, end) = app.feed.visible(inner_height / FEED_ROW_LINES);
    let selected = app.feed.selected();

    let mut header = title(3, "Live feed", app, Pane::Feed, theme);
    let mode = if app.feed.is_following() {
        Span::styled("following", theme.status_ok)
    } else {
        Span::styled(
            format!(
                "frozen · {} new since freeze",
                thousands(app.feed.new_since_freeze())
            ),
            theme.status_pending,
        )
    };
    header.push(Span::styled("· ", theme.dim));
    header.push(mode);
    let dropped_style = if app.feed.dropped() > 0 {
        theme.status_failed
    } else {
        theme.dim
    };
    header.push(Span::styled(
        format!(" · {} rows · ", thousands(app.feed.len() as u64)),
        theme.dim,
    ));
    header.push(Span::styled(
        format!("dropped {} ", thousands(app.feed.dropped())),
        dropped_style,
    ));
    if !app.filter_text.is_empty() {
        header.push(Span::styled(
            format!("· filter {} ", app.filter_text),
            theme.accent,
        ));
    }
    let block = pane_block(app, Pane::Feed, Line::from(header), theme);

    let mut lines = Vec::with_capacity((end - start) * FEED_ROW_LINES);
    for (offset, log) in app.feed.rows(start, end).enumerate() {
        let style = row_style(app, Pane::Feed, selected == Some(start + offset), theme);
        lines.extend(
            feed_row(app, log, theme)
                .into_iter()
                .map(|l| l.style(style)),
        );
    }
    if lines.is_empty() {
        let text = if app.filter_text.is_empty() {
            format!("no logs in {} yet", app.environment)
        } else {
            "no logs match the filter".to_string()
        };
        lines.push(Line::styled(text, theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Two lines: time, type, data model and event, route; then status, attempts,
/// latency and (when it may be shown) the patient.
fn feed_row(app: &App, log: &LogRecord, theme: &Theme) -> [Line<'static>; 2] {
    let first = Line::from(vec![
        Span::styled(
            log.created_at.format("%H:%M:%S%.3f ").to_string(),
            theme.dim,
        ),
        Span::styled(format!("{:<8}", log.log_type.as_str()), theme.accent),
        Span::raw(
            crate::model::fhir::label(&log.data_model, &log.event_type)
                .unwrap_or_else(|| format!("{} {}", log.data_model, log.event_type)),
        ),
        Span::styled(
            format!("  {} → {}", log.source_name, log.destination_name),
            theme.text,
        ),
    ]);
    let attempts = match log.attempts {
        1 => "1 attempt".to_string(),
        n => format!("{n} attempts"),
    };
    let mut second = vec![
        Span::raw(" ".repeat(13)),
        status_symbol(log.status, theme),
        Span::styled(
            format!("  {attempts}  {}", latency(log.latency_ms)),
            theme.dim,
        ),
    ];
    if log.quarantined {
        second.push(Span::styled("  quarantined", theme.status_failed));
    }
    if log.test {
        second.push(Span::styled("  test", theme.dim));
    }
    if let Some(mrn) = patient(app, log) {
        second.push(Span::styled(format!("  mrn {mrn}"), theme.dim));
    }
    [first, Line::from(second)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::wire::{DestinationHealth, LastAttempt};
    use crate::console::fixtures;

    /// Issue 18, point 5: three failures among 1,500 successes read "100%".
    #[test]
    fn a_destination_with_failures_never_shows_100_percent() {
        let now = Utc::now();
        let d = DestinationView {
            destination: fixtures::destination(
                uuid::Uuid::from_u128(88),
                "Sandbox EHR",
                Environment::Development,
                DeliveryMode::Push,
            ),
            paused: false,
            delivery_allowed: true,
            queue_depth: 1,
            queue_depth_capped: false,
            oldest_queued_at: None,
            quarantined: 0,
            health: DestinationHealth {
                last_attempt: Some(LastAttempt {
                    at: now,
                    succeeded: false,
                    http_status: Some(500),
                }),
                attempts_5m: 1_503,
                failures_5m: 3,
                success_rate_5m: Some(1_500.0 / 1_503.0),
            },
        };
        let lines = destination_lines(&d, &Theme::dark(), now);
        let text: String = lines[2].spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(text.contains("5m 99.8%"), "{text}");
        assert!(!text.contains("100%"), "{text}");
    }
}
