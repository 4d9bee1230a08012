//! `check`, `backup`, `restore` and `retention run`: the store's maintenance commands, printed for
//! people or as JSON.

use crate::Locations;
use anyhow::{Result, bail};
use std::path::Path;
use switchboard::engine::maintenance;

pub fn check(json: bool, at: &Locations) -> Result<()> {
    // The configuration's keys, so that sealed bodies are checked, not unreadable.
    let config = at.load()?;
    let report = maintenance::check(&at.data_dir(), &config.settings)?;
    super::print(json, &report, |r| r.text())?;
    if !report.healthy {
        bail!("the data directory has problems (listed above)");
    }
    Ok(())
}

pub fn backup(dir: &Path, json: bool, at: &Locations) -> Result<()> {
    let report = maintenance::backup(&at.data_dir(), dir)?;
    super::print(json, &report, |r| r.text())
}

pub fn reencrypt(json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let report = maintenance::reencrypt(&at.data_dir(), &config.settings)?;
    super::print(json, &report, |r| r.text())
}

pub fn restore(dir: &Path, json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let report = maintenance::restore(&at.data_dir(), dir, &config.settings)?;
    super::print(json, &report, |r| r.text())
}

pub fn retention(json: bool, at: &Locations) -> Result<()> {
    let config = at.load()?;
    let report = switchboard::engine::retention::run_now(&at.data_dir(), &config.settings)?;
    super::print(json, &report, |r| r.text())
}
