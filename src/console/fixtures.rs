//! What an engine would send, built from the wire types alone, for the console's tests:
//! the console may not name the engine, the store or the sandbox, so neither may its
//! tests. The built-in Development records are fixed IDs and names every installation
//! shares; the sandbox's sample values are a copy (`testdata/development-samples.json`)
//! that the sandbox's own tests keep current.

use crate::client::wire::{
    ConnectionsView, DeliveryView, DestinationHealth, DestinationInfo, DestinationView,
    EnvironmentView, QueueKeyView, SourceInfo, SourceView, VerificationMethodView,
};
use crate::model::Environment;
use crate::model::reach::{CONSOLE_SOURCE_ID, CONSOLE_SOURCE_NAME, DeliveryMode, Subscription};
use crate::model::template::Samples;
use chrono_tz::Tz;
use std::time::Duration;
use uuid::Uuid;

/// The built-in Development connection's mock EHR (the sandbox).
pub const SANDBOX_EHR: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0e4e);
pub const SANDBOX_EHR_NAME: &str = "Sandbox EHR";
/// The built-in Development connection's mock sender.
pub const SANDBOX_SOURCE: Uuid = Uuid::from_u128(0x5b7c_0a11_c0de_4e57_8a00_0000_0000_0002);
pub const SANDBOX_SOURCE_NAME: &str = "Sandbox Dev Tools";

/// The Development samples an engine sends (the sandbox panel's first patient).
pub fn development_samples() -> Samples {
    serde_json::from_str(include_str!("testdata/development-samples.json"))
        .expect("the samples copy is valid JSON")
}

pub fn source(id: Uuid, name: &str, environment: Environment) -> SourceInfo {
    SourceInfo {
        id,
        name: name.into(),
        environment,
        timezone: Tz::UTC,
        organization: Uuid::nil(),
    }
}

/// A destination with the engine's default delivery settings.
pub fn destination(
    id: Uuid,
    name: &str,
    environment: Environment,
    mode: DeliveryMode,
) -> DestinationInfo {
    DestinationInfo {
        id,
        name: name.into(),
        environment,
        url: None,
        verification_method: VerificationMethodView::Post,
        mode,
        timezone: Tz::UTC,
        verified: true,
        delivery: DeliveryView {
            retry_schedule: [0, 10, 10, 20, 30, 50, 80, 120]
                .map(Duration::from_secs)
                .to_vec(),
            quarantine_after: None,
            queue_key: QueueKeyView::Pair,
            timeout: Duration::from_secs(30),
            max_concurrent_deliveries: Some(8),
            max_queue_items: Some(1_000_000),
        },
        outbound_auth: None,
        fhir_slug: None,
        fhir_url: None,
        organization: Uuid::nil(),
    }
}

/// A destination with nothing queued and no attempts.
pub fn idle(destination: DestinationInfo) -> DestinationView {
    DestinationView {
        destination,
        paused: false,
        delivery_allowed: true,
        queue_depth: 0,
        queue_depth_capped: false,
        oldest_queued_at: None,
        quarantined: 0,
        health: DestinationHealth::default(),
        delivered_by: None,
    }
}

/// The built-in Development connections: the console's source and the sandbox's,
/// both subscribed to the sandbox EHR for every data model.
pub fn builtin_development() -> ConnectionsView {
    let dev = Environment::Development;
    let sources = [
        source(CONSOLE_SOURCE_ID, CONSOLE_SOURCE_NAME, dev),
        source(SANDBOX_SOURCE, SANDBOX_SOURCE_NAME, dev),
    ];
    ConnectionsView {
        subscriptions: sources
            .iter()
            .map(|s| Subscription {
                source_id: s.id,
                destination_id: SANDBOX_EHR,
                data_models: Vec::new(),
            })
            .collect(),
        sources: sources
            .into_iter()
            .map(|source| SourceView {
                source,
                health: Default::default(),
            })
            .collect(),
        destinations: vec![idle(DestinationInfo {
            // The built-in sandbox's name in the FHIR API.
            fhir_slug: Some("sandbox-ehr".into()),
            ..destination(SANDBOX_EHR, SANDBOX_EHR_NAME, dev, DeliveryMode::Push)
        })],
        organizations: Vec::new(),
    }
}

/// The three environments as a built-in engine sends them: Development with the
/// sandbox's samples and the profile they make, the others with neither.
pub fn builtin_environments() -> Vec<EnvironmentView> {
    Environment::ALL
        .iter()
        .map(|&name| {
            let samples = (name == Environment::Development).then(development_samples);
            EnvironmentView {
                name,
                sources: 0,
                destinations: 0,
                requests_per_minute: 0.0,
                failures_5m: 0,
                variables: samples.as_ref().map(Samples::variables).unwrap_or_default(),
                samples,
            }
        })
        .collect()
}
