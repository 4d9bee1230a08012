//! `[environments.<env>] retention_days`: how long each environment keeps its history.

use super::{Checker, RawEnvironment};
use crate::engine::retention::{MAX_DAYS, Policy};
use crate::model::Environment;
use std::collections::BTreeMap;

/// The retention of each environment that names one (unknown environment names are
/// reported by the variable profiles' check, once).
pub(super) fn policy(raw: &BTreeMap<String, RawEnvironment>, check: &mut Checker) -> Policy {
    let mut policy = Policy::default();
    for (name, environment) in raw {
        let Ok(env) = name.parse::<Environment>() else {
            continue;
        };
        let name = format!("[environments.{name}] retention_days");
        if let Some(days) = check.within(environment.retention_days.as_ref(), &name, 1..=MAX_DAYS) {
            policy.set(env, days as u32);
        }
    }
    policy
}
