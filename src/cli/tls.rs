//! `serve --tls-cert/--tls-key`: the flags, and the listeners an engine serving HTTPS
//! needs (its public one, and a plain loopback one for its sandbox and the command
//! line on this machine).

use anyhow::{Context, Result};
use clap::Args;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use switchboard::engine::tls::TlsFiles;

#[derive(Args, Clone, Default)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (server certificate first), with
    /// --tls-key; re-read on SIGHUP and `switchboard reload`. Overrides [engine] tls_cert.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert. Overrides [engine] tls_key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    pub fn files(&self) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

/// The plain loopback listener beside an HTTPS one (see `api::server::Tls`).
pub async fn local_listener() -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot listen on a loopback port for the sandbox beside HTTPS")
}

/// Says, once at start, when traffic will cross the network in clear.
pub fn warn_if_in_clear(addr: SocketAddr, tls: bool) {
    if !tls && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "listening on a non-loopback address without TLS: traffic including PHI will \
             travel in clear; use --tls-cert/--tls-key or a reverse proxy that terminates TLS"
        );
    }
}
