//! The Connections pane's side of the state: destinations grouped by organization, its
//! keys, and `y` copying the selected endpoint's ID (its actions are in `app::ops`).

use super::{App, Effect};
use crate::client::wire::ConnectionsView;
use crate::console::keymap::{self, Command, Context};
use crossterm::event::KeyEvent;

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
    pub(super) fn connections_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let count = self
            .connections
            .as_ref()
            .map_or(0, |c| c.destinations.len());
        let last = count.saturating_sub(1);
        let cur = self.connection_cursor;
        match keymap::lookup(Context::Connections, &key)? {
            Command::Down => self.connection_cursor = (cur + 1).min(last),
            Command::Up => self.connection_cursor = cur.saturating_sub(1),
            Command::First => self.connection_cursor = 0,
            Command::Last => self.connection_cursor = last,
            Command::Copy => return self.copy_endpoint_id(),
            command @ (Command::Choose | Command::Pause | Command::Retry) => {
                return self.connection_action(command);
            }
            _ => return None,
        }
        Some(Vec::new())
    }

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
