//! A destination's FHIR settings (`fhir_slug`, `fhir_url`) and the FHIR data models of
//! subscriptions (`FHIR.*`, `FHIR.Patient`, …): checked with their lines.

use super::{Checker, RawConfig, RawDestination, SANDBOX_FHIR_SLUG};
use std::collections::HashMap;

/// A slug is a path segment clients type: lowercase letters, digits and `-`.
pub(super) fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The destination's `(fhir_slug, fhir_url)`, each checked.
pub(super) fn fhir_fields(
    d: &RawDestination,
    check: &mut Checker,
) -> (Option<String>, Option<String>) {
    let slug = d.fhir_slug.as_ref().map(|s| s.get_ref().trim().to_string());
    let url = d.fhir_url.as_ref().map(|u| u.get_ref().trim().to_string());
    if let (Some(s), Some(spanned)) = (&slug, &d.fhir_slug)
        && !valid_slug(s)
    {
        check.at(
            spanned.span(),
            format!(
                "fhir_slug \"{s}\" is not valid: use lowercase letters, digits and - (at most 64)"
            ),
        );
    }
    if let (Some(u), Some(spanned)) = (&url, &d.fhir_url) {
        let ok = reqwest::Url::parse(u)
            .map(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
            .unwrap_or(false);
        if !ok {
            check.at(
                spanned.span(),
                format!("fhir_url \"{u}\" is not an http(s) URL"),
            );
        }
    }
    match (&d.fhir_slug, &d.fhir_url) {
        (Some(s), None) => check.at(
            s.span(),
            format!(
                "destination \"{}\" has a fhir_slug but no fhir_url: add the base URL of its FHIR server",
                d.name.get_ref()
            ),
        ),
        (None, Some(u)) => check.at(
            u.span(),
            format!(
                "destination \"{}\" has a fhir_url but no fhir_slug: add the name sources use under /fhir/R4/",
                d.name.get_ref()
            ),
        ),
        _ => {}
    }
    // Stored without a trailing `/`: paths are appended to it.
    (slug, url.map(|u| u.trim_end_matches('/').to_string()))
}

/// Slugs name one destination each, the built-in sandbox's included.
pub(super) fn unique_slugs(raw: &RawConfig, check: &mut Checker) {
    let mut seen: HashMap<String, String> = HashMap::new();
    seen.insert(
        SANDBOX_FHIR_SLUG.to_string(),
        "Sandbox EHR (built in)".into(),
    );
    for d in &raw.destinations {
        let Some(slug) = &d.fhir_slug else { continue };
        let key = slug.get_ref().trim().to_string();
        if let Some(prev) = seen.insert(key.clone(), d.name.get_ref().clone()) {
            check.at(
                slug.span(),
                format!(
                    "fhir_slug \"{key}\" is already the slug of \"{prev}\"; slugs must be unique"
                ),
            );
        }
    }
}

/// A FHIR data model in a subscription: `FHIR.*` (every FHIR interaction and message),
/// `FHIR.<Resource>` or `FHIR.Message.<Model>`; `None` when `name` is not FHIR's.
pub(super) fn data_model(name: &str) -> Option<Result<String, String>> {
    let rest = name.strip_prefix("FHIR.")?;
    let ok = rest == "*"
        || (!rest.is_empty()
            && rest
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric())));
    Some(if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "data model \"{name}\" is not a FHIR data model: use FHIR.*, FHIR.<Resource> (e.g. FHIR.Patient) or FHIR.Message.<Model>"
        ))
    })
}
