//! The filters of `GET /admin/v1/logs`, read from its query string into a store query:
//! names of sources and destinations resolved, instants and statuses checked, each
//! refusal naming its field.

use super::DEFAULT_PAGE;
use crate::api::params;
use crate::engine::Engine;
use crate::model::{ApiError, Environment};
use crate::store::LogQuery;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct LogParams {
    env: Option<String>,
    source: Option<String>,
    destination: Option<String>,
    data_model: Option<String>,
    event_type: Option<String>,
    #[serde(rename = "type")]
    log_type: Option<String>,
    status: Option<String>,
    mrn: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

pub(super) fn to_query(engine: &Engine, p: LogParams) -> Result<LogQuery, ApiError> {
    let bad = |field: &str, msg: String| ApiError::bad_request(format!("{field}: {msg}"));
    let registry = engine.registry();
    Ok(LogQuery {
        environment: p
            .env
            .as_deref()
            .map(|e| {
                e.parse::<Environment>()
                    .map_err(|e| bad("env", e.to_string()))
            })
            .transpose()?,
        source: p
            .source
            .as_deref()
            .map(|s| {
                registry
                    .source_named(s)
                    .map(|s| s.id)
                    .or_else(|| Uuid::parse_str(s).ok())
                    .ok_or_else(|| bad("source", format!("no source named \"{s}\"")))
            })
            .transpose()?,
        destination: p
            .destination
            .as_deref()
            .map(|d| {
                registry
                    .destination_named(d)
                    .map(|d| d.id)
                    .or_else(|| Uuid::parse_str(d).ok())
                    .ok_or_else(|| bad("destination", format!("no destination named \"{d}\"")))
            })
            .transpose()?,
        data_model: p.data_model,
        event_type: p.event_type,
        log_type: params::parsed("type", p.log_type.as_deref())?,
        status: params::parsed("status", p.status.as_deref())?,
        patient_id: p.mrn,
        since: params::instant("since", p.since.as_deref())?,
        until: params::instant("until", p.until.as_deref())?,
        before: params::id("before", p.before.as_deref())?,
        limit: p.limit.unwrap_or(DEFAULT_PAGE),
    })
}
