//! The composer's rows: the pane, its editor and answer, and its pickers, lists and
//! prompts.

use super::TREE;
use super::{C, ENDS, KC, MOVE, PAGES, Row, ch, ctrl, k, row};

pub(super) const COMPOSER: &[Row] = &[
    row(
        "c / n",
        "compose a new request (asks first if edits are not saved)",
        Some("c new"),
        &[(ch('c'), C::Compose), (ch('n'), C::Compose)],
    ),
    row(
        "i / enter",
        "edit the body here (ctrl-z undo, ctrl-y redo; esc when done)",
        Some("i edit"),
        &[(ch('i'), C::Edit), (k(KC::Enter), C::Edit)],
    ),
    row(
        "e",
        "edit the body in $EDITOR",
        Some("e $EDITOR"),
        &[(ch('e'), C::EditExternally)],
    ),
    row(
        "ctrl-s",
        "send (again to send despite schema warnings)",
        Some("ctrl-s send"),
        &[(ctrl('s'), C::Send)],
    ),
    row(
        "a",
        "move in the answer (j/k, space fold, y copy; a or esc back)",
        Some("a answer"),
        &[(ch('a'), C::ShowAnswer)],
    ),
    row(
        "y",
        "copy the request as a curl command (OSC 52)",
        Some("y curl"),
        &[(ch('y'), C::CopyCurl)],
    ),
    row(
        "s / d",
        "choose another source / destination",
        None,
        &[(ch('s'), C::ChangeSource), (ch('d'), C::ChangeDestination)],
    ),
    row(
        "h",
        "history of sent requests: re-open, edit, send again",
        None,
        &[(ch('h'), C::History)],
    ),
    row(
        "ctrl-w",
        "save the request to the collection (one JSON file, for git)",
        None,
        &[(ctrl('w'), C::Save)],
    ),
    row(
        "o",
        "open a saved request",
        None,
        &[(ch('o'), C::OpenSaved)],
    ),
    row(
        "j / k, ↓ / ↑",
        "scroll the answer (without entering it)",
        None,
        MOVE,
    ),
    row("esc", "back to the feed", None, &[(k(KC::Esc), C::Back)]),
    row(
        ":compose M E",
        "compose event E of data model M directly",
        None,
        &[],
    ),
    row(
        ":compose FHIR R",
        "FHIR search of resource R: name=value lines, sent as a form body",
        None,
        &[],
    ),
    row(
        ":compose FHIR C",
        "FHIR message C (Observation-New, Media-New): a Bundle, fhir+json",
        None,
        &[],
    ),
];

pub(super) const EDITING: &[Row] = &[
    row(
        "esc",
        "done editing (the body stays)",
        Some("esc done"),
        &[(k(KC::Esc), C::Back)],
    ),
    row(
        "ctrl-s",
        "send",
        Some("ctrl-s send"),
        &[(ctrl('s'), C::Send)],
    ),
    row(
        "ctrl-z / ctrl-y",
        "undo / redo",
        Some("ctrl-z undo · ctrl-y redo"),
        &[(ctrl('z'), C::Undo), (ctrl('y'), C::Redo)],
    ),
    row(
        "ctrl-w",
        "save the request to the collection",
        None,
        &[(ctrl('w'), C::Save)],
    ),
    row(
        "other keys",
        "edit the text (arrows, home / end, …)",
        None,
        &[],
    ),
];

pub(super) const ANSWER: &[Row] = &[
    TREE[0],
    TREE[1],
    TREE[2],
    TREE[3],
    TREE[4],
    TREE[5],
    row(
        "a / esc",
        "back to the request",
        Some("a back"),
        &[(ch('a'), C::Back), (k(KC::Esc), C::Back)],
    ),
    row("ctrl-s", "send again", None, &[(ctrl('s'), C::Send)]),
    row(
        "ctrl-w",
        "save the request to the collection",
        None,
        &[(ctrl('w'), C::Save)],
    ),
];

pub(super) const PICKER: &[Row] = &[
    row("type", "narrow the list", Some("type to narrow"), &[]),
    row(
        "↑↓, ctrl-p/n",
        "previous / next",
        Some("↑/↓ move"),
        &[
            (k(KC::Up), C::Up),
            (ctrl('p'), C::Up),
            (k(KC::Down), C::Down),
            (ctrl('n'), C::Down),
        ],
    ),
    row(
        "enter",
        "choose",
        Some("enter choose"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row(
        "esc",
        "cancel",
        Some("esc cancel"),
        &[(k(KC::Esc), C::Back)],
    ),
    row(
        "backspace",
        "widen again",
        None,
        &[(k(KC::Backspace), C::DeleteBack)],
    ),
    row("PgDn / PgUp", "a page down / up", None, PAGES),
];

pub(super) const LIST: &[Row] = &[
    row(
        "j / k, ↓ / ↑",
        "move (older history below)",
        Some("j/k move"),
        MOVE,
    ),
    row(
        "enter",
        "open the request in the composer",
        Some("enter open"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row(
        "q / esc",
        "close",
        Some("esc close"),
        &[(ch('q'), C::Back), (k(KC::Esc), C::Back)],
    ),
    row("g / G", "first / last", None, ENDS),
    row("PgDn / PgUp", "a page down / up", None, PAGES),
];

pub(super) const NAMING: &[Row] = &[
    row("type", "the name to save under", Some("type a name"), &[]),
    row(
        "enter",
        "save",
        Some("enter save"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row(
        "esc",
        "cancel",
        Some("esc cancel"),
        &[(k(KC::Esc), C::Back)],
    ),
    row(
        "backspace",
        "delete a character",
        None,
        &[(k(KC::Backspace), C::DeleteBack)],
    ),
];

pub(super) const GUARD: &[Row] = &[
    row(
        "type",
        "the destination's name, to send to Production",
        Some("type the destination's name"),
        &[],
    ),
    row(
        "enter",
        "send",
        Some("enter send"),
        &[(k(KC::Enter), C::Choose)],
    ),
    row(
        "esc",
        "cancel: not sent",
        Some("esc cancel"),
        &[(k(KC::Esc), C::Back)],
    ),
    row(
        "backspace",
        "delete a character",
        None,
        &[(k(KC::Backspace), C::DeleteBack)],
    ),
];

pub(super) const DISCARD: &[Row] = &[
    row(
        "y",
        "discard the unsaved edits and compose",
        Some("y discard the edits"),
        &[(ch('y'), C::Confirm)],
    ),
    row(
        "n / esc / other",
        "keep the edits",
        Some("any other key keeps them"),
        &[(ch('n'), C::Cancel), (k(KC::Esc), C::Cancel)],
    ),
];
