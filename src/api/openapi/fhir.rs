//! The FHIR R4 API's operations (`api::fhir`): reads, searches and messages forwarded
//! to a destination, whose answer comes back with its own status.

use super::schemas::FHIR_RESOURCE;
use super::{Entry, Errors, Op, SOURCE_TOKEN, get_, inline, named, post_};
use serde_json::json;

const FHIR_JSON: &str = "application/fhir+json";
const BASE: &str = "/fhir/R4/{slug}/{env}";

/// Every FHIR operation's refusals, and the destination's own errors passed on.
const ERRORS: [u16; 13] = [
    400, 401, 403, 404, 406, 408, 413, 422, 429, 502, 503, 504, 507,
];

fn fhir(summary: &str) -> Op {
    Op::new("fhir", summary, Errors::Outcome)
        .auth(SOURCE_TOKEN)
        .path_param("slug", "The destination's FHIR slug.")
        .path_enum(
            "env",
            "The environment.",
            &["Development", "Staging", "Production"],
        )
        .header(
            "redox-source-id",
            false,
            "The source to act as, when the token's key has several.",
        )
        .query(
            "_format",
            "json, application/json or application/fhir+json (anything else is a 406).",
            json!({"type": "string"}),
        )
}

fn resource(op: Op) -> Op {
    op.path_param("resource", "A FHIR resource type, e.g. Patient.")
        .answer(
            200,
            FHIR_JSON,
            named(FHIR_RESOURCE),
            "The destination's answer.",
        )
}

pub fn operations() -> Vec<Entry> {
    vec![
        get_(
            format!("{BASE}/metadata"),
            fhir("The CapabilityStatement")
                .answer(
                    200,
                    FHIR_JSON,
                    named(FHIR_RESOURCE),
                    "The CapabilityStatement.",
                )
                .errors(&[400, 401, 403, 404, 406, 429]),
        ),
        get_(
            format!("{BASE}/{{resource}}"),
            resource(fhir("Search")).errors(&ERRORS),
        ),
        get_(
            format!("{BASE}/{{resource}}/{{id}}"),
            resource(fhir("Read one resource"))
                .path_param("id", "The resource's ID.")
                .errors(&ERRORS),
        ),
        post_(
            format!("{BASE}/{{resource}}/{{id}}"),
            resource(fhir(
                "Search by form (`{resource}/_search`) or send a message Bundle \
                 (`{resource}/$operation`)",
            ))
            .path_param("id", "`_search`, or `$` and the operation's name.")
            .body(
                &[
                    "application/x-www-form-urlencoded",
                    FHIR_JSON,
                    "application/json",
                ],
                inline(json!({"type": "object"})),
            )
            .answer(
                201,
                FHIR_JSON,
                named(FHIR_RESOURCE),
                "The message was accepted.",
            )
            .errors(&ERRORS)
            .errors(&[405, 415]),
        ),
    ]
}
