//! `{{name}}` variables in composed requests, filled from the environment's profile
//! (`[environments.<env>.variables]` in the config; the built-in Development profile
//! names the sandbox panel's first patient).
//!
//! - Syntax: `{{name}}` or `{{ name }}`; a name is a letter or `_` followed by letters,
//!   digits, `_`, `.` or `-`. Anything else between braces is left as written.
//! - Inside a JSON string the value is escaped, so `"{{name}}"` stays a valid string
//!   whatever the value holds (quotes, backslashes, newlines). Outside a string the value
//!   goes in as written, so `"Duration": {{minutes}}` can hold a number.
//! - [`substitute`] reports every undefined variable with its line before anything is
//!   sent; nothing is substituted partly.
//!
//! Substitution keeps line numbers as long as values used outside strings hold no
//! newline (inside strings a newline becomes `\n`), so validation issues of the
//! substituted text point at the lines of the text as typed.

use std::collections::BTreeMap;

/// The variables of one environment, by name.
pub type Variables = BTreeMap<String, String>;

/// Names the generated templates use (see `model::template`), and the built-in
/// Development profile defines.
pub const MRN: &str = "mrn";
pub const FACILITY: &str = "facility";
pub const DEPARTMENT: &str = "department";
pub const PROVIDER_NPI: &str = "provider_npi";
/// Defined by the Development profile for hand-written requests; templates do not use
/// them (they fill only required fields, and demographics never are).
pub const FIRST_NAME: &str = "first_name";
pub const LAST_NAME: &str = "last_name";
pub const DOB: &str = "dob";
pub const SEX: &str = "sex";

/// A `{{name}}` with no value in the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndefinedVariable {
    pub name: String,
    /// 1-based line of the text where it is used.
    pub line: usize,
}

impl std::fmt::Display for UndefinedVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {{{{{}}}}} is not defined for this environment; add it under \
             [environments.<environment>.variables] in the config, or replace it",
            self.line, self.name
        )
    }
}

/// One use of a variable in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableUse {
    pub name: String,
    /// 1-based.
    pub line: usize,
    /// Byte range of the whole `{{…}}`.
    pub span: std::ops::Range<usize>,
    /// Inside a JSON string literal (the value will be escaped).
    pub in_string: bool,
}

/// Whether `name` may be a variable name.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Every `{{name}}` of `text`, in order.
pub fn uses(text: &str) -> Vec<VariableUse> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let (mut line, mut in_string, mut escaped) = (1usize, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'{'
            && bytes.get(i + 1) == Some(&b'{')
            && let Some((name, len)) = placeholder(&text[i..])
        {
            found.push(VariableUse {
                name: name.to_string(),
                line,
                span: i..i + len,
                in_string,
            });
            i += len;
            escaped = false;
            continue;
        }
        match b {
            b'\n' => line += 1,
            _ if escaped => {}
            b'\\' if in_string => {
                escaped = true;
                i += 1;
                continue;
            }
            b'"' => in_string = !in_string,
            _ => {}
        }
        escaped = false;
        i += 1;
    }
    found
}

/// Longest `{{ … }}` looked for, in bytes between the braces.
const MAX_PLACEHOLDER: usize = 128;

/// `{{ name }}` at the start of `text`: the name and the placeholder's length in bytes.
fn placeholder(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix("{{")?;
    // Names are short: looking further would make a text full of `{{` quadratic.
    let end = rest
        .as_bytes()
        .windows(2)
        .take(MAX_PLACEHOLDER)
        .position(|w| w == b"}}")?;
    let name = rest[..end].trim();
    is_valid_name(name).then_some((name, end + 4))
}

/// `text` with every `{{name}}` replaced by its value, escaped inside JSON strings; or
/// every variable `vars` does not define, with its line.
pub fn substitute(text: &str, vars: &Variables) -> Result<String, Vec<UndefinedVariable>> {
    let uses = uses(text);
    let undefined: Vec<UndefinedVariable> = uses
        .iter()
        .filter(|u| !vars.contains_key(&u.name))
        .map(|u| UndefinedVariable {
            name: u.name.clone(),
            line: u.line,
        })
        .collect();
    if !undefined.is_empty() {
        return Err(undefined);
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for u in &uses {
        out.push_str(&text[from..u.span.start]);
        // Checked above: every used name is defined.
        let value = vars.get(&u.name).map(String::as_str).unwrap_or_default();
        if u.in_string {
            push_escaped(&mut out, value);
        } else {
            out.push_str(value);
        }
        from = u.span.end;
    }
    out.push_str(&text[from..]);
    Ok(out)
}

/// The characters of a JSON string literal for `value`, without the quotes.
fn push_escaped(out: &mut String, value: &str) {
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    out.push_str(&quoted[1..quoted.len() - 1]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_fill_strings_and_are_escaped() {
        let text = "{\n  \"ID\": \"{{mrn}}\",\n  \"Note\": \"by {{ who }} at {{facility}}\"\n}";
        let v = vars(&[
            ("mrn", "0000000001"),
            ("who", "Pat \"Doc\" O\\Neil\nMD"),
            ("facility", "SGH"),
        ]);
        let out = substitute(text, &v).expect("all defined");
        let value: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(value["ID"], "0000000001");
        assert_eq!(value["Note"], "by Pat \"Doc\" O\\Neil\nMD at SGH");
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn outside_strings_values_go_in_as_written() {
        let out = substitute("{\"Duration\": {{minutes}}}", &vars(&[("minutes", "30")]));
        let value: Value = serde_json::from_str(&out.expect("defined")).expect("JSON");
        assert_eq!(value, json!({"Duration": 30}));
    }

    #[test]
    fn undefined_variables_are_all_reported_with_lines() {
        let text = "{\n \"a\": \"{{mrn}}\",\n \"b\": \"{{nope}}\",\n \"c\": {{also_not}}\n}";
        let err = substitute(text, &vars(&[("mrn", "1")])).unwrap_err();
        assert_eq!(
            err,
            vec![
                UndefinedVariable {
                    name: "nope".into(),
                    line: 3
                },
                UndefinedVariable {
                    name: "also_not".into(),
                    line: 4
                },
            ]
        );
        assert!(err[0].to_string().contains("{{nope}}"), "{}", err[0]);
    }

    #[test]
    fn string_state_survives_escaped_quotes() {
        // The `\"` does not end the string, so {{x}} is still inside it; the second
        // {{x}} follows a closed string.
        let text = r#"{"a": "q\"{{x}}", "b": {{x}}}"#;
        let found = uses(text);
        assert_eq!(found.len(), 2);
        assert!(found[0].in_string);
        assert!(!found[1].in_string);
        let text = r#"{"a": "\\", "b": "{{x}}"}"#;
        assert!(uses(text)[0].in_string);
    }

    #[test]
    fn not_every_brace_pair_is_a_variable() {
        let text = "{\"a\": \"{{}} {{ 9lives }} {{a b}} {{open\", \"b\": {}}";
        assert!(uses(text).is_empty());
        assert_eq!(substitute(text, &Variables::new()).as_deref(), Ok(text));
        assert!(is_valid_name("provider_npi") && is_valid_name("_x.y-z"));
        assert!(!is_valid_name("") && !is_valid_name("1a") && !is_valid_name("a b"));
        // Non-ASCII text around variables is kept intact.
        assert_eq!(
            substitute("\"é {{a}} ü\"", &vars(&[("a", "ß")])).as_deref(),
            Ok("\"é ß ü\"")
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            /// Whatever a profile value holds, a variable inside a JSON string leaves
            /// valid JSON holding exactly that value, on the same number of lines.
            #[test]
            fn any_value_in_a_string_stays_valid_json(value in "(\\PC|[\\n\\t\\x00])*", before in "[ -!#-\\[\\]-z|~]{0,5}") {
                let text = format!("{{\n  \"a\": \"{before}{{{{v}}}}\",\n  \"b\": [\"{{{{ v }}}}\"]\n}}");
                let vars = Variables::from([("v".to_string(), value.clone())]);
                let out = substitute(&text, &vars).expect("defined");
                let parsed: Value = serde_json::from_str(&out).expect("valid JSON");
                let expected = format!("{before}{value}");
                prop_assert_eq!(parsed["a"].as_str(), Some(expected.as_str()));
                prop_assert_eq!(parsed["b"][0].as_str(), Some(value.as_str()));
                prop_assert_eq!(out.lines().count(), text.lines().count());
            }
        }
    }
}
