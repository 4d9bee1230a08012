//! The `[engine]` table: its raw shape and its checks, with the defaults filled in.

use super::Checker;
use crate::engine::config::{Settings, connections};
use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEngine {
    pub(super) max_body_bytes: Option<usize>,
    pub(super) query_timeout_seconds: Option<u64>,
    pub(super) connect_timeout_seconds: Option<u64>,
    pub(super) admin_token_days: Option<u32>,
    pub(super) min_free_disk_mb: Option<u64>,
    pub(super) header_timeout_seconds: Option<Spanned<u64>>,
    pub(super) body_timeout_seconds: Option<Spanned<u64>>,
    pub(super) idle_timeout_seconds: Option<Spanned<u64>>,
    pub(super) max_connections: Option<Spanned<u64>>,
    pub(super) journal_backlog: Option<Spanned<u64>>,
    pub(super) public_url: Option<Spanned<String>>,
    pub(super) max_upload_bytes: Option<Spanned<u64>>,
    pub(super) auth_failures_per_key: Option<Spanned<u64>>,
    pub(super) auth_failures_per_address: Option<Spanned<u64>>,
    pub(super) auth_failure_window_seconds: Option<Spanned<u64>>,
    pub(super) metrics_token: Option<Spanned<String>>,
    pub(super) metrics_token_file: Option<Spanned<String>>,
    pub(super) metrics_token_env: Option<Spanned<String>>,
    pub(super) tls_cert: Option<Spanned<String>>,
    pub(super) tls_key: Option<Spanned<String>>,
    pub(super) encryption_key_file: Option<String>,
    #[serde(default)]
    pub(super) encryption_old_key_files: Vec<String>,
}

/// The `[engine]` table: checked (problems go to `check`, with their lines), then with
/// the defaults filled in.
pub(super) fn engine_settings(e: &RawEngine, check: &mut Checker) -> Settings {
    if let Some(days) = e.admin_token_days
        && !(1..=3650).contains(&days)
    {
        check.problems.push(format!(
            "[engine] admin_token_days = {days}: use a number of days from 1 to 3650"
        ));
    }
    let connections = connections::check(
        connections::RawConnections {
            header_timeout_seconds: e.header_timeout_seconds.as_ref(),
            body_timeout_seconds: e.body_timeout_seconds.as_ref(),
            idle_timeout_seconds: e.idle_timeout_seconds.as_ref(),
            max_connections: e.max_connections.as_ref(),
        },
        |span, message| check.at(span, message),
    );
    let defaults = Settings::default();
    if e.encryption_key_file.is_none() && !e.encryption_old_key_files.is_empty() {
        check.problems.push(
            "[engine] encryption_old_key_files is set without encryption_key_file: set the \
             new key as encryption_key_file and keep the old ones in encryption_old_key_files"
                .into(),
        );
    }
    let beside = |file: &String| check.dir.join(file);
    let encryption_key_file = e.encryption_key_file.as_ref().map(beside);
    let encryption_old_key_files = e.encryption_old_key_files.iter().map(beside).collect();
    Settings {
        encryption_key_file,
        encryption_old_key_files,
        max_body_bytes: e.max_body_bytes.unwrap_or(defaults.max_body_bytes),
        query_timeout: e
            .query_timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(defaults.query_timeout),
        connect_timeout: e
            .connect_timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(defaults.connect_timeout),
        admin_token_lifetime: e
            .admin_token_days
            .map(|d| chrono::Duration::days(i64::from(d)))
            .unwrap_or(defaults.admin_token_lifetime),
        min_free_disk_bytes: e
            .min_free_disk_mb
            .map(|mb| mb.saturating_mul(1024 * 1024))
            .unwrap_or(defaults.min_free_disk_bytes),
        connections,
        public_url: public_url(e.public_url.as_ref(), check),
        journal_backlog: check
            .within(e.journal_backlog.as_ref(), "journal_backlog", 1..=1_000_000)
            .map(|n| n as usize)
            .unwrap_or(defaults.journal_backlog),
        max_upload_bytes: check
            .within(
                e.max_upload_bytes.as_ref(),
                "max_upload_bytes",
                1..=(1 << 40),
            )
            .map(|n| n as usize)
            .unwrap_or(defaults.max_upload_bytes),
        // Per environment: `[environments.<env>]`, read by `parse::retention`.
        retention: Default::default(),
        // `[store]`, read by `parse::store`.
        store: defaults.store,
        shared_store: None,
        auth_limits: super::limits::auth_limits(
            super::limits::RawAuthLimits {
                per_key: e.auth_failures_per_key.as_ref(),
                per_address: e.auth_failures_per_address.as_ref(),
                window_seconds: e.auth_failure_window_seconds.as_ref(),
            },
            check,
        ),
        metrics_token: super::metrics_token::metrics_token(
            [
                e.metrics_token.as_ref(),
                e.metrics_token_file.as_ref(),
                e.metrics_token_env.as_ref(),
            ],
            check,
        ),
        tls: tls_files(e, check),
    }
}

/// `tls_cert` and `tls_key`: both or neither (their contents are read at start),
/// relative to the configuration file's directory.
fn tls_files(e: &RawEngine, check: &mut Checker) -> Option<crate::engine::tls::TlsFiles> {
    match (&e.tls_cert, &e.tls_key) {
        // Relative to the configuration file's directory, as the key files are.
        (Some(cert), Some(key)) => Some(crate::engine::tls::TlsFiles {
            cert: check.dir.join(cert.get_ref()),
            key: check.dir.join(key.get_ref()),
        }),
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => {
            check.at(
                one.span(),
                "[engine] tls_cert and tls_key go together: give both PEM files, or neither".into(),
            );
            None
        }
    }
}

/// `public_url`: the engine's base URL as clients reach it (the JWT flow's `aud`), an
/// http(s) URL, perhaps with a path (a proxy's prefix), without a query; kept without a
/// trailing slash.
fn public_url(raw: Option<&Spanned<String>>, check: &mut Checker) -> Option<String> {
    let raw = raw?;
    let url = raw.get_ref().trim().trim_end_matches('/');
    let plain = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|rest| {
            !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#', ' '])
        });
    if !plain {
        check.at(
            raw.span(),
            format!(
                "[engine] public_url = \"{}\": use the base URL clients reach the engine at, \
                 such as \"https://switchboard.example.org\" (http or https, no query)",
                raw.get_ref()
            ),
        );
        return None;
    }
    Some(url.to_string())
}
