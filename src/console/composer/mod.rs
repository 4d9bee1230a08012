//! The request composer's state: what is being composed (event, source, destination),
//! the JSON editor (ratatui-textarea), live validation against the event's schema, the
//! last answer, and the Production guard. Pure like the rest of the app state: sending,
//! `$EDITOR` and history are effects carried out by the event loop.
//! `pick`: the picker's lists; `summary`: an answer in one line of words.

pub mod pick;
pub mod summary;

use crate::client::send::PlatformPath;
use crate::client::wire::HistoryEntry;
use crate::console::collection::Listed;
use crate::console::json_tree::JsonTree;
use crate::console::prompt::LineInput;
use crate::model::Environment;
use crate::model::catalog::{EventInfo, Exchange};
use crate::model::compose;
use crate::model::fhir::FhirKind;
use crate::model::schema::Validation;
use crate::model::variables::{self, UndefinedVariable, Variables};
use pick::Picker;
use ratatui_textarea::TextArea;
use std::time::Duration;
use uuid::Uuid;

/// A source or destination, by id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

/// What kind of request: a data-model event (to `/endpoint` or `/query`) or a FHIR
/// search or message (to the FHIR API).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Composed {
    Event(&'static EventInfo),
    Fhir(FhirKind),
}

impl Composed {
    /// `PatientSearch Query`, `FHIR Patient search`, `FHIR Observation-New`.
    pub fn label(self) -> String {
        match self {
            Composed::Event(e) => format!("{} {}", e.data_model, e.event_type),
            Composed::Fhir(kind) => kind.label(),
        }
    }

    /// The data model and event the composer's history and saved requests record.
    pub fn record(self) -> (String, String) {
        match self {
            Composed::Event(e) => (e.data_model.to_string(), e.event_type.to_string()),
            Composed::Fhir(kind) => (kind.data_model(), kind.event().to_string()),
        }
    }

    /// Back from [`Composed::record`]'s names.
    pub fn lookup(data_model: &str, event: &str) -> Option<Composed> {
        FhirKind::from_record(data_model, event)
            .map(Composed::Fhir)
            .or_else(|| {
                crate::model::catalog::lookup(data_model, event)
                    .ok()
                    .map(Composed::Event)
            })
    }
}

/// What is being composed: the route and the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub environment: Environment,
    pub source: Named,
    pub destination: Named,
    pub what: Composed,
}

impl Draft {
    /// Where a data-model request goes (a FHIR one goes to the FHIR API instead).
    pub fn path(&self) -> PlatformPath {
        match self.what {
            Composed::Event(e) if e.exchange == Exchange::Query => PlatformPath::Query,
            _ => PlatformPath::Endpoint,
        }
    }
}

/// The answer to the last send.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerView {
    pub status: u16,
    /// Send to last byte, as the console measured it.
    pub elapsed: Duration,
    /// The destination's part (its attempt's latency), once the log has been read.
    pub destination: Option<Duration>,
    /// One line on what the answer holds, for people who do not read JSON: "no patient
    /// matches MRN 0000099999", "2 patients: Baker, Abigail; …" ([`summary`]).
    pub summary: Option<String>,
    /// The body as a tree, or as text when it was not JSON.
    pub tree: Option<JsonTree>,
    pub text: Option<String>,
    pub logs: Vec<Uuid>,
    /// The request whose logs the feed follows.
    pub request_id: Option<Uuid>,
    /// The first row shown while the answer does not have the keys (`j`/`k` scroll it
    /// from the body without entering answer mode).
    pub scroll: usize,
}

impl AnswerView {
    /// The engine's part: total minus the destination's; over HTTP from another machine
    /// it includes the network between console and engine.
    pub fn engine(&self) -> Option<Duration> {
        self.destination.map(|d| self.elapsed.saturating_sub(d))
    }
}

/// What a list overlay lists.
#[derive(Debug, Clone, PartialEq)]
pub enum ListItem {
    History(HistoryEntry),
    Saved(Listed),
}

/// The history (`h`) or the saved requests (`o`), to re-open one.
#[derive(Debug, Clone, PartialEq)]
pub struct ListView {
    pub saved: bool,
    pub items: Vec<ListItem>,
    pub cursor: usize,
    /// History only: the cursor to the next, older page.
    pub next: Option<Uuid>,
    pub loading: bool,
}

impl ListView {
    pub fn loading(saved: bool) -> ListView {
        ListView {
            saved,
            items: Vec::new(),
            cursor: 0,
            next: None,
            loading: true,
        }
    }
}

/// Which part of the pane has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComposerFocus {
    /// Keys are commands (`i` edit, `ctrl-s` send, …).
    #[default]
    Body,
    /// Every key goes to the editor until `esc`.
    Editing,
    /// Cursor keys move and fold in the answer.
    Answer,
}

#[derive(Debug, Clone)]
pub struct Composer {
    pub draft: Option<Draft>,
    pub editor: TextArea<'static>,
    pub focus: ComposerFocus,
    pub validation: Validation,
    /// Variables the body uses that the environment's profile does not define.
    pub undefined: Vec<UndefinedVariable>,
    pub picker: Option<Picker>,
    /// The Production guard: the destination's name as typed so far.
    pub guard: Option<LineInput>,
    /// Set by a `ctrl-s` refused for schema warnings, so the next one sends anyway.
    pub warned: bool,
    pub answer: Option<AnswerView>,
    pub sending: bool,
    /// The text as it went out (variables filled), for the history.
    pub last_sent: Option<String>,
    pub list: Option<ListView>,
    /// `ctrl-w`: the name to save under, as typed so far.
    pub naming: Option<LineInput>,
    /// The body as last loaded, saved or sent: anything else is an unsaved edit.
    pub baseline: String,
    /// `c` over unsaved edits asked whether to discard them; `y` does.
    pub discard_asked: bool,
    /// What `:compose` asked for, to open once `y` answered.
    pub discard_for: Option<Composed>,
}

impl Default for Composer {
    fn default() -> Self {
        Composer {
            draft: None,
            editor: TextArea::default(),
            focus: ComposerFocus::Body,
            validation: Validation::default(),
            undefined: Vec::new(),
            picker: None,
            guard: None,
            warned: false,
            answer: None,
            sending: false,
            last_sent: None,
            list: None,
            naming: None,
            baseline: String::new(),
            discard_asked: false,
            discard_for: None,
        }
    }
}

impl Composer {
    pub fn text(&self) -> String {
        let mut text = self.editor.lines().join("\n");
        text.push('\n');
        text
    }

    /// Starts a new body for `draft`.
    pub fn load(&mut self, draft: Draft, text: &str, vars: &Variables) {
        self.draft = Some(draft);
        self.set_text(text, vars);
        self.answer = None;
        self.focus = ComposerFocus::Body;
        self.mark_saved();
    }

    /// The body is kept somewhere (loaded, saved to a file, sent into the history).
    pub fn mark_saved(&mut self) {
        self.baseline = self.text();
    }

    /// Whether `c` would lose edits: a draft whose body changed since it was loaded,
    /// saved or sent.
    pub fn unsaved(&self) -> bool {
        self.draft.is_some() && self.text() != self.baseline
    }

    /// Replaces the body (a template, an `$EDITOR` round trip, a history entry).
    pub fn set_text(&mut self, text: &str, vars: &Variables) {
        let lines: Vec<String> = text
            .trim_end_matches('\n')
            .lines()
            .map(String::from)
            .collect();
        self.editor = TextArea::new(lines);
        self.edited(vars);
    }

    /// After any change to the body: validate again, forget an acknowledged warning.
    pub fn edited(&mut self, vars: &Variables) {
        self.warned = false;
        self.guard = None;
        self.recheck(vars);
    }

    /// Validates again, e.g. when the environment's variables changed under the body.
    /// Variables are filled in where they can be (values are escaped and never span
    /// lines, so line numbers still match the editor).
    pub fn recheck(&mut self, vars: &Variables) {
        let Some(draft) = &self.draft else { return };
        let checked = match draft.what {
            Composed::Event(event) => compose::check_as(event, &self.text(), vars),
            Composed::Fhir(kind) => compose::check_fhir(kind, &self.text(), vars),
        };
        self.undefined = checked.undefined;
        self.validation = checked.validation;
    }

    /// The body with its variables filled in, or the variables missing.
    pub fn filled(&self, vars: &Variables) -> Result<String, Vec<UndefinedVariable>> {
        variables::substitute(&self.text(), vars)
    }
}
