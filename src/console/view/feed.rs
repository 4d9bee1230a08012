//! The Live feed pane: its title (abbreviated rather than cut when the pane is narrow),
//! and its rows: one line per log in columns on a wide pane, two lines below that
//! (`v` flips the choice).

use super::{latency, patient, status_symbol, thousands};
use crate::console::app::{App, Pane};
use crate::console::theme::Theme;
use crate::model::LogRecord;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Feed panes at least this wide (inside the borders) show one line per log.
pub(crate) const ONE_LINE_FROM: u16 = 120;

/// Terminal lines per feed row for a feed pane of inner width `width`.
pub(super) fn row_lines(app: &App, width: u16) -> u16 {
    let wide = width >= ONE_LINE_FROM;
    if wide != app.feed_rows_flipped { 1 } else { 2 }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let inner_width = area.width.saturating_sub(2);
    let per_row = super::feed_row_lines(app, inner_width);
    let header_lines = usize::from(per_row == 1);
    let inner_height = (area.height.saturating_sub(2) as usize).saturating_sub(header_lines);
    let (start, end) = app.feed.visible(inner_height / usize::from(per_row));
    let selected = app.feed.selected();

    let title = title(app, theme, usize::from(inner_width));
    let block = super::pane_block(app, Pane::Feed, title, theme);

    let mut lines = Vec::with_capacity((end - start) * usize::from(per_row) + 1);
    let widths = Columns::for_width(usize::from(inner_width));
    if per_row == 1 && end > start {
        lines.push(widths.header(theme));
    }
    for (offset, log) in app.feed.rows(start, end).enumerate() {
        let on = selected == Some(start + offset) && app.focus == Pane::Feed;
        let row: Vec<Line> = if per_row == 1 {
            vec![widths.row(app, log, theme)]
        } else {
            two_line_row(app, log, theme, usize::from(inner_width)).into()
        };
        lines.extend(row.into_iter().map(|l| super::paint(l, on, theme)));
    }
    if lines.is_empty() {
        lines.extend(empty(app, theme));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// What the empty feed says: how to make traffic, or that the filter hides it.
fn empty(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    if !app.filter_text.is_empty() {
        return vec![Line::styled(
            "no logs match the filter (/ to change it)",
            theme.dim,
        )];
    }
    vec![
        Line::styled(format!("no logs in {} yet", app.environment), theme.dim),
        Line::styled("c to compose a request, or run", theme.dim),
        Line::styled("`switchboard simulate` for traffic", theme.dim),
    ]
}

/// The pane's title: number, name, follow state, rows, dropped counter and filter. When
/// it would not fit in `width`, the short form (`⚑ dm:Results · ↓0`) keeps every
/// essential part, the filter text shortened last.
fn title(app: &App, theme: &Theme, width: usize) -> Line<'static> {
    let name_style = if app.focus == Pane::Feed {
        theme.border_focused
    } else {
        theme.text
    };
    let dropped = app.feed.dropped();
    let dropped_style = if dropped > 0 {
        theme.status_failed
    } else {
        theme.dim
    };
    let following = app.feed.is_following();
    let mode_style = if following {
        theme.status_ok
    } else {
        theme.status_pending
    };
    let full = {
        let mode = if following {
            "following".to_string()
        } else {
            format!(
                "frozen · {} new since freeze",
                thousands(app.feed.new_since_freeze())
            )
        };
        let mut spans = vec![
            Span::styled(" 3 ", theme.dim),
            Span::styled("Live feed ", name_style),
            Span::styled("· ", theme.dim),
            Span::styled(mode, mode_style),
            Span::styled(
                format!(" · {} rows · ", thousands(app.feed.len() as u64)),
                theme.dim,
            ),
            Span::styled(format!("dropped {} ", thousands(dropped)), dropped_style),
        ];
        if !app.filter_text.is_empty() {
            spans.push(Span::styled(
                format!("· filter {} ", app.filter_text),
                theme.accent,
            ));
        }
        Line::from(spans)
    };
    if full.width() <= width {
        return full;
    }
    let mode = if following {
        "live".to_string()
    } else {
        format!("frozen +{}", thousands(app.feed.new_since_freeze()))
    };
    let mut spans = vec![
        Span::styled(" 3 ", theme.dim),
        Span::styled("Feed ", name_style),
        Span::styled(mode, mode_style),
        Span::styled(" · ", theme.dim),
        Span::styled(format!("↓{} ", thousands(dropped)), dropped_style),
    ];
    if !app.filter_text.is_empty() {
        let used: usize = spans.iter().map(Span::width).sum();
        // "· ⚑ " before the filter and a space after it.
        let room = width.saturating_sub(used + 5);
        spans.push(Span::styled(
            format!("· ⚑ {} ", shorten(&app.filter_text, room)),
            theme.accent,
        ));
    }
    Line::from(spans)
}

/// `text` cut to `room` columns with an ellipsis when longer.
pub(super) fn shorten(text: &str, room: usize) -> String {
    if width_of(text) <= room {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if width_of(&out) + width_of(c.encode_utf8(&mut [0; 4])) + 1 > room {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn width_of(text: &str) -> usize {
    Span::raw(text).width()
}

/// `text` padded or cut (with an ellipsis) to exactly `width` columns.
fn cell(text: &str, width: usize) -> String {
    let cut = shorten(text, width);
    let pad = width.saturating_sub(width_of(&cut));
    format!("{cut}{}", " ".repeat(pad))
}

fn model_event(log: &LogRecord) -> String {
    crate::model::fhir::label(&log.data_model, &log.event_type)
        .unwrap_or_else(|| format!("{} {}", log.data_model, log.event_type))
}

/// The one-line layout's column widths; the model and route columns share what the
/// fixed ones leave.
struct Columns {
    model: usize,
    route: usize,
}

const TIME: usize = 13;
const TYPE: usize = 8;
const STATUS: usize = 13;
const ATTEMPTS: usize = 5;
const DURATION: usize = 10;

impl Columns {
    fn for_width(width: usize) -> Columns {
        let flexible = width.saturating_sub(TIME + TYPE + STATUS + ATTEMPTS + DURATION + 2);
        let model = (flexible * 2 / 5).max(8);
        Columns {
            model,
            route: flexible.saturating_sub(model).max(8),
        }
    }

    fn header(&self, theme: &Theme) -> Line<'static> {
        let text = format!(
            "{}{}{}{}{}{}{}",
            cell("TIME", TIME),
            cell("TYPE", TYPE),
            cell("MODEL / EVENT", self.model + 1),
            cell("SOURCE → DESTINATION", self.route + 1),
            cell("STATUS", STATUS),
            cell("ATT", ATTEMPTS),
            cell("DURATION", DURATION),
        );
        Line::styled(text, theme.accent)
    }

    fn row(&self, app: &App, log: &LogRecord, theme: &Theme) -> Line<'static> {
        let status = status_symbol(log.status, theme);
        let status = Span::styled(cell(&status.content, STATUS), status.style);
        let route = format!("{} → {}", log.source_name, log.destination_name);
        let mut spans = vec![
            Span::styled(
                log.created_at.format("%H:%M:%S%.3f ").to_string(),
                theme.dim,
            ),
            Span::styled(cell(log.log_type.as_str(), TYPE), theme.accent),
            Span::styled(cell(&model_event(log), self.model) + " ", theme.text),
            Span::styled(cell(&route, self.route) + " ", theme.text),
            status,
            Span::styled(cell(&log.attempts.to_string(), ATTEMPTS), theme.dim),
            Span::styled(cell(&latency(log.latency_ms), DURATION), theme.dim),
        ];
        if log.quarantined {
            spans.push(Span::styled(" quarantined", theme.status_failed));
        }
        if log.test {
            spans.push(Span::styled(" test", theme.dim));
        }
        if let Some(mrn) = patient(app, log) {
            spans.push(Span::styled(format!(" mrn {mrn}"), theme.dim));
        }
        Line::from(spans)
    }
}

/// Two lines: time, type, data model and event, route; then status, attempts,
/// latency and (when it may be shown) the patient. When the route does not fit on the
/// first line (an 80-column terminal), it moves to the second, whose figures get short.
fn two_line_row(app: &App, log: &LogRecord, theme: &Theme, width: usize) -> [Line<'static>; 2] {
    let time = Span::styled(
        log.created_at.format("%H:%M:%S%.3f ").to_string(),
        theme.dim,
    );
    let kind = Span::styled(format!("{:<8}", log.log_type.as_str()), theme.accent);
    let model = model_event(log);
    let route = format!("{} → {}", log.source_name, log.destination_name);
    let roomy = 13 + 8 + model.chars().count() + 2 + route.chars().count() <= width;
    let mut second = Vec::new();
    let first = if roomy {
        let route = Span::styled(format!("  {route}"), theme.text);
        second.push(Span::raw(" ".repeat(13)));
        second.push(status_symbol(log.status, theme));
        let attempts = match log.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        };
        second.push(Span::styled(
            format!("  {attempts}  {}", latency(log.latency_ms)),
            theme.dim,
        ));
        Line::from(vec![time, kind, Span::styled(model, theme.text), route])
    } else {
        let symbol = status_symbol(log.status, theme);
        let short = symbol
            .content
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        second.push(Span::raw("  "));
        second.push(Span::styled(short, symbol.style));
        second.push(Span::styled(
            format!(" {}× {} ", log.attempts, latency(log.latency_ms)),
            theme.dim,
        ));
        second.push(Span::styled(route, theme.text));
        Line::from(vec![time, kind, Span::styled(model, theme.text)])
    };
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
