//! What the console's environment and connection panes show: each record with its live
//! figures (rates and outcomes from [`super::stats`], queue figures from the store).

use super::{Destination, Engine, read_failure};
pub use crate::model::view::{ConnectionsView, DestinationView, EnvironmentView, SourceView};
use crate::model::{ApiError, Environment};

/// Queue items counted per destination before the depth is reported as "at least".
pub const QUEUE_COUNT_CAP: usize = 100_000;

/// What a Production variable's value reads as for a role without the PHI permission:
/// a profile's `{{mrn}}` is a real patient's identifier there.
pub const MASKED_VALUE: &str = "(hidden: needs the PHI permission)";

impl Engine {
    /// The three environments as `role` may see them: Production's variable values
    /// only for roles with the PHI permission (their names stay, so templates still
    /// show which are defined).
    pub fn environments_as(&self, role: crate::model::Role) -> Vec<EnvironmentView> {
        let mut views = self.environments();
        for view in &mut views {
            if view.name.may_hold_phi() && !role.sees_phi() {
                for value in view.variables.values_mut() {
                    *value = MASKED_VALUE.to_string();
                }
            }
        }
        views
    }

    pub fn environments(&self) -> Vec<EnvironmentView> {
        Environment::ALL
            .iter()
            .map(|&env| {
                let registry = self.registry();
                let sources: Vec<_> = registry
                    .sources
                    .iter()
                    .filter(|s| s.environment == env)
                    .collect();
                let destinations: Vec<_> = registry
                    .destinations
                    .iter()
                    .filter(|d| d.environment == env)
                    .collect();
                EnvironmentView {
                    name: env,
                    sources: sources.len(),
                    destinations: destinations.len(),
                    // fold from 0.0: an empty f64 sum is -0.0, which prints as "-0".
                    requests_per_minute: sources
                        .iter()
                        .map(|s| self.stats.source(s.id).requests_per_minute)
                        .fold(0.0, |a, b| a + b),
                    failures_5m: destinations
                        .iter()
                        .map(|d| self.stats.destination(d.id).failures_5m)
                        .sum(),
                    variables: self.profiles.get(&env).cloned().unwrap_or_default(),
                    // Development's test patient is the sandbox's; the other
                    // environments have no patient the engine could name.
                    samples: (env == Environment::Development)
                        .then(|| crate::sandbox::panel::samples::default_samples().clone()),
                }
            })
            .collect()
    }

    fn destination_view(
        &self,
        d: &Destination,
        delivering: &std::collections::HashMap<uuid::Uuid, String>,
    ) -> Result<DestinationView, ApiError> {
        if let Some(shared) = &self.shared {
            let summary = crate::store::postgres::blocking::wait(
                shared.destination_summary(d.id, QUEUE_COUNT_CAP),
            )
            .map_err(read_failure)?;
            let mut destination: crate::model::view::DestinationInfo = d.into();
            destination.verified = self.is_verified(d);
            return Ok(DestinationView {
                destination,
                paused: self.delivery.is_paused(d.id),
                delivery_allowed: self.delivery_allowed(d).is_ok(),
                queue_depth: summary.depth,
                queue_depth_capped: summary.depth >= QUEUE_COUNT_CAP,
                oldest_queued_at: summary.oldest,
                quarantined: summary.quarantined,
                health: self.stats.destination(d.id),
                delivered_by: delivering.get(&d.id).cloned(),
            });
        }
        let (depth, oldest) = self
            .store
            .queue_summary(d.id, QUEUE_COUNT_CAP)
            .map_err(read_failure)?;
        let oldest_queued_at = match oldest {
            Some(item) => self
                .store
                .log(item.log_id)
                .map_err(read_failure)?
                .map(|l| l.created_at),
            None => None,
        };
        let mut destination: crate::model::view::DestinationInfo = d.into();
        // Verified by `destinations verify` or the admin API counts, as for delivery.
        destination.verified = self.is_verified(d);
        Ok(DestinationView {
            destination,
            paused: self.delivery.is_paused(d.id),
            delivery_allowed: self.delivery_allowed(d).is_ok(),
            queue_depth: depth,
            queue_depth_capped: depth >= QUEUE_COUNT_CAP,
            oldest_queued_at,
            quarantined: self.store.quarantined(d.id).map_err(read_failure)?.len(),
            health: self.stats.destination(d.id),
            delivered_by: None,
        })
    }

    /// Sources, destinations and subscriptions with their figures, optionally of one
    /// environment.
    pub fn connections(&self, env: Option<Environment>) -> Result<ConnectionsView, ApiError> {
        let in_env = |e: Environment| env.is_none_or(|want| want == e);
        let sources = self
            .registry()
            .sources
            .iter()
            .filter(|s| in_env(s.environment))
            .map(|s| SourceView {
                source: s.into(),
                health: self.stats.source(s.id),
            })
            .collect();
        let delivering = match &self.shared {
            Some(shared) => crate::store::postgres::blocking::wait(shared.delivering_labels())
                .map_err(read_failure)?,
            None => Default::default(),
        };
        let destinations = self
            .registry()
            .destinations
            .iter()
            .filter(|d| in_env(d.environment))
            .map(|d| self.destination_view(d, &delivering))
            .collect::<Result<_, _>>()?;
        let subscriptions = self
            .registry()
            .subscriptions
            .iter()
            .filter(|s| {
                self.registry()
                    .source(s.source_id)
                    .is_some_and(|src| in_env(src.environment))
            })
            .cloned()
            .collect();
        Ok(ConnectionsView {
            sources,
            destinations,
            subscriptions,
            organizations: self
                .registry()
                .organizations
                .iter()
                .map(Into::into)
                .collect(),
        })
    }
}
