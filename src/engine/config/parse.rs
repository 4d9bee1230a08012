//! Reading the TOML file: raw shapes, checks with file and line, ID resolution.

use super::*;
use crate::store::identities::{self, Kind};
use engine::{RawEngine, engine_settings};
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    store: store::RawStore,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    destinations: Vec<RawDestination>,
    #[serde(default)]
    subscriptions: Vec<RawSubscription>,
    #[serde(default)]
    organizations: Vec<organizations::RawOrganization>,
    /// `[environments.<environment>.variables]`: the composer's variable profiles.
    #[serde(default)]
    environments: BTreeMap<String, RawEnvironment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    #[serde(default)]
    variables: BTreeMap<String, Spanned<String>>,
    retention_days: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    id: Option<Spanned<String>>,
    environment: Spanned<String>,
    timezone: Option<Spanned<String>>,
    /// Any TOML value, so that a wrong one gets our message with its line.
    legacy_ids: Option<Spanned<toml::Value>>,
    /// Its organization's name (default: yours).
    organization: Option<Spanned<String>>,
    /// Any TOML value, so that a wrong one gets our message with its line.
    requests_per_second: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    name: Spanned<String>,
    id: Option<Spanned<String>>,
    environment: Spanned<String>,
    url: Option<Spanned<String>>,
    verification_token: Option<String>,
    verification_method: Option<VerificationMethod>,
    mode: Option<DeliveryMode>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    verified: bool,
    retry_schedule_seconds: Option<Spanned<Vec<f64>>>,
    quarantine_after: Option<u32>,
    queue_key: Option<QueueKey>,
    timeout_seconds: Option<Spanned<f64>>,
    max_concurrent_deliveries: Option<Spanned<u64>>,
    max_queue_items: Option<Spanned<u64>>,
    /// How the engine authenticates what it sends there (see `outbound`).
    auth: Option<Spanned<outbound::RawAuth>>,
    /// Its name under `/fhir/R4/` and its FHIR server's base (see `fhir`).
    fhir_slug: Option<Spanned<String>>,
    fhir_url: Option<Spanned<String>>,
    /// Its organization's name (default: yours), and the zone deliveries to it are
    /// written in (see `organizations`).
    organization: Option<Spanned<String>>,
    render_time_zone: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscription {
    source: Spanned<String>,
    destination: Spanned<String>,
    data_models: Spanned<Vec<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Checker<'a> {
    path: &'a str,
    /// The config file's directory: relative secret files are read from there.
    dir: &'a Path,
    text: &'a str,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn at(&mut self, span: std::ops::Range<usize>, message: String) {
        self.problems.push(format!(
            "line {}: {message}",
            line_of(self.text, span.start)
        ));
    }

    fn not_builtin(&mut self, name: &Spanned<String>) {
        if let Some(builtin) = BUILTIN_NAMES
            .iter()
            .find(|n| n.eq_ignore_ascii_case(name.get_ref().trim()))
        {
            self.at(
                name.span(),
                format!("\"{builtin}\" is built in; choose another name"),
            );
        }
    }

    fn environment(&mut self, value: &Spanned<String>) -> Environment {
        value.get_ref().parse().unwrap_or_else(|e| {
            self.at(value.span(), format!("{e}"));
            Environment::Development
        })
    }

    fn timezone(&mut self, value: Option<&Spanned<String>>) -> Tz {
        let Some(value) = value else { return Tz::UTC };
        value.get_ref().parse().unwrap_or_else(|_| {
            self.at(
                value.span(),
                format!(
                    "unknown time zone \"{}\": use an IANA name such as \"America/New_York\" or \"UTC\"",
                    value.get_ref()
                ),
            );
            Tz::UTC
        })
    }

    /// A true/false setting, `default` when absent.
    fn switch(&mut self, value: Option<&Spanned<toml::Value>>, name: &str, default: bool) -> bool {
        let Some(value) = value else { return default };
        if let toml::Value::Boolean(on) = value.get_ref() {
            return *on;
        }
        self.at(
            value.span(),
            format!(
                "{name} = {} is not a switch: write {name} = true or {name} = false (without quotes)",
                value.get_ref()
            ),
        );
        default
    }

    /// A whole-number setting within `range`; `None` when absent or out of range (the
    /// problem is recorded with its line).
    fn within(
        &mut self,
        value: Option<&Spanned<u64>>,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let value = value?;
        let n = *value.get_ref();
        if range.contains(&n) {
            return Some(n);
        }
        self.at(
            value.span(),
            format!(
                "{name} = {n} is out of range: use {} to {}",
                range.start(),
                range.end()
            ),
        );
        None
    }

    fn id(&mut self, value: Option<&Spanned<String>>) -> Option<Uuid> {
        let value = value?;
        match Uuid::parse_str(value.get_ref()) {
            Ok(id) => Some(id),
            Err(_) => {
                self.at(
                    value.span(),
                    format!(
                        "id \"{}\" is not a UUID; remove it to have one generated",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }
}

pub use store::EMBEDDED;

/// Where generated IDs are kept: a data directory's `identities.json`, or the shared
/// PostgreSQL store of several nodes (so every node and CLI call sees the same IDs).
#[derive(Debug, Clone, Copy)]
enum Home<'a> {
    Dir(&'a Path),
    Shared(&'a crate::store::postgres::PgLocation),
}

/// A stable ID for every (kind, name) in `home`, generated once.
fn resolve_in(home: Home<'_>, wanted: &[(Kind, &str)]) -> Result<Vec<Uuid>, ConfigError> {
    Ok(match home {
        Home::Dir(dir) => identities::resolve(dir, wanted)?,
        Home::Shared(at) => crate::store::postgres::blocking::resolve_identities(at, wanted)
            .map_err(|e| identities::IdentityError {
                path: std::path::PathBuf::from(at.shown()),
                reason: e.to_string(),
            })?,
    })
}

impl Config {
    /// Parses and checks config text. IDs missing from the file are generated once and
    /// kept under `data_dir` (or in the shared store, when `[store] url` names one).
    pub fn parse(text: &str, path: &Path, data_dir: &Path) -> Result<Config, ConfigError> {
        Config::parse_on(text, path, data_dir, None)
    }

    /// [`Config::parse`], with `store` (`--store`, `SWITCHBOARD_STORE`) in place of the
    /// file's `[store] url`.
    pub fn parse_on(
        text: &str,
        path: &Path,
        data_dir: &Path,
        store: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let path_str = path.display().to_string();
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let message = e.message().trim().to_string();
            ConfigError::Invalid {
                path: path_str.clone(),
                message: match line {
                    Some(line) => format!("line {line}: {message}"),
                    None => message,
                },
            }
        })?;
        let mut check = Checker {
            path: &path_str,
            dir: path.parent().unwrap_or(Path::new(".")),
            text,
            problems: Vec::new(),
        };

        // Where IDs are kept depends on the store: read it first.
        let shared_store = store::shared(&raw.store, store, &mut check);
        check.finish()?;
        let home = match &shared_store {
            Some(at) => Home::Shared(at),
            None => Home::Dir(data_dir),
        };

        // Names must be unique per kind; IDs are resolved after the checks.
        let wanted = unique_names(&raw, &mut check);
        fhir::unique_slugs(&raw, &mut check);
        let declared = organizations::declared(&raw.organizations, &mut check);
        let mut sources: Vec<_> = raw.sources.iter().map(|s| source(s, &mut check)).collect();
        let mut destinations: Vec<_> = raw
            .destinations
            .iter()
            .map(|d| destination(d, &mut check))
            .collect();
        let links =
            organizations::link(&raw, &declared, &mut sources, &mut destinations, &mut check);
        check.finish()?;
        let organizations = organizations::resolve(declared, home)?;
        links.apply(&organizations, &mut sources, &mut destinations);

        let mut generated = resolve_in(home, &wanted)?.into_iter();
        let mut with_id = |id: Option<Uuid>| {
            let fallback = generated.next().unwrap_or_else(Uuid::new_v4);
            id.unwrap_or(fallback)
        };
        let (mut all_sources, mut all_destinations, mut subscriptions) = builtins();
        // The console speaks for your organization, whichever that is.
        let own = organizations.first().map_or(OWN_ORGANIZATION_ID, |o| o.id);
        for s in all_sources.iter_mut() {
            if s.organization == OWN_ORGANIZATION_ID {
                s.organization = own;
            }
        }
        all_sources.extend(sources.into_iter().map(|(id, mut s)| {
            s.id = with_id(id);
            s
        }));
        all_destinations.extend(destinations.into_iter().map(|(id, mut d)| {
            d.id = with_id(id);
            d
        }));
        let lookup = Registry::new(all_sources.clone(), all_destinations.clone(), Vec::new());
        shared_ids(&lookup, &mut check);
        for sub in &raw.subscriptions {
            subscriptions.extend(subscription(sub, &lookup, &mut check));
        }
        check.finish()?;

        let profiles = profiles(&raw.environments, &mut check);
        let mut settings = engine_settings(&raw.engine, &mut check);
        settings.retention = retention::policy(&raw.environments, &mut check);
        settings.store = store::tuning(&raw.store, &mut check);
        settings.shared_store = shared_store;
        check.finish()?;
        Ok(Config {
            registry: Registry::new(all_sources, all_destinations, subscriptions)
                .with_organizations(organizations),
            settings,
            path: Some(path.to_path_buf()),
            profiles,
            throttle_clock: Default::default(),
        })
    }
}

impl Checker<'_> {
    /// Every problem found so far, as one error (none: carry on).
    fn finish(&mut self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            path: self.path.to_string(),
            message: self.problems.join("\n  "),
        })
    }
}

/// Checks that names are unique per kind and not built in; the names whose IDs may
/// have to be generated, in file order.
fn unique_names<'r>(raw: &'r RawConfig, check: &mut Checker) -> Vec<(Kind, &'r str)> {
    let mut wanted = Vec::new();
    let mut seen: HashMap<(bool, String), usize> = HashMap::new();
    let named = raw
        .sources
        .iter()
        .map(|s| (true, &s.name))
        .chain(raw.destinations.iter().map(|d| (false, &d.name)));
    for (i, (is_source, name)) in named.enumerate() {
        let kind = if is_source {
            Kind::Source
        } else {
            Kind::Destination
        };
        wanted.push((kind, name.get_ref().as_str()));
        if seen
            .insert((is_source, name.get_ref().to_lowercase()), i)
            .is_some()
        {
            let what = if is_source { "source" } else { "destination" };
            check.at(
                name.span(),
                format!(
                    "a second {what} named \"{}\"; names must be unique",
                    name.get_ref()
                ),
            );
        }
        check.not_builtin(name);
    }
    wanted
}

/// A `[[sources]]` entry, with its ID if the file gives one.
fn source(s: &RawSource, check: &mut Checker) -> (Option<Uuid>, Source) {
    let id = check.id(s.id.as_ref());
    let source = Source {
        id: Uuid::nil(),
        name: s.name.get_ref().trim().to_string(),
        environment: check.environment(&s.environment),
        timezone: check.timezone(s.timezone.as_ref()),
        legacy_ids: check.switch(s.legacy_ids.as_ref(), "legacy_ids", true),
        requests_per_second: limits::requests_per_second(s.requests_per_second.as_ref(), check),
        // Set once organizations are resolved (`organizations::Links::apply`).
        organization: Uuid::nil(),
    };
    (id, source)
}

/// A `[[destinations]]` entry, with its ID if the file gives one.
fn destination(d: &RawDestination, check: &mut Checker) -> (Option<Uuid>, Destination) {
    let id = check.id(d.id.as_ref());
    let mode = d.mode.unwrap_or(DeliveryMode::Push);
    let (fhir_slug, fhir_url) = fhir::fhir_fields(d, check);
    let url = d.url.as_ref().map(|u| u.get_ref().trim().to_string());
    // A FHIR server without a data-model URL: its base is where it is reached.
    let url = url.or_else(|| fhir_url.clone());
    match (&url, mode) {
        (None, DeliveryMode::Push) => check.at(
            d.name.span(),
            format!(
                "destination \"{}\" has no url; push destinations need one (or set mode = \"poll\")",
                d.name.get_ref()
            ),
        ),
        (Some(u), _) => {
            let ok = reqwest::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
                .unwrap_or(false);
            if !ok {
                let span = d.url.as_ref().map(|u| u.span()).unwrap_or(d.name.span());
                check.at(span, format!("url \"{u}\" is not an http(s) URL"));
            }
        }
        _ => {}
    }
    let token = d.verification_token.clone().unwrap_or_default();
    if token.trim().is_empty() {
        check.at(
            d.name.span(),
            format!(
                "destination \"{}\" needs a verification_token (it is sent with every delivery so the receiver can tell the request is ours)",
                d.name.get_ref()
            ),
        );
    }
    let destination = Destination {
        id: Uuid::nil(),
        name: d.name.get_ref().trim().to_string(),
        environment: check.environment(&d.environment),
        url,
        verification_token: token,
        verification_method: d.verification_method.unwrap_or(VerificationMethod::Post),
        mode,
        timezone: check.timezone(d.timezone.as_ref()),
        verified: d.verified,
        delivery: delivery_policy(d, check),
        outbound_auth: d.auth.as_ref().and_then(|auth| {
            let dir = check.dir;
            outbound::check(auth, dir, |span, message| check.at(span, message))
        }),
        fhir_slug,
        fhir_url,
        // Set by `organizations::link` and `Links::apply`.
        organization: Uuid::nil(),
        render_time_zone: None,
    };
    (id, destination)
}

/// The largest `max_concurrent_deliveries`: each is an open connection to the peer.
const MAX_CONCURRENT_DELIVERIES: u64 = 1024;

/// How a destination is delivered to: the defaults, with what the entry sets.
fn delivery_policy(d: &RawDestination, check: &mut Checker) -> DeliveryPolicy {
    let mut delivery = DeliveryPolicy::default();
    if let Some(schedule) = &d.retry_schedule_seconds {
        if schedule.get_ref().is_empty()
            || schedule
                .get_ref()
                .iter()
                .any(|s| !s.is_finite() || *s < 0.0)
        {
            check.at(
                schedule.span(),
                "retry_schedule_seconds must list one or more waits of 0 seconds or more"
                    .to_string(),
            );
        } else {
            delivery.retry_schedule = schedule
                .get_ref()
                .iter()
                .map(|s| Duration::from_secs_f64(*s))
                .collect();
        }
    }
    if let Some(timeout) = &d.timeout_seconds {
        if !timeout.get_ref().is_finite() || *timeout.get_ref() <= 0.0 {
            check.at(
                timeout.span(),
                "timeout_seconds must be more than 0".to_string(),
            );
        } else {
            delivery.timeout = Duration::from_secs_f64(*timeout.get_ref());
        }
    }
    if let Some(n) = d.quarantine_after {
        // 0: never, the platform's behaviour (an operator acts).
        delivery.quarantine_after = (n > 0).then_some(n);
    }
    delivery.queue_key = d.queue_key.unwrap_or(QueueKey::Pair);
    if let Some(n) = check.within(
        d.max_concurrent_deliveries.as_ref(),
        "max_concurrent_deliveries",
        1..=MAX_CONCURRENT_DELIVERIES,
    ) {
        delivery.max_concurrent_deliveries = n as usize;
    }
    if let Some(n) = check.within(
        d.max_queue_items.as_ref(),
        "max_queue_items",
        1..=1_000_000_000,
    ) {
        delivery.max_queue_items = n as usize;
    }
    delivery
}

/// Problems with IDs shared between records (configured or built in).
fn shared_ids(lookup: &Registry, check: &mut Checker) {
    let mut ids = HashMap::new();
    for s in &lookup.sources {
        if let Some(prev) = ids.insert(s.id, s.name.clone()) {
            check.problems.push(format!(
                "sources \"{prev}\" and \"{}\" share the id {}",
                s.name, s.id
            ));
        }
    }
    for d in &lookup.destinations {
        if let Some(prev) = ids.insert(d.id, d.name.clone()) {
            check.problems.push(format!(
                "\"{prev}\" and destination \"{}\" share the id {}",
                d.name, d.id
            ));
        }
    }
}

/// A `[[subscriptions]]` entry, resolved against the configured records; `None` when
/// its source or destination is unknown (the problem is in `check`).
fn subscription(
    sub: &RawSubscription,
    lookup: &Registry,
    check: &mut Checker,
) -> Option<Subscription> {
    let source = lookup.source_named(sub.source.get_ref());
    let destination = lookup.destination_named(sub.destination.get_ref());
    if source.is_none() {
        check.at(
            sub.source.span(),
            format!(
                "subscription names source \"{}\", which is not configured",
                sub.source.get_ref()
            ),
        );
    }
    if destination.is_none() {
        check.at(
            sub.destination.span(),
            format!(
                "subscription names destination \"{}\", which is not configured",
                sub.destination.get_ref()
            ),
        );
    }
    let mut models = Vec::new();
    for m in sub.data_models.get_ref() {
        if m == "*" {
            models.clear();
            break;
        }
        if let Some(fhir) = fhir::data_model(m) {
            match fhir {
                Ok(name) => models.push(name),
                Err(e) => check.at(sub.data_models.span(), e),
            }
            continue;
        }
        match catalog::data_model(m) {
            Ok(name) => models.push(name.to_string()),
            Err(e) => check.at(
                sub.data_models.span(),
                e.to_string().replace("Meta.DataModel ", "data model "),
            ),
        }
    }
    if sub.data_models.get_ref().is_empty() {
        check.at(
            sub.data_models.span(),
            "data_models is empty: list data models, or [\"*\"] for all".to_string(),
        );
    }
    let (s, d) = (source?, destination?);
    if s.environment != d.environment {
        check.at(
            sub.source.span(),
            format!(
                "source \"{}\" is in {} but destination \"{}\" is in {}: traffic only flows within one environment",
                s.name, s.environment, d.name, d.environment
            ),
        );
    }
    Some(Subscription {
        source_id: s.id,
        destination_id: d.id,
        data_models: models,
    })
}

/// The variable profiles: the built-in Development one (see [`builtin_profiles`]) with
/// the configured values over it, and the configured ones of the other environments.
fn profiles(
    raw: &BTreeMap<String, RawEnvironment>,
    check: &mut Checker<'_>,
) -> BTreeMap<Environment, Variables> {
    let mut profiles = builtin_profiles();
    for (name, environment) in raw {
        let Ok(env) = name.parse::<Environment>() else {
            // The key has no span of its own; its table header is where to look.
            let at = check
                .text
                .find(&format!("environments.{name}"))
                .unwrap_or_default();
            check.at(
                at..at,
                format!("[environments.{name}]: unknown environment \"{name}\": use development, staging or production"),
            );
            continue;
        };
        let profile = profiles.entry(env).or_default();
        for (variable, value) in &environment.variables {
            if !variables::is_valid_name(variable) {
                check.at(
                    value.span(),
                    format!(
                        "variable name \"{variable}\" is not valid: start with a letter or _, then letters, digits, _, . or -"
                    ),
                );
                continue;
            }
            profile.insert(variable.clone(), value.get_ref().clone());
        }
    }
    profiles
}

mod engine;
mod fhir;
mod limits;
mod metrics_token;
mod organizations;
mod retention;
mod store;
#[cfg(test)]
mod tests;
