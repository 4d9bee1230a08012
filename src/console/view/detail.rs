//! The detail view of one log: metadata and the attempts timeline on top, the request
//! and response bodies side by side below, pretty-printed. Masked details (and, as a
//! second line of defence, any Production detail this console may not reveal) show
//! "hidden: no PHI permission" where bodies and patient fields would be.

use super::{latency, patient, phi_allowed, status_symbol};
use crate::console::app::App;
use crate::console::theme::Theme;
use crate::model::AttemptOutcome;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use serde_json::Value;

const HIDDEN: &str = "hidden: no PHI permission";
/// Lines of an attempt's response shown in the timeline.
const ATTEMPT_BODY_LINES: usize = 3;

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(open) = &app.detail else { return };
    let log = open.record();
    let loaded = open.detail.as_ref();
    let masked =
        loaded.is_some_and(|d| d.masked) || (log.environment.may_hold_phi() && !phi_allowed(app));

    let label = |name: &str| Span::styled(format!("{name:<10}"), theme.dim);
    let mut lines = vec![
        Line::from(vec![
            label("type"),
            Span::styled(log.log_type.as_str(), theme.accent),
            Span::styled(format!("  {:?}", log.exchange), theme.dim),
        ]),
        Line::from(vec![label("status"), status_symbol(log.status, theme)]),
        Line::from(vec![
            label("model"),
            Span::raw(format!("{} {}", log.data_model, log.event_type)),
        ]),
        Line::from(vec![
            label("route"),
            Span::raw(format!("{} → {}", log.source_name, log.destination_name)),
        ]),
        Line::from(vec![label("created"), Span::raw(time(log.created_at))]),
        Line::from(vec![label("updated"), Span::raw(time(log.updated_at))]),
        Line::from(vec![
            label("attempts"),
            Span::raw(format!(
                "{}  last {}",
                log.attempts,
                latency(log.latency_ms)
            )),
        ]),
        Line::from(vec![
            label("request"),
            Span::raw(log.request_id.to_string()),
        ]),
    ];
    match patient(app, log) {
        Some(mrn) => lines.push(Line::from(vec![
            label("patient"),
            Span::raw(mrn.to_string()),
        ])),
        None if masked => lines.push(Line::from(vec![
            label("patient"),
            Span::styled(HIDDEN, theme.dim),
        ])),
        None => {}
    }
    let mut flags = Vec::new();
    if log.test {
        flags.push("test".to_string());
    }
    if log.quarantined {
        flags.push("quarantined".into());
    }
    if let Some(of) = log.resend_of {
        flags.push(format!("resend of {of}"));
    }
    if !flags.is_empty() {
        lines.push(Line::from(vec![
            label("flags"),
            Span::styled(flags.join(" · "), theme.status_pending),
        ]));
    }

    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Attempts",
        theme.accent.add_modifier(Modifier::BOLD),
    ));
    match loaded {
        None => lines.push(Line::styled("  loading…", theme.dim)),
        Some(d) if d.detail.attempts.is_empty() => {
            lines.push(Line::styled("  none yet", theme.dim))
        }
        Some(d) => {
            for a in &d.detail.attempts {
                let (symbol, style) = match a.outcome {
                    AttemptOutcome::Succeeded => ("✔", theme.status_ok),
                    AttemptOutcome::Failed => ("✖", theme.status_failed),
                };
                let code = a
                    .http_status
                    .map(|c| format!("HTTP {c}  "))
                    .unwrap_or_default();
                let mut spans = vec![
                    Span::styled(format!("  #{:<3}", a.number), theme.dim),
                    Span::raw(a.started_at.format("%H:%M:%S%.3f  ").to_string()),
                    Span::styled(format!("{symbol} {:?}  ", a.outcome).to_uppercase(), style),
                    Span::raw(format!("{code}{}", latency(Some(a.latency_ms)))),
                ];
                if let Some(error) = &a.error {
                    spans.push(Span::styled(format!("  {error}"), theme.error));
                }
                lines.push(Line::from(spans));
                if masked {
                    continue;
                }
                if let Some(body) = &a.response_body {
                    let pretty = pretty_text(body);
                    let shown = pretty.lines().take(ATTEMPT_BODY_LINES);
                    lines.extend(shown.map(|l| Line::styled(format!("       {l}"), theme.dim)));
                    if pretty.lines().count() > ATTEMPT_BODY_LINES || a.response_truncated {
                        lines.push(Line::styled("       …", theme.dim));
                    }
                }
            }
        }
    }

    let top_height = (lines.len() as u16 + 2).min(area.height.saturating_mul(3) / 5);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Min(0)]).areas(area);
    let title = Line::from(vec![
        Span::styled(" Log ", theme.border_focused),
        Span::styled(format!("{} ", open.log_id), theme.text),
        Span::styled(format!("· {} ", log.environment), theme.dim),
    ]);
    let block = Block::bordered()
        .title(title)
        .border_style(theme.border_focused);
    frame.render_widget(Paragraph::new(lines).block(block), top);

    let [request, response] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    let bodies = loaded.map(|d| (&d.detail.request, &d.detail.response));
    body(
        frame,
        request,
        "Request",
        bodies.map(|b| b.0),
        masked,
        theme,
    );
    body(
        frame,
        response,
        "Response",
        bodies.map(|b| b.1),
        masked,
        theme,
    );
}

/// `loaded` is `None` while the detail is on its way, `Some(None)` when there is no body.
fn body(
    frame: &mut Frame,
    area: Rect,
    name: &str,
    loaded: Option<&Option<Value>>,
    masked: bool,
    theme: &Theme,
) {
    let block = Block::bordered()
        .title(Span::styled(format!(" {name} "), theme.text))
        .border_style(theme.border);
    let lines = match loaded {
        _ if masked => vec![Line::styled(HIDDEN, theme.dim)],
        None => vec![Line::styled("loading…", theme.dim)],
        Some(None) => vec![Line::styled("none", theme.dim)],
        Some(Some(value)) => json_lines(value, theme),
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Pretty JSON, keys in the accent colour and strings dimmed; one line per line.
fn json_lines(value: &Value, theme: &Theme) -> Vec<Line<'static>> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            match body.split_once("\": ") {
                Some((key, rest)) if body.starts_with('"') => Line::from(vec![
                    Span::raw(indent.to_string()),
                    Span::styled(format!("{key}\""), theme.accent),
                    Span::raw(": "),
                    Span::styled(rest.to_string(), value_style(rest, theme)),
                ]),
                _ => Line::styled(line.to_string(), value_style(body, theme)),
            }
        })
        .collect()
}

fn value_style(text: &str, theme: &Theme) -> ratatui::style::Style {
    if text.starts_with('"') {
        theme.status_ok
    } else {
        theme.text
    }
}

/// A body pretty-printed when it is JSON, as it came otherwise.
fn pretty_text(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}
