//! Admin API roles.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What a console user or admin-API token may do.
/// - `viewer`: metadata of every log; payloads outside Production.
/// - `phi`: viewer + Production payloads (each reveal is audited).
/// - `operator`: viewer + operator actions (retry, pause, quarantine…), no PHI.
/// - `admin`: everything.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Phi,
    Operator,
    Admin,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Phi, Role::Operator, Role::Admin];

    /// What the role may do, in one line (for `--help`).
    pub fn summary(self) -> &'static str {
        match self {
            Role::Viewer => "metadata of every log; payloads outside Production",
            Role::Phi => "viewer + Production payloads (each reveal is audited)",
            Role::Operator => "viewer + operator actions (retry, pause, quarantine…), no PHI",
            Role::Admin => "everything: PHI, operator actions, keys, tokens, reload",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Phi => "phi",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
    pub fn sees_phi(self) -> bool {
        matches!(self, Role::Phi | Role::Admin)
    }
    pub fn may_operate(self) -> bool {
        matches!(self, Role::Operator | Role::Admin)
    }
    /// Whether this role may send traffic as a source in `environment` (the composer).
    /// A query's answer is a patient's record, so in an environment that may hold PHI
    /// only roles that may see PHI send.
    pub fn may_send_in(self, environment: crate::model::Environment) -> bool {
        self != Role::Viewer && (self.sees_phi() || !environment.may_hold_phi())
    }
    /// Why [`Role::may_send_in`] refuses, for error texts.
    pub fn send_refusal(self, environment: crate::model::Environment) -> Option<String> {
        if self == Role::Viewer {
            Some("the viewer role may not send: use a phi, operator or admin token".into())
        } else if !self.may_send_in(environment) {
            Some(format!(
                "role {} may not send in {environment}: answers there are patients' records; \
                 use a phi or admin token (operator sends in Staging and Development)",
                self.as_str()
            ))
        } else {
            None
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "phi" => Ok(Role::Phi),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role \"{s}\": use viewer, phi, operator or admin"
            )),
        }
    }
}
