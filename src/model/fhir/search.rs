//! The composer's FHIR search form: one `name=value` parameter per line (`#` starts a
//! comment line), sent as a form body so no patient value is ever in a URL.
//!
//! ```
//! use switchboard::model::fhir::search;
//! let text = "# Patient search\nidentifier=0000000001\n";
//! let params = search::parse(text).unwrap();
//! assert_eq!(search::form_body(&params), "identifier=0000000001");
//! assert!(search::check("Patient", text).is_clean());
//! ```

use crate::model::schema::{SchemaIssue, SyntaxError, Validation};
use crate::model::template::Samples;

/// One `name=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// As typed, modifier included (`name:exact`).
    pub name: String,
    pub value: String,
    /// 1-based line of the form.
    pub line: usize,
}

/// The search parameters the FHIR API takes for `resource` (besides `_count`).
pub fn parameters(resource: &str) -> &'static [&'static str] {
    match resource {
        "Patient" => &[
            "_id",
            "identifier",
            "family",
            "given",
            "birthdate",
            "gender",
        ],
        "Observation" => &["patient", "category", "code", "date"],
        "Practitioner" | "Location" => &["_id", "identifier", "name"],
        "Encounter" | "Immunization" | "DocumentReference" | "Appointment" => &["patient", "date"],
        _ => &["patient"],
    }
}

/// The parameters of `text`, or the first line that is not `name=value`.
pub fn parse(text: &str) -> Result<Vec<Param>, SyntaxError> {
    let mut params = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |column: usize, message: &str| SyntaxError {
            message: message.to_string(),
            line: i + 1,
            column,
        };
        let Some((name, value)) = line.split_once('=') else {
            return Err(error(
                1,
                "expected name=value (one parameter per line, # for a comment)",
            ));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(error(1, "a parameter name is one word before the ="));
        }
        params.push(Param {
            name: name.to_string(),
            value: value.trim().to_string(),
            line: i + 1,
        });
    }
    Ok(params)
}

/// The form's checks as the composer shows them: a line that is not `name=value` is a
/// syntax error (not sent); a parameter the API does not take for `resource`, an empty
/// value, or a Patient search the API would refuse are warnings (`ctrl-s` twice sends
/// anyway, to see the server's own answer).
pub fn check(resource: &str, text: &str) -> Validation {
    let params = match parse(text) {
        Ok(params) => params,
        Err(e) => {
            return Validation {
                syntax_error: Some(e),
                ..Validation::default()
            };
        }
    };
    let known = parameters(resource);
    let mut issues = Vec::new();
    let issue = |p: &Param, message: String| SchemaIssue {
        json_path: format!("/{}", p.name),
        path: p.name.clone(),
        line: p.line,
        message,
    };
    for p in &params {
        let base = p.name.split(':').next().unwrap_or_default();
        if base != "_count" && !known.contains(&base) {
            issues.push(issue(
                p,
                format!(
                    "{resource} is not searched by {base} (the API answers 400): use {}, _count",
                    known.join(", ")
                ),
            ));
        } else if p.value.is_empty() {
            issues.push(issue(p, "empty value".to_string()));
        }
    }
    let has = |n: &str| params.iter().any(|p| p.name.split(':').next() == Some(n));
    let names_one =
        has("_id") || has("identifier") || (has("given") && has("family") && has("birthdate"));
    if resource == "Patient" && !names_one {
        issues.push(SchemaIssue {
            json_path: String::new(),
            path: "(form)".into(),
            line: params.first().map_or(1, |p| p.line),
            message: "a Patient search needs _id, identifier, or given + family + birthdate".into(),
        });
    }
    Validation {
        syntax_error: None,
        schema_issues: issues,
        event: None,
    }
}

/// The body of `POST {Resource}/_search`: `application/x-www-form-urlencoded`.
pub fn form_body(params: &[Param]) -> String {
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    // Encoding string pairs cannot fail.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The form a new search starts with: a comment naming what it takes, then values that
/// find the environment's test patient (Development: the sandbox's).
pub fn form_text(resource: &str, samples: &Samples) -> String {
    let lines: Vec<(&str, &str)> = match resource {
        "Patient" => vec![("identifier", samples.mrn.as_str())],
        "Practitioner" => vec![("identifier", samples.provider_npi.as_str())],
        "Location" => vec![("name", samples.facility_name.as_str())],
        _ => vec![("patient", samples.fhir_patient_id.as_str())],
    };
    // Short first line: the editor is narrow at 80 columns.
    let mut text = format!(
        "# one name=value per line\n# {resource}: {}, _count\n",
        parameters(resource).join(", ")
    );
    for (name, value) in lines {
        text.push_str(&format!("{name}={value}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_form_body() {
        let text = "# comment\n\n given = Abigail \nfamily=O'Brien & Co\nbirthdate=ge1970-01-01\n";
        let params = parse(text).expect("parses");
        assert_eq!(params.len(), 3);
        assert_eq!(params[0].line, 3);
        assert_eq!(
            form_body(&params),
            "given=Abigail&family=O%27Brien+%26+Co&birthdate=ge1970-01-01"
        );
        assert!(check("Patient", text).is_clean());
    }

    #[test]
    fn a_line_without_equals_is_a_syntax_error_at_its_line() {
        let v = check("Patient", "identifier=1\nfamily Baker\n");
        let e = v.syntax_error.expect("syntax error");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("name=value"), "{}", e.message);
        assert!(parse("=x").is_err());
    }

    #[test]
    fn unknown_parameters_and_thin_patient_searches_are_warnings() {
        let v = check("Encounter", "patient=1\nfamily=Baker\n");
        assert_eq!(v.schema_issues.len(), 1);
        assert_eq!(v.schema_issues[0].line, 2);
        assert!(
            v.schema_issues[0]
                .message
                .contains("not searched by family")
        );
        let v = check("Patient", "family=Baker\n_count=5\n");
        assert_eq!(v.schema_issues.len(), 1, "{:?}", v.schema_issues);
        assert!(v.schema_issues[0].message.contains("needs _id"));
        assert!(check("Patient", "name:exact=x\n").schema_issues.len() == 2);
    }

    #[test]
    fn new_forms_find_the_test_patient() {
        let samples = Samples {
            mrn: "0000000001".into(),
            fhir_patient_id: "pat-1".into(),
            ..Samples::default()
        };
        let patient = form_text("Patient", &samples);
        assert!(patient.ends_with("\nidentifier=0000000001\n"), "{patient}");
        assert!(check("Patient", &patient).is_clean());
        for resource in super::super::RESOURCES {
            let text = form_text(resource, &samples);
            assert!(check(resource, &text).is_clean(), "{resource}: {text}");
        }
        let obs = parse(&form_text("Observation", &samples)).expect("parses");
        assert_eq!(
            (obs[0].name.as_str(), obs[0].value.as_str()),
            ("patient", "pat-1")
        );
    }
}
