//! The four panes of the main screen: Environments and Connections on the left, the
//! Live feed and the Composer's place on the right.

use super::Screen;
use super::{age, paint, pane_block, rate, thousands};
use crate::client::wire::{ConnectionsView, DestinationView, SourceView};
use crate::console::app::{App, Pane};
use crate::console::theme::Theme;
use crate::model::Environment;
use crate::model::reach::DeliveryMode;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The panes where [`super::layout`] placed them.
pub(super) fn draw(
    frame: &mut Frame,
    screen: &Screen,
    app: &mut App,
    theme: &Theme,
    now: DateTime<Utc>,
) {
    // Zero-sized while a focused Composer takes the width.
    if !screen.environments.is_empty() {
        environments(frame, screen.environments, app, theme);
        connections(frame, screen.connections, app, theme, now);
    }
    super::feed::draw(frame, screen.feed, app, theme);
    super::composer::draw(frame, screen.composer, app, theme);
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
fn is_selected(app: &App, pane: Pane, selected: bool) -> bool {
    selected && app.focus == pane
}

fn environments(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let inner = usize::from(area.width.saturating_sub(2));
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
                    // Counts in words ("2s" read like a duration); the rate gives way
                    // first on a narrow pane.
                    spans.push(Span::raw(format!(
                        " {} src · {} dst",
                        v.sources, v.destinations
                    )));
                    let per_minute =
                        Span::styled(format!(" {}/m", rate(v.requests_per_minute)), theme.dim);
                    let failures = Span::styled(format!(" ✖{}", v.failures_5m), failed);
                    let used: usize = spans.iter().map(Span::width).sum();
                    if used + per_minute.width() + failures.width() <= inner {
                        spans.push(per_minute);
                    }
                    spans.push(failures);
                }
                None => spans.push(Span::styled(" –", theme.dim)),
            }
            let selected = is_selected(app, Pane::Environments, i == app.environment_cursor);
            paint(Line::from(spans), selected, theme)
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
    let drawn = connection_lines(app, view, theme, now);
    let scroll = drawn.scroll(area.height.saturating_sub(2) as usize);
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX);
    let lines = drawn.lines;
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

/// The Connections pane's lines, and which destination each belongs to (for clicks).
pub(super) struct ConnectionLines {
    pub lines: Vec<Line<'static>>,
    /// The destination (index in the view) each line draws, if any.
    pub owners: Vec<Option<usize>>,
    /// Lines up to the selected destination's last.
    selected_end: usize,
}

impl ConnectionLines {
    /// Lines scrolled off the top so the selected destination stays in view.
    pub fn scroll(&self, height: usize) -> usize {
        self.selected_end.saturating_sub(height)
    }
}

pub(super) fn connection_lines(
    app: &App,
    view: &ConnectionsView,
    theme: &Theme,
    now: DateTime<Utc>,
) -> ConnectionLines {
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
    let mut owners = vec![None; lines.len()];
    for (i, d) in view.destinations.iter().enumerate() {
        if grouped && group != Some(d.destination.organization) {
            group = Some(d.destination.organization);
            lines.push(organization_heading(view, d, heading, theme));
            owners.push(None);
        }
        let selected = i == app.connection_cursor;
        let on = is_selected(app, Pane::Connections, selected);
        lines.extend(
            destination_lines(d, theme, now)
                .into_iter()
                .map(|l| paint(l, on, theme)),
        );
        if grouped && selected {
            // The endpoint ID the platform's clients address it by; `y` copies it whole.
            let id = d.destination.id.to_string();
            let line = Line::styled(format!("    id {}… y copy", &id[..13]), theme.dim);
            lines.push(paint(line, on, theme));
        }
        owners.resize(lines.len(), Some(i));
        if i <= app.connection_cursor {
            selected_end = lines.len();
        }
    }
    ConnectionLines {
        lines,
        owners,
        selected_end,
    }
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
    if let Some(node) = &d.delivered_by {
        second.push(Span::styled(format!(" via {node}"), theme.dim));
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
            delivered_by: None,
        };
        let lines = destination_lines(&d, &Theme::dark(), now);
        let text: String = lines[2].spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(text.contains("5m 99.8%"), "{text}");
        assert!(!text.contains("100%"), "{text}");
        let queue: String = lines[1].spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(!queue.contains("via"), "{queue}");

        // On several nodes: which one delivers it.
        let d = DestinationView {
            delivered_by: Some("db-2 10.0.0.7:8443".into()),
            ..d
        };
        let lines = destination_lines(&d, &Theme::dark(), now);
        let queue: String = lines[1].spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(queue.ends_with(" via db-2 10.0.0.7:8443"), "{queue}");
    }
}
