//! The Developer view: the Keys and Endpoints tabs, and the modal that shows a new
//! key's secret once.

use super::centered;
use crate::console::app::{App, DevTab, Developer};
use crate::console::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, dev: &Developer, theme: &Theme) {
    let tab = |name: &str, on: bool| {
        let style = if on {
            theme.selection.add_modifier(Modifier::BOLD)
        } else {
            theme.dim
        };
        Span::styled(format!(" {name} "), style)
    };
    let title = Line::from(vec![
        Span::styled(" Developer ", theme.border_focused),
        tab("K Keys", dev.tab == DevTab::Keys),
        Span::raw(" "),
        tab("E Endpoints", dev.tab == DevTab::Endpoints),
        Span::styled(format!(" · {} ", app.environment), theme.dim),
    ]);
    let block = Block::bordered()
        .title(title)
        .border_style(theme.border_focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let (lines, cursor) = match dev.tab {
        DevTab::Keys => (key_lines(app, dev, inner.width >= 110, theme), dev.cursor),
        DevTab::Endpoints => (endpoint_lines(app, theme), dev.cursor),
    };
    // Keep the cursor's row in sight; the header stays on top.
    let skip = (cursor + 2).saturating_sub(height);
    let mut shown: Vec<Line> = lines.first().cloned().into_iter().collect();
    shown.extend(lines.into_iter().skip(1 + skip));
    frame.render_widget(Paragraph::new(shown), inner);
    if let Some(created) = &dev.secret {
        secret(frame, area, created, theme);
    }
}

fn row_style(on: bool, theme: &Theme) -> Style {
    if on { theme.selection } else { theme.text }
}

/// `2026-12-01T10:00:00.000Z` as `2026-12-01 10:00` (to the minute, as noted).
fn minute(time: Option<&str>, none: &str) -> String {
    match time {
        Some(t) => t.chars().take(16).collect::<String>().replace('T', " "),
        None => none.into(),
    }
}

/// The rows of the Keys tab; narrow terminals show each key's start (its full value is
/// what `x` revokes, and the secret's window shows it whole).
fn key_lines(app: &App, dev: &Developer, wide: bool, theme: &Theme) -> Vec<Line<'static>> {
    let id_width = if wide { 36 } else { 13 };
    let mut lines = vec![Line::styled(
        format!(
            "  {:<w$} {:<8} {:<16} {:<16}",
            "SOURCE / KEY",
            "KIND",
            "CREATED",
            "LAST USED",
            w = id_width + 2
        ),
        theme.dim.add_modifier(Modifier::BOLD),
    )];
    match &dev.keys {
        None => lines.push(Line::styled("  loading keys…", theme.dim)),
        Some(Err(e)) => lines.push(Line::styled(format!("  {e}"), theme.error)),
        Some(Ok(_)) => {}
    }
    for (i, row) in app.key_rows().into_iter().enumerate() {
        let on = i == dev.cursor;
        let mark = if on { "▸ " } else { "  " };
        let line = match row.key {
            None => Line::styled(
                format!("{mark}{}", row.source_name),
                row_style(on, theme).add_modifier(Modifier::BOLD),
            ),
            Some(k) => {
                let id: String = if k.api_key.chars().count() > id_width {
                    k.api_key.chars().take(id_width - 1).chain(['…']).collect()
                } else {
                    k.api_key.clone()
                };
                let text = format!(
                    "{mark}  {id:<id_width$} {:<8} {:<16} {:<16}",
                    k.kind,
                    minute(k.created.as_deref(), "?"),
                    minute(k.last_used.as_deref(), "never"),
                );
                if k.revoked {
                    Line::from(vec![
                        Span::styled(text, if on { row_style(on, theme) } else { theme.dim }),
                        Span::styled(" revoked", theme.status_failed),
                    ])
                } else {
                    Line::styled(text, row_style(on, theme))
                }
            }
        };
        lines.push(line);
    }
    lines
}

fn endpoint_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let cursor = app.developer.as_ref().map_or(0, |d| d.cursor);
    let mut lines = vec![Line::styled(
        format!(
            "  {:<20} {:<5} {:<10} {:<7} URL",
            "DESTINATION", "MODE", "VERIFIED", "STATE"
        ),
        theme.dim.add_modifier(Modifier::BOLD),
    )];
    for (i, d) in app.endpoint_rows().iter().enumerate() {
        let on = i == cursor;
        let info = &d.destination;
        let mode = format!("{:?}", info.mode).to_ascii_lowercase();
        let (verified, verified_style) = if info.verified {
            ("✔ yes", theme.status_ok)
        } else {
            ("✖ no", theme.status_failed)
        };
        let (state, state_style) = if d.paused {
            ("paused", theme.status_pending)
        } else {
            ("live", theme.status_ok)
        };
        let base = row_style(on, theme);
        let name: String = info.name.chars().take(20).collect();
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}{name:<20} {mode:<5} ", if on { "▸ " } else { "  " }),
                base,
            ),
            Span::styled(
                format!("{verified:<10} "),
                if on { base } else { verified_style },
            ),
            Span::styled(format!("{state:<7} "), if on { base } else { state_style }),
            Span::styled(info.url.clone().unwrap_or_else(|| "–".into()), base),
        ]));
    }
    if lines.len() == 1 {
        lines.push(Line::styled(
            "  no destinations in this environment",
            theme.dim,
        ));
    }
    lines
}

fn secret(frame: &mut Frame, area: Rect, created: &crate::client::wire::CreatedKey, theme: &Theme) {
    let bold = theme.text.add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::styled(
            format!(
                "{} key for {} ({})",
                created.kind, created.source, created.environment
            ),
            bold,
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled("key     ", theme.dim),
            Span::styled(created.api_key.clone(), theme.text),
        ]),
    ];
    if let Some(secret) = &created.secret {
        lines.push(Line::from(vec![
            Span::styled("secret  ", theme.dim),
            Span::styled(secret.clone(), bold),
        ]));
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "Shown only now: the console forgets it when this closes.",
            theme.status_pending,
        ));
    }
    if !created.kids.is_empty() {
        lines.push(Line::styled(
            format!("kids    {}", created.kids.join(", ")),
            theme.text,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", bold),
        Span::styled(" copy the secret · enter / esc close", theme.dim),
    ]));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let popup = centered(area, 76, height);
    let block = Block::bordered()
        .title(Span::styled(
            " New key: copy the secret now ",
            theme.border_focused,
        ))
        .border_style(theme.border_focused);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
