//! FHIR search parameters: the server's form (`POST {Resource}/_search`, read and
//! checked against the table of `engine::fhir::params`) and the composer's search form
//! (`model::fhir::search`, one `name=value` per line). Input: one byte choosing the
//! resource, then the form body, which is also read as the composer's text.
//!
//! Server: a refusal is a 400 (406 for a `_format` it cannot give) in the platform's
//! shape; what passes has no `_format`, no modifiers, only the resource's parameters
//! (or paging, `_count` 1 to 1000), and names the patient where a search must.
//! Composer: parsed parameters survive the form body it sends and being written back
//! as lines; a syntax error points at a line of the text, as `check` reports it; the
//! body it sends reads on the server without a panic.

use switchboard::engine::fhir::params::{MAX_COUNT, PAGING, RESOURCES};
use switchboard::fuzzing::fhir_search;
use switchboard::model::fhir::search;

pub fn check(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let spec = &RESOURCES[usize::from(selector) % RESOURCES.len()];
    server(spec.name, body);
    composer(spec.name, &String::from_utf8_lossy(body));
}

fn server(resource: &str, body: &[u8]) {
    let kept = match fhir_search(resource, body) {
        Ok(kept) => kept,
        Err(e) => {
            super::assert_platform_error(&e, body);
            assert!(matches!(e.status, 400 | 406), "answered {}", e.status);
            return;
        }
    };
    let spec = RESOURCES
        .iter()
        .find(|r| r.name == resource)
        .expect("a resource");
    let has = |n: &str| kept.iter().any(|(k, _)| k == n);
    let paged = kept.iter().any(|(k, _)| PAGING.contains(&k.as_str()));
    for (name, value) in &kept {
        assert!(name != "_format" && !name.contains(':'), "{name} passed");
        if name == "_count" {
            let count: u32 = value.parse().expect("_count passed as a number");
            assert!((1..=MAX_COUNT).contains(&count));
        } else if !PAGING.contains(&name.as_str()) {
            assert!(
                spec.params.iter().any(|(p, _)| p == name),
                "{resource} took {name}"
            );
            assert!(!value.trim().is_empty(), "{name} passed empty");
        }
    }
    if !paged && resource == "Patient" {
        assert!(
            has("_id") || has("identifier") || has("family") && has("given") && has("birthdate")
        );
    }
    if !paged && spec.patient_scoped {
        assert!(
            has("patient") || has("_id"),
            "{resource} searched for no patient"
        );
    }
}

fn composer(resource: &str, text: &str) {
    let validation = search::check(resource, text);
    let params = match search::parse(text) {
        Ok(params) => params,
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= text.lines().count(),
                "line {}",
                e.line
            );
            assert_eq!(validation.syntax_error, Some(e));
            return;
        }
    };
    assert_eq!(validation.syntax_error, None);
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    let body = search::form_body(&params);
    let sent: Vec<(String, String)> =
        serde_urlencoded::from_str(&body).expect("the composer's form body reads");
    assert_eq!(
        sent, pairs,
        "the form body {body:?} carries other parameters"
    );
    let written: String = pairs.iter().map(|(n, v)| format!("{n}={v}\n")).collect();
    let rewritten: Vec<(String, String)> = search::parse(&written)
        .expect("parameters written back parse")
        .into_iter()
        .map(|p| (p.name, p.value))
        .collect();
    assert_eq!(rewritten, pairs, "written back as {written:?}");
    let _ = fhir_search(resource, body.as_bytes());
}
