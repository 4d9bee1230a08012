//! `[[organizations]]` and each record's `organization = "…"`: checked with their lines,
//! the time zones a record inherits, and `render_time_zone`.

use super::{Checker, RawConfig};
use crate::engine::config::organizations::{
    OWN_ORGANIZATION_ID, OWN_ORGANIZATION_NAME, Organization, SANDBOX_ORGANIZATION_NAME,
};
use crate::engine::config::{ConfigError, Destination, Source};
use crate::store::identities::Kind;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrganization {
    name: Spanned<String>,
    id: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    npi: Option<String>,
    address: Option<String>,
    /// Any TOML value, so that a wrong one gets our message with its line.
    own: Option<Spanned<toml::Value>>,
}

/// A declared organization, with its ID if the file gives one.
pub(super) struct Declared {
    id: Option<Uuid>,
    org: Organization,
}

/// The `[[organizations]]` entries, checked: unique names, none named as a built-in
/// one, at most one `own = true`.
pub(super) fn declared(raw: &[RawOrganization], check: &mut Checker) -> Vec<Declared> {
    let mut out: Vec<Declared> = Vec::new();
    for o in raw {
        let name = o.name.get_ref().trim().to_string();
        let own = check.switch(o.own.as_ref(), "own", false);
        if name.is_empty() {
            check.at(o.name.span(), "an organization needs a name".to_string());
        }
        if out.iter().any(|d| d.org.name.eq_ignore_ascii_case(&name)) {
            check.at(
                o.name.span(),
                format!("a second organization named \"{name}\"; names must be unique"),
            );
        }
        // "Switchboard" may be declared only as yours: it then replaces the built-in one.
        let builtin = name.eq_ignore_ascii_case(SANDBOX_ORGANIZATION_NAME)
            || (!own && name.eq_ignore_ascii_case(OWN_ORGANIZATION_NAME));
        if builtin {
            check.at(
                o.name.span(),
                format!("organization \"{name}\" is built in; choose another name"),
            );
        }
        if own && out.iter().any(|d| d.org.own) {
            let span = o.own.as_ref().map(|v| v.span()).unwrap_or(o.name.span());
            check.at(
                span,
                format!(
                    "organization \"{name}\" is a second one with own = true; only one organization is yours"
                ),
            );
        }
        let time_zone = o.time_zone.as_ref().map(|z| check.timezone(Some(z)));
        out.push(Declared {
            id: check.id(o.id.as_ref()),
            org: Organization {
                id: Uuid::nil(),
                name,
                time_zone,
                npi: o.npi.as_ref().map(|n| n.trim().to_string()),
                address: o.address.as_ref().map(|a| a.trim().to_string()),
                own,
            },
        });
    }
    out
}

/// Which declared organization each configured record names (`None`: yours).
pub(super) struct Links {
    sources: Vec<Option<String>>,
    destinations: Vec<Option<String>>,
}

/// Resolves every record's `organization` by name (unknown: a problem with its line),
/// gives a record without `timezone` its organization's, and reads `render_time_zone`.
pub(super) fn link(
    raw: &RawConfig,
    declared: &[Declared],
    sources: &mut [(Option<Uuid>, Source)],
    destinations: &mut [(Option<Uuid>, Destination)],
    check: &mut Checker,
) -> Links {
    let own_zone = declared
        .iter()
        .find(|d| d.org.own)
        .and_then(|d| d.org.time_zone);
    let find = |name: Option<&Spanned<String>>, check: &mut Checker| -> Option<usize> {
        let name = name?;
        let wanted = name.get_ref().trim();
        let found = declared
            .iter()
            .position(|d| d.org.name.eq_ignore_ascii_case(wanted));
        if found.is_none() {
            check.at(
                name.span(),
                format!(
                    "organization \"{wanted}\" is not configured: add an [[organizations]] entry with that name, or remove the line to use your own"
                ),
            );
        }
        found
    };
    let zone_of = |link: Option<usize>| match link {
        Some(i) => declared[i].org.time_zone,
        None => own_zone,
    };
    let mut links = Links {
        sources: Vec::new(),
        destinations: Vec::new(),
    };
    for (r, (_, s)) in raw.sources.iter().zip(sources.iter_mut()) {
        let link = find(r.organization.as_ref(), check);
        if r.timezone.is_none() {
            s.timezone = zone_of(link).unwrap_or(Tz::UTC);
        }
        links
            .sources
            .push(link.map(|i| declared[i].org.name.clone()));
    }
    for (r, (_, d)) in raw.destinations.iter().zip(destinations.iter_mut()) {
        let link = find(r.organization.as_ref(), check);
        if r.timezone.is_none() {
            d.timezone = zone_of(link).unwrap_or(Tz::UTC);
        }
        d.render_time_zone = render_zone(r.render_time_zone.as_ref(), d.timezone, check);
        links
            .destinations
            .push(link.map(|i| declared[i].org.name.clone()));
    }
    links
}

/// `render_time_zone`: an IANA name, or `true` / `"organization"` for the
/// destination's own zone (its `timezone`, else its organization's, else UTC).
fn render_zone(value: Option<&Spanned<toml::Value>>, own: Tz, check: &mut Checker) -> Option<Tz> {
    let value = value?;
    match value.get_ref() {
        toml::Value::Boolean(on) => on.then_some(own),
        toml::Value::String(s) if s.trim().eq_ignore_ascii_case("organization") => Some(own),
        toml::Value::String(s) => match s.trim().parse::<Tz>() {
            Ok(zone) => Some(zone),
            Err(_) => {
                check.at(
                    value.span(),
                    format!(
                        "render_time_zone \"{s}\" is not a time zone: use an IANA name such as \"America/New_York\", or true for the destination's own zone"
                    ),
                );
                None
            }
        },
        other => {
            check.at(
                value.span(),
                format!(
                    "render_time_zone = {other} is not valid: use an IANA name such as \"America/New_York\", or true"
                ),
            );
            None
        }
    }
}

/// Every organization with its ID (generated once and kept under `data_dir`): yours
/// first (declared, else the built-in "Switchboard"), the sandbox's, then the others.
pub(super) fn resolve(
    declared: Vec<Declared>,
    home: super::Home<'_>,
) -> Result<Vec<Organization>, ConfigError> {
    let wanted: Vec<_> = declared
        .iter()
        .map(|d| (Kind::Organization, d.org.name.as_str()))
        .collect();
    let generated = if wanted.is_empty() {
        Vec::new()
    } else {
        super::resolve_in(home, &wanted)?
    };
    let mut declared: Vec<Organization> = declared
        .into_iter()
        .zip(
            generated
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat(None)),
        )
        .map(|(d, generated)| Organization {
            id: d.id.or(generated).unwrap_or_else(Uuid::new_v4),
            ..d.org
        })
        .collect();
    let mut all = match declared.iter().position(|o| o.own) {
        Some(i) => vec![declared.remove(i)],
        None => vec![Organization::builtin_own()],
    };
    all.push(Organization::sandbox());
    all.extend(declared);
    Ok(all)
}

impl Links {
    /// Sets each configured record's organization ID (yours where it names none).
    pub(super) fn apply(
        &self,
        organizations: &[Organization],
        sources: &mut [(Option<Uuid>, Source)],
        destinations: &mut [(Option<Uuid>, Destination)],
    ) {
        let own = organizations
            .iter()
            .find(|o| o.own)
            .map_or(OWN_ORGANIZATION_ID, |o| o.id);
        // Declared names are unique, and built-in names are refused for them.
        let id_of = |link: &Option<String>| {
            link.as_ref()
                .and_then(|name| organizations.iter().find(|o| &o.name == name))
                .map_or(own, |o| o.id)
        };
        for (link, (_, s)) in self.sources.iter().zip(sources.iter_mut()) {
            s.organization = id_of(link);
        }
        for (link, (_, d)) in self.destinations.iter().zip(destinations.iter_mut()) {
            d.organization = id_of(link);
        }
    }
}
