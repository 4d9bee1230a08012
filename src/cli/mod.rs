//! The command line's wiring, kept out of `main.rs` (which only declares the
//! subcommands and dispatches them). [`simulate`] is the traffic generator with its
//! run's key and the data-directory check behind a refused key. [`tls`] is `serve`'s
//! HTTPS flags and listeners. [`audit`] exports the audit trail and records the
//! credential commands in it.

pub mod audit;
pub mod clients;
pub mod maintenance;
pub mod records;
pub mod revoke;
pub mod running;
pub mod simulate;
pub mod tls;

use anyhow::Result;

/// Prints `value` as JSON for scripts, or `text` for people. A closed pipe (`| head`)
/// is not worth a panic.
pub fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<()> {
    use std::io::Write;
    let text = if json {
        serde_json::to_string_pretty(value)?
    } else {
        text(value).trim_end().to_string()
    };
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    Ok(())
}
