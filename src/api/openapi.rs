//! `GET /openapi.json`: the OpenAPI 3.1 document of every API this engine serves (the
//! platform API, the JWT flow's token endpoint, the FHIR R4 API, the Platform API, the
//! admin API and the operations endpoints), answered without a token like `/healthz`.
//!
//! The document is built from the code: bodies' schemas are derived (`utoipa::ToSchema`)
//! from the very types the handlers read and write, and the error shapes come from the
//! functions that write them. Each API's operations are listed beside the others in
//! [`platform`], [`admin`] and [`fhir`]; `tests/suite/openapi.rs` walks every route the
//! router serves and fails when one is missing here, or when the document names a
//! route the router does not serve. CI runs schemathesis against a live engine with
//! this document (`.ci/schemathesis.sh`).

mod admin;
mod fhir;
mod platform;
mod schemas;

use super::AppState;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use std::sync::LazyLock;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterBuilder};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement};
use utoipa::openapi::security::{SecurityScheme, SecurityScheme as Scheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};

/// Where the document is served.
pub const PATH: &str = "/openapi.json";

/// The names of the security schemes, as operations name them.
pub(crate) const SOURCE_TOKEN: &str = "sourceToken";
pub(crate) const ADMIN_TOKEN: &str = "adminToken";
pub(crate) const METRICS_TOKEN: &str = "metricsToken";

pub fn routes() -> Router<AppState> {
    // The path as a literal: tests/suite/openapi.rs reads the routes from the source.
    Router::new().route("/openapi.json", get(serve))
}

/// Built once, as the bytes served: the document depends on the code only, never on
/// configuration. A failure to serialize it is a bug (the unit test below catches it);
/// should one ship, the route says so instead of serving an empty document.
static DOCUMENT: LazyLock<Result<axum::body::Bytes, String>> = LazyLock::new(|| {
    serde_json::to_vec(&document())
        .map(axum::body::Bytes::from)
        .map_err(|e| e.to_string())
});

async fn serve() -> Response {
    match &*DOCUMENT {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the API document could not be serialized");
            let error = crate::model::ApiError::new(
                500,
                "internal",
                "OpenAPI",
                format!("The API document could not be built ({e}); please report this."),
            );
            super::error_response(&error, None)
        }
    }
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for (method, path, operation) in platform::operations()
        .into_iter()
        .chain(fhir::operations())
        .chain(admin::operations())
    {
        paths.add_path_operation(path, vec![method], operation);
    }
    let bearer = |text: &str| -> SecurityScheme {
        Scheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(text))
                .build(),
        )
    };
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas::all())
        .security_scheme(
            SOURCE_TOKEN,
            bearer(
                "A source's access token: from POST /auth/authenticate (API key and \
                 secret) or POST /v2/auth/token (the JWT flow).",
            ),
        )
        .security_scheme(
            ADMIN_TOKEN,
            bearer(
                "An admin API token from `switchboard tokens create --role ROLE`, or a \
                 user key's access token; its role decides what it may see and do.",
            ),
        )
        .security_scheme(
            METRICS_TOKEN,
            bearer("[engine] metrics_token, when the engine is configured with one."),
        )
        .build();
    let tag = |name: &str, text: &str| TagBuilder::new().name(name).description(Some(text)).build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Switchboard")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A self-hosted healthcare data-exchange engine, wire-compatible with the \
                     platform's APIs.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .tags(Some([
            tag(
                "platform",
                "The data-model API: authentication, notifications, queries, uploads, polling.",
            ),
            tag(
                "fhir",
                "The FHIR R4 API; every answer is FHIR JSON, every error an OperationOutcome.",
            ),
            tag(
                "platform-api",
                "The Platform (management) API, answers in {meta, payload}.",
            ),
            tag("admin", "The admin API of the console and operators."),
            tag(
                "operations",
                "Metrics, health, readiness and this document.",
            ),
        ]))
        .build()
}

/// The shape an API's errors take.
#[derive(Clone, Copy)]
pub(crate) enum Errors {
    /// `{"Meta": {"Errors": [...]}}` (the platform and admin APIs).
    Platform,
    /// An OperationOutcome (the FHIR API).
    Outcome,
    /// RFC 6749's `{"error", "error_description"}` (the token endpoint).
    OAuth,
    /// `{"meta", "errors"}` (the Platform API).
    PlatformApi,
}

impl Errors {
    fn schema(self) -> &'static str {
        match self {
            Errors::Platform => schemas::PLATFORM_ERROR,
            Errors::Outcome => schemas::OPERATION_OUTCOME,
            Errors::OAuth => schemas::OAUTH_ERROR,
            Errors::PlatformApi => schemas::PLATFORM_API_ERROR,
        }
    }

    fn media(self) -> &'static str {
        match self {
            Errors::Outcome => "application/fhir+json",
            _ => "application/json",
        }
    }
}

/// A reference to a component schema.
pub(crate) fn named(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// An inline schema written as JSON Schema. Only ever given literals of these modules
/// (`schemas` has a test that reads its own back): a mistake there is a failed test,
/// never a panic a client can cause.
pub(crate) fn inline(schema: Value) -> RefOr<Schema> {
    serde_json::from_value(schema.clone()).unwrap_or_else(|e| {
        // utoipa reads only the JSON Schema it can write (a `type` beside `enum` or
        // `const`, for one); the debug builds the tests run fail loudly.
        debug_assert!(false, "a schema utoipa cannot read ({e}): {schema}");
        RefOr::T(Schema::default())
    })
}

/// One operation being described.
pub(crate) struct Op {
    builder: OperationBuilder,
    errors: Errors,
}

impl Op {
    pub(crate) fn new(tag: &str, summary: &str, errors: Errors) -> Op {
        Op {
            builder: OperationBuilder::new().tag(tag).summary(Some(summary)),
            errors,
        }
    }

    /// Who may call it (none: anyone).
    pub(crate) fn auth(mut self, scheme: &str) -> Op {
        self.builder = self
            .builder
            .security(SecurityRequirement::new(scheme, Vec::<String>::new()));
        self
    }

    /// A token is optional (`/metrics` asks for one only when configured).
    pub(crate) fn optional_auth(mut self, scheme: &str) -> Op {
        self.builder = self
            .builder
            .security(SecurityRequirement::default())
            .security(SecurityRequirement::new(scheme, Vec::<String>::new()));
        self
    }

    pub(crate) fn path_param(self, name: &str, text: &str) -> Op {
        self.param(
            name,
            ParameterIn::Path,
            true,
            text,
            inline(serde_json::json!({"type": "string"})),
        )
    }

    pub(crate) fn path_enum(self, name: &str, text: &str, values: &[&str]) -> Op {
        let schema = inline(serde_json::json!({"type": "string", "enum": values}));
        self.param(name, ParameterIn::Path, true, text, schema)
    }

    pub(crate) fn query(self, name: &str, text: &str, schema: Value) -> Op {
        self.param(name, ParameterIn::Query, false, text, inline(schema))
    }

    pub(crate) fn header(self, name: &str, required: bool, text: &str) -> Op {
        let schema = inline(serde_json::json!({"type": "string"}));
        self.param(name, ParameterIn::Header, required, text, schema)
    }

    fn param(
        mut self,
        name: &str,
        at: ParameterIn,
        required: bool,
        text: &str,
        schema: RefOr<Schema>,
    ) -> Op {
        let required = if required {
            Required::True
        } else {
            Required::False
        };
        let parameter: Parameter = ParameterBuilder::new()
            .name(name)
            .parameter_in(at)
            .required(required)
            .description(Some(text))
            .schema(Some(schema))
            .build();
        self.builder = self.builder.parameter(parameter);
        self
    }

    /// The request body, in one or more media types with one schema.
    pub(crate) fn body(mut self, media: &[&str], schema: RefOr<Schema>) -> Op {
        let mut body = RequestBodyBuilder::new().required(Some(Required::True));
        for m in media {
            body = body.content(*m, Content::new(Some(schema.clone())));
        }
        self.builder = self.builder.request_body(Some(body.build()));
        self
    }

    /// A successful answer with a body.
    pub(crate) fn answer(
        mut self,
        status: u16,
        media: &str,
        schema: RefOr<Schema>,
        text: &str,
    ) -> Op {
        let response = ResponseBuilder::new()
            .description(text)
            .content(media, Content::new(Some(schema)))
            .build();
        self.builder = self.builder.response(status.to_string(), response);
        self
    }

    /// A JSON answer with a schema of the components.
    pub(crate) fn ok(self, schema: &str, text: &str) -> Op {
        self.answer(200, "application/json", named(schema), text)
    }

    /// Error answers in this operation's shape.
    pub(crate) fn errors(mut self, statuses: &[u16]) -> Op {
        let errors = self.errors;
        for status in statuses {
            self = self.error_as(*status, errors);
        }
        self
    }

    /// An error answer in another shape than the operation's own (the token
    /// endpoint's 429 is the platform's, as every rate limit).
    pub(crate) fn error_as(mut self, status: u16, errors: Errors) -> Op {
        let text = axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let response = ResponseBuilder::new()
            .description(text)
            .content(errors.media(), Content::new(Some(named(errors.schema()))))
            .build();
        self.builder = self.builder.response(status.to_string(), response);
        self
    }

    pub(crate) fn build(self) -> Operation {
        self.builder.build()
    }
}

/// One documented operation.
pub(crate) type Entry = (HttpMethod, String, Operation);

pub(crate) fn get_(path: impl Into<String>, op: Op) -> Entry {
    (HttpMethod::Get, path.into(), op.build())
}

pub(crate) fn post_(path: impl Into<String>, op: Op) -> Entry {
    (HttpMethod::Post, path.into(), op.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_document_serializes_and_reads_back_as_openapi_3_1() {
        let bytes = DOCUMENT.as_ref().expect("the document serializes");
        let read: Value = serde_json::from_slice(bytes).expect("the served bytes are JSON");
        assert_eq!(read["openapi"], "3.1.0");
        assert!(read["paths"].as_object().is_some_and(|p| !p.is_empty()));
    }
}
