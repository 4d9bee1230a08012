//! The Connections pane's side of the state: destinations grouped by organization, and
//! `y` copying the selected endpoint's ID.

use super::{App, Effect};
use crate::client::wire::ConnectionsView;

/// Orders destinations by organization (as the engine lists them: yours first), keeping
/// the engine's order within each; destinations of an organization the view does not
/// name go last. An older engine without organizations keeps its order.
pub(super) fn group_by_organization(view: &mut ConnectionsView) {
    if view.organizations.is_empty() {
        return;
    }
    let rank = |org| {
        view.organizations
            .iter()
            .position(|o| o.id == org)
            .unwrap_or(usize::MAX)
    };
    let mut destinations = std::mem::take(&mut view.destinations);
    destinations.sort_by_key(|d| rank(d.destination.organization));
    view.destinations = destinations;
}

impl App {
    /// `y` in the Connections pane: the selected destination's ID, the one a sender puts
    /// in `Meta.Destinations`.
    pub(super) fn copy_endpoint_id(&self) -> Option<Vec<Effect>> {
        let d = self
            .connections
            .as_ref()?
            .destinations
            .get(self.connection_cursor)?;
        Some(vec![Effect::Copy {
            text: d.destination.id.to_string(),
            what: format!("{}'s endpoint ID", d.destination.name),
        }])
    }
}
