//! Organization records: the owner of this installation ("your system") and the
//! organizations it exchanges with. Every source and destination belongs to one; a
//! record without its own time zone takes its organization's.
//!
//! ```toml
//! [[organizations]]
//! name = "Acme Health"
//! id = "…"                      # optional: else generated once and kept
//! time_zone = "America/Chicago" # optional IANA name
//! npi = "1234567893"            # optional
//! address = "1 Main St, Springfield, IL"   # optional, one line
//! own = true                    # this one is yours (replaces the built-in "Switchboard")
//! ```

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use uuid::Uuid;

/// The built-in own organization, yours while the config declares none with `own = true`.
pub const OWN_ORGANIZATION_ID: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_00a0);
pub const OWN_ORGANIZATION_NAME: &str = "Switchboard";
/// The organization the sandbox's records belong to.
pub const SANDBOX_ORGANIZATION_ID: Uuid =
    Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_00a1);
pub const SANDBOX_ORGANIZATION_NAME: &str = "Sandbox Health System";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    /// The zone its sources and destinations read and render in when they set none.
    pub time_zone: Option<Tz>,
    pub npi: Option<String>,
    pub address: Option<String>,
    /// This installation's owner.
    pub own: bool,
}

impl Organization {
    /// The built-in "Switchboard", your organization when none is declared.
    pub fn builtin_own() -> Organization {
        Organization {
            id: OWN_ORGANIZATION_ID,
            name: OWN_ORGANIZATION_NAME.to_string(),
            time_zone: None,
            npi: None,
            address: None,
            own: true,
        }
    }

    /// The sandbox connection's organization.
    pub fn sandbox() -> Organization {
        Organization {
            id: SANDBOX_ORGANIZATION_ID,
            name: SANDBOX_ORGANIZATION_NAME.to_string(),
            time_zone: None,
            npi: None,
            address: None,
            own: false,
        }
    }
}

/// What [`super::Registry::own_organization`] answers for a registry built without
/// organizations (as unit tests build them).
pub(super) static BUILTIN_OWN: LazyLock<Organization> = LazyLock::new(Organization::builtin_own);

/// The organizations every configuration has: yours (built in) and the sandbox's.
pub fn builtin_organizations() -> Vec<Organization> {
    vec![Organization::builtin_own(), Organization::sandbox()]
}
