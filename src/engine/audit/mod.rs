//! The audit trail's recording side and its readers. Every audited action goes through
//! [`Engine::record_audit`], which stamps the time and where the action came from: the
//! client's address for a request over HTTP (set around each request by the API), else
//! the process's local origin (`cli`, or `console-embedded` for the console's own
//! engine). Reading: [`Engine::audit_page`] for `GET /admin/v1/audit`; [`command`]:
//! `switchboard audit export` and the command line's own entries, through a running
//! engine or on the store.

pub mod command;

use super::{Engine, read_failure};
use crate::model::{ApiError, Environment, LogRecord, Role};
use crate::store::audit::{AuditFilter, AuditPage};
use crate::store::{AuditEntry, LogPage, LogQuery};
use std::cell::RefCell;
use uuid::Uuid;

/// The largest page `GET /admin/v1/audit` answers.
pub const MAX_PAGE: usize = 500;

/// Where the current action comes from, and the role of whoever is acting.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub from: String,
    pub role: Option<Role>,
}

tokio::task_local! {
    static ORIGIN: RefCell<Origin>;
}

/// The origin of the HTTP request being handled, if this runs inside one.
pub fn request_origin() -> Option<Origin> {
    ORIGIN.try_with(|o| o.borrow().clone()).ok()
}

/// Runs `f` (one HTTP request's handling) with `from` as its origin.
pub async fn scoped<F: Future>(from: String, f: F) -> F::Output {
    ORIGIN
        .scope(RefCell::new(Origin { from, role: None }), f)
        .await
}

/// Runs `f` with `origin` in force: for work handed to a blocking thread.
pub fn within<T>(origin: Origin, f: impl FnOnce() -> T) -> T {
    ORIGIN.sync_scope(RefCell::new(origin), f)
}

/// Notes the acting token's role for the audit entries of this request.
pub fn note_role(role: Role) {
    let _ = ORIGIN.try_with(|o| o.borrow_mut().role = Some(role));
}

impl Engine {
    /// Names this engine's actions taken outside any HTTP request (`cli` until set):
    /// `engine` for a SIGHUP reload of `serve`, `console-embedded` for the console's.
    /// The first name set stays.
    pub fn set_local_origin(&self, name: &'static str) {
        let _ = self.local_origin.set(name);
    }

    /// The origin in force: the request's, or this engine's own.
    pub fn origin(&self) -> Origin {
        request_origin().unwrap_or_else(|| Origin {
            from: self
                .local_origin
                .get()
                .copied()
                .unwrap_or("cli")
                .to_string(),
            role: None,
        })
    }

    /// Appends `entry`, filling in the time, origin, role and outcome it leaves empty.
    pub fn record_audit(&self, mut entry: AuditEntry) -> Result<(), crate::store::StoreError> {
        let origin = self.origin();
        entry.at = chrono::Utc::now();
        entry.origin.get_or_insert(origin.from);
        if entry.role.is_none() {
            entry.role = origin.role.map(|r| r.as_str().to_string());
        }
        entry.outcome.get_or_insert_with(|| "ok".into());
        if entry.log_id.is_none() {
            entry.log_id = entry.logs.first().copied();
        } else if entry.logs.is_empty() {
            entry.logs.extend(entry.log_id);
        }
        match &self.shared {
            // One trail for every node (committed before the action answers).
            Some(shared) => crate::store::postgres::blocking::wait(shared.append_audit(&entry))
                .map(|_| ())
                .map_err(Into::into),
            None => self.store.append_audit(&entry),
        }
    }

    /// A page of history for `role`, audited when it shows patients: an MRN search
    /// always (with the logs it found, never the identifier searched), and a list that
    /// shows Production patient identifiers to a PHI role. Withheld if the audit cannot
    /// be written (no audit, no reveal).
    pub async fn search_audited(
        &self,
        query: &LogQuery,
        role: Role,
        actor: &str,
    ) -> Result<LogPage, ApiError> {
        let page = self.search_as(query, role).await?;
        self.audit_shown(&page.logs, query.patient_id.is_some(), role, actor)?;
        Ok(page)
    }

    /// Audits `logs` about to be shown to `actor` (see [`Engine::search_audited`]);
    /// `mrn` when they answer a search by patient identifier.
    pub fn audit_shown(
        &self,
        logs: &[LogRecord],
        mrn: bool,
        role: Role,
        actor: &str,
    ) -> Result<(), ApiError> {
        let shown: Vec<Uuid> = logs
            .iter()
            .filter(|l| l.patient_id.is_some() && l.environment == Environment::Production)
            .map(|l| l.id)
            .collect();
        let (action, logs) = match (mrn, shown.is_empty()) {
            (true, _) => ("search-mrn", logs.iter().map(|l| l.id).collect()),
            (false, false) => ("list-phi", shown),
            (false, true) => return Ok(()),
        };
        self.record_audit(AuditEntry {
            actor: actor.to_string(),
            action: action.into(),
            role: Some(role.as_str().to_string()),
            detail: Some(format!("{} logs shown", logs.len())),
            logs,
            ..AuditEntry::default()
        })
        .map_err(super::write_failure(
            "the audit entry of this list, so nothing was shown",
        ))
    }

    /// A refused login on `route` for `key` (an API key or client id; never the secret
    /// or assertion). A failure to write it is logged: the refusal stands either way.
    pub fn audit_failed_login(&self, key: &str, route: &str, why: &str) {
        // A client id may come from an unverified assertion: keep the label short.
        let key: String = key.chars().take(128).collect();
        let entry = AuditEntry {
            actor: format!("key:{key}"),
            action: "login-failed".into(),
            detail: Some(format!("{route}: {why}")),
            outcome: Some("refused".into()),
            ..AuditEntry::default()
        };
        if let Err(e) = self.record_audit(entry) {
            tracing::error!(error = %e, "cannot write the audit trail");
        }
    }

    /// A login refused at the rate limit: `subject` is `key:…` or `address:…`. Called
    /// once per window per subject (see `engine::throttle`).
    pub fn audit_throttled(&self, subject: String, detail: String) {
        let entry = AuditEntry {
            actor: subject,
            action: "login-throttled".into(),
            detail: Some(detail),
            outcome: Some("refused".into()),
            ..AuditEntry::default()
        };
        if let Err(e) = self.record_audit(entry) {
            tracing::error!(error = %e, "cannot write the audit trail");
        }
    }

    /// Audits `result` of a login on `route` by `key` when it was refused (any 4xx but
    /// a rate limit's 429, which says nothing about the credentials).
    pub fn audit_login<T>(&self, key: &str, route: &str, result: &Result<T, ApiError>) {
        if let Err(e) = result
            && (400..500).contains(&e.status)
            && e.status != 429
        {
            let why = e.entries.first().map_or("refused", |e| e.text.as_str());
            self.audit_failed_login(key, route, &format!("{} {why}", e.status));
        }
    }

    /// An operator's attempt the engine refused: who (`actor`) tried to `what`, and
    /// why (`error`). Only callers that proved who they are get here, so refusals grow
    /// the trail no faster than the holders of genuine tokens ask. A failure to write
    /// it is logged: the refusal stands either way.
    pub fn audit_refused(&self, actor: &str, what: &str, error: &ApiError, log: Option<Uuid>) {
        let why = error.entries.first().map_or("refused", |e| e.text.as_str());
        let entry = AuditEntry {
            actor: actor.to_string(),
            action: "refused".into(),
            log_id: log,
            detail: Some(format!("{what}: {} {why}", error.status)),
            outcome: Some("refused".into()),
            ..AuditEntry::default()
        };
        if let Err(e) = self.record_audit(entry) {
            tracing::error!(error = %e, "cannot write the audit trail");
        }
    }

    /// One page of the trail, newest first.
    pub fn audit_page(&self, filter: &AuditFilter, limit: usize) -> Result<AuditPage, ApiError> {
        let limit = limit.clamp(1, MAX_PAGE);
        match &self.shared {
            Some(shared) => {
                crate::store::postgres::blocking::wait(shared.audit_page(filter, limit))
                    .map_err(|e| read_failure(crate::store::StoreError::from(e)))
            }
            None => self.store.audit_page(filter, limit).map_err(read_failure),
        }
    }
}
