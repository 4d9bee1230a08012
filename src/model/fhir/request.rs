//! A composed FHIR request as HTTP: `POST /fhir/R4/{slug}/{Env}/{Resource}/_search`
//! with a form body, or `POST …/{Resource}/{$operation}` with the message as
//! `application/fhir+json`; the source named by `Redox-Source-Id`.

use super::FhirKind;
use super::search;
use crate::model::Environment;
use uuid::Uuid;

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const FHIR_JSON: &str = "application/fhir+json";
/// The header that names the source when a client acts for several.
pub const SOURCE_HEADER: &str = "Redox-Source-Id";

/// What goes out: always a POST to the engine's base + `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirRequest {
    pub path: String,
    pub content_type: &'static str,
    /// Extra headers besides authorization and content type.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Why a request cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(
        "\"{0}\" has no FHIR slug: give it fhir_slug (and fhir_url) in the config to reach it \
         through the FHIR API"
    )]
    NoSlug(String),
    #[error("FHIR slug \"{0}\" is not lowercase letters, digits and -: fix it in the config")]
    BadSlug(String),
    #[error("line {line}: {message}")]
    Form { line: usize, message: String },
}

/// The FHIR API's base path for a destination and environment.
pub fn base_path(slug: &str, environment: Environment) -> Result<String, RequestError> {
    let ok = !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(RequestError::BadSlug(slug.to_string()));
    }
    Ok(format!("/fhir/R4/{slug}/{}", environment.as_str()))
}

/// The request for `kind` to the destination `destination` (named for errors) with
/// FHIR slug `slug`, from `text` (the form or the message, variables already filled),
/// sent as `source`.
pub fn build(
    kind: FhirKind,
    destination: &str,
    slug: Option<&str>,
    environment: Environment,
    source: Uuid,
    text: &str,
) -> Result<FhirRequest, RequestError> {
    let slug = slug.ok_or_else(|| RequestError::NoSlug(destination.to_string()))?;
    let base = base_path(slug, environment)?;
    let headers = vec![(SOURCE_HEADER, source.to_string())];
    Ok(match kind {
        FhirKind::Search(resource) => {
            let params = search::parse(text).map_err(|e| RequestError::Form {
                line: e.line,
                message: e.message,
            })?;
            FhirRequest {
                path: format!("{base}/{resource}/_search"),
                content_type: FORM,
                headers,
                body: search::form_body(&params),
            }
        }
        FhirKind::Message(m) => FhirRequest {
            path: format!("{base}/{}/{}", m.resource, m.operation),
            content_type: FHIR_JSON,
            headers,
            body: text.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fhir::MESSAGES;

    #[test]
    fn a_search_posts_a_form_to_the_resources_search() {
        let source = Uuid::from_u128(5);
        let r = build(
            FhirKind::Search("Patient"),
            "Sandbox EHR",
            Some("sandbox-ehr"),
            Environment::Development,
            source,
            "# find\nidentifier=0000000001\nfamily=Baker\n",
        )
        .expect("builds");
        assert_eq!(r.path, "/fhir/R4/sandbox-ehr/Development/Patient/_search");
        assert_eq!(r.content_type, "application/x-www-form-urlencoded");
        assert_eq!(r.body, "identifier=0000000001&family=Baker");
        assert_eq!(r.headers, vec![("Redox-Source-Id", source.to_string())]);
    }

    #[test]
    fn a_message_posts_fhir_json_to_its_operation() {
        let body = "{\"resourceType\": \"Bundle\"}\n";
        let r = build(
            FhirKind::Message(&MESSAGES[0]),
            "Acme",
            Some("acme-ehr"),
            Environment::Production,
            Uuid::from_u128(5),
            body,
        )
        .expect("builds");
        assert_eq!(
            r.path,
            "/fhir/R4/acme-ehr/Production/Observation/$observation-create"
        );
        assert_eq!(r.content_type, "application/fhir+json");
        assert_eq!(r.body, body);
        let media = build(
            FhirKind::Message(&MESSAGES[1]),
            "Acme",
            Some("acme-ehr"),
            Environment::Staging,
            Uuid::from_u128(5),
            body,
        )
        .expect("builds");
        assert_eq!(
            media.path,
            "/fhir/R4/acme-ehr/Staging/DocumentReference/$write"
        );
    }

    #[test]
    fn a_destination_without_a_usable_slug_is_refused_with_the_fix() {
        let err = |slug: Option<&str>| {
            build(
                FhirKind::Search("Patient"),
                "Billing",
                slug,
                Environment::Development,
                Uuid::nil(),
                "_id=1",
            )
            .expect_err("refused")
            .to_string()
        };
        assert!(err(None).contains("fhir_slug"), "{}", err(None));
        assert!(err(Some("../admin")).contains("lowercase"));
        assert!(err(Some("")).contains("lowercase"));
    }
}
