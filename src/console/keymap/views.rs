//! The rows of the main view, its panes, the detail and Developer views, the help
//! and the confirmations.

use super::{C, ENDS, KC, MOVE, PAGES, Row, ch, ctrl, k, row};
use super::{HELP_ROW, TREE};

pub(super) const ALWAYS: &[Row] = &[
    row(
        "ctrl-c",
        "quit at once, from anywhere (the terminal is restored)",
        None,
        &[(ctrl('c'), C::ForceQuit)],
    ),
    row(
        "ctrl-z",
        "suspend to the shell (fg comes back); undo while editing",
        None,
        &[(ctrl('z'), C::Suspend)],
    ),
    row(
        "r",
        "while the engine is unreachable: try again now",
        None,
        &[(ch('r'), C::Reconnect)],
    ),
    row(
        "mouse",
        "click focuses and selects, double-click opens, wheel scrolls (:mouse off)",
        None,
        &[],
    ),
];

pub(super) const GLOBAL: &[Row] = &[
    row(
        "/",
        "filter the feed (status:failed dm: event: src: dst: type: env: mrn: req:)",
        Some("/ filter"),
        &[(ch('/'), C::Filter)],
    ),
    HELP_ROW,
    row(
        "tab / shift-tab",
        "next / previous pane",
        Some("tab next pane"),
        &[(k(KC::Tab), C::NextPane), (k(KC::BackTab), C::PrevPane)],
    ),
    row("c", "compose a request", None, &[(ch('c'), C::Compose)]),
    row(
        "K / E",
        "Developer view: API keys / endpoints (:keys, :endpoints)",
        None,
        &[(ch('K'), C::OpenKeys), (ch('E'), C::OpenEndpoints)],
    ),
    row(
        ":",
        "command line: env, filter, theme, pause, resume, compose, mouse on|off, quit",
        None,
        &[(ch(':'), C::CommandLine)],
    ),
    row(
        "1–4",
        "focus Environments, Connections, Live feed, Composer",
        None,
        &[
            (ch('1'), C::FocusEnvironments),
            (ch('2'), C::FocusConnections),
            (ch('3'), C::FocusFeed),
            (ch('4'), C::FocusComposer),
        ],
    ),
    row(
        "q",
        "quit (asks first when the composer holds unsaved edits)",
        None,
        &[(ch('q'), C::Quit)],
    ),
    row(
        "esc",
        "back: from the Composer to the feed; never quits",
        None,
        &[(k(KC::Esc), C::Back)],
    ),
];

pub(super) const ENVIRONMENTS: &[Row] = &[
    row(
        "j / k, ↓ / ↑",
        "next / previous environment",
        Some("j/k move"),
        MOVE,
    ),
    row(
        "enter",
        "scope the console to the environment",
        Some("enter choose"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row("g / G", "first / last", None, ENDS),
];

pub(super) const CONNECTIONS: &[Row] = &[
    row(
        "j / k, ↓ / ↑",
        "next / previous destination",
        Some("j/k move"),
        MOVE,
    ),
    row(
        "y",
        "copy the destination's endpoint ID",
        Some("y copy ID"),
        &[(ch('y'), C::Copy)],
    ),
    row(
        "enter",
        "filter the feed to the destination (dst:NAME)",
        Some("enter feed"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row(
        "p",
        "pause / resume the destination",
        Some("p pause"),
        &[(ch('p'), C::Pause)],
    ),
    row(
        "r",
        "retry its waiting items now",
        Some("r retry"),
        &[(ch('r'), C::Retry)],
    ),
    row("g / G", "first / last", None, ENDS),
];

pub(super) const FEED: &[Row] = &[
    row(
        "f",
        "freeze / follow",
        Some("f freeze"),
        &[(ch('f'), C::Freeze)],
    ),
    row(
        "enter",
        "open the log's detail",
        Some("enter detail"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row(
        "j / k, ↓ / ↑",
        "newer / older row (older pages from history)",
        Some("j/k move"),
        MOVE,
    ),
    row(
        "G / end",
        "back to live",
        Some("G live"),
        &[(ch('G'), C::Last), (k(KC::End), C::Last)],
    ),
    row(
        "g / home",
        "oldest log in history (loads older pages)",
        None,
        &[(ch('g'), C::First), (k(KC::Home), C::First)],
    ),
    row(
        "C",
        "copy the log's request as curl (OSC 52)",
        None,
        &[(ch('C'), C::CopyCurl)],
    ),
    row("PgDn / PgUp", "a page newer / older", None, PAGES),
    row(
        "v",
        "one line per log (columns) / two lines",
        None,
        &[(ch('v'), C::FlipRows)],
    ),
];

pub(super) const DETAIL: &[Row] = &[
    row(
        "tab",
        "switch between request and response body",
        Some("tab side"),
        &[(k(KC::Tab), C::SwitchSide), (k(KC::BackTab), C::SwitchSide)],
    ),
    TREE[0],
    TREE[1],
    TREE[2],
    TREE[3],
    row(
        "a",
        "load all of a long body",
        None,
        &[(ch('a'), C::LoadAll)],
    ),
    TREE[4],
    TREE[5],
    row(
        "/",
        "search the bodies (keys and values, any case)",
        Some("/ search"),
        &[(ch('/'), C::Search)],
    ),
    row(
        "n / N",
        "next / previous match",
        None,
        &[(ch('n'), C::NextMatch), (ch('N'), C::PrevMatch)],
    ),
    row(
        "C",
        "copy the request as curl (OSC 52)",
        Some("C curl"),
        &[(ch('C'), C::CopyCurl)],
    ),
    row(
        "r",
        "retry the destination now",
        Some("r retry"),
        &[(ch('r'), C::Retry)],
    ),
    row(
        "p",
        "pause / resume the destination",
        Some("p pause"),
        &[(ch('p'), C::Pause)],
    ),
    row(
        "Q",
        "quarantine the log",
        Some("Q quarantine"),
        &[(ch('Q'), C::Quarantine)],
    ),
    row(
        "R",
        "resend the log",
        Some("R resend"),
        &[(ch('R'), C::Resend)],
    ),
    row(
        "q / esc",
        "back to the feed",
        Some("q back"),
        &[(ch('q'), C::Back), (k(KC::Esc), C::Back)],
    ),
    HELP_ROW,
];

/// `prompt::LineInput` edits the line; history and completion are bindings.
pub(super) const PROMPT: &[Row] = &[
    row("enter", "apply the filter / run the command", None, &[]),
    row("esc", "close the line", None, &[]),
    row(
        "↑ / ↓",
        "earlier / later lines (kept across runs)",
        None,
        &[(k(KC::Up), C::Up), (k(KC::Down), C::Down)],
    ),
    row(
        "tab / shift-tab",
        "complete: commands, filter keys, names, data models, events",
        None,
        &[(k(KC::Tab), C::Complete), (k(KC::BackTab), C::CompleteBack)],
    ),
    row(
        "ctrl-u / ctrl-k",
        "delete to the start / to the end",
        None,
        &[],
    ),
    row("ctrl-w", "delete a word", None, &[]),
    row(
        "ctrl-a / ctrl-e",
        "start / end of the line (also home / end)",
        None,
        &[],
    ),
    row(
        "ctrl-b / ctrl-f",
        "a character back / forward (also ← / →)",
        None,
        &[],
    ),
];

/// Both tabs list it before their tab key, so it is a row of each.
const DEV_MOVE: Row = row("j / k, ↓ / ↑", "move", Some("j/k move"), MOVE);

pub(super) const DEVELOPER: &[Row] = &[
    HELP_ROW,
    row(
        "q / esc",
        "back to the panes",
        Some("esc back"),
        &[(ch('q'), C::Back), (k(KC::Esc), C::Back)],
    ),
    row("g / G", "first / last", None, ENDS),
];

pub(super) const DEV_KEYS: &[Row] = &[
    row(
        "n",
        "new legacy API key for the row's source",
        Some("n legacy"),
        &[(ch('n'), C::NewLegacyKey)],
    ),
    row(
        "h",
        "new HS384 OAuth client for the row's source",
        Some("h HS384"),
        &[(ch('h'), C::NewHs384Client)],
    ),
    row(
        "J",
        "register a JWKS file (:jwks PATH) for the row's source",
        Some("J JWKS file"),
        &[(ch('J'), C::RegisterJwks)],
    ),
    row(
        "x / d",
        "revoke the row's key (asks first)",
        Some("x revoke"),
        &[(ch('x'), C::Revoke), (ch('d'), C::Revoke)],
    ),
    row(
        "r / K",
        "reload the keys",
        None,
        &[(ch('r'), C::Reload), (ch('K'), C::OpenKeys)],
    ),
    DEV_MOVE,
    row(
        "tab / E",
        "Endpoints tab",
        Some("tab endpoints"),
        &[
            (k(KC::Tab), C::OtherTab),
            (k(KC::BackTab), C::OtherTab),
            (ch('E'), C::OpenEndpoints),
        ],
    ),
];

pub(super) const DEV_ENDPOINTS: &[Row] = &[
    row(
        "v",
        "run the verification handshake now",
        Some("v verify"),
        &[(ch('v'), C::Verify)],
    ),
    row(
        "p / r",
        "pause / resume delivery",
        Some("p pause · r resume"),
        &[(ch('p'), C::Pause), (ch('r'), C::Resume)],
    ),
    row(
        "E",
        "reload the endpoints",
        None,
        &[(ch('E'), C::OpenEndpoints)],
    ),
    DEV_MOVE,
    row(
        "tab / K",
        "Keys tab",
        Some("tab keys"),
        &[
            (k(KC::Tab), C::OtherTab),
            (k(KC::BackTab), C::OtherTab),
            (ch('K'), C::OpenKeys),
        ],
    ),
];

pub(super) const SECRET: &[Row] = &[
    row(
        "y",
        "copy the secret (OSC 52)",
        Some("y copy"),
        &[(ch('y'), C::Copy)],
    ),
    row(
        "enter / esc / q",
        "close: the console forgets the secret",
        Some("enter / esc close (the console forgets it)"),
        &[
            (k(KC::Enter), C::Back),
            (k(KC::Esc), C::Back),
            (ch('q'), C::Back),
        ],
    ),
];

pub(super) const HELP: &[Row] = &[
    row(
        "j / k, ↓ / ↑",
        "scroll",
        Some("j/k scroll"),
        &[
            (ch('j'), C::Down),
            (k(KC::Down), C::Down),
            (ch('k'), C::Up),
            (k(KC::Up), C::Up),
        ],
    ),
    row("PgDn / PgUp", "a page down / up", None, PAGES),
    row("g / G", "top / bottom", None, ENDS),
    row(
        "? / q / esc",
        "close",
        Some("? / q / esc close"),
        &[
            (ch('?'), C::Back),
            (ch('q'), C::Back),
            (k(KC::Esc), C::Back),
        ],
    ),
];

pub(super) const CONFIRM: &[Row] = &[
    row("y", "yes", Some("y yes"), &[(ch('y'), C::Confirm)]),
    row(
        "n / esc / other",
        "cancel",
        Some("any other key cancels"),
        &[(ch('n'), C::Cancel), (k(KC::Esc), C::Cancel)],
    ),
];
