//! The composer's one call per keystroke: variables and validation together, and
//! whether the text may be sent.
//!
//! ```
//! use switchboard::model::compose::{check, NotReady};
//! use switchboard::model::variables::Variables;
//! let vars = Variables::from([("mrn".to_string(), "0000000001".to_string())]);
//! let text = r#"{"Meta": {"DataModel": "PatientSearch", "EventType": "Query",
//!   "Destinations": []}, "Patient": {"Identifiers": [{"ID": "{{mrn}}", "IDType": "MR"}]}}"#;
//! let draft = check(text, &vars);
//! assert!(draft.validation.is_clean());
//! assert!(draft.ready_to_send().unwrap().contains("0000000001"));
//! assert!(matches!(check(text, &Variables::new()).ready_to_send(), Err(NotReady::Undefined(_))));
//! ```
//!
//! The text is validated **after** substitution when every variable is defined (so a
//! value that breaks the schema shows), else as typed (`"{{x}}"` is still a string);
//! either way the lines of the issues are the lines of the text as typed (see
//! `model::variables` on why substitution keeps lines).

use crate::model::catalog::EventInfo;
use crate::model::schema::{SyntaxError, Validation, validate, validate_as};
use crate::model::variables::{UndefinedVariable, Variables, substitute};

/// What the composer shows under the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub validation: Validation,
    /// Variables the environment's profile does not define; sending is refused until
    /// they are defined or replaced.
    pub undefined: Vec<UndefinedVariable>,
    /// The text with variables substituted, when all are defined.
    pub filled: Option<String>,
}

/// Why a draft cannot be sent. Schema issues are not here: they are warnings the user
/// may override.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("line {}, column {}: {}", .0.line, .0.column, .0.message)]
    Syntax(SyntaxError),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Undefined(Vec<UndefinedVariable>),
}

impl Draft {
    /// The text to send, or why there is none.
    pub fn ready_to_send(&self) -> Result<&str, NotReady> {
        if let Some(syntax) = &self.validation.syntax_error {
            return Err(NotReady::Syntax(syntax.clone()));
        }
        match &self.filled {
            Some(text) => Ok(text),
            None => Err(NotReady::Undefined(self.undefined.clone())),
        }
    }
}

/// Substitutes `vars` into `text` and validates the result against the event its
/// `Meta` names.
pub fn check(text: &str, vars: &Variables) -> Draft {
    check_by(text, vars, validate)
}

/// As [`check`], against `event`'s schema whatever the text's `Meta` says (the
/// composer knows what it is composing).
pub fn check_as(event: &'static EventInfo, text: &str, vars: &Variables) -> Draft {
    check_by(text, vars, |t| validate_as(event, t))
}

/// As [`check_as`], for a FHIR request: a search form's lines, or a message's JSON and
/// its shape (see `model::fhir::check`).
pub fn check_fhir(kind: crate::model::fhir::FhirKind, text: &str, vars: &Variables) -> Draft {
    check_by(text, vars, |t| crate::model::fhir::check(kind, t))
}

fn check_by(text: &str, vars: &Variables, validate: impl Fn(&str) -> Validation) -> Draft {
    match substitute(text, vars) {
        Ok(filled) => Draft {
            validation: validate(&filled),
            undefined: Vec::new(),
            filled: Some(filled),
        },
        Err(undefined) => Draft {
            validation: validate(text),
            undefined,
            filled: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_breaks_the_json_is_a_syntax_error_at_the_typed_line() {
        let text = "{\n\"Meta\": {\"DataModel\": \"Notes\", \"EventType\": \"Query\"},\n\"Limit\": {{n}}\n}";
        let vars = Variables::from([("n".to_string(), "ten".to_string())]);
        let draft = check(text, &vars);
        let err = draft.ready_to_send().unwrap_err();
        assert!(
            matches!(err, NotReady::Syntax(SyntaxError { line: 3, .. })),
            "{err}"
        );
        // Undefined: checked as typed, where `{{n}}` outside a string is not JSON either.
        let draft = check(text, &Variables::new());
        assert_eq!(draft.undefined.len(), 1);
        assert!(matches!(draft.ready_to_send(), Err(NotReady::Syntax(_))));
        let ok = check(
            text,
            &Variables::from([("n".to_string(), "10".to_string())]),
        );
        assert!(ok.ready_to_send().is_ok());
    }

    #[test]
    fn schema_issues_do_not_block_sending() {
        let text = "{\"Meta\": {\"DataModel\": \"PatientAdmin\", \"EventType\": \"Arrival\"}}";
        let draft = check(text, &Variables::new());
        assert!(!draft.validation.is_clean());
        assert_eq!(draft.ready_to_send(), Ok(text));
        let undefined = check("{\"a\": \"{{who}}\"}", &Variables::new());
        let err = undefined.ready_to_send().unwrap_err().to_string();
        assert!(err.contains("{{who}}") && err.contains("line 1"), "{err}");
    }
}
