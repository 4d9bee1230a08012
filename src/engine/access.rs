//! PHI rules for everything that reads history on someone's behalf (the admin API now,
//! the console's local client next): in Production, a role without the PHI permission
//! sees log metadata only, never bodies or patient fields, and may not search by
//! patient; every reveal of a Production payload is audited. Development and Staging
//! are never masked.

use super::{Engine, read_failure, write_failure};
use crate::model::{ApiError, Environment, LogRecord, Role};
use crate::store::{LogPage, LogQuery};
use uuid::Uuid;

pub use crate::model::view::VisibleDetail;

/// Strips what a role may not see from a log's metadata.
pub fn mask_log(log: &mut LogRecord, role: Role) {
    if log.environment.may_hold_phi() && !role.sees_phi() {
        log.patient_id = None;
    }
}

/// A live log change as `role` may see it through `filter`, or `None` when it is not
/// for them. Without the PHI permission a patient filter never matches Production
/// traffic, so it cannot reveal who is there.
pub fn visible_change(
    filter: &crate::model::filter::Filter,
    role: Role,
    mut log: LogRecord,
) -> Option<LogRecord> {
    if !filter.matches(&log)
        || (filter.names_patient() && !role.sees_phi() && log.environment.may_hold_phi())
    {
        return None;
    }
    mask_log(&mut log, role);
    Some(log)
}

impl Engine {
    /// A page of history for `role`.
    pub async fn search_as(&self, query: &LogQuery, role: Role) -> Result<LogPage, ApiError> {
        // A patient identifier is PHI: searching Production by it would reveal who is in
        // the traffic.
        if query.patient_id.is_some()
            && !role.sees_phi()
            && query.environment.is_none_or(Environment::may_hold_phi)
        {
            return Err(ApiError::new(
                403,
                "permission",
                "Admin",
                "Searching by patient identifier in Production needs the PHI permission \
                 (role phi or admin); add env=development or env=staging to search there.",
            ));
        }
        let mut page = self.search_logs(query).await.map_err(read_failure)?;
        for log in &mut page.logs {
            mask_log(log, role);
        }
        Ok(page)
    }

    /// One log with its attempts and bodies as `role` may see it; a Production reveal
    /// is written to the audit trail under `actor`.
    pub async fn detail_as(
        &self,
        id: Uuid,
        role: Role,
        actor: &str,
    ) -> Result<Option<VisibleDetail>, ApiError> {
        let Some(mut detail) = self.log_detail(id).await? else {
            return Ok(None);
        };
        let production = detail.log.environment.may_hold_phi();
        let masked = production && !role.sees_phi();
        if masked {
            mask_log(&mut detail.log, role);
            detail.request = None;
            detail.response = None;
            for attempt in &mut detail.attempts {
                attempt.response_body = None;
            }
        } else if production {
            self.record_audit(crate::store::AuditEntry {
                actor: actor.to_string(),
                action: "reveal-payload".into(),
                log_id: Some(id),
                role: Some(role.as_str().to_string()),
                ..Default::default()
            })
            // No audit, no reveal.
            .map_err(write_failure(
                "the audit entry of this reveal, so nothing was shown",
            ))?;
        }
        Ok(Some(VisibleDetail { detail, masked }))
    }

    /// A query's answer given to the console's composer in Production is a reveal of a
    /// patient's record: it is audited under the console user's name (the composer's
    /// token says who), and withheld if the audit cannot be written. Answers to other
    /// sources' own tokens are their own business, audited by nobody here.
    pub fn audit_composer_answer(
        &self,
        token: &str,
        source: &super::Source,
        answer: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let log_id = answer["Meta"]["Logs"][0]["ID"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok());
        self.audit_composer_reveal(token, source, log_id)
    }

    /// [`audit_composer_answer`](Engine::audit_composer_answer) for an answer whose
    /// log is known already (a query's answer spliced as bytes, never parsed).
    pub fn audit_composer_reveal(
        &self,
        token: &str,
        source: &super::Source,
        log_id: Option<Uuid>,
    ) -> Result<(), ApiError> {
        if !source.environment.may_hold_phi() {
            return Ok(());
        }
        let session = self
            .sessions
            .session(&crate::store::credentials::sha256(token.as_bytes()))
            .map_err(read_failure)?;
        let Some(actor) = session
            .as_ref()
            .and_then(|s| s.api_key.strip_prefix(super::auth::COMPOSER_SESSION_PREFIX))
        else {
            return Ok(());
        };
        self.record_audit(crate::store::AuditEntry {
            actor: actor.to_string(),
            action: "reveal-answer".into(),
            log_id,
            detail: Some(format!("{} ({})", source.name, source.environment)),
            ..Default::default()
        })
        // No audit, no reveal.
        .map_err(write_failure(
            "the audit entry of this answer, so it was withheld",
        ))
    }
}
