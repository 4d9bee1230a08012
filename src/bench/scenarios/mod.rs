//! The scenarios, one module each.

mod cluster;
mod console;
mod delivery;
mod history;
pub(crate) mod ingest;
mod query;
mod recovery;
mod soak;

use super::report::Report;
use super::{Result, Scenario};

pub async fn run(scenario: Scenario, quick: bool) -> Result<Report> {
    match scenario {
        Scenario::Ingest => ingest::run(quick).await,
        Scenario::Query => query::run(quick).await,
        Scenario::Delivery => delivery::run(quick).await,
        Scenario::History => history::run(quick).await,
        Scenario::Recovery => recovery::run(quick).await,
        Scenario::Console => console::run(quick).await,
        Scenario::Soak => soak::run(quick).await,
        Scenario::Cluster => cluster::run(quick).await,
        Scenario::All => Err(super::BenchError(
            "`all` is a list of scenarios, not one".into(),
        )),
    }
}

/// Seconds as a `Duration`, shorter in quick mode.
pub(crate) fn secs(quick: bool, quick_s: f64, full_s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(if quick { quick_s } else { full_s })
}
