//! The keys: the hint bar's short list, the `?` overlay's full list of the focused
//! pane's keys, and the confirmation Production actions ask for.

use super::centered;
use crate::console::app::{App, DevTab, Pane};
use crate::console::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

type Keys = &'static [(&'static str, &'static str)];

pub(super) const GLOBAL_KEYS: Keys = &[
    ("?", "this help"),
    ("c", "compose a request"),
    (
        "K / E",
        "Developer view: API keys / endpoints (:keys, :endpoints)",
    ),
    (
        "/",
        "filter the feed (status:failed dm: event: src: dst: type: env: mrn: req:)",
    ),
    (
        ":",
        "command line: env, filter, theme, pause, resume, compose, mouse on|off, quit",
    ),
    (
        "↑ / ↓ · tab",
        "in : and /, earlier lines (kept across runs) · complete",
    ),
    (
        "ctrl-u k w a e",
        "in prompts: delete to start / to end / a word; go to start / end",
    ),
    ("tab / shift-tab", "next / previous pane"),
    (
        "1–4",
        "focus Environments, Connections, Live feed, Composer",
    ),
    ("q / esc", "quit"),
    ("ctrl-c", "quit"),
    (
        "ctrl-z",
        "suspend to the shell (fg comes back); undo while editing",
    ),
    ("r", "while the engine is unreachable: try again now"),
    (
        "mouse",
        "click focuses and selects, double-click opens, wheel scrolls (:mouse off)",
    ),
];

pub(super) const ENVIRONMENT_KEYS: Keys = &[
    ("j / k, ↓ / ↑", "next / previous environment"),
    ("g / G", "first / last"),
    ("enter", "scope the console to the environment"),
];

pub(super) const CONNECTION_KEYS: Keys = &[
    ("j / k, ↓ / ↑", "next / previous destination"),
    ("g / G", "first / last"),
    ("y", "copy the destination's endpoint ID"),
    ("enter", "filter the feed to the destination (dst:NAME)"),
    ("p", "pause / resume the destination"),
    ("r", "retry its waiting items now"),
];

pub(super) const FEED_KEYS: Keys = &[
    ("f", "freeze / follow"),
    ("G / end", "back to live"),
    ("g / home", "oldest log in history (loads older pages)"),
    (
        "j / k, ↓ / ↑",
        "newer / older row (older pages from history)",
    ),
    ("PgDn / PgUp", "a page newer / older"),
    ("enter", "open the log's detail"),
    ("v", "one line per log (columns) / two lines"),
    ("C", "copy the log's request as curl (OSC 52)"),
];

pub(super) const COMPOSER_KEYS: Keys = &[
    (
        "c / n",
        "compose a new request (asks first if edits are not saved)",
    ),
    (
        "i / enter",
        "edit the body here (ctrl-z undo, ctrl-y redo; esc when done)",
    ),
    ("j / k", "scroll the answer"),
    ("e", "edit the body in $EDITOR"),
    ("ctrl-s", "send (again to send despite schema warnings)"),
    (
        "a",
        "move in the answer (j/k, space fold, y copy; a or esc back)",
    ),
    ("y", "copy the request as a curl command (OSC 52)"),
    ("s / d", "choose another source / destination"),
    ("h", "history of sent requests: re-open, edit, send again"),
    (
        "ctrl-w",
        "save the request to the collection (one JSON file, for git)",
    ),
    ("o", "open a saved request"),
    (":compose M E", "compose event E of data model M directly"),
    (
        ":compose FHIR R",
        "FHIR search of resource R: name=value lines, sent as a form body",
    ),
    (
        ":compose FHIR C",
        "FHIR message C (Observation-New, Media-New): a Bundle, fhir+json",
    ),
];

pub(super) const DETAIL_KEYS: Keys = &[
    ("tab", "switch between request and response body"),
    ("j / k, ↓ / ↑", "move in the body (PgDn / PgUp, g / G)"),
    ("space / enter", "fold / unfold the object or array"),
    ("h / l, ← / →", "fold / unfold"),
    ("z / Z", "fold all to an outline / unfold all"),
    ("a", "load all of a long body"),
    ("y", "copy the value under the cursor (OSC 52)"),
    ("Y", "copy its JSON path"),
    ("/", "search the bodies (keys and values, any case)"),
    ("n / N", "next / previous match"),
    ("C", "copy the request as curl (OSC 52)"),
    ("r", "retry the destination now"),
    ("p", "pause / resume the destination"),
    ("Q", "quarantine the log"),
    ("R", "resend the log"),
    ("q / esc", "back to the feed"),
];

fn pane_name(pane: Pane) -> &'static str {
    match pane {
        Pane::Environments => "Environments",
        Pane::Connections => "Connections",
        Pane::Feed => "Live feed",
        Pane::Composer => "Composer",
    }
}

fn pane_keys(pane: Pane) -> Keys {
    match pane {
        Pane::Environments => ENVIRONMENT_KEYS,
        Pane::Connections => CONNECTION_KEYS,
        Pane::Feed => FEED_KEYS,
        Pane::Composer => COMPOSER_KEYS,
    }
}

/// The hint bar: the most used keys of what has the keyboard (`?` lists them all).
pub(super) fn hint(app: &App, theme: &Theme) -> Line<'static> {
    let composing = app.focus == Pane::Composer && app.detail.is_none() && !app.help;
    let (name, keys) = if composing && app.composer.picker.is_some() {
        (
            "compose",
            "type to narrow · ↑/↓ move · enter choose · esc cancel",
        )
    } else if composing && app.composer.list.is_some() {
        ("list", "j/k move · enter open · esc close")
    } else if composing && app.composer.discard_asked {
        ("discard?", "y discard the edits · any other key keeps them")
    } else if composing && app.composer.naming.is_some() {
        ("save", "type a name · enter save · esc cancel")
    } else if composing && app.composer.guard.is_some() {
        (
            "confirm",
            "type the destination's name · enter send · esc cancel",
        )
    } else if composing && app.composer.focus == crate::console::composer::ComposerFocus::Editing {
        (
            "editing",
            "esc done · ctrl-s send · ctrl-z undo · ctrl-y redo",
        )
    } else if app.confirm.is_some() {
        ("confirm", "y yes · any other key cancels")
    } else if app.help {
        ("help", "? / q / esc close")
    } else if let Some(dev) = app.developer.as_ref().filter(|_| app.detail.is_none()) {
        match (dev.tab, dev.secret.is_some()) {
            (_, true) => (
                "secret",
                "y copy · enter / esc close (the console forgets it)",
            ),
            (DevTab::Keys, _) => (
                "keys",
                "n legacy · h HS384 · J JWKS file · x revoke · j/k move · tab endpoints · ? help · esc back",
            ),
            (DevTab::Endpoints, _) => (
                "endpoints",
                "v verify · p pause · r resume · j/k move · tab keys · ? help · esc back",
            ),
        }
    } else if app.detail.is_some() {
        (
            "detail",
            "tab side · / search · space fold · y copy · C curl · r retry · p pause · Q quarantine · R resend · q back",
        )
    } else {
        match app.focus {
            Pane::Environments => (
                "environments",
                "j/k move · enter choose · / filter · ? help · tab next pane",
            ),
            Pane::Connections => (
                "connections",
                "j/k move · enter feed · p pause · r retry · y copy ID · ? help",
            ),
            Pane::Feed => (
                "feed",
                "f freeze · enter detail · j/k move · G live · / filter · ? help · tab next pane",
            ),
            Pane::Composer => (
                "composer",
                "c new · i edit · e $EDITOR · ctrl-s send · a answer · y curl · ? help · tab next pane",
            ),
        }
    };
    Line::from(vec![
        Span::styled(format!(" {name}: "), theme.accent),
        Span::styled(keys, theme.dim),
    ])
}

pub(super) fn help(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (title, sections): (String, Vec<(&str, Keys)>) = if app.detail.is_some() {
        (
            "Help · Log detail".into(),
            vec![("Log detail", DETAIL_KEYS)],
        )
    } else if let Some(dev) = &app.developer {
        let (name, keys) = match dev.tab {
            DevTab::Keys => ("Keys", super::developer::KEYS_KEYS),
            DevTab::Endpoints => ("Endpoints", super::developer::ENDPOINT_KEYS),
        };
        (
            format!("Help · {name}"),
            vec![(name, keys), ("Everywhere", GLOBAL_KEYS)],
        )
    } else {
        let name = pane_name(app.focus);
        let keys = pane_keys(app.focus);
        let mut sections = Vec::new();
        if !keys.is_empty() {
            sections.push((name, keys));
        }
        sections.push(("Everywhere", GLOBAL_KEYS));
        (format!("Help · {name}"), sections)
    };
    let mut lines = Vec::new();
    for (heading, keys) in sections {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(
            heading,
            theme.accent.add_modifier(Modifier::BOLD),
        ));
        for (key, what) in keys {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {key:<16}"),
                    theme.text.add_modifier(Modifier::BOLD),
                ),
                Span::styled(*what, theme.text),
            ]));
        }
    }
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let width = lines.iter().map(Line::width).max().unwrap_or(0) + 2;
    let title_width = title.chars().count() + 4;
    let width = u16::try_from(width.max(title_width)).unwrap_or(u16::MAX);
    let popup = centered(area, width, height);
    let block = Block::bordered()
        .title(Span::styled(format!(" {title} "), theme.border_focused))
        .title_bottom(Span::styled(" ? / q / esc close ", theme.dim))
        .border_style(theme.border_focused);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
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
