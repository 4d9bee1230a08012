//! The bottom line: a one-line text editor shared by the `/` filter line and the `:`
//! command line, and the commands the command line understands.

use crate::model::Environment;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// The text or the cursor changed.
    Edited,
    /// Enter.
    Submit,
    /// Esc (or ctrl-c).
    Cancel,
    /// A key the line does not use.
    Ignored,
}

/// Text being typed; `cursor` is a byte offset on a char boundary. Every prompt (`/`,
/// `:`, the save name, the Production guard, the picker) edits through this one type, so
/// the usual keys work the same everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
    pub cursor: usize,
    /// The whole text is selected: a pre-filled value the user may keep (enter),
    /// replace (type) or clear (backspace, ctrl-u); any movement keeps it instead.
    pub selected: bool,
}

impl LineInput {
    /// A line holding `text`, the cursor at its end.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        LineInput {
            cursor: text.len(),
            text,
            selected: false,
        }
    }

    /// A pre-filled line: `text` selected, so typing replaces it.
    pub fn prefilled(text: impl Into<String>) -> Self {
        let mut line = LineInput::new(text);
        line.selected = !line.text.is_empty();
        line
    }

    /// Replaces the text (history recall, completion), the cursor at its end.
    pub fn set(&mut self, text: impl Into<String>) {
        *self = LineInput::new(text);
    }

    pub fn handle(&mut self, key: KeyEvent) -> LineOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Enter => return LineOutcome::Submit,
            KeyCode::Esc => return LineOutcome::Cancel,
            KeyCode::Char('c') if ctrl => return LineOutcome::Cancel,
            _ => {}
        }
        if self.selected {
            return self.handle_selected(key.code, ctrl, alt);
        }
        match key.code {
            KeyCode::Char('u') if ctrl => self.delete(0..self.cursor),
            KeyCode::Char('k') if ctrl => self.delete(self.cursor..self.text.len()),
            KeyCode::Char('w') if ctrl => self.delete(self.word_start()..self.cursor),
            KeyCode::Backspace if ctrl || alt => self.delete(self.word_start()..self.cursor),
            KeyCode::Char('a') if ctrl => self.move_to(0),
            KeyCode::Char('e') if ctrl => self.move_to(self.text.len()),
            KeyCode::Char('b') if ctrl => self.move_to(self.prev_boundary().unwrap_or(0)),
            KeyCode::Char('f') if ctrl => {
                self.move_to(self.next_boundary().unwrap_or(self.text.len()))
            }
            KeyCode::Char(_) if ctrl || alt => LineOutcome::Ignored,
            KeyCode::Char(c) => {
                self.text.insert(self.cursor, c);
                self.cursor += c.len_utf8();
                LineOutcome::Edited
            }
            KeyCode::Backspace => match self.prev_boundary() {
                Some(prev) => self.delete(prev..self.cursor),
                None => LineOutcome::Ignored,
            },
            KeyCode::Delete => match self.next_boundary() {
                Some(next) => self.delete(self.cursor..next),
                None => LineOutcome::Ignored,
            },
            KeyCode::Left => match self.prev_boundary() {
                Some(prev) => self.move_to(prev),
                None => LineOutcome::Ignored,
            },
            KeyCode::Right => match self.next_boundary() {
                Some(next) => self.move_to(next),
                None => LineOutcome::Ignored,
            },
            KeyCode::Home => self.move_to(0),
            KeyCode::End => self.move_to(self.text.len()),
            _ => LineOutcome::Ignored,
        }
    }

    /// With the whole text selected: a character replaces it, a deleting key clears it,
    /// a movement key drops the selection (left and home to the start).
    fn handle_selected(&mut self, code: KeyCode, ctrl: bool, alt: bool) -> LineOutcome {
        match code {
            KeyCode::Char('u' | 'k' | 'w') if ctrl => self.delete(0..self.text.len()),
            KeyCode::Backspace | KeyCode::Delete => self.delete(0..self.text.len()),
            KeyCode::Char('a' | 'b') if ctrl => self.move_to(0),
            KeyCode::Char('e' | 'f') if ctrl => self.move_to(self.text.len()),
            KeyCode::Left | KeyCode::Home => self.move_to(0),
            KeyCode::Right | KeyCode::End => self.move_to(self.text.len()),
            KeyCode::Char(_) if ctrl || alt => LineOutcome::Ignored,
            KeyCode::Char(c) => {
                self.set(c.to_string());
                LineOutcome::Edited
            }
            _ => LineOutcome::Ignored,
        }
    }

    fn delete(&mut self, range: std::ops::Range<usize>) -> LineOutcome {
        self.selected = false;
        if range.is_empty() {
            return LineOutcome::Ignored;
        }
        self.cursor = range.start;
        self.text.replace_range(range, "");
        LineOutcome::Edited
    }

    fn move_to(&mut self, at: usize) -> LineOutcome {
        self.selected = false;
        self.cursor = at;
        LineOutcome::Edited
    }

    /// Where `ctrl-w` deletes back to: the spaces before the cursor, then the word.
    fn word_start(&self) -> usize {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8())
    }

    fn prev_boundary(&self) -> Option<usize> {
        self.text[..self.cursor]
            .char_indices()
            .next_back()
            .map(|(i, _)| i)
    }

    fn next_boundary(&self) -> Option<usize> {
        self.text[self.cursor..]
            .chars()
            .next()
            .map(|c| self.cursor + c.len_utf8())
    }
}

/// A `:` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Env(Environment),
    /// The filter's text, parsed when applied (empty clears the filter).
    Filter(String),
    Theme(String),
    /// A destination by name or id.
    Pause(String),
    Resume(String),
    /// `compose` alone opens the event list; `compose PatientSearch Query` goes straight
    /// to that event (checked against the catalog, with a "did you mean").
    Compose(Option<&'static crate::model::catalog::EventInfo>),
    /// `compose FHIR` alone opens the request list narrowed to FHIR; `compose FHIR
    /// Patient search` (or `FHIR.Patient search`, `FHIR Patient`) and `compose FHIR
    /// Observation-New` go straight to that request.
    ComposeFhir(Option<crate::model::fhir::FhirKind>),
    /// An API key to revoke (admin role; asks first).
    RevokeKey(String),
    /// An admin token name to revoke (admin role; asks first).
    RevokeToken(String),
    /// The Developer view's tabs.
    Keys,
    Endpoints,
    /// A JWKS file to register for the source selected in the Keys view.
    Jwks(String),
    /// Re-read the engine's configuration file (admin role).
    Reload,
    /// `mouse on` / `mouse off`: clicks and the wheel, or the terminal's own selection.
    Mouse(bool),
    Quit,
}

const USAGE: &str = "commands: env NAME, filter EXPR, theme NAME, pause DEST, resume DEST, compose [MODEL EVENT], compose FHIR [RESOURCE search|MESSAGE], revoke-key KEY, revoke-token NAME, keys, endpoints, jwks PATH, reload, mouse on|off, quit";

/// `compose FHIR …` (or `compose FHIR.Patient search`); `None` when the words name no
/// FHIR request, for the catalog to parse.
fn compose_fhir(words: &[&str]) -> Option<Result<Command, String>> {
    let first = words.first()?;
    let rest: Vec<&str> = if first.eq_ignore_ascii_case("fhir") {
        words[1..].to_vec()
    } else if first.len() > 5
        && first.is_char_boundary(5)
        && first[..5].eq_ignore_ascii_case("fhir.")
    {
        std::iter::once(&first[5..])
            .chain(words[1..].iter().copied())
            .collect()
    } else {
        return None;
    };
    if rest.is_empty() {
        return Some(Ok(Command::ComposeFhir(None)));
    }
    Some(crate::model::fhir::FhirKind::parse_words(&rest).map(|k| Command::ComposeFhir(Some(k))))
}

impl Command {
    /// Parses a command line; the error says what was wrong and what to type instead.
    pub fn parse(line: &str) -> Result<Command, String> {
        let line = line.trim();
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (line, ""),
        };
        let needs = |what: &str, usage: &str| {
            if rest.is_empty() {
                Err(format!("{word} needs {what}: {usage}"))
            } else {
                Ok(rest.to_string())
            }
        };
        match word.to_ascii_lowercase().as_str() {
            "env" => {
                let name = needs("an environment", "env development|staging|production")?;
                name.parse().map(Command::Env).map_err(|e| format!("{e}"))
            }
            "filter" => Ok(Command::Filter(rest.to_string())),
            "theme" => needs("a theme name", "theme dark").map(Command::Theme),
            "pause" => needs("a destination", "pause \"Sandbox EHR\"").map(Command::Pause),
            "resume" => needs("a destination", "resume \"Sandbox EHR\"").map(Command::Resume),
            "compose" | "c" if rest.is_empty() => Ok(Command::Compose(None)),
            "compose" | "c" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let Some(fhir) = compose_fhir(&words) {
                    return fhir;
                }
                let [model, event] = words.as_slice() else {
                    return Err(
                        "compose takes a data model and an event: compose PatientSearch Query"
                            .into(),
                    );
                };
                let model = crate::model::catalog::data_model_loose(model).unwrap_or(model);
                crate::model::catalog::lookup(model, event)
                    .map(|e| Command::Compose(Some(e)))
                    .map_err(|e| e.to_string())
            }
            "revoke-key" => needs("an API key", "revoke-key 0b8f…-…").map(Command::RevokeKey),
            "revoke-token" => {
                needs("an admin token's name", "revoke-token ops").map(Command::RevokeToken)
            }
            "keys" => Ok(Command::Keys),
            "endpoints" => Ok(Command::Endpoints),
            "jwks" => needs("a JWKS file's path", "jwks ~/keys/jwks.json").map(Command::Jwks),
            "reload" if rest.is_empty() => Ok(Command::Reload),
            "reload" => Err("reload takes nothing after it".into()),
            "mouse" => match rest.to_ascii_lowercase().as_str() {
                "on" => Ok(Command::Mouse(true)),
                "off" => Ok(Command::Mouse(false)),
                _ => Err("mouse takes on or off: mouse off lets the terminal select text".into()),
            },
            "quit" | "q" if rest.is_empty() => Ok(Command::Quit),
            "quit" | "q" => Err("quit takes nothing after it".into()),
            "" => Err(USAGE.into()),
            _ => Err(format!("unknown command \"{word}\"; {USAGE}")),
        }
        .map(|c: Command| c.unquote())
    }

    /// Destination names may be quoted like filter values: `pause "Sandbox EHR"`.
    fn unquote(self) -> Command {
        let strip = |s: String| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => inner.to_string(),
            None => s,
        };
        match self {
            Command::Pause(d) => Command::Pause(strip(d)),
            Command::Resume(d) => Command::Resume(strip(d)),
            Command::RevokeToken(n) => Command::RevokeToken(strip(n)),
            other => other,
        }
    }
}

impl std::str::FromStr for Command {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Command::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(text: &str) -> LineInput {
        let mut line = LineInput::default();
        for c in text.chars() {
            line.handle(key(KeyCode::Char(c)));
        }
        line
    }

    #[test]
    fn edits_at_the_cursor_on_char_boundaries() {
        let mut line = typed("dé");
        assert_eq!(line.cursor, 3);
        line.handle(key(KeyCode::Left));
        assert_eq!(line.cursor, 1);
        line.handle(key(KeyCode::Char('x')));
        assert_eq!(line.text, "dxé");
        line.handle(key(KeyCode::Delete));
        assert_eq!(line.text, "dx");
        line.handle(key(KeyCode::Backspace));
        line.handle(key(KeyCode::Backspace));
        assert_eq!(line.handle(key(KeyCode::Backspace)), LineOutcome::Ignored);
        assert_eq!(line, LineInput::default());
        assert_eq!(line.handle(key(KeyCode::Enter)), LineOutcome::Submit);
        assert_eq!(line.handle(key(KeyCode::Esc)), LineOutcome::Cancel);
    }

    #[test]
    fn ctrl_u_clears_before_the_cursor() {
        let mut line = typed("status:failed");
        line.handle(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(line, LineInput::default());
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn the_usual_line_keys_delete_and_move() {
        let mut line = typed("env  staging now");
        assert_eq!(line.handle(ctrl('w')), LineOutcome::Edited);
        assert_eq!(line.text, "env  staging ");
        line.handle(ctrl('w'));
        assert_eq!(line.text, "env  ");
        line.handle(ctrl('a'));
        assert_eq!(line.cursor, 0);
        line.handle(key(KeyCode::Right));
        line.handle(ctrl('k'));
        assert_eq!(line.text, "e");
        line.handle(ctrl('e'));
        typed_into(&mut line, "xit");
        line.handle(key(KeyCode::Home));
        line.handle(key(KeyCode::Delete));
        assert_eq!(line.text, "xit");
        line.handle(key(KeyCode::End));
        line.handle(key(KeyCode::Left));
        line.handle(ctrl('u'));
        assert_eq!((line.text.as_str(), line.cursor), ("t", 0));
    }

    fn typed_into(line: &mut LineInput, text: &str) {
        for c in text.chars() {
            line.handle(key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn a_prefilled_value_is_selected_so_typing_replaces_it() {
        let mut line = LineInput::prefilled("patientsearch-query");
        assert!(line.selected);
        typed_into(&mut line, "by-mrn");
        assert_eq!(line.text, "by-mrn");

        // ctrl-u (or backspace) clears the whole selected value.
        let mut line = LineInput::prefilled("patientsearch-query");
        assert_eq!(line.handle(ctrl('u')), LineOutcome::Edited);
        assert_eq!(line, LineInput::default());
        let mut line = LineInput::prefilled("abc");
        line.handle(key(KeyCode::Backspace));
        assert_eq!(line.text, "");

        // A movement key keeps the value and drops the selection.
        let mut line = LineInput::prefilled("patientsearch-query");
        line.handle(key(KeyCode::End));
        assert!(!line.selected);
        typed_into(&mut line, "-2");
        assert_eq!(line.text, "patientsearch-query-2");
        let mut line = LineInput::prefilled("query");
        line.handle(key(KeyCode::Left));
        typed_into(&mut line, "a-");
        assert_eq!(line.text, "a-query");
        // Enter keeps it as it is.
        let mut line = LineInput::prefilled("query");
        assert_eq!(line.handle(key(KeyCode::Enter)), LineOutcome::Submit);
        assert_eq!(line.text, "query");
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(
            Command::parse("env production"),
            Ok(Command::Env(Environment::Production))
        );
        assert_eq!(
            Command::parse("  ENV dev "),
            Ok(Command::Env(Environment::Development))
        );
        assert_eq!(
            Command::parse("filter status:failed dm:PatientAdmin"),
            Ok(Command::Filter("status:failed dm:PatientAdmin".into()))
        );
        assert_eq!(Command::parse("filter"), Ok(Command::Filter(String::new())));
        assert_eq!(
            Command::parse("theme mono"),
            Ok(Command::Theme("mono".into()))
        );
        assert_eq!(
            Command::parse("pause \"Sandbox EHR\""),
            Ok(Command::Pause("Sandbox EHR".into()))
        );
        assert_eq!(
            Command::parse("resume Billing"),
            Ok(Command::Resume("Billing".into()))
        );
        assert_eq!(
            Command::parse("revoke-key 6c1e2f0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f"),
            Ok(Command::RevokeKey(
                "6c1e2f0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f".into()
            ))
        );
        assert_eq!(
            Command::parse("revoke-token \"ops team\""),
            Ok(Command::RevokeToken("ops team".into()))
        );
        assert!(
            Command::parse("revoke-key")
                .unwrap_err()
                .contains("API key")
        );
        assert_eq!(Command::parse("quit"), Ok(Command::Quit));
        assert_eq!(Command::parse("mouse off"), Ok(Command::Mouse(false)));
        assert_eq!(Command::parse("mouse ON"), Ok(Command::Mouse(true)));
        assert!(Command::parse("mouse").is_err());
        assert_eq!(Command::parse("q"), Ok(Command::Quit));
    }

    #[test]
    fn errors_say_what_to_type() {
        let unknown = Command::parse("restart now").unwrap_err();
        assert!(unknown.contains("unknown command \"restart\""), "{unknown}");
        assert!(unknown.contains("env NAME"), "{unknown}");
        assert!(Command::parse("env qa").unwrap_err().contains("qa"));
        assert!(Command::parse("env").unwrap_err().contains("env needs"));
        assert!(Command::parse("pause").unwrap_err().contains("destination"));
        assert!(Command::parse("theme").is_err());
        let event = crate::model::catalog::lookup("PatientSearch", "Query").ok();
        assert_eq!(
            Command::parse("compose PatientSearch Query"),
            Ok(Command::Compose(event))
        );
        assert_eq!(
            Command::parse("compose patientsearch Query"),
            Ok(Command::Compose(event))
        );
        assert_eq!(Command::parse("compose"), Ok(Command::Compose(None)));
        let err = Command::parse("compose PatientSearch Qurey").unwrap_err();
        assert!(err.contains("Query"), "{err}");
        assert!(Command::parse("compose PatientSearch").is_err());
        assert!(Command::parse("").is_err());
        assert!(Command::parse("quit now").is_err());
    }

    #[test]
    fn compose_fhir_names_a_search_or_a_message() {
        use crate::model::fhir::{FhirKind, MESSAGES};
        let search = Ok(Command::ComposeFhir(Some(FhirKind::Search("Patient"))));
        assert_eq!(Command::parse("compose FHIR Patient search"), search);
        assert_eq!(Command::parse("compose fhir patient"), search);
        assert_eq!(Command::parse("c FHIR.Patient search"), search);
        assert_eq!(
            Command::parse("compose FHIR Observation-New"),
            Ok(Command::ComposeFhir(Some(FhirKind::Message(&MESSAGES[0]))))
        );
        assert_eq!(
            Command::parse("compose FHIR"),
            Ok(Command::ComposeFhir(None))
        );
        let err = Command::parse("compose FHIR Patent search").unwrap_err();
        assert!(err.contains("did you mean Patient"), "{err}");
        let err = Command::parse("compose FHIR Patient delete").unwrap_err();
        assert!(err.contains("compose FHIR Patient search"), "{err}");
        // Data-model events still parse as before.
        assert!(matches!(
            Command::parse("compose PatientSearch Query"),
            Ok(Command::Compose(Some(_)))
        ));
    }
}
