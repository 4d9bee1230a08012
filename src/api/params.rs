//! Query-string values shared by the history and audit searches (admin API and Platform
//! API): instants, IDs and enumerations, each refusal a 400 that names its field.

use crate::model::ApiError;
use crate::model::time::parse_instant;
use chrono::{DateTime, Utc};
use std::str::FromStr;
use uuid::Uuid;

/// An ISO 8601 instant with an offset.
pub(crate) fn instant(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|s| {
            parse_instant(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{field}: \"{s}\" is not an ISO 8601 instant with an offset, e.g. \
                     2024-05-01T12:00:00Z."
                ))
            })
        })
        .transpose()
}

/// An ID (a UUID; surrounding blanks are forgiven).
pub(crate) fn id(field: &str, value: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    value
        .map(|s| {
            Uuid::parse_str(s.trim()).map_err(|_| {
                ApiError::bad_request(format!("{field}: \"{s}\" is not an ID (a UUID)."))
            })
        })
        .transpose()
}

/// A value of an enumeration (a status, a log type), whose parse error lists the
/// accepted values.
pub(crate) fn parsed<T>(field: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value
        .map(|s| {
            s.parse()
                .map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogStatus;

    #[test]
    fn each_refusal_names_its_field_and_the_value() {
        let e = instant("since", Some("yesterday")).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.entries[0]
                .text
                .starts_with("since: \"yesterday\" is not an ISO 8601"),
            "{}",
            e.entries[0].text
        );
        let e = id("before", Some("nope")).unwrap_err();
        assert!(
            e.entries[0]
                .text
                .starts_with("before: \"nope\" is not an ID"),
            "{}",
            e.entries[0].text
        );
        let e = parsed::<LogStatus>("status", Some("SHINY")).unwrap_err();
        assert!(
            e.entries[0].text.starts_with("status: "),
            "{}",
            e.entries[0].text
        );
    }

    #[test]
    fn absent_values_are_no_filter_and_good_ones_parse() {
        assert_eq!(instant("since", None).unwrap(), None);
        let at = instant("since", Some("2024-05-01T14:00:00+02:00"))
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2024-05-01T12:00:00+00:00");
        let uuid = Uuid::now_v7();
        assert_eq!(id("log", Some(&format!(" {uuid} "))).unwrap(), Some(uuid));
        assert_eq!(
            parsed::<LogStatus>("status", Some("Failed")).unwrap(),
            Some(LogStatus::Failed)
        );
    }
}
