//! The detail view of one log: metadata and the attempts timeline on top, the request
//! and response bodies side by side below, pretty-printed. Masked details (and, as a
//! second line of defence, any Production detail this console may not reveal) show
//! "hidden: no PHI permission" where bodies and patient fields would be.

use super::{latency, patient, status_symbol};
use crate::client::wire::VisibleDetail;
use crate::console::app::{App, BodySide};
use crate::console::json_tree::{JsonTree, Row, RowKind};
use crate::console::theme::Theme;
use crate::model::{AttemptOutcome, LogRecord};
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
        loaded.is_some_and(|d| d.masked) || (log.environment.may_hold_phi() && !app.phi_allowed());

    // A short terminal (80×24) still shows the attempts: fewer metadata lines, no gap,
    // and a larger share of the height for the top.
    let compact = area.height < 24;
    let mut lines = metadata_lines(app, log, masked, theme);
    if compact {
        lines = compact_metadata(lines);
    } else {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Attempts",
        theme.accent.add_modifier(Modifier::BOLD),
    ));
    attempt_lines(&mut lines, loaded, masked, theme);

    let share = if compact {
        area.height.saturating_mul(2) / 3
    } else {
        area.height.saturating_mul(3) / 5
    };
    let top_height = (lines.len() as u16 + 2).min(share);
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
    for (side, area) in [(BodySide::Request, request), (BodySide::Response, response)] {
        let present = loaded.map(|d| match side {
            BodySide::Request => d.detail.request.is_some(),
            BodySide::Response => d.detail.response.is_some(),
        });
        // No response kept on the log, but the last attempt was answered with a body
        // (or an empty one): show that rather than "none".
        let answer = last_answer(loaded).filter(|_| side == BodySide::Response);
        let state = match (masked, present, open.tree(side), answer) {
            (true, ..) => BodyState::Hidden,
            (_, None, ..) => BodyState::Loading,
            (_, Some(true), Some(tree), _) => BodyState::Tree(tree),
            (.., Some(text)) => BodyState::Answered(text),
            _ => BodyState::Absent,
        };
        body(frame, area, side, state, open.side == side, theme);
    }
}

/// The metadata in fewer lines: type and status on one, created and updated on one.
fn compact_metadata(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    let label = |l: &Line| l.spans.first().map(|s| s.content.trim().to_string());
    let mut out: Vec<Line> = Vec::with_capacity(lines.len());
    for line in lines {
        let joins = matches!(
            (
                out.last().and_then(label).as_deref(),
                label(&line).as_deref()
            ),
            (Some("type"), Some("status")) | (Some("created"), Some("updated"))
        );
        match out.last_mut() {
            Some(last) if joins => {
                // "· updated …": the second label kept, without its padding.
                let mut spans = line.spans.into_iter();
                if let Some(name) = spans.next() {
                    let text = format!(" · {} ", name.content.trim());
                    last.spans.push(Span::styled(text, name.style));
                }
                last.spans.extend(spans);
            }
            _ => out.push(line),
        }
    }
    out
}

/// The log's own fields: what it is, where it went, when, and its flags; the patient
/// only where this console may see it.
fn metadata_lines<'a>(app: &App, log: &'a LogRecord, masked: bool, theme: &Theme) -> Vec<Line<'a>> {
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
    // The platform's deprecated numbers, for an operator asked about one by an older client.
    if let Some(ids) = log.legacy_ids {
        lines.push(Line::from(vec![
            label("legacy ID"),
            Span::raw(format!(
                "message {} · transmission {}",
                ids.message, ids.transmission
            )),
        ]));
    }
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
        // Quarantined: set aside until an operator acts, shown as a failure is.
        let style = if log.quarantined {
            theme.status_failed
        } else {
            theme.status_pending
        };
        lines.push(Line::from(vec![
            label("flags"),
            Span::styled(flags.join(" · "), style),
        ]));
    }
    lines
}

/// The attempts timeline, each with the start of its response unless masked.
fn attempt_lines(
    lines: &mut Vec<Line<'_>>,
    loaded: Option<&VisibleDetail>,
    masked: bool,
    theme: &Theme,
) {
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
                // The engine's error for an HTTP failure is often just "HTTP 500":
                // said once, by the code already on the line.
                let said = a.http_status.map(|c| format!("HTTP {c}"));
                if let Some(error) = a.error.as_deref().filter(|e| Some(*e) != said.as_deref()) {
                    let error = said
                        .as_deref()
                        .and_then(|s| error.strip_prefix(s))
                        .map_or(error, |rest| rest.trim_start_matches([':', ' ']));
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
}

/// The body the last attempt was answered with, if it kept one.
fn last_answer(loaded: Option<&VisibleDetail>) -> Option<&str> {
    loaded?.detail.attempts.last()?.response_body.as_deref()
}

enum BodyState<'a> {
    Hidden,
    Loading,
    Absent,
    /// The last attempt's answer, as text.
    Answered(&'a str),
    Tree(&'a JsonTree),
}

fn body(
    frame: &mut Frame,
    area: Rect,
    side: BodySide,
    state: BodyState,
    focused: bool,
    theme: &Theme,
) {
    let name = match side {
        BodySide::Request => "Request",
        BodySide::Response => "Response",
    };
    let mut title = vec![Span::styled(
        format!(" {name} "),
        if focused {
            theme.border_focused
        } else {
            theme.text
        },
    )];
    let lines = match state {
        BodyState::Hidden => vec![Line::styled(HIDDEN, theme.dim)],
        BodyState::Loading => vec![Line::styled("loading…", theme.dim)],
        BodyState::Absent => vec![Line::styled("none", theme.dim)],
        BodyState::Answered(text) if text.trim().is_empty() => {
            vec![Line::styled("empty body", theme.dim)]
        }
        BodyState::Answered(text) => pretty_text(text)
            .lines()
            .map(|l| Line::styled(l.to_string(), theme.text))
            .collect(),
        BodyState::Tree(tree) => {
            if focused {
                title.push(Span::styled(
                    format!("· {} ", tree.cursor_path()),
                    theme.dim,
                ));
            }
            tree_lines(tree, area.height.saturating_sub(2) as usize, focused, theme)
        }
    };
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        });
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The rows of `tree` that fit in `height` lines, the cursor's row kept in view (and
/// highlighted when `focused`), with a "load all" line when rows are held back.
pub(super) fn tree_lines<'a>(
    tree: &'a JsonTree,
    height: usize,
    focused: bool,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let shown = tree.shown();
    let room = if tree.hidden() > 0 {
        height.saturating_sub(1)
    } else {
        height
    };
    let start = tree
        .cursor()
        .saturating_sub(room / 2)
        .min(shown.saturating_sub(room));
    let end = (start + room).min(shown);
    let mut lines: Vec<Line> = tree.rows()[start..end]
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let line = tree_line(row, theme);
            super::paint(line, focused && start + i == tree.cursor(), theme)
        })
        .collect();
    if tree.hidden() > 0 {
        lines.push(Line::styled(
            format!("… {} more lines · a load all", tree.hidden()),
            theme.status_pending,
        ));
    }
    lines
}

/// One row of a body: a fold marker in the gutter, then the row as pretty JSON.
pub(super) fn tree_line<'a>(row: &'a Row, theme: &Theme) -> Line<'a> {
    let comma = if row.comma { "," } else { "" };
    let gutter = match row.kind {
        RowKind::Open { folded: true, .. } => "▸ ",
        RowKind::Open { len, .. } if len > 0 => "▾ ",
        _ => "  ",
    };
    let mut spans = vec![
        Span::styled(gutter, theme.dim),
        Span::raw("  ".repeat(row.depth)),
    ];
    if let Some(key) = &row.key {
        spans.push(Span::styled(
            serde_json::to_string(key).unwrap_or_default(),
            theme.json_key,
        ));
        spans.push(Span::raw(": "));
    }
    match row.kind {
        RowKind::Open { array, len, folded } => {
            let (open, close, unit) = if array {
                ("[", "]", if len == 1 { "item" } else { "items" })
            } else {
                ("{", "}", if len == 1 { "key" } else { "keys" })
            };
            if folded {
                spans.push(Span::raw(format!("{open}…{close}{comma}")));
                spans.push(Span::styled(format!(" {len} {unit}"), theme.dim));
            } else if len == 0 {
                spans.push(Span::raw(format!("{open}{close}{comma}")));
            } else {
                spans.push(Span::raw(open));
            }
        }
        RowKind::Close { array } => {
            spans.push(Span::raw(format!(
                "{}{comma}",
                if array { "]" } else { "}" }
            )));
        }
        RowKind::Leaf => {
            let text = row.scalar.as_deref().unwrap_or("");
            let style = match text.as_bytes().first() {
                Some(b'"') => theme.json_string,
                Some(b'-' | b'0'..=b'9') => theme.json_number,
                _ => theme.json_literal,
            };
            spans.push(Span::styled(text, style));
            spans.push(Span::raw(comma));
        }
    }
    Line::from(spans)
}

/// A body pretty-printed when it is JSON, as it came otherwise.
fn pretty_text(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}
