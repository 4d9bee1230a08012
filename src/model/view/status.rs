//! `GET /admin/v1/status`, as much of it as a console reads (the admin API adds the
//! engine's operational figures beside these fields).

use crate::model::Role;
use serde::{Deserialize, Serialize};

/// The engine's own figures and who the client acts as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub uptime_seconds: u64,
    pub accepted_per_second: f64,
    pub delivered_per_second: f64,
    pub role: Role,
    pub phi_visible: bool,
    /// Requests refused since start because the journal's backlog was full (503).
    #[serde(default)]
    pub overloaded: u64,
    /// Requests refused since start because a destination's queue was at its bound (429).
    #[serde(default)]
    pub queue_full: u64,
}
