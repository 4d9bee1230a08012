//! The document's component schemas: derived from the wire types where the handlers
//! have one, and written here for the bodies they build as JSON (the error shapes,
//! whose writers are `ApiError::body`, `fhir::outcome`, `OAuthError::body` and
//! `platform_api::error`, and a few small answers). A body that is "any FHIR resource"
//! or "any data-model payload" is a loose object: the engine checks those itself, and
//! their full schemas (shared/fixtures) are far larger than this document.

use super::inline;
use crate::api::admin::BackupBody;
use crate::api::admin::audit::LocalEntry;
use crate::api::platform::{AckBody, AuthenticateBody, PollBody, RefreshBody};
use crate::engine::auth::TokenGrant;
use crate::engine::oauth::{OAuthGrant, TokenRequest};
use crate::model::LogRecord;
use crate::model::view::{
    ComposerToken, CreatedKey, HistoryEntry, HistoryPage, KeyView, LogPage, NewKey, Status,
    VisibleDetail,
};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

pub const PLATFORM_ERROR: &str = "PlatformError";
pub const OPERATION_OUTCOME: &str = "OperationOutcome";
pub const OAUTH_ERROR: &str = "OAuthError";
pub const PLATFORM_API_ERROR: &str = "PlatformApiError";
pub const DATA_MODEL_REQUEST: &str = "DataModelRequest";
pub const DATA_MODEL_ANSWER: &str = "DataModelAnswer";
pub const FHIR_RESOURCE: &str = "FhirResource";
pub const HEALTH: &str = "Health";

type Named = (String, RefOr<Schema>);

/// A derived schema and every schema it refers to.
fn derived<T: ToSchema>(into: &mut Vec<Named>) {
    into.push((T::name().into_owned(), T::schema()));
    T::schemas(into);
}

/// Every component schema.
pub fn all() -> Vec<Named> {
    let mut out = Vec::new();
    derived::<AuthenticateBody>(&mut out);
    derived::<RefreshBody>(&mut out);
    derived::<TokenGrant>(&mut out);
    derived::<TokenRequest>(&mut out);
    derived::<OAuthGrant>(&mut out);
    derived::<PollBody>(&mut out);
    derived::<AckBody>(&mut out);
    derived::<LogRecord>(&mut out);
    derived::<LogPage>(&mut out);
    derived::<VisibleDetail>(&mut out);
    derived::<Status>(&mut out);
    derived::<KeyView>(&mut out);
    derived::<NewKey>(&mut out);
    derived::<CreatedKey>(&mut out);
    derived::<ComposerToken>(&mut out);
    derived::<HistoryPage>(&mut out);
    derived::<HistoryEntry>(&mut out);
    derived::<BackupBody>(&mut out);
    derived::<LocalEntry>(&mut out);
    for (name, schema) in error_shapes().into_iter().chain(bodies()) {
        out.push((name.to_string(), inline(schema)));
    }
    // The same type reached from two roots is listed once.
    let mut seen = std::collections::HashSet::new();
    out.retain(|(name, _)| seen.insert(name.clone()));
    out
}

/// The error shapes, one per API.
fn error_shapes() -> Vec<(&'static str, Value)> {
    vec![
        (
            PLATFORM_ERROR,
            json!({
                "type": "object",
                "description": "The platform's error: what was wrong and what to do, with the \
                                request's Meta echoed where it could be read.",
                "required": ["Meta"],
                "properties": {"Meta": {
                    "type": "object",
                    "required": ["Errors"],
                    "properties": {"Errors": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["ID", "Text", "Type", "Module"],
                            "properties": {
                                "ID": {"type": "integer", "minimum": 1},
                                "Text": {"type": "string"},
                                "Type": {"type": "string"},
                                "Module": {"type": "string"}
                            }
                        }
                    }}
                }}
            }),
        ),
        (
            OPERATION_OUTCOME,
            json!({
                "type": "object",
                "required": ["resourceType", "issue"],
                "properties": {
                    "resourceType": {"type": "string", "const": "OperationOutcome"},
                    "issue": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                            "code": {"type": "string"},
                            "details": {"type": "object", "properties": {"text": {"type": "string"}}},
                            "diagnostics": {"type": "string"}
                        }
                    }}
                }
            }),
        ),
        (
            OAUTH_ERROR,
            json!({
                "type": "object",
                "description": "RFC 6749 §5.2.",
                "required": ["error", "error_description"],
                "properties": {
                    "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant",
                                       "unauthorized_client", "unsupported_grant_type",
                                       "invalid_scope", "server_error"]},
                    "error_description": {"type": "string"}
                }
            }),
        ),
        (
            PLATFORM_API_ERROR,
            json!({
                "type": "object",
                "required": ["meta", "errors"],
                "properties": {
                    "meta": {"$ref": "#/components/schemas/PlatformApiMeta"},
                    "errors": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "required": ["message"],
                        "properties": {"message": {"type": "string"}}
                    }}
                }
            }),
        ),
        (
            "PlatformApiMeta",
            json!({
                "type": "object",
                "required": ["version"],
                "properties": {"version": {"type": "string"}}
            }),
        ),
    ]
}

/// The bodies the handlers read and write as free JSON.
fn bodies() -> Vec<(&'static str, Value)> {
    vec![
        (
            DATA_MODEL_REQUEST,
            json!({
                "type": "object",
                "description": "A data-model payload (see the platform's schemas, one per data \
                                model and event type): Meta and the model's fields.",
                "required": ["Meta"],
                "properties": {"Meta": {
                    "type": "object",
                    "required": ["DataModel", "EventType"],
                    "properties": {
                        "DataModel": {"type": "string"},
                        "EventType": {"type": "string"},
                        "Destinations": {"type": "array", "items": {"type": "object"}},
                        "Test": {"type": ["boolean", "null"]}
                    }
                }}
            }),
        ),
        (
            DATA_MODEL_ANSWER,
            json!({
                "type": "object",
                "description": "The request's Meta with Logs (a notification), or a \
                                destination's answer to a query.",
                "required": ["Meta"],
                "properties": {"Meta": {"type": "object"}}
            }),
        ),
        (
            FHIR_RESOURCE,
            json!({
                "type": "object",
                "description": "Any FHIR R4 resource (a Bundle for searches and messages, \
                                a CapabilityStatement for metadata).",
                "required": ["resourceType"],
                "properties": {"resourceType": {"type": "string"}}
            }),
        ),
        (
            HEALTH,
            json!({
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string"}}
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `inline` falls back to an empty schema; none of the written ones may need it.
    #[test]
    fn every_written_schema_is_read_as_written() {
        for (name, schema) in error_shapes().into_iter().chain(bodies()) {
            let read: Result<RefOr<Schema>, _> = serde_json::from_value(schema.clone());
            let read = read.unwrap_or_else(|e| panic!("{name}: {e}"));
            let back = serde_json::to_value(read).expect("serialize");
            assert_eq!(back["required"], schema["required"], "{name}");
            assert_eq!(
                back["properties"].is_null(),
                schema["properties"].is_null(),
                "{name}"
            );
        }
    }
}
