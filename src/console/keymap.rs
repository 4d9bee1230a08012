//! Every key binding of the console in one table: the key handlers look keys up here
//! and match on the [`Command`]; the `?` overlay and the hint bar are drawn from the same
//! rows, so what the console does and what it says it does cannot drift apart.
//!
//! A [`Row`] is one line of help: a label ("j / k, ↓ / ↑"), what it does, an optional
//! short form for the hint bar, and the keys it binds with the command each one gives.
//! Rows without keys document text input (typed characters are not bindings).
//! The table is a leaf: it knows keys and commands, not the state they act on. The rows
//! are in `views` (main view, panes, detail, Developer view, help, questions) and
//! `composer` (the pane, its editor, answer, pickers and prompts).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Where the keyboard is: each has its own rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Keys that work in every view outside text input.
    Always,
    /// The main view (the four panes), whichever pane has focus.
    Global,
    Environments,
    Connections,
    Feed,
    /// The Composer pane outside edit mode.
    Composer,
    /// The composer's editor (every other key is text).
    Editing,
    /// Moving in the composer's answer.
    Answer,
    /// Choosing event, source and destination.
    Picker,
    /// The composer's history and saved-request lists.
    List,
    /// The name a request is saved under.
    Naming,
    /// Production's "type the destination's name" guard.
    Guard,
    /// `c` or `:compose` over unsaved edits: discard them?
    Discard,
    /// The `/` filter and `:` command lines.
    Prompt,
    /// One log's detail.
    Detail,
    /// The Developer view, either tab.
    Developer,
    DevKeys,
    DevEndpoints,
    /// A new key's secret, shown once.
    Secret,
    /// The `?` overlay itself.
    Help,
    /// A question waiting for `y`.
    Confirm,
}

impl Context {
    pub const ALL: [Context; 21] = [
        Context::Always,
        Context::Global,
        Context::Environments,
        Context::Connections,
        Context::Feed,
        Context::Composer,
        Context::Editing,
        Context::Answer,
        Context::Picker,
        Context::List,
        Context::Naming,
        Context::Guard,
        Context::Discard,
        Context::Prompt,
        Context::Detail,
        Context::Developer,
        Context::DevKeys,
        Context::DevEndpoints,
        Context::Secret,
        Context::Help,
        Context::Confirm,
    ];

    /// The heading of its section in the help and in README's key list.
    pub fn title(self) -> &'static str {
        match self {
            Context::Always => "Always",
            Context::Global => "Everywhere",
            Context::Environments => "Environments",
            Context::Connections => "Connections",
            Context::Feed => "Live feed",
            Context::Composer => "Composer",
            Context::Editing => "Editing the body",
            Context::Answer => "In the answer",
            Context::Picker => "Choosing event, source, destination",
            Context::List => "History and saved requests",
            Context::Naming => "Saving: the name",
            Context::Guard => "Production: the name to send",
            Context::Discard => "Replacing unsaved edits",
            Context::Prompt => "Filter and command lines",
            Context::Detail => "Log detail",
            Context::Developer => "Developer view",
            Context::DevKeys => "Keys",
            Context::DevEndpoints => "Endpoints",
            Context::Secret => "New key's secret",
            Context::Help => "In this help",
            Context::Confirm => "Questions (confirmations)",
        }
    }
}

/// What a key asks for; each handler gives the commands of its context their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `q` in the main view: quit (asking first when the composer holds unsaved edits).
    Quit,
    /// `ctrl-c`: quit at once, from anywhere.
    ForceQuit,
    /// `ctrl-z` outside text: hand the terminal back to the shell until `fg`.
    Suspend,
    /// `r` while the engine is out of reach: try again now.
    Reconnect,
    /// `esc`: close, cancel or leave what is open; never quits.
    Back,
    Help,
    Compose,
    OpenKeys,
    OpenEndpoints,
    Filter,
    CommandLine,
    NextPane,
    PrevPane,
    FocusEnvironments,
    FocusConnections,
    FocusFeed,
    FocusComposer,
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Last,
    /// `enter`: choose, open, submit.
    Choose,
    Copy,
    CopyPath,
    Freeze,
    /// `v`: one-line feed rows in columns / two-line rows.
    FlipRows,
    SwitchSide,
    Toggle,
    Fold,
    Unfold,
    FoldAll,
    UnfoldAll,
    LoadAll,
    Retry,
    Pause,
    Resume,
    Quarantine,
    Resend,
    Verify,
    NewLegacyKey,
    NewHs384Client,
    RegisterJwks,
    Revoke,
    Reload,
    OtherTab,
    Edit,
    EditExternally,
    Send,
    Save,
    ShowAnswer,
    CopyCurl,
    /// `/` in the detail: search the bodies; `n` / `N`: the next / previous match.
    Search,
    NextMatch,
    PrevMatch,
    ChangeSource,
    ChangeDestination,
    History,
    OpenSaved,
    DeleteBack,
    Undo,
    Redo,
    /// Tab / shift-tab in a prompt: the next / previous completion.
    Complete,
    CompleteBack,
    Confirm,
    Cancel,
}

/// A key as bound: its code and whether ctrl is held. Shift is part of the character
/// (`G`), and alt is ignored, as terminals disagree about both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn matches(self, event: &KeyEvent) -> bool {
        self.code == event.code && self.ctrl == event.modifiers.contains(KeyModifiers::CONTROL)
    }
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn k(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

/// One line of help and the keys it binds.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub label: &'static str,
    pub help: &'static str,
    /// The short form the hint bar shows, if it shows this row.
    pub hint: Option<&'static str>,
    pub keys: &'static [(Key, Command)],
}

const fn row(
    label: &'static str,
    help: &'static str,
    hint: Option<&'static str>,
    keys: &'static [(Key, Command)],
) -> Row {
    Row {
        label,
        help,
        hint,
        keys,
    }
}

use Command as C;
use KeyCode as KC;

const MOVE: &[(Key, Command)] = &[
    (ch('j'), C::Down),
    (k(KC::Down), C::Down),
    (ch('k'), C::Up),
    (k(KC::Up), C::Up),
];
const ENDS: &[(Key, Command)] = &[
    (ch('g'), C::First),
    (k(KC::Home), C::First),
    (ch('G'), C::Last),
    (k(KC::End), C::Last),
];
const PAGES: &[(Key, Command)] = &[(k(KC::PageDown), C::PageDown), (k(KC::PageUp), C::PageUp)];

const HELP_ROW: Row = row("?", "this help", Some("? help"), &[(ch('?'), C::Help)]);

/// The bodies as trees (the detail's and the answer's rows share these).
const TREE: [Row; 6] = [
    row(
        "j / k, ↓ / ↑",
        "move in the body (PgDn / PgUp, g / G)",
        None,
        &[
            (ch('j'), C::Down),
            (k(KC::Down), C::Down),
            (ch('k'), C::Up),
            (k(KC::Up), C::Up),
            (k(KC::PageDown), C::PageDown),
            (k(KC::PageUp), C::PageUp),
            (ch('g'), C::First),
            (k(KC::Home), C::First),
            (ch('G'), C::Last),
            (k(KC::End), C::Last),
        ],
    ),
    row(
        "space / enter",
        "fold / unfold the object or array",
        Some("space fold"),
        &[(ch(' '), C::Toggle), (k(KC::Enter), C::Toggle)],
    ),
    row(
        "h / l, ← / →",
        "fold / unfold",
        None,
        &[
            (ch('h'), C::Fold),
            (k(KC::Left), C::Fold),
            (ch('l'), C::Unfold),
            (k(KC::Right), C::Unfold),
        ],
    ),
    row(
        "z / Z",
        "fold all to an outline / unfold all",
        None,
        &[(ch('z'), C::FoldAll), (ch('Z'), C::UnfoldAll)],
    ),
    row(
        "y",
        "copy the value under the cursor (OSC 52)",
        Some("y copy"),
        &[(ch('y'), C::Copy)],
    ),
    row(
        "Y",
        "copy its JSON path",
        Some("Y path"),
        &[(ch('Y'), C::CopyPath)],
    ),
];

/// The rows of `context`, in help order.
pub fn rows(context: Context) -> &'static [Row] {
    use composer::*;
    use views::*;
    match context {
        Context::Always => ALWAYS,
        Context::Global => GLOBAL,
        Context::Environments => ENVIRONMENTS,
        Context::Connections => CONNECTIONS,
        Context::Feed => FEED,
        Context::Composer => COMPOSER,
        Context::Editing => EDITING,
        Context::Answer => ANSWER,
        Context::Picker => PICKER,
        Context::List => LIST,
        Context::Naming => NAMING,
        Context::Guard => GUARD,
        Context::Discard => DISCARD,
        Context::Prompt => PROMPT,
        Context::Detail => DETAIL,
        Context::Developer => DEVELOPER,
        Context::DevKeys => DEV_KEYS,
        Context::DevEndpoints => DEV_ENDPOINTS,
        Context::Secret => SECRET,
        Context::Help => HELP,
        Context::Confirm => CONFIRM,
    }
}

/// The command `key` gives in `context`, if it is bound there. Key releases never are.
pub fn lookup(context: Context, key: &KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    rows(context)
        .iter()
        .flat_map(|r| r.keys)
        .find(|(k, _)| k.matches(key))
        .map(|&(_, command)| command)
}

/// A key that gives `command` in `context` (the first bound), e.g. for the mouse's
/// wheel and double-click to act exactly as the keys do.
pub fn key_for(context: Context, command: Command) -> Option<KeyEvent> {
    let (key, _) = rows(context)
        .iter()
        .flat_map(|r| r.keys)
        .find(|(_, c)| *c == command)?;
    let modifiers = if key.ctrl {
        KeyModifiers::CONTROL
    } else {
        KeyModifiers::NONE
    };
    Some(KeyEvent::new(key.code, modifiers))
}

/// The first of `contexts` that binds `key`, and its command.
pub fn lookup_in(contexts: &[Context], key: &KeyEvent) -> Option<Command> {
    contexts.iter().find_map(|&c| lookup(c, key))
}

/// The character a key types into a text field (not a binding): any character
/// without ctrl.
pub fn typed(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => Some(c),
        _ => None,
    }
}

/// The hint bar's text for these contexts, in order.
pub fn hints(contexts: &[Context]) -> String {
    contexts
        .iter()
        .flat_map(|&c| rows(c))
        .filter_map(|r| r.hint)
        .collect::<Vec<_>>()
        .join(" · ")
}

mod composer;
mod views;

#[cfg(test)]
mod tests;
