//! What a configuration reload answers (`POST /admin/v1/config/reload`, `switchboard
//! reload`, the console's `:reload`).

use serde::{Deserialize, Serialize};

/// What a reload changed, by name, and the settings it could not apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadReport {
    /// e.g. `source "Lab"`, `subscription "Lab" -> "Acme EHR"`.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Settings whose new values wait for a restart (the old ones stay in force).
    pub needs_restart: Vec<String>,
    /// What the operator should look at (e.g. items a removed destination still holds).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl ReloadReport {
    /// One line for the audit trail and the log.
    pub fn summary(&self) -> String {
        let part = |label: &str, items: &[String]| {
            (!items.is_empty()).then(|| format!("{label}: {}", items.join(", ")))
        };
        let parts: Vec<String> = [
            part("added", &self.added),
            part("removed", &self.removed),
            part("changed", &self.changed),
            part("needs a restart", &self.needs_restart),
            part("warning", &self.warnings),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "no change".into()
        } else {
            parts.join("; ")
        }
    }
}
