//! The operator's changes to a log, as both stores make them; and those changes on a
//! store shared by several nodes, where the log's row lock orders them with delivery
//! outcomes (see `store::postgres::operator`).

use super::{NotQuarantined, conflict};
use crate::model::{ApiError, LogRecord, LogStatus};
use crate::store::QueueId;
use crate::store::postgres::PgStore;
use crate::store::postgres::operator::Refused;
use chrono::Utc;
use uuid::Uuid;

fn failure(what: &'static str) -> impl Fn(crate::store::postgres::PgError) -> ApiError {
    crate::engine::write_failure(what)
}

fn no_log(log_id: Uuid) -> ApiError {
    ApiError::not_found(format!("There is no log {log_id}."))
}

pub(super) fn quarantined(log: &LogRecord) -> LogRecord {
    let mut updated = log.clone();
    updated.quarantined = true;
    updated.updated_at = Utc::now();
    updated
}

pub(super) fn released(log: &LogRecord) -> LogRecord {
    let mut updated = log.clone();
    updated.quarantined = false;
    updated.released_at_attempt = log.attempts;
    updated.updated_at = Utc::now();
    updated
}

pub(super) fn failed(log: &LogRecord) -> LogRecord {
    let mut updated = log.clone();
    updated.status = LogStatus::Failed;
    updated.quarantined = false;
    updated.updated_at = Utc::now();
    updated
}

pub(super) fn not_pending(log: &LogRecord) -> ApiError {
    conflict(format!(
        "Log {} is already {}; only PENDING logs can be marked FAILED.",
        log.id,
        log.status.as_str()
    ))
}

pub(super) async fn quarantine(
    shared: &PgStore,
    log_id: Uuid,
) -> Result<Result<LogRecord, NotQuarantined>, ApiError> {
    let outcome = shared
        .quarantine(log_id, quarantined)
        .await
        .map_err(failure("the quarantine"))?;
    Ok(outcome.map_err(|refused| match refused {
        Refused::NoLog => NotQuarantined::NoLog(log_id),
        Refused::WrongState => NotQuarantined::NotQueued(log_id),
    }))
}

pub(super) async fn release(
    shared: &PgStore,
    log_id: Uuid,
) -> Result<(LogRecord, Option<QueueId>), ApiError> {
    match shared
        .release(log_id, released)
        .await
        .map_err(failure("the release"))?
    {
        Ok((log, queue)) => Ok((log, Some(queue))),
        Err(Refused::NoLog) => Err(no_log(log_id)),
        Err(Refused::WrongState) => Err(conflict(format!("Log {log_id} is not in quarantine."))),
    }
}

pub(super) async fn mark_failed(shared: &PgStore, log_id: Uuid) -> Result<LogRecord, ApiError> {
    match shared
        .mark_failed(log_id, failed)
        .await
        .map_err(failure("the change"))?
    {
        Ok(log) => Ok(log),
        Err(Refused::NoLog) => Err(no_log(log_id)),
        Err(Refused::WrongState) => {
            let log = shared
                .log(log_id)
                .await
                .map_err(crate::engine::read_failure)?
                .ok_or_else(|| no_log(log_id))?;
            Err(not_pending(&log))
        }
    }
}
