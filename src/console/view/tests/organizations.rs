//! The Connections pane grouped by organization (the platform's Connections page):
//! destinations under their organization's name, the selected one's endpoint ID, and
//! `y` copying it; at the smallest supported size in the dark and light themes.

use super::*;
use crate::client::wire::OrganizationView;
use crate::console::app::Effect;

const ACME: Uuid = Uuid::from_u128(0xa0);
const METRO: Uuid = Uuid::from_u128(0xa2);

fn organization(id: Uuid, name: &str, own: bool) -> OrganizationView {
    OrganizationView {
        id,
        name: name.into(),
        time_zone: None,
        npi: None,
        own,
    }
}

/// The Development console whose connections belong to organizations: "Sandbox EHR"
/// and "Billing" are Metro Clinic's, "Acme EHR" yours, listed by the engine in the
/// order Sandbox, Acme, Billing.
fn with_organizations() -> App {
    let mut app = console(Role::Admin, Environment::Development);
    let mut view = connections(Environment::Development);
    for (d, org) in view.destinations.iter_mut().zip([METRO, ACME, METRO]) {
        d.destination.organization = org;
    }
    view.organizations = vec![
        organization(ACME, "Acme Health", true),
        organization(METRO, "Metro Clinic", false),
    ];
    update(&mut app, Msg::Connections(view));
    // Focus the Connections pane and select its second destination.
    update(&mut app, key(KeyCode::Char('2')));
    update(&mut app, key(KeyCode::Char('j')));
    app
}

fn themes() -> [(&'static str, Theme); 2] {
    [
        ("dark", Theme::dark()),
        (
            "light",
            Theme::built_in("light").expect("built-in light theme"),
        ),
    ]
}

#[test]
fn connections_grouped_by_organization() {
    for (name, theme) in themes() {
        let mut app = with_organizations();
        let terminal = render(&mut app, &theme, 80, 24);
        // The Connections column only (the feed beside it names destinations too).
        let shown: String = screen(&terminal)
            .lines()
            .map(|line| line.chars().take(33).collect::<String>() + "\n")
            .collect();
        let at = |text: &str| {
            shown
                .find(text)
                .unwrap_or_else(|| panic!("no {text:?} on screen:\n{shown}"))
        };
        // Yours first, then Metro Clinic's two in the engine's order.
        assert!(at("Acme Health (yours)") < at("Acme EHR"), "{shown}");
        assert!(at("Acme EHR") < at("Metro Clinic"), "{shown}");
        assert!(at("Metro Clinic") < at("Sandbox EHR"), "{shown}");
        assert!(at("Sandbox EHR") < at("Billing"), "{shown}");
        // The selection (second: Sandbox EHR) shows the start of its endpoint ID.
        assert!(shown.contains("id 00000000-0000… y copy"), "{shown}");
        assert_snapshot!(
            format!("connections_grouped_by_organization_{name}"),
            terminal.backend()
        );
    }
}

#[test]
fn y_copies_the_selected_endpoint_id() {
    let mut app = with_organizations();
    let effects = update(&mut app, key(KeyCode::Char('y')));
    let Some(Effect::Copy { text, what }) = effects.first() else {
        panic!("no copy: {effects:?}")
    };
    assert_eq!(text, &Uuid::from_u128(88).to_string());
    assert_eq!(what, "Sandbox EHR's endpoint ID");
}
