//! `keys create --jwks FILE | --jwks-url URL | --hs384`: an OAuth client for the JWT
//! flow (see `engine::oauth::register`); `tokens create` with the same flags: a user
//! key (see `engine::oauth::users`).

use crate::Locations;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use switchboard::engine::oauth::register::{self, ClientKeys};
use switchboard::engine::oauth::users;
use switchboard::model::Role;

#[derive(Args, Clone, Default)]
pub struct ClientArgs {
    /// Register an OAuth client verified with the public keys (RS384/ES384) of this
    /// JWKS file.
    #[arg(long, conflicts_with_all = ["jwks_url", "hs384"])]
    jwks: Option<PathBuf>,
    /// Register an OAuth client verified with the JWKS served at this http(s) URL.
    #[arg(long, conflicts_with = "hs384")]
    jwks_url: Option<String>,
    /// Register an OAuth client that signs HS384 with a secret made now (shown once).
    #[arg(long)]
    hs384: bool,
}

impl ClientArgs {
    /// `None` for a legacy API key.
    pub fn keys(self) -> Option<ClientKeys> {
        match (self.jwks, self.jwks_url, self.hs384) {
            (Some(file), _, _) => Some(ClientKeys::JwksFile(file)),
            (_, Some(url), _) => Some(ClientKeys::JwksUrl(url)),
            (_, _, true) => Some(ClientKeys::Hs384),
            _ => None,
        }
    }
}

pub fn create(source: &str, keys: ClientKeys, json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let found = super::records::configured_source(&config, source)?;
    let registered = register::register(&at.credentials()?, found, keys)?;
    super::audit::note(
        at,
        "key.create",
        &format!(
            "{} client {} for source {}",
            registered.keys.kind, registered.keys.client_id, registered.source
        ),
    );
    super::print(json, &registered, register::Registered::text)
}

pub fn create_user(
    role: Role,
    name: &str,
    expires_in: Option<chrono::Duration>,
    keys: ClientKeys,
    json: bool,
    at: &Locations,
) -> Result<()> {
    let lifetime = match expires_in {
        Some(lifetime) => lifetime,
        None => at.load()?.settings.admin_token_lifetime,
    };
    let registered = users::register_user(&at.credentials()?, role, name, lifetime, keys)?;
    super::audit::note(
        at,
        "user-key.create",
        &format!(
            "{} user key {} \"{}\" with role {}",
            registered.keys.kind,
            registered.keys.client_id,
            registered.name,
            registered.role.as_str()
        ),
    );
    super::print(json, &registered, users::RegisteredUser::text)
}
