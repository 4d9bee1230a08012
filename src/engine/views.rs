//! The engine's records mapped into the wire types (`model::view`) where the two
//! differ: a destination travels without its verification token, and the config's
//! delivery settings as the view's own types, so the console's types never change
//! because the engine's internals did.

use super::config::{
    DeliveryPolicy, Destination, Organization, QueueKey, Source, VerificationMethod,
};
use crate::model::view::{
    DeliveryView, DestinationInfo, OrganizationView, QueueKeyView, SourceInfo,
    VerificationMethodView,
};

impl From<&Organization> for OrganizationView {
    fn from(o: &Organization) -> Self {
        OrganizationView {
            id: o.id,
            name: o.name.clone(),
            time_zone: o.time_zone,
            npi: o.npi.clone(),
            own: o.own,
        }
    }
}

impl From<&Source> for SourceInfo {
    fn from(s: &Source) -> Self {
        SourceInfo {
            id: s.id,
            name: s.name.clone(),
            environment: s.environment,
            timezone: s.timezone,
            organization: s.organization,
        }
    }
}

impl From<&Destination> for DestinationInfo {
    fn from(d: &Destination) -> Self {
        // Every field but `verification_token` and the auth secrets, which the console
        // never needs: of the auth, only its kind.
        DestinationInfo {
            id: d.id,
            name: d.name.clone(),
            environment: d.environment,
            url: d.url.clone(),
            verification_method: d.verification_method.into(),
            mode: d.mode,
            timezone: d.timezone,
            verified: d.verified,
            delivery: (&d.delivery).into(),
            outbound_auth: d.outbound_auth.as_ref().map(|a| a.kind().to_string()),
            fhir_slug: d.fhir_slug.clone(),
            fhir_url: d.fhir_url.clone(),
            organization: d.organization,
        }
    }
}

impl From<VerificationMethod> for VerificationMethodView {
    fn from(m: VerificationMethod) -> Self {
        match m {
            VerificationMethod::Post => VerificationMethodView::Post,
            VerificationMethod::Get => VerificationMethodView::Get,
        }
    }
}

impl From<&DeliveryPolicy> for DeliveryView {
    fn from(p: &DeliveryPolicy) -> Self {
        DeliveryView {
            retry_schedule: p.retry_schedule.clone(),
            quarantine_after: p.quarantine_after,
            queue_key: match p.queue_key {
                QueueKey::Pair => QueueKeyView::Pair,
                QueueKey::Patient => QueueKeyView::Patient,
            },
            timeout: p.timeout,
            max_concurrent_deliveries: Some(p.max_concurrent_deliveries),
            max_queue_items: Some(p.max_queue_items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::Config;

    /// The admin API's connections JSON is a public contract: the wire destination
    /// serializes as the config's record did (whose token was `#[serde(skip)]`).
    #[test]
    fn a_destination_travels_as_before_without_its_token() {
        let config = Config::builtin();
        for d in &config.registry.destinations {
            let internal = serde_json::to_value(d).expect("internal");
            let wire = serde_json::to_value(DestinationInfo::from(d)).expect("wire");
            assert_eq!(internal, wire);
            assert!(!wire.to_string().contains(&d.verification_token));
        }
        for s in &config.registry.sources {
            let internal = serde_json::to_value(s).expect("internal");
            assert_eq!(
                internal,
                serde_json::to_value(SourceInfo::from(s)).expect("wire")
            );
        }
    }
}
