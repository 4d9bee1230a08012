//! The Composer pane: the JSON editor beside the answer, the validation line under it,
//! and its overlays (the picker, the Production guard).

use super::centered;
use super::detail::{tree_line, tree_lines};
use crate::client::wire::HistoryEntry;
use crate::console::app::{App, Pane};
use crate::console::collection::Listed;
use crate::console::composer::pick::PickOption;
use crate::console::composer::{Composed, Composer, ComposerFocus, ListItem};
use crate::console::prompt::LineInput;
use crate::console::theme::Theme;
use crate::model::Environment;
use crate::model::fhir::FhirKind;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// Schema issues listed under the editor before "and N more".
const ISSUES_SHOWN: usize = 4;

/// How tall the pane wants to be: most of the column when it has the keys, a strip when
/// it holds a draft in the background, three lines when empty.
pub(super) fn height(app: &App, available: u16) -> u16 {
    if app.focus == Pane::Composer {
        (available * 2 / 3).max(12)
    } else if app.composer.draft.is_some() {
        8
    } else {
        3
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let focused = app.focus == Pane::Composer;
    // Styled in place: cloning the editor (every line of the body) each frame would be
    // work the draw loop does not need.
    style_editor(&mut app.composer, focused, theme);
    let app: &App = app;
    let c = &app.composer;
    let mut title = vec![
        Span::styled(" 4 ", theme.dim),
        Span::styled(
            "Composer ",
            if focused {
                theme.border_focused
            } else {
                theme.text
            },
        ),
    ];
    let production = c
        .draft
        .as_ref()
        .is_some_and(|d| d.environment == Environment::Production);
    if let Some(d) = &c.draft {
        let route = format!(
            " {} · {} → {} ",
            d.what.label(),
            d.source.name,
            d.destination.name
        );
        title.push(Span::styled(
            route,
            if production {
                theme.band_production
            } else {
                theme.accent
            },
        ));
        if production {
            title.push(Span::styled(" PRODUCTION ", theme.band_production));
        }
    }
    let border = if production {
        theme.status_failed
    } else if focused {
        theme.border_focused
    } else {
        theme.border
    };
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if c.draft.is_none() {
        let hint = if app.read_only || app.role == crate::model::Role::Viewer {
            "c compose (read-only: requests can be written and validated, not sent)"
        } else {
            "c compose a request · :compose PatientSearch Query"
        };
        let hint = super::fit_items(Line::styled(hint, theme.dim), usize::from(inner.width));
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    if inner.height < 3 {
        let line = super::fit_items(status_line(app, c, theme), usize::from(inner.width));
        frame.render_widget(Paragraph::new(line), inner);
        return;
    }
    let issues = issue_lines(c, theme);
    let [main, issues_area, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(issues.len() as u16),
        Constraint::Length(1),
    ])
    .areas(inner);
    let [editor_area, answer_area] = if c.answer.is_some() || c.sending {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main)
    } else {
        [main, Rect::default()]
    };
    frame.render_widget(&c.editor, editor_area);
    if answer_area.width > 0 {
        answer(frame, answer_area, c, focused, theme);
    }
    frame.render_widget(Paragraph::new(issues), issues_area);
    let line = super::fit_items(status_line(app, c, theme), usize::from(status.width));
    frame.render_widget(Paragraph::new(line), status);
}

fn style_editor(c: &mut Composer, focused: bool, theme: &Theme) {
    let editing = focused && c.focus == ComposerFocus::Editing;
    let editor = &mut c.editor;
    editor.set_line_number_style(theme.dim);
    editor.set_cursor_line_style(Style::new());
    editor.set_cursor_style(if editing {
        theme.selection.add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    });
    editor.set_style(theme.text);
    let search = matches!(
        c.draft.as_ref().map(|d| d.what),
        Some(Composed::Fhir(FhirKind::Search(_)))
    );
    let label = match (editing, search) {
        (true, false) => " body · editing · esc done ",
        (false, false) => " body ",
        (true, true) => " search form · name=value per line · editing · esc done ",
        (false, true) => " search form · sent as a form body ",
    };
    editor.set_block(
        Block::bordered()
            .title(Span::styled(
                label,
                if editing {
                    theme.border_focused
                } else {
                    theme.dim
                },
            ))
            .border_style(if editing {
                theme.border_focused
            } else {
                theme.border
            }),
    );
}

fn answer(frame: &mut Frame, area: Rect, c: &Composer, focused: bool, theme: &Theme) {
    let active = focused && c.focus == ComposerFocus::Answer;
    let mut title = vec![Span::styled(
        " answer ",
        if active {
            theme.border_focused
        } else {
            theme.dim
        },
    )];
    let mut lines: Vec<Line> = Vec::new();
    match &c.answer {
        None => lines.push(Line::styled("sending…", theme.dim)),
        Some(a) => {
            let ok = (200..300).contains(&a.status);
            title.push(Span::styled(
                format!("HTTP {} ", a.status),
                if ok {
                    theme.status_ok
                } else {
                    theme.status_failed
                },
            ));
            let mut timing = format!("total {}", ms(a.elapsed));
            if let (Some(engine), Some(dest)) = (a.engine(), a.destination) {
                timing.push_str(&format!(
                    " · engine {} · destination {}",
                    ms(engine),
                    ms(dest)
                ));
            }
            lines.push(Line::styled(timing, theme.dim));
            if let Some(summary) = &a.summary {
                lines.push(Line::styled(
                    summary.clone(),
                    if ok {
                        theme.accent
                    } else {
                        theme.status_failed
                    },
                ));
            }
            if let Some(id) = a.request_id {
                lines.push(Line::styled(format!("feed follows req:{id}"), theme.dim));
            }
            let room = area.height.saturating_sub(2 + lines.len() as u16) as usize;
            match (&a.tree, &a.text) {
                (Some(tree), _) if active => lines.extend(tree_lines(tree, room, true, theme)),
                // Scrolled from the body with j/k: from its first row, no cursor.
                (Some(tree), _) => {
                    let rows = tree.rows();
                    let start = a.scroll.min(rows.len().saturating_sub(1));
                    let end = (start + room).min(tree.shown()).max(start);
                    lines.extend(rows[start..end].iter().map(|r| tree_line(r, theme)));
                }
                (None, Some(text)) => lines.extend(
                    text.lines()
                        .skip(a.scroll)
                        .take(room)
                        .map(|l| Line::raw(l.to_string())),
                ),
                (None, None) => lines.push(Line::styled("no body", theme.dim)),
            }
        }
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(if active {
            theme.border_focused
        } else {
            theme.border
        });
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn issue_lines<'a>(c: &'a Composer, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    if let Some(e) = &c.validation.syntax_error {
        lines.push(Line::styled(
            format!("✖ line {} col {}: {}", e.line, e.column, e.message),
            theme.error,
        ));
        return lines;
    }
    for u in &c.undefined {
        lines.push(Line::styled(format!("✖ {u}"), theme.error));
    }
    let issues = &c.validation.schema_issues;
    for issue in issues.iter().take(ISSUES_SHOWN) {
        lines.push(Line::from(vec![
            Span::styled(format!("⚠ line {} ", issue.line), theme.status_pending),
            Span::styled(format!("{}: ", issue.path), theme.accent),
            Span::styled(issue.message.as_str(), theme.text),
        ]));
    }
    if issues.len() > ISSUES_SHOWN {
        lines.push(Line::styled(
            format!("  … and {} more", issues.len() - ISSUES_SHOWN),
            theme.dim,
        ));
    }
    lines
}

fn status_line<'a>(app: &App, c: &Composer, theme: &Theme) -> Line<'a> {
    let verdict = if c.validation.syntax_error.is_some() {
        Span::styled("✖ invalid JSON", theme.status_failed)
    } else if !c.undefined.is_empty() {
        Span::styled("✖ undefined variable", theme.status_failed)
    } else if c.validation.schema_issues.is_empty() {
        Span::styled("✔ valid", theme.status_ok)
    } else {
        Span::styled(
            match c.validation.schema_issues.len() {
                1 => "⚠ 1 schema warning".to_string(),
                n => format!("⚠ {n} schema warnings"),
            },
            theme.status_pending,
        )
    };
    let may_send = c
        .draft
        .as_ref()
        .is_some_and(|d| app.role.may_send_in(d.environment));
    let keys = if app.read_only || !may_send {
        " · read-only · i edit · e $EDITOR · y curl · h history · o saved"
    } else if c.focus == ComposerFocus::Editing {
        " · esc done · ctrl-s send"
    } else {
        " · ctrl-s send · i edit · e $EDITOR · a answer · h history · ctrl-w save"
    };
    Line::from(vec![verdict, Span::styled(keys, theme.dim)])
}

/// What the user is typing in an overlay, with its cursor; a selected (pre-filled)
/// value reversed, as typing will replace it.
fn typed_line<'a>(line: &LineInput, theme: &Theme) -> Line<'a> {
    let typed = theme.text.add_modifier(Modifier::BOLD);
    if line.selected {
        return Line::from(vec![
            Span::styled("› ", theme.accent),
            Span::styled(line.text.clone(), typed.add_modifier(Modifier::REVERSED)),
        ]);
    }
    let (before, after) = line.text.split_at(line.cursor.min(line.text.len()));
    Line::from(vec![
        Span::styled("› ", theme.accent),
        Span::styled(before.to_string(), typed),
        Span::styled("▏", theme.dim),
        Span::styled(after.to_string(), typed),
    ])
}

/// The picker over the main area.
pub(super) fn picker(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(p) = &app.composer.picker else {
        return;
    };
    let options: Vec<PickOption> = p.options(app.connections.as_ref());
    let width = area.width.saturating_sub(4).min(96);
    let height = area.height.saturating_sub(2).min(22);
    let popup = centered(area, width, height);
    let room = height.saturating_sub(4) as usize;
    let start = p.cursor.saturating_sub(room.saturating_sub(1));
    let mut lines = vec![typed_line(&p.query, theme)];
    if options.is_empty() {
        lines.push(Line::styled(
            if p.step == crate::console::composer::pick::PickStep::Destination
                && app.connections.is_none()
            {
                "loading connections…"
            } else {
                "nothing matches"
            },
            theme.dim,
        ));
    }
    for (i, o) in options.iter().enumerate().skip(start).take(room) {
        let selected = i == p.cursor;
        let base = if o.unavailable.is_some() {
            theme.dim
        } else {
            theme.text
        };
        let mut spans = vec![
            Span::styled(if selected { "▸ " } else { "  " }, theme.accent),
            Span::styled(format!("{:<34}", o.label), base),
            Span::styled(format!(" {}", o.detail), theme.dim),
        ];
        if let Some(why) = &o.unavailable {
            spans.push(Span::styled(format!("  ✖ {why}"), theme.dim));
        }
        let line = Line::from(spans);
        lines.push(super::paint(line, selected, theme));
    }
    let block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", p.title()),
            theme.border_focused,
        ))
        .title_bottom(Span::styled(
            " type to narrow · ↑/↓ move · enter choose · esc cancel ",
            theme.dim,
        ))
        .border_style(theme.border_focused);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// The Production guard over the main area.
pub(super) fn guard(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (Some(typed), Some(draft)) = (&app.composer.guard, &app.composer.draft) else {
        return;
    };
    let lines = vec![
        Line::styled(
            format!(
                "Send {} to {} in Production?",
                draft.what.label(),
                draft.destination.name
            ),
            theme.text.add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
        Line::styled("Type the destination's name to send:", theme.text),
        typed_line(typed, theme),
    ];
    let popup = centered(area, 72, 6);
    let block = Block::bordered()
        .title(Span::styled(" Production: confirm ", theme.band_production))
        .title_bottom(Span::styled(" enter send · esc cancel ", theme.dim))
        .border_style(theme.status_failed);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}

fn history_line<'a>(entry: &'a HistoryEntry, theme: &Theme) -> Line<'a> {
    let s = &entry.sent;
    let (status, style) = match (s.status, &s.error) {
        (Some(code), _) if (200..300).contains(&code) => (format!("{code}"), theme.status_ok),
        (Some(code), _) => (format!("{code}"), theme.status_failed),
        (None, _) => ("✖".to_string(), theme.status_failed),
    };
    let mut spans = vec![
        Span::styled(entry.at.format("%m-%d %H:%M:%S  ").to_string(), theme.dim),
        Span::styled(format!("{status:<4}"), style),
        Span::raw(format!(
            "{:<12} {} {}",
            s.environment.to_string(),
            s.data_model,
            s.event_type
        )),
    ];
    // What support staff look for first: whose record, and what came back.
    let keys = s
        .body
        .as_deref()
        .and_then(crate::console::composer::summary::request_keys);
    if let Some(keys) = keys {
        spans.push(Span::styled(format!("  {keys}"), theme.text));
    }
    if let Some(summary) = &s.summary {
        spans.push(Span::styled(format!("  {summary}"), theme.accent));
    }
    spans.push(Span::styled(
        format!("  {} → {}", s.source_name, s.destination_name),
        theme.dim,
    ));
    if s.body.is_none() {
        spans.push(Span::styled("  body not kept", theme.dim));
    }
    Line::from(spans)
}

fn saved_line<'a>(listed: &'a Listed, theme: &Theme) -> Line<'a> {
    match &listed.request {
        Ok(r) => Line::from(vec![
            Span::styled(format!("{:<28}", listed.name), theme.text),
            Span::raw(format!(" {} {}", r.data_model, r.event)),
            Span::styled(
                format!("  {} · {} → {}", r.environment, r.source, r.destination),
                theme.dim,
            ),
        ]),
        Err(e) => Line::from(vec![
            Span::styled(format!("{:<28}", listed.name), theme.dim),
            Span::styled(format!(" ✖ {e}"), theme.error),
        ]),
    }
}

/// The history or the saved requests over the main area.
pub(super) fn list(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(list) = &app.composer.list else {
        return;
    };
    let width = area.width.saturating_sub(4).min(110);
    let height = area.height.saturating_sub(2).min(24);
    let popup = centered(area, width, height);
    let room = height.saturating_sub(2) as usize;
    let start = list.cursor.saturating_sub(room.saturating_sub(1));
    let mut lines: Vec<Line> = Vec::new();
    if list.items.is_empty() {
        lines.push(Line::styled(
            match (list.loading, list.saved) {
                (true, _) => "loading…",
                (false, false) => "nothing sent yet",
                (false, true) => "no saved requests yet: ctrl-w saves the one in the composer",
            },
            theme.dim,
        ));
    }
    for (i, item) in list.items.iter().enumerate().skip(start).take(room) {
        let line = match item {
            ListItem::History(entry) => history_line(entry, theme),
            ListItem::Saved(listed) => saved_line(listed, theme),
        };
        lines.push(super::paint(line, i == list.cursor, theme));
    }
    let title = if list.saved {
        format!(
            " Saved requests · {} ",
            app_collection_hint(list.items.len())
        )
    } else if list.next.is_some() {
        " History · newest first · more below ".to_string()
    } else {
        " History · newest first ".to_string()
    };
    let block = Block::bordered()
        .title(Span::styled(title, theme.border_focused))
        .title_bottom(Span::styled(
            " j/k move · enter open · esc close ",
            theme.dim,
        ))
        .border_style(theme.border_focused);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn app_collection_hint(count: usize) -> String {
    match count {
        1 => "1 file".into(),
        n => format!("{n} files"),
    }
}

/// `ctrl-w`'s name prompt over the main area.
pub(super) fn naming(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(name) = &app.composer.naming else {
        return;
    };
    let lines = vec![
        Line::styled("Save the request as:", theme.text),
        typed_line(name, theme),
    ];
    let popup = centered(area, 64, 4);
    let block = Block::bordered()
        .title(Span::styled(" Save request ", theme.border_focused))
        .title_bottom(Span::styled(" enter save · esc cancel ", theme.dim))
        .border_style(theme.border_focused);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
