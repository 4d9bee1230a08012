//! The admin API's operations (`api::admin`) and the Platform API's
//! (`api::platform_api`, the same routes under v0 and v1).

use super::{ADMIN_TOKEN, Entry, Errors, Op, get_, inline, named, post_};
use serde_json::{Value, json};

const JSON: &str = "application/json";
const A: &str = "/admin/v1";

fn admin(summary: &str) -> Op {
    Op::new("admin", summary, Errors::Platform).auth(ADMIN_TOKEN)
}

/// A loose object answer with the fields every such answer has.
fn object(required: &[&str]) -> Value {
    json!({"type": "object", "required": required})
}

fn with(op: Op, schema: Value, text: &str) -> Op {
    op.answer(200, JSON, inline(schema), text)
}

fn string() -> Value {
    json!({"type": "string"})
}

fn limit() -> Value {
    json!({"type": "integer", "minimum": 0})
}

pub fn operations() -> Vec<Entry> {
    let mut out = history();
    out.extend(connections());
    out.extend(credentials());
    out.extend(maintenance());
    out.extend(platform_api());
    out
}

fn history() -> Vec<Entry> {
    let logs = [
        ("env", "Development, Staging or Production."),
        ("source", "A source's name or ID."),
        ("destination", "A destination's name or ID."),
        ("dataModel", "A data model."),
        ("eventType", "An event type."),
        ("type", "SEND, RECEIVE, REQUEST or RESPOND."),
        ("status", "PENDING, SUCCEEDED, FAILED or FILTERED."),
        ("mrn", "A patient identifier."),
        ("since", "An ISO 8601 instant with offset."),
        ("until", "An ISO 8601 instant with offset."),
        ("before", "The previous page's `next`."),
    ];
    let mut search = admin("Search history, newest first");
    for (name, text) in logs {
        search = search.query(name, text, string());
    }
    vec![
        get_(
            format!("{A}/logs"),
            search
                .query("limit", "Page size.", limit())
                .ok("LogPage", "A page of logs.")
                .errors(&[400, 401]),
        ),
        get_(
            format!("{A}/logs/{{id}}"),
            admin("One log with its attempts and bodies (masked without PHI permission)")
                .path_param("id", "The log's ID (a UUID).")
                .ok("VisibleDetail", "The log.")
                .errors(&[400, 401, 404]),
        ),
        post_(
            format!("{A}/logs/{{id}}/{{action}}"),
            admin("An operator's action on one log")
                .path_param("id", "The log's ID (a UUID).")
                .path_enum(
                    "action",
                    "What to do.",
                    &["quarantine", "release", "fail", "resend"],
                )
                .ok(
                    "LogRecord",
                    "The log after the action (or the new log of a resend).",
                )
                .errors(&[400, 401, 403, 404, 409, 503, 507]),
        ),
        get_(
            format!("{A}/events"),
            admin("Live log changes as server-sent events")
                .query("filter", "The feed's filter language.", string())
                .answer(
                    200,
                    "text/event-stream",
                    inline(string()),
                    "`event: log` (data: the log), `lagged` or `revoked`.",
                )
                .errors(&[400, 401]),
        ),
    ]
}

fn connections() -> Vec<Entry> {
    vec![
        get_(
            format!("{A}/connections"),
            admin("Sources, destinations with their queues, subscriptions")
                .query("env", "Development, Staging or Production.", string())
                .answer(
                    200,
                    JSON,
                    inline(object(&["sources", "destinations", "subscriptions"])),
                    "The connections.",
                )
                .errors(&[400, 401]),
        ),
        get_(
            format!("{A}/environments"),
            with(
                admin("The three environments with their counts and rates"),
                json!({"type": "array", "items": {"type": "object"}}),
                "The environments.",
            )
            .errors(&[401]),
        ),
        get_(
            format!("{A}/status"),
            admin("The engine's own figures, and who is asking")
                .ok("Status", "The figures (and operational ones beside them).")
                .errors(&[401]),
        ),
        post_(
            format!("{A}/destinations/{{id}}/{{action}}"),
            with(
                admin("Pause, resume, retry or verify a destination")
                    .path_param("id", "The destination's name or ID.")
                    .path_enum(
                        "action",
                        "What to do.",
                        &["pause", "resume", "retry", "verify"],
                    ),
                json!({"type": "object"}),
                "What changed.",
            )
            .errors(&[401, 403, 404, 409, 502, 503, 504]),
        ),
        get_(
            format!("{A}/destinations/{{id}}/quarantine"),
            with(
                admin("A destination's quarantined logs")
                    .path_param("id", "The destination's name or ID."),
                json!({"type": "object", "required": ["logs"], "properties": {
                    "logs": {"type": "array", "items": {"$ref": "#/components/schemas/LogRecord"}}
                }}),
                "The logs.",
            )
            .errors(&[401, 404]),
        ),
        post_(
            format!("{A}/sources/{{id}}/token"),
            admin("A 15-minute access token as a source, for the composer")
                .path_param("id", "The source's name or ID.")
                .ok("ComposerToken", "The token.")
                .errors(&[401, 403, 404]),
        ),
        get_(
            format!("{A}/composer/history"),
            admin("Requests the composer sent, newest first")
                .query("before", "The previous page's `next`.", string())
                .query("limit", "Page size.", limit())
                .ok("HistoryPage", "A page.")
                .errors(&[400, 401]),
        ),
        post_(
            format!("{A}/composer/history"),
            admin("Record what the composer sent")
                .body(&[JSON], named("Sent"))
                .ok("HistoryEntry", "The recorded entry.")
                .errors(&[400, 401, 403, 408, 413, 507]),
        ),
    ]
}

fn credentials() -> Vec<Entry> {
    let revoke = object(&["revoked"]);
    vec![
        get_(
            format!("{A}/tokens"),
            with(
                admin("Live admin tokens and sessions (never secrets)"),
                object(&["adminTokens", "sessions"]),
                "The tokens.",
            )
            .errors(&[401, 403]),
        ),
        get_(
            format!("{A}/keys"),
            with(
                admin("Source keys and OAuth clients (never secrets)"),
                json!({"type": "array", "items": {"$ref": "#/components/schemas/KeyView"}}),
                "The keys.",
            )
            .errors(&[401, 403]),
        ),
        post_(
            format!("{A}/keys"),
            admin("A new key for a source (its secret in this answer only)")
                .body(&[JSON], named("NewKey"))
                .ok("CreatedKey", "The key.")
                .errors(&[400, 401, 403, 404, 415, 422, 507]),
        ),
        post_(
            format!("{A}/keys/{{key}}/revoke"),
            with(
                admin("Revoke a source key or OAuth client").path_param("key", "The API key."),
                revoke.clone(),
                "What was revoked.",
            )
            .errors(&[400, 401, 403, 404]),
        ),
        post_(
            format!("{A}/tokens/{{name}}/revoke"),
            with(
                admin("Revoke an admin token").path_param("name", "The token's name."),
                revoke,
                "What was revoked.",
            )
            .errors(&[400, 401, 403, 404]),
        ),
    ]
}

fn maintenance() -> Vec<Entry> {
    let audit = [
        ("action", "An action's name."),
        ("actor", "Who acted."),
        ("since", "An ISO 8601 instant with offset."),
        ("until", "An ISO 8601 instant with offset."),
        ("log", "A log's ID."),
        ("before", "The previous page's `next`."),
    ];
    let mut trail = admin("The audit trail, newest first (admin role)");
    for (name, text) in audit {
        trail = trail.query(name, text, string());
    }
    vec![
        get_(
            format!("{A}/audit"),
            with(
                trail.query("limit", "Page size (1 to 500).", limit()),
                object(&["entries"]),
                "A page of entries.",
            )
            .errors(&[400, 401, 403]),
        ),
        post_(
            format!("{A}/audit"),
            with(
                admin("The command line on the engine's machine reports an action")
                    .body(&[JSON], named("LocalEntry")),
                object(&["recorded"]),
                "Recorded.",
            )
            .errors(&[400, 401, 403, 507]),
        ),
        post_(
            format!("{A}/config/reload"),
            with(
                admin("Re-read the configuration file (admin role)"),
                object(&["added", "removed", "changed"]),
                "What changed.",
            )
            .errors(&[400, 401, 403, 422]),
        ),
        post_(
            format!("{A}/retention/run"),
            with(
                admin("Delete history past its retention now (admin role)"),
                object(&["environments"]),
                "What went.",
            )
            .errors(&[401, 403, 503]),
        ),
        post_(
            format!("{A}/backup"),
            with(
                admin("A consistent copy of the store into a new directory (admin role)")
                    .body(&[JSON], named("BackupBody")),
                object(&["dir", "manifest"]),
                "The backup.",
            )
            .errors(&[400, 401, 403, 409, 507]),
        ),
    ]
}

fn platform_api() -> Vec<Entry> {
    let envelope = |payload: Value| {
        inline(json!({
            "type": "object",
            "required": ["meta", "payload"],
            "properties": {
                "meta": {"$ref": "#/components/schemas/PlatformApiMeta"},
                "payload": payload
            }
        }))
    };
    let api = |summary: &str| {
        Op::new("platform-api", summary, Errors::PlatformApi)
            .auth(ADMIN_TOKEN)
            .path_param("org", "The engine's own organization's ID.")
    };
    let mut out = Vec::new();
    for version in ["v0", "v1"] {
        let base = format!("/platform/{version}/organizations/{{org}}");
        let mut logs = api("Search logs, newest first");
        for name in [
            "dataModel",
            "eventType",
            "status",
            "type",
            "sourceId",
            "destinationId",
            "createdAfter",
            "createdBefore",
            "updatedAfter",
            "updatedBefore",
            "searchTerms",
            "_cursor",
        ] {
            logs = logs.query(name, "A filter (see the Platform API).", string());
        }
        out.extend([
            get_(
                format!("{base}/environments"),
                api("The environments")
                    .answer(
                        200,
                        JSON,
                        envelope(object(&["environments"])),
                        "The environments.",
                    )
                    .errors(&[401, 404]),
            ),
            get_(
                format!("{base}/subscriptions"),
                api("The subscriptions")
                    .answer(
                        200,
                        JSON,
                        envelope(object(&["subscriptions"])),
                        "The subscriptions.",
                    )
                    .errors(&[401, 404]),
            ),
            get_(
                format!("{base}/logs"),
                logs.query("_count", "1 to 50.", limit())
                    .answer(200, JSON, envelope(object(&["logs"])), "A page of logs.")
                    .errors(&[400, 401, 404]),
            ),
            get_(
                format!("{base}/logs/{{id}}"),
                api("One log with its attempts")
                    .path_param("id", "The log's ID (a UUID).")
                    .answer(
                        200,
                        JSON,
                        envelope(object(&["log", "attempts"])),
                        "The log.",
                    )
                    .errors(&[400, 401, 404]),
            ),
            post_(
                format!("{base}/logs/{{id}}/retry"),
                api("Queue the same request to the same destination again")
                    .path_param("id", "The log's ID (a UUID).")
                    .answer(200, JSON, envelope(object(&["log"])), "The new log.")
                    .errors(&[400, 401, 403, 404, 409, 503, 507]),
            ),
        ]);
    }
    out
}
