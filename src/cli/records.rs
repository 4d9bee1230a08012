//! Commands that print or change records beside the engine: paths, API keys, admin
//! tokens, destination verification and the configured connections.

use crate::Locations;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::Path;
use switchboard::engine::{paths, verify};
use switchboard::model::Role;
use switchboard::sandbox;

pub fn paths(at: &Locations) -> Result<()> {
    let config = at.config.clone().unwrap_or_else(paths::default_config_file);
    println!(
        "config  {}{}",
        config.display(),
        if config.exists() {
            ""
        } else {
            "  (absent: built-in Development setup)"
        }
    );
    println!("data    {}", at.data_dir().display());
    println!("logs    {}", at.data_dir().join("logs").display());
    Ok(())
}

/// The configured source of that name, or an error that lists the configured ones.
pub fn configured_source<'c>(
    config: &'c switchboard::engine::Config,
    name: &str,
) -> Result<&'c switchboard::engine::Source> {
    config.registry.source_named(name).with_context(|| {
        let names: Vec<_> = config
            .registry
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        format!(
            "no source named \"{name}\"; configured sources: {}",
            names.join(", ")
        )
    })
}

pub fn keys_create(source: &str, json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let source = configured_source(&config, source)?;
    // The same function as `POST /admin/v1/keys`.
    let created = switchboard::engine::keys::create(
        &at.credentials()?,
        source,
        switchboard::model::view::NewKeyKind::Legacy,
    )?;
    super::audit::note(
        at,
        "key.create",
        &format!("legacy {} for source {}", created.api_key, created.source),
    );
    let secret = created.secret.unwrap_or_default();
    if json {
        println!(
            "{}",
            json!({"apiKey": created.api_key, "secret": secret, "sourceId": source.id, "environment": source.environment})
        );
    } else {
        println!(
            "API key for source \"{}\" ({})",
            source.name, source.environment
        );
        println!("  apiKey  {}", created.api_key);
        println!("  secret  {secret}");
        println!("The secret is shown only now; store it safely.");
    }
    Ok(())
}

/// `--role` of `tokens create` and the console: the roles, each with its line in
/// `--help` (case does not matter, as for `Role::from_str`).
pub fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        Role::ALL.map(|role| PossibleValue::new(role.as_str()).help(role.summary())),
    )
    .try_map(|text| text.parse::<Role>())
}

/// A new file only this user can read, for a secret. An existing file is left alone:
/// the token it may hold stays valid, so overwriting it would hide a live credential.
fn private_file(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
            "{} already exists; remove it or choose another file for --out (no token was created)",
            path.display()
        ),
        _ => anyhow::anyhow!(
            "cannot create the token file {}: {e} (no token was created)",
            path.display()
        ),
    })
}

pub fn tokens_create(
    role: Role,
    name: &str,
    expires_in: Option<chrono::Duration>,
    out: Option<&Path>,
    json: bool,
    at: &Locations,
) -> Result<()> {
    let lifetime = match expires_in {
        Some(lifetime) => lifetime,
        None => at.load()?.settings.admin_token_lifetime,
    };
    // The file first: a path that cannot be written must not cost a live token.
    let file = out
        .map(|path| private_file(path).map(|f| (path, f)))
        .transpose()?;
    let created = at.credentials()?.create_token_for(role, name, lifetime);
    let (record, token) = match created {
        Ok(made) => made,
        Err(e) => {
            if let Some((path, _)) = file {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    super::audit::note(
        at,
        "token.create",
        &format!(
            "admin token \"{}\" ({}) with role {}",
            record.name,
            record.id,
            record.role.as_str()
        ),
    );
    let expires = switchboard::model::time::format_utc(record.expires());
    if let Some((path, mut file)) = file {
        use std::io::Write;
        // The token alone, for `--token-file`.
        file.write_all(format!("{token}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| {
                format!(
                    "cannot write the token to {}; revoke it with `switchboard tokens revoke {}`",
                    path.display(),
                    record.name
                )
            })?;
        let shown = path.display().to_string();
        return super::print(
            json,
            &json!({"file": shown, "role": record.role, "name": record.name, "id": record.id, "expires": expires}),
            |_| {
                format!(
                    "Admin token \"{}\" with role {} written to {shown} (readable by you only).\n\
                     It expires {expires}. Attach with: switchboard --engine URL --token-file {shown}",
                    record.name,
                    record.role.as_str()
                )
            },
        );
    }
    if json {
        println!(
            "{}",
            json!({"token": token, "role": record.role, "name": record.name, "id": record.id, "expires": expires})
        );
    } else {
        println!(
            "Admin token \"{}\" with role {}",
            record.name,
            record.role.as_str()
        );
        println!("  {token}");
        println!("It expires {expires}. The token is shown only now; store it safely.");
    }
    Ok(())
}

pub fn destinations_verify(name: &str, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let Some(destination) = config.registry.destination_named(name).cloned() else {
        let names: Vec<_> = config
            .registry
            .destinations
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        bail!(
            "no destination named \"{name}\"; configured destinations: {}",
            names.join(", ")
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let data_dir = at.data_dir();
    let records = verify::Records::new(&data_dir, at.credentials()?.reach().cloned());
    match runtime.block_on(verify::verify_endpoint(&records, &destination)) {
        Ok(v) => {
            println!(
                "verified \"{}\" at {} ({})",
                destination.name,
                v.url,
                switchboard::model::time::format_utc(v.verified_at)
            );
            Ok(())
        }
        Err(e) => bail!("\"{}\" is not verified: {e}", destination.name),
    }
}

pub fn connections(json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let r = &config.registry;
    // Verified by `destinations verify` (or the admin API) counts, as it does for delivery.
    let records = verify::Records::new(&at.data_dir(), at.credentials()?.reach().cloned());
    let destinations: Vec<_> = r
        .destinations
        .iter()
        .cloned()
        .map(|mut d| {
            d.verified = d.verified || verify::recorded(&records, &d).is_some();
            d
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "sources": r.sources,
                "destinations": destinations,
                "subscriptions": r.subscriptions,
                // The admin API's shape (`model::view::OrganizationView`).
                "organizations": r
                    .organizations
                    .iter()
                    .map(switchboard::model::view::OrganizationView::from)
                    .collect::<Vec<_>>(),
            }))?
        );
        return Ok(());
    }
    println!("Organizations");
    for o in &r.organizations {
        println!(
            "  {}  {}{}  (tz {})",
            o.id,
            o.name,
            if o.own { "  (yours)" } else { "" },
            o.time_zone.map_or("UTC".to_string(), |z| z.to_string())
        );
    }
    println!("Sources");
    for s in &r.sources {
        println!(
            "  {}  {:<12} {}  (tz {})",
            s.id, s.environment, s.name, s.timezone
        );
    }
    println!("Destinations");
    for d in &destinations {
        println!(
            "  {}  {:<12} {}  {:?} {}{}{}{}",
            d.id,
            d.environment,
            d.name,
            d.mode,
            d.url
                .as_deref()
                .unwrap_or(if d.id == sandbox::DESTINATION_ID {
                    "<the engine's own address>/sandbox/ehr"
                } else {
                    "-"
                }),
            if d.verified { "" } else { "  (unverified)" },
            d.outbound_auth
                .as_ref()
                .map(|a| format!("  (auth: {})", a.kind()))
                .unwrap_or_default(),
            d.fhir_slug
                .as_ref()
                .map(|slug| format!("  (FHIR: /fhir/R4/{slug}/)"))
                .unwrap_or_default()
        );
    }
    println!("Subscriptions");
    for s in &r.subscriptions {
        let name = |id| {
            r.source(id)
                .map(|s| s.name.clone())
                .or_else(|| r.destination(id).map(|d| d.name.clone()))
                .unwrap_or_default()
        };
        let models = if s.data_models.is_empty() {
            "*".to_string()
        } else {
            s.data_models.join(", ")
        };
        println!(
            "  {} → {}: {}",
            name(s.source_id),
            name(s.destination_id),
            models
        );
    }
    Ok(())
}
