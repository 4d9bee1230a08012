//! The platform API's operations (`api::platform`, `api::upload`, `api::oauth`) and
//! the operations endpoints (`api::ops`, this document).

use super::schemas::{DATA_MODEL_ANSWER, DATA_MODEL_REQUEST, HEALTH};
use super::{Entry, Errors, METRICS_TOKEN, Op, SOURCE_TOKEN, get_, inline, named, post_};
use serde_json::json;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

fn platform(summary: &str) -> Op {
    Op::new("platform", summary, Errors::Platform)
}

pub fn operations() -> Vec<Entry> {
    let mut out = vec![
        post_(
            "/auth/authenticate",
            platform("An access token for a source's API key and secret")
                .body(&[JSON, FORM], named("AuthenticateBody"))
                .ok("TokenGrant", "The access and refresh tokens.")
                .errors(&[400, 401, 408, 413, 429, 503]),
        ),
        post_(
            "/auth/refreshToken",
            platform("A new access token for a refresh token (each works once)")
                .body(&[JSON, FORM], named("RefreshBody"))
                .ok("TokenGrant", "The new access and refresh tokens.")
                .errors(&[400, 401, 408, 413, 429, 503]),
        ),
    ];
    for path in ["/v2/auth/token", "/oauth/token"] {
        out.push(post_(
            path,
            Op::new(
                "platform",
                "An access token for a signed client assertion (the JWT flow)",
                Errors::OAuth,
            )
            .body(&[FORM], named("TokenRequest"))
            .ok("OAuthGrant", "The access token (never cached).")
            .errors(&[400, 401])
            .error_as(429, Errors::Platform),
        ));
    }
    out.extend(exchange());
    out.extend(operations_endpoints());
    out
}

/// Notifications, queries, polling and uploads.
fn exchange() -> Vec<Entry> {
    let exchange_errors = [400, 401, 403, 404, 408, 413, 422, 429, 503, 507];
    vec![
        post_(
            "/endpoint",
            platform("Send a notification to the destinations subscribed to it")
                .auth(SOURCE_TOKEN)
                .body(&[JSON], named(DATA_MODEL_REQUEST))
                .ok(DATA_MODEL_ANSWER, "Stored: the Meta with one log per destination.")
                .errors(&exchange_errors),
        ),
        post_(
            "/query",
            platform("Ask a destination and wait for its answer")
                .auth(SOURCE_TOKEN)
                .body(&[JSON], named(DATA_MODEL_REQUEST))
                .ok(DATA_MODEL_ANSWER, "The destination's answer.")
                .errors(&exchange_errors)
                .errors(&[502, 504]),
        ),
        post_(
            "/poll",
            platform("Lease the next notifications of a polling destination")
                .header("verification-token", true, "The destination's verification token.")
                .body(&[JSON], named("PollBody"))
                .answer(
                    200,
                    JSON,
                    inline(json!({
                        "type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": {"type": "object"}}}
                    })),
                    "The leased notifications.",
                )
                .errors(&[400, 401, 403, 404, 408, 413, 503]),
        ),
        post_(
            "/poll/ack",
            platform("Acknowledge leased notifications")
                .header("verification-token", true, "The destination's verification token.")
                .body(&[JSON], named("AckBody"))
                .answer(
                    200,
                    JSON,
                    inline(json!({
                        "type": "object", "required": ["acknowledged"],
                        "properties": {"acknowledged": {"type": "integer", "minimum": 0}}
                    })),
                    "What was settled.",
                )
                .errors(&[400, 401, 403, 404, 408, 413, 503]),
        ),
        post_(
            "/upload",
            platform("Upload a file (multipart/form-data, field `file`)")
                .auth(SOURCE_TOKEN)
                .body(
                    &["multipart/form-data"],
                    inline(json!({
                        "type": "object", "required": ["file"],
                        "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}
                    })),
                )
                .answer(
                    201,
                    JSON,
                    inline(json!({"type": "object"})),
                    "Stored: where to fetch the file.",
                )
                .errors(&[400, 401, 403, 408, 413, 503, 507]),
        ),
        get_(
            "/upload/{id}",
            platform("Download an uploaded file")
                .auth(SOURCE_TOKEN)
                .path_param("id", "The upload's ID.")
                .answer(
                    200,
                    "*/*",
                    // Any value: the bytes are the sender's, of any type.
                    inline(json!({"type": ["string", "number", "integer", "boolean", "array", "object", "null"]})),
                    "The file's bytes, with the content type it was uploaded with.",
                )
                .errors(&[400, 401, 403, 404]),
        ),
    ]
}

fn operations_endpoints() -> Vec<Entry> {
    let ops = |summary: &str| Op::new("operations", summary, Errors::Platform);
    let health = |text: &str| {
        inline(json!({"$ref": format!("#/components/schemas/{HEALTH}"), "description": text}))
    };
    vec![
        get_(
            "/metrics",
            ops("Prometheus metrics (OpenMetrics text)")
                .optional_auth(METRICS_TOKEN)
                .answer(
                    200,
                    "application/openmetrics-text",
                    inline(json!({"type": "string"})),
                    "The engine's metrics.",
                )
                .errors(&[401]),
        ),
        get_(
            "/healthz",
            ops("The process serves").answer(200, JSON, health("ok"), "Serving."),
        ),
        get_(
            "/readyz",
            ops("The engine can take work")
                .answer(200, JSON, health("ready"), "Ready.")
                .errors(&[503, 507]),
        ),
        get_(
            super::PATH,
            ops("This document (OpenAPI 3.1)").answer(
                200,
                JSON,
                inline(json!({"type": "object", "required": ["openapi", "paths"]})),
                "The OpenAPI document.",
            ),
        ),
    ]
}
