//! The keys, drawn from `keymap`'s table: the hint bar's short list, the `?` overlay's
//! full list for where the user is (scrolling when it does not fit), and the
//! confirmation Production actions (and quitting over unsaved edits) ask for.

use super::centered;
use crate::console::app::{App, DevTab, Pane};
use crate::console::composer::ComposerFocus;
use crate::console::keymap::{self, Context};
use crate::console::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// The contexts whose keys the hint bar shows: what has the keyboard, then what
/// still reaches through it.
fn hint_contexts(app: &App) -> (&'static str, Vec<Context>) {
    let composing = app.focus == Pane::Composer && app.detail.is_none() && !app.help;
    let c = &app.composer;
    if composing && c.picker.is_some() {
        ("compose", vec![Context::Picker])
    } else if composing && c.list.is_some() {
        ("list", vec![Context::List])
    } else if composing && c.discard_asked {
        ("discard?", vec![Context::Discard])
    } else if composing && c.naming.is_some() {
        ("save", vec![Context::Naming])
    } else if composing && c.guard.is_some() {
        ("confirm", vec![Context::Guard])
    } else if composing && c.focus == ComposerFocus::Editing {
        ("editing", vec![Context::Editing])
    } else if app.confirm.is_some() {
        ("confirm", vec![Context::Confirm])
    } else if app.help {
        ("help", vec![Context::Help])
    } else if let Some(dev) = app.developer.as_ref().filter(|_| app.detail.is_none()) {
        match (dev.tab, dev.secret.is_some()) {
            (_, true) => ("secret", vec![Context::Secret]),
            (DevTab::Keys, _) => ("keys", vec![Context::DevKeys, Context::Developer]),
            (DevTab::Endpoints, _) => {
                ("endpoints", vec![Context::DevEndpoints, Context::Developer])
            }
        }
    } else if app.detail.is_some() {
        ("detail", vec![Context::Detail])
    } else if composing && c.focus == ComposerFocus::Answer {
        ("answer", vec![Context::Answer])
    } else {
        let (name, pane) = match app.focus {
            Pane::Environments => ("environments", Context::Environments),
            Pane::Connections => ("connections", Context::Connections),
            Pane::Feed => ("feed", Context::Feed),
            Pane::Composer => ("composer", Context::Composer),
        };
        (name, vec![pane, Context::Global])
    }
}

/// The hint bar: the most used keys of what has the keyboard (`?` lists them all).
pub(super) fn hint(app: &App, theme: &Theme) -> Line<'static> {
    let (name, contexts) = hint_contexts(app);
    Line::from(vec![
        Span::styled(format!(" {name}: "), theme.accent),
        Span::styled(keymap::hints(&contexts), theme.dim),
    ])
}

/// What `?` lists where the user is: the title, then its sections.
pub(crate) fn help_sections(app: &App) -> (String, Vec<Context>) {
    let sections = if app.detail.is_some() {
        vec![Context::Detail, Context::Always]
    } else if let Some(dev) = &app.developer {
        let tab = match dev.tab {
            DevTab::Keys => Context::DevKeys,
            DevTab::Endpoints => Context::DevEndpoints,
        };
        vec![
            tab,
            Context::Developer,
            Context::Secret,
            Context::Global,
            Context::Always,
        ]
    } else {
        let mut sections = match app.focus {
            Pane::Environments => vec![Context::Environments],
            Pane::Connections => vec![Context::Connections],
            Pane::Feed => vec![Context::Feed, Context::Prompt],
            Pane::Composer => vec![
                Context::Composer,
                Context::Editing,
                Context::Answer,
                Context::Picker,
                Context::List,
                Context::Naming,
                Context::Guard,
                Context::Discard,
            ],
        };
        sections.extend([
            Context::Global,
            Context::Always,
            Context::Help,
            Context::Confirm,
        ]);
        sections
    };
    (format!("Help · {}", sections[0].title()), sections)
}

/// The key column of the help overlay: two spaces, the label padded to 16, a space.
const LABEL_WIDTH: usize = 19;

/// The help overlay's lines, each row's text wrapped at `width` columns (under its own
/// text, never under the keys) so nothing is cut on a narrow screen.
fn help_lines(sections: &[Context], width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let room = width.saturating_sub(LABEL_WIDTH).max(16);
    for &context in sections {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(
            context.title(),
            theme.accent.add_modifier(Modifier::BOLD),
        ));
        for row in keymap::rows(context) {
            let label = format!("  {:<16} ", row.label);
            let mut pieces = wrap(row.help, room).into_iter();
            let first = pieces.next().unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled(label, theme.text.add_modifier(Modifier::BOLD)),
                Span::styled(first, theme.text),
            ]));
            for more in pieces {
                lines.push(Line::styled(
                    format!("{:LABEL_WIDTH$}{more}", ""),
                    theme.text,
                ));
            }
        }
    }
    lines
}

/// `text` in lines of at most `width` columns, broken between words.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// The `?` overlay; it scrolls when taller than the screen. Returns the scroll it drew
/// at (the app's, kept in range) for the app to keep.
pub(super) fn help(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) -> usize {
    let (title, sections) = help_sections(app);
    // As wide as the longest row, or the screen less the borders.
    let inner = usize::from(area.width.saturating_sub(2));
    let lines = help_lines(&sections, inner, theme);
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let width = lines.iter().map(Line::width).max().unwrap_or(0) + 2;
    let title_width = title.chars().count() + 4;
    let width = u16::try_from(width.max(title_width)).unwrap_or(u16::MAX);
    let popup = centered(area, width, height);
    let room = usize::from(popup.height.saturating_sub(2));
    let top = app.help_scroll.min(lines.len().saturating_sub(room));
    let more_below = top + room < lines.len();
    let footer = match (top > 0, more_below) {
        (_, true) => format!(" ↓ more · {} ", keymap::hints(&[Context::Help])),
        (true, false) => format!(" ↑ more · {} ", keymap::hints(&[Context::Help])),
        (false, false) => " ? / q / esc close ".to_string(),
    };
    let block = Block::bordered()
        .title(Span::styled(format!(" {title} "), theme.border_focused))
        .title_bottom(Span::styled(footer, theme.dim))
        .border_style(theme.border_focused);
    let shown: Vec<Line> = lines.into_iter().skip(top).collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(shown).block(block), popup);
    top
}

pub(super) fn confirmation(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    question: &str,
    theme: &Theme,
) {
    let lines = vec![
        Line::styled(
            question.to_string(),
            theme.text.add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", theme.text.add_modifier(Modifier::BOLD)),
            Span::styled(" confirm · any other key cancels", theme.dim),
        ]),
    ];
    let popup = centered(area, 64, 5);
    let block = Block::bordered()
        .title(Span::styled(title.to_string(), theme.band_production))
        .border_style(theme.status_failed);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
