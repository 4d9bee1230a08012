//! Search parameters: which ones each resource type takes (the table the
//! CapabilityStatement is written from, so it lists exactly what is accepted), reading
//! them from a query string or form body, and matching one against a resource's JSON.
//!
//! Matching follows FHIR R4 search: strings match case-insensitively at the start of a
//! name part (`:exact` for equality, `:contains` for a substring); tokens are `code`,
//! `system|code`, `|code` or `system|`; dates take the prefixes `eq ne gt lt ge le` and
//! any precision (`2026`, `2026-11`, `2026-11-02`, or a time with `Z` or an offset; a
//! time without one is refused, as FHIR has no naive instants). A value list with commas
//! is an OR; a repeated parameter is an AND. Anything else is a [`FhirError`] (400).

use super::FhirError;
use chrono::{DateTime, Months, NaiveDate, TimeDelta, Utc};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Token,
    String,
    Date,
    Reference,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::String => "string",
            Kind::Date => "date",
            Kind::Reference => "reference",
        }
    }
}

pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

const fn p(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param { name, kind, doc }
}

const ID: Param = p("_id", Kind::Token, "The resource id.");
const PATIENT: Param = p(
    "patient",
    Kind::Reference,
    "The patient: Patient/{id} or the bare id.",
);
const SUBJECT: Param = p(
    "subject",
    Kind::Reference,
    "The patient (Patient/{id}), as patient.",
);
const IDENTIFIER: Param = p(
    "identifier",
    Kind::Token,
    "An identifier: value or system|value.",
);
const NAME: Param = p("name", Kind::String, "Any part of the name.");

#[rustfmt::skip]
const PATIENT_PARAMS: &[Param] = &[
    ID,
    p("identifier", Kind::Token, "An identifier: value or system|value (MRNs have system urn:switchboard:sandbox:mrn)."),
    p("family", Kind::String, "Family name."),
    p("given", Kind::String, "Given (first or middle) name."),
    p("birthdate", Kind::Date, "Birth date, with a prefix eq ne gt lt ge le."),
    p("gender", Kind::Token, "male | female | other | unknown."),
];
const ENCOUNTER_PARAMS: &[Param] = &[
    ID,
    PATIENT,
    SUBJECT,
    p("date", Kind::Date, "The visit's period."),
];
#[rustfmt::skip]
const OBSERVATION_PARAMS: &[Param] = &[
    ID, PATIENT, SUBJECT,
    p("category", Kind::Token, "laboratory | vital-signs (system http://terminology.hl7.org/CodeSystem/observation-category)."),
    p("code", Kind::Token, "The LOINC code (system http://loinc.org)."),
    p("date", Kind::Date, "When the result was observed (effective)."),
];
const CONDITION_PARAMS: &[Param] = &[ID, PATIENT, SUBJECT];
const ALLERGY_PARAMS: &[Param] = &[ID, PATIENT, p("date", Kind::Date, "When recorded.")];
const MEDICATION_PARAMS: &[Param] = &[ID, PATIENT, SUBJECT];
const IMMUNIZATION_PARAMS: &[Param] = &[ID, PATIENT, p("date", Kind::Date, "When given.")];
const DOCUMENT_PARAMS: &[Param] = &[ID, PATIENT, SUBJECT, p("date", Kind::Date, "When written.")];
const APPOINTMENT_PARAMS: &[Param] = &[
    ID,
    PATIENT,
    p("date", Kind::Date, "The appointment's time."),
];
const DIRECTORY_PARAMS: &[Param] = &[ID, IDENTIFIER, NAME];

/// The search parameters of a resource type the sandbox serves.
pub fn of(kind: &str) -> &'static [Param] {
    match kind {
        "Patient" => PATIENT_PARAMS,
        "Encounter" => ENCOUNTER_PARAMS,
        "Observation" => OBSERVATION_PARAMS,
        "Condition" => CONDITION_PARAMS,
        "AllergyIntolerance" => ALLERGY_PARAMS,
        "MedicationStatement" => MEDICATION_PARAMS,
        "Immunization" => IMMUNIZATION_PARAMS,
        "DocumentReference" => DOCUMENT_PARAMS,
        "Appointment" => APPOINTMENT_PARAMS,
        "Practitioner" | "Location" => DIRECTORY_PARAMS,
        _ => &[],
    }
}

/// Result parameters every search takes (paging; `_getpagesoffset` is the name some
/// servers' next links carry, taken as `_offset`).
pub const RESULT_PARAMS: &[&str] = &["_count", "_offset", "_getpagesoffset", "_format"];
pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 500;

/// One criterion: a parameter, its modifier, its OR'ed values.
#[derive(Debug, Clone)]
pub struct Criterion {
    pub param: &'static Param,
    pub modifier: Option<String>,
    pub values: Vec<String>,
}

/// A parsed search.
#[derive(Debug, Clone)]
pub struct Search {
    pub criteria: Vec<Criterion>,
    pub count: usize,
    pub offset: usize,
    /// The criteria as received (for the self and next links).
    pub echo: Vec<(String, String)>,
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

fn number(name: &str, value: &str) -> Result<usize, FhirError> {
    value.trim().parse().map_err(|_| {
        FhirError::Invalid(format!(
            "{name}={value} is not a whole number; send e.g. {name}=20."
        ))
    })
}

fn modifier_ok(kind: Kind, modifier: &str) -> bool {
    match kind {
        Kind::String => matches!(modifier, "exact" | "contains"),
        Kind::Reference => modifier == "Patient",
        Kind::Token | Kind::Date => false,
    }
}

/// Reads the parameters of a search of `kind`.
pub fn parse(kind: &str, pairs: Vec<(String, String)>) -> Result<Search, FhirError> {
    let table = of(kind);
    let mut search = Search {
        criteria: Vec::new(),
        count: DEFAULT_COUNT,
        offset: 0,
        echo: Vec::new(),
    };
    for (key, value) in pairs {
        match key.as_str() {
            "_count" => search.count = number(&key, &value)?.min(MAX_COUNT),
            "_offset" | "_getpagesoffset" => search.offset = number(&key, &value)?,
            "_format" => format_ok(&value)?,
            _ => {
                let (name, modifier) = match key.split_once(':') {
                    Some((n, m)) => (n, Some(m.to_string())),
                    None => (key.as_str(), None),
                };
                let param = table.iter().find(|p| p.name == name).ok_or_else(|| {
                    let known: Vec<&str> = table.iter().map(|p| p.name).collect();
                    FhirError::NotSupported(format!(
                        "{kind} has no search parameter '{name}'; the sandbox takes {} and {}.",
                        known.join(", "),
                        RESULT_PARAMS.join(", ")
                    ))
                })?;
                if let Some(m) = &modifier
                    && !modifier_ok(param.kind, m)
                {
                    return Err(FhirError::NotSupported(format!(
                        "The modifier ':{m}' is not supported on {name}; {}",
                        match param.kind {
                            Kind::String => "string parameters take :exact and :contains.",
                            Kind::Reference => "reference parameters take :Patient.",
                            _ => "send the parameter without a modifier.",
                        }
                    )));
                }
                let values: Vec<String> = value
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                if values.is_empty() {
                    return Err(FhirError::Invalid(format!(
                        "{key} has no value; send e.g. {name}={}.",
                        example(param.kind)
                    )));
                }
                if param.kind == Kind::Date {
                    for v in &values {
                        date_criterion(v)?;
                    }
                }
                search.echo.push((key.clone(), value));
                search.criteria.push(Criterion {
                    param,
                    modifier,
                    values,
                });
            }
        }
    }
    Ok(search)
}

fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Token => "system|code",
        Kind::String => "Smith",
        Kind::Date => "ge2026-01-01",
        Kind::Reference => "Patient/0000000001",
    }
}

fn format_ok(value: &str) -> Result<(), FhirError> {
    match value.trim() {
        "json" | "application/json" | "application/fhir+json" | "application/fhir json" => Ok(()),
        other => Err(FhirError::NotAcceptable(format!(
            "_format={other}: the sandbox answers JSON only (json, application/fhir+json)."
        ))),
    }
}

/// A date prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

pub type Range = (DateTime<Utc>, DateTime<Utc>);

/// A date criterion value: its prefix and the range its precision covers.
pub fn date_criterion(value: &str) -> Result<(Prefix, Range), FhirError> {
    let head = value.get(..2).unwrap_or("");
    let (prefix, rest) = match head {
        "eq" => (Prefix::Eq, &value[2..]),
        "ne" => (Prefix::Ne, &value[2..]),
        "gt" => (Prefix::Gt, &value[2..]),
        "lt" => (Prefix::Lt, &value[2..]),
        "ge" => (Prefix::Ge, &value[2..]),
        "le" => (Prefix::Le, &value[2..]),
        "sa" | "eb" | "ap" => {
            return Err(FhirError::NotSupported(format!(
                "The date prefix '{head}' is not supported; use eq, ne, gt, lt, ge or le."
            )));
        }
        _ => (Prefix::Eq, value),
    };
    let range = range_of(rest, false).ok_or_else(|| {
        FhirError::Invalid(format!(
            "'{value}' is not a FHIR date: send YYYY, YYYY-MM, YYYY-MM-DD or \
             YYYY-MM-DDThh:mm:ss with Z or an offset (e.g. ge2026-01-01)."
        ))
    })?;
    Ok((prefix, range))
}

/// `YYYY-MM-DD` (a FHIR `date` of full precision).
pub fn is_date(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// The range a FHIR date, dateTime or instant covers. Dates are read as UTC days; a
/// time without an offset is refused unless `naive_utc` (a stored resource's value).
pub fn range_of(text: &str, naive_utc: bool) -> Option<Range> {
    let t = text.trim();
    let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|x| x.and_utc());
    match t.len() {
        4 => {
            let y = t.parse().ok()?;
            Some((start(day(y, 1, 1)?)?, start(day(y + 1, 1, 1)?)?))
        }
        7 => {
            let first = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").ok()?;
            Some((
                start(first)?,
                start(first.checked_add_months(Months::new(1))?)?,
            ))
        }
        10 => {
            let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
            Some((start(d)?, start(d.succ_opt()?)?))
        }
        _ => {
            let at = crate::model::time::parse_instant(t).or_else(|| {
                naive_utc
                    .then(|| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok())
                    .flatten()
                    .map(|n| n.and_utc())
            })?;
            // Instants are kept to the second or finer: a point, one millisecond wide.
            Some((at, at + TimeDelta::milliseconds(1)))
        }
    }
}

/// Whether a resource's range satisfies a date criterion (FHIR R4 search semantics).
pub fn date_matches(prefix: Prefix, wanted: Range, have: Range) -> bool {
    let eq = wanted.0 <= have.0 && have.1 <= wanted.1;
    let gt = have.1 > wanted.1;
    let lt = have.0 < wanted.0;
    match prefix {
        Prefix::Eq => eq,
        Prefix::Ne => !eq,
        Prefix::Gt => gt,
        Prefix::Lt => lt,
        Prefix::Ge => gt || eq,
        Prefix::Le => lt || eq,
    }
}

/// Whether a (system, code) pair matches a token value.
pub fn token_matches(value: &str, system: Option<&str>, code: Option<&str>) -> bool {
    match value.split_once('|') {
        None => code == Some(value),
        Some(("", c)) => system.is_none() && code == Some(c),
        Some((s, "")) => system == Some(s),
        Some((s, c)) => system == Some(s) && code == Some(c),
    }
}

/// Whether a name part matches a string value under a modifier.
pub fn string_matches(value: &str, modifier: Option<&str>, have: &str) -> bool {
    match modifier {
        Some("exact") => have == value,
        Some("contains") => have.to_lowercase().contains(&value.to_lowercase()),
        _ => have.to_lowercase().starts_with(&value.to_lowercase()),
    }
}

/// The strings at `path` of a JSON value, walking into arrays.
pub fn strings<'a>(value: &'a Value, path: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    collect(value, path, &mut |v| {
        if let Some(s) = v.as_str() {
            out.push(s);
        }
    });
    out
}

/// Calls `each` on every value at `path`, walking into arrays.
pub fn collect<'a>(value: &'a Value, path: &[&str], each: &mut dyn FnMut(&'a Value)) {
    match value {
        Value::Array(list) => {
            for v in list {
                collect(v, path, each);
            }
        }
        _ => match path.split_first() {
            None => each(value),
            Some((head, rest)) => {
                if let Some(v) = value.get(*head) {
                    collect(v, rest, each);
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_have_ranges_and_prefixes() {
        let (p, r) = date_criterion("ge1980-01-01").unwrap();
        assert_eq!(p, Prefix::Ge);
        let day = range_of("1980-01-01", false).unwrap();
        assert!(date_matches(p, r, day));
        assert!(!date_matches(p, r, range_of("1979-12-31", false).unwrap()));
        assert!(date_matches(
            Prefix::Eq,
            range_of("1980", false).unwrap(),
            day
        ));
        assert!(date_matches(
            Prefix::Ne,
            range_of("1981", false).unwrap(),
            day
        ));
        assert!(date_criterion("2026-11-02T10:00:00").is_err());
        assert!(date_criterion("2026-11-02T10:00:00Z").is_ok());
        assert!(date_criterion("sa2026").is_err());
        assert!(date_criterion("2026-13").is_err());
    }

    #[test]
    fn tokens() {
        assert!(token_matches("a|b", Some("a"), Some("b")));
        assert!(token_matches("b", Some("a"), Some("b")));
        assert!(token_matches("a|", Some("a"), Some("x")));
        assert!(!token_matches("|b", Some("a"), Some("b")));
    }
}
