//! The filter language of the console's `/` line and of `GET /admin/v1/events?filter=…`.
//!
//! ```text
//! status:failed dm:PatientAdmin event:Arrival src:"Sandbox EHR" -type:send lab
//! ```
//!
//! # Grammar
//!
//! ```text
//! filter := ws* (term (ws+ term)*)? ws*           all terms combined with AND
//! term   := "-"? (key ":" value | text)           "-" negates the term
//! value  := quoted | bare
//! text   := quoted | bare                          a bare text word holds no ":"
//! quoted := '"' ( [^"\\] | '\"' | '\\' | '\' )* '"'   "\" before anything else is literal
//! bare   := [^ws"]+                                runs to the next white space
//! ```
//!
//! Keys are case-insensitive: `status` (PENDING, SUCCEEDED, FAILED, FILTERED in any case,
//! or `quarantined`), `dm`/`datamodel` (a catalog data model, case and spacing ignored:
//! `dm:clinicalsummary` is "Clinical Summary"), `event` (exact, any case), `src`/`source`
//! and `dst`/`dest`/`destination` (the connection's name in any case, or its UUID), `type`
//! (SEND, RECEIVE, REQUEST, RESPOND), `env` (development, staging, production, dev, prod),
//! `mrn`/`patient` (exact patient identifier). An unknown key is an error, never text.
//!
//! Free text matches, case-insensitively, a substring of the data model, event type, source
//! name, destination name, log ID, status or type.
//!
//! # PHI
//!
//! Free text never searches the patient identifier, so a typed word cannot probe for a
//! patient. Only `mrn:` does, and [`Filter::names_patient`] tells callers so they can refuse
//! such a filter to roles without the PHI permission.

use crate::model::catalog;
use crate::model::environment::Environment;
use crate::model::log::{LogRecord, LogStatus, LogType};
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use uuid::Uuid;

/// A parsed filter: a conjunction of terms. The default matches every log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

/// Why a filter did not parse; `start..end` is the byte range of the offending term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    negated: bool,
    cond: Cond,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    Status(LogStatus),
    Quarantined,
    DataModel(&'static str),
    Event(String),
    Source(Party),
    Destination(Party),
    Type(LogType),
    Env(Environment),
    Patient(String),
    /// Every log of one request (what the composer follows after sending).
    Request(Uuid),
    Text(Text),
}

/// A source or destination as named in a filter: by name, and by ID when the name is one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Party {
    name: String,
    id: Option<Uuid>,
}

impl Party {
    fn new(name: String) -> Self {
        let id = Uuid::parse_str(&name).ok();
        Party { name, id }
    }

    fn matches(&self, name: &str, id: Uuid) -> bool {
        self.id == Some(id) || eq_ci(name, &self.name)
    }
}

/// Free text as typed (for display) and lower-cased once (for matching).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Text {
    text: String,
    lower: String,
}

impl Text {
    fn new(text: String) -> Self {
        let lower = text.to_lowercase();
        Text { text, lower }
    }

    /// Never looks at `patient_id`: free text must not search PHI.
    fn matches(&self, log: &LogRecord) -> bool {
        let needle = self.lower.as_str();
        [
            log.data_model.as_str(),
            log.event_type.as_str(),
            log.source_name.as_str(),
            log.destination_name.as_str(),
            log.status.as_str(),
            log.log_type.as_str(),
        ]
        .into_iter()
        .any(|field| contains_ci(field, needle))
            // The log ID is written out (on the stack) only for text that could be part of one.
            || (needle.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') && {
                let mut buf = Uuid::encode_buffer();
                contains_ci(log.id.hyphenated().encode_lower(&mut buf), needle)
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Status,
    DataModel,
    Event,
    Source,
    Destination,
    Type,
    Env,
    Patient,
    Request,
}

const KEYS: &[(&str, Key)] = &[
    ("status", Key::Status),
    ("dm", Key::DataModel),
    ("datamodel", Key::DataModel),
    ("event", Key::Event),
    ("src", Key::Source),
    ("source", Key::Source),
    ("dst", Key::Destination),
    ("dest", Key::Destination),
    ("destination", Key::Destination),
    ("type", Key::Type),
    ("env", Key::Env),
    ("mrn", Key::Patient),
    ("patient", Key::Patient),
    ("req", Key::Request),
    ("request", Key::Request),
];

impl Key {
    fn lookup(word: &str) -> Option<Key> {
        KEYS.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|(_, key)| *key)
    }

    fn example(self) -> &'static str {
        match self {
            Key::Status => "status:failed",
            Key::DataModel => "dm:PatientAdmin",
            Key::Event => "event:Arrival",
            Key::Source => "src:\"Sandbox EHR\"",
            Key::Destination => "dst:\"Sandbox EHR\"",
            Key::Type => "type:send",
            Key::Env => "env:production",
            Key::Patient => "mrn:0000000001",
            Key::Request => "req:01a2…(a request ID)",
        }
    }
}

impl Filter {
    /// Parses a filter; on failure, the first error in the input.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let mut parser = Parser { src: input, pos: 0 };
        let mut terms = Vec::new();
        loop {
            parser.skip_ws();
            if parser.peek().is_none() {
                return Ok(Filter { terms });
            }
            terms.push(parser.term()?);
        }
    }

    /// Whether the log passes every term.
    pub fn matches(&self, log: &LogRecord) -> bool {
        self.terms
            .iter()
            .all(|term| term.cond.matches(log) != term.negated)
    }

    /// Whether this filter has no terms (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether this filter names a patient (so callers can refuse it without PHI permission).
    /// The environment a positive `env:` term asks for, if any.
    pub fn environment(&self) -> Option<Environment> {
        self.terms.iter().find_map(|term| match term.cond {
            Cond::Env(env) if !term.negated => Some(env),
            _ => None,
        })
    }

    pub fn names_patient(&self) -> bool {
        self.terms
            .iter()
            .any(|term| matches!(term.cond, Cond::Patient(_)))
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl Cond {
    fn matches(&self, log: &LogRecord) -> bool {
        match self {
            Cond::Status(status) => log.status == *status,
            Cond::Quarantined => log.quarantined,
            Cond::DataModel(model) => log.data_model.eq_ignore_ascii_case(model),
            Cond::Event(event) => eq_ci(&log.event_type, event),
            Cond::Source(party) => party.matches(&log.source_name, log.source_id),
            Cond::Destination(party) => party.matches(&log.destination_name, log.destination_id),
            Cond::Type(log_type) => log.log_type == *log_type,
            Cond::Env(env) => log.environment == *env,
            Cond::Patient(id) => log.patient_id.as_deref() == Some(id.as_str()),
            Cond::Request(id) => log.request_id == *id,
            Cond::Text(text) => text.matches(log),
        }
    }
}

/// Canonical form: keys and enumerated values lower case, data models as the catalog spells
/// them, other values as typed, quoted when they must be. `Filter::parse` gives it back.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            if term.negated {
                f.write_char('-')?;
            }
            match &term.cond {
                Cond::Status(status) => write_keyword(f, "status", status.as_str()),
                Cond::Quarantined => f.write_str("status:quarantined"),
                Cond::DataModel(model) => write_keyed(f, "dm", model),
                Cond::Event(event) => write_keyed(f, "event", event),
                Cond::Source(party) => write_keyed(f, "src", &party.name),
                Cond::Destination(party) => write_keyed(f, "dst", &party.name),
                Cond::Type(log_type) => write_keyword(f, "type", log_type.as_str()),
                Cond::Env(env) => write_keyword(f, "env", env.as_str()),
                Cond::Patient(id) => write_keyed(f, "mrn", id),
                Cond::Request(id) => write!(f, "req:{id}"),
                Cond::Text(text) => {
                    let t = text.text.as_str();
                    if t.starts_with('-') || t.contains(':') || needs_quotes(t) {
                        write_quoted(f, t)
                    } else {
                        f.write_str(t)
                    }
                }
            }?;
        }
        Ok(())
    }
}

fn write_keyword(f: &mut fmt::Formatter<'_>, key: &str, value: &str) -> fmt::Result {
    write!(f, "{key}:")?;
    value
        .chars()
        .try_for_each(|c| f.write_char(c.to_ascii_lowercase()))
}

fn write_keyed(f: &mut fmt::Formatter<'_>, key: &str, value: &str) -> fmt::Result {
    write!(f, "{key}:")?;
    if needs_quotes(value) {
        write_quoted(f, value)
    } else {
        f.write_str(value)
    }
}

fn needs_quotes(value: &str) -> bool {
    value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"')
}

fn write_quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn scan_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.src[start..self.pos]
    }

    fn skip_ws(&mut self) {
        self.scan_while(char::is_whitespace);
    }

    fn skip_word(&mut self) {
        self.scan_while(|c| !c.is_whitespace());
    }

    /// An error covering the term from `start` to where the parser stands.
    fn error(&self, start: usize, message: String) -> FilterError {
        FilterError {
            start,
            end: self.pos,
            message,
        }
    }

    fn term(&mut self) -> Result<Term, FilterError> {
        let start = self.pos;
        let negated = self.peek() == Some('-');
        if negated {
            self.bump();
        }
        if self.peek() == Some('"') {
            let text = self.quoted(start)?;
            if text.is_empty() {
                return Err(self.error(
                    start,
                    "empty quotes: put the text to search for between them, or remove them".into(),
                ));
            }
            let cond = Cond::Text(Text::new(text.into_owned()));
            return Ok(Term { negated, cond });
        }
        let word = self.scan_while(|c| !c.is_whitespace() && c != ':' && c != '"');
        match self.peek() {
            Some(':') => {
                self.bump();
                let cond = self.keyed(start, word)?;
                Ok(Term { negated, cond })
            }
            Some('"') => {
                self.skip_word();
                Err(self.error(start, quote_inside_word()))
            }
            _ if word.is_empty() => Err(self.error(
                start,
                "\"-\" must be followed by a term to exclude, e.g. -status:succeeded".into(),
            )),
            _ => {
                let cond = Cond::Text(Text::new(word.to_owned()));
                Ok(Term { negated, cond })
            }
        }
    }

    /// The value after `word:`, turned into a condition.
    fn keyed(&mut self, start: usize, word: &str) -> Result<Cond, FilterError> {
        let Some(key) = Key::lookup(word) else {
            // Cover the whole term, value included, whatever state it is in.
            let _ = self.value(start);
            let message = if word.is_empty() {
                "missing key before \":\": use status, dm, event, src, dst, type, env, mrn, req"
                    .to_owned()
            } else {
                format!(
                    "unknown key \"{word}\": use status, dm, event, src, dst, type, env, mrn, req \
                     (or quote the term to search for it as text)"
                )
            };
            return Err(self.error(start, message));
        };
        let value = self.value(start)?;
        if value.is_empty() {
            return Err(self.error(
                start,
                format!(
                    "empty value for {}: write e.g. {}",
                    word.to_ascii_lowercase(),
                    key.example()
                ),
            ));
        }
        let cond = match key {
            Key::Status if value.eq_ignore_ascii_case("quarantined") => Cond::Quarantined,
            Key::Status => Cond::Status(value.parse().map_err(|_| {
                self.error(
                    start,
                    format!(
                        "status \"{value}\" is not one of PENDING, SUCCEEDED, FAILED, FILTERED, \
                         quarantined"
                    ),
                )
            })?),
            Key::DataModel => {
                Cond::DataModel(data_model(&value).map_err(|m| self.error(start, m))?)
            }
            Key::Event => Cond::Event(value.into_owned()),
            Key::Source => Cond::Source(Party::new(value.into_owned())),
            Key::Destination => Cond::Destination(Party::new(value.into_owned())),
            Key::Type => Cond::Type(value.parse().map_err(|_| {
                self.error(
                    start,
                    format!("type \"{value}\" is not one of SEND, RECEIVE, REQUEST, RESPOND"),
                )
            })?),
            Key::Env => Cond::Env(value.parse().map_err(|_| {
                self.error(
                    start,
                    format!(
                        "env \"{value}\" is not one of development, staging, production \
                         (or dev, prod)"
                    ),
                )
            })?),
            Key::Patient => Cond::Patient(value.into_owned()),
            Key::Request => Cond::Request(Uuid::parse_str(&value).map_err(|_| {
                self.error(
                    start,
                    format!("req \"{value}\" is not a request ID (a UUID)"),
                )
            })?),
        };
        Ok(cond)
    }

    /// A quoted or bare value; empty when nothing follows the colon.
    fn value(&mut self, start: usize) -> Result<Cow<'a, str>, FilterError> {
        if self.peek() == Some('"') {
            return self.quoted(start);
        }
        let value = self.scan_while(|c| !c.is_whitespace());
        if value.contains('"') {
            return Err(self.error(start, quote_inside_word()));
        }
        Ok(Cow::Borrowed(value))
    }

    /// A quoted string from the opening quote, unescaped; borrowed when it holds no escape.
    /// It must be followed by white space or the end of the input.
    fn quoted(&mut self, start: usize) -> Result<Cow<'a, str>, FilterError> {
        self.bump();
        let mut owned: Option<String> = None;
        let mut run = self.pos;
        let text = loop {
            let at = self.pos;
            match self.bump() {
                None => {
                    return Err(self.error(
                        start,
                        "unterminated quote: close it with \" (write \\\" for a quote inside)"
                            .into(),
                    ));
                }
                Some('"') => {
                    let tail = &self.src[run..at];
                    break match owned {
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                        None => Cow::Borrowed(tail),
                    };
                }
                Some('\\') if matches!(self.peek(), Some('"' | '\\')) => {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&self.src[run..at]);
                    // The escaped character starts the next literal run.
                    run = self.pos;
                    self.bump();
                }
                Some(_) => {}
            }
        };
        if self.peek().is_some_and(|c| !c.is_whitespace()) {
            self.skip_word();
            return Err(self.error(
                start,
                "expected a space after the closing quote: put the whole value in quotes".into(),
            ));
        }
        Ok(text)
    }
}

fn quote_inside_word() -> String {
    "a quote can only open a value: write key:\"a b\" or \"a b\" (and \\\" inside quotes)".into()
}

/// Resolves a data model by its name with case, spaces and punctuation ignored.
fn data_model(value: &str) -> Result<&'static str, String> {
    if let Some(model) = catalog::data_model_loose(value) {
        return Ok(model);
    }
    Err(match catalog::closest(value, catalog::data_models()) {
        Some(model) => format!("data model \"{value}\" is not known: did you mean \"{model}\"?"),
        None => format!(
            "data model \"{value}\" is not known: use one of {}",
            catalog::data_models().collect::<Vec<_>>().join(", ")
        ),
    })
}

/// Case-insensitive equality; no allocation.
fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Whether `haystack` contains `needle` (already lower case), ignoring case. Allocates only
/// when either side is not ASCII.
fn contains_ci(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(needle)
    }
}

#[cfg(test)]
mod tests;
