//! Revoking and listing API keys and admin tokens: through the running engine when
//! one holds the store (see `engine::revocation::command`), printed for people or as
//! JSON.

use super::running::runtime;
use crate::Locations;
use anyhow::Result;
use switchboard::engine::revocation::command;

pub fn keys_revoke(
    api_key: Option<&str>,
    source: Option<&str>,
    json: bool,
    at: &Locations,
) -> Result<()> {
    let shared = at.shared_store()?;
    let report = runtime()?.block_on(command::keys_revoke(
        &at.data_dir(),
        shared.as_ref(),
        api_key,
        source,
    ))?;
    super::print(json, &report, |r| r.text())
}

pub fn keys_list(json: bool, at: &Locations) -> Result<()> {
    let keys = command::keys_list(&at.data_dir(), at.shared_store()?.as_ref())?;
    super::print(json, &keys, |k| command::keys_text(k))
}

pub fn tokens_revoke(name: &str, json: bool, at: &Locations) -> Result<()> {
    let shared = at.shared_store()?;
    let report = runtime()?.block_on(command::tokens_revoke(
        &at.data_dir(),
        shared.as_ref(),
        name,
    ))?;
    super::print(json, &report, |r| r.text())
}

pub fn tokens_list(json: bool, at: &Locations) -> Result<()> {
    let shared = at.shared_store()?;
    let listing = runtime()?.block_on(command::tokens_list(&at.data_dir(), shared.as_ref()))?;
    super::print(json, &listing, command::tokens_text)
}
