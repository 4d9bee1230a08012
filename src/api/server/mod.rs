//! The engine's HTTP server: an accept loop over hyper in front of [`super::router`],
//! with the bounds `axum::serve` lacks, so that clients that send slowly or nothing at
//! all cannot exhaust the engine's file descriptors:
//!
//! - a header timeout (from a request's first byte to the end of its head), a body
//!   timeout (from the end of the head to the end of the body; the handler answers 408)
//!   and an idle timeout (no request in flight and no byte of a new one), from the
//!   `[engine]` settings;
//! - a cap on open connections, derived from the open-file limit (raised to its hard
//!   limit at start); at the cap a connection that has not finished sending a request
//!   is closed for the newcomer (the one idle or dribbling its head the longest, sparing
//!   those not yet read), and if every one is busy the newcomer is refused rather than
//!   going past the cap;
//! - limits on the request target and headers answered with 414/431 in the platform's
//!   shape (see [`limits`]).
//!
//! - TLS when the engine has a certificate ([`serve_on`], [`tls`]): the handshake is
//!   bounded by the header timeout and counts against the cap.
//!
//! The figures are shown in `GET /admin/v1/status`.

mod conn;
pub mod limits;
mod phase;
mod service;
mod tls;

pub use service::BodyTimedOut;

use crate::engine::Engine;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// HTTPS on the public listener, and beside it a plain listener on loopback for the
/// engine's own sandbox and the command line on this machine, which reach the engine
/// by address (a certificate names a host, and they would have to trust it).
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub local: TcpListener,
}

/// Serves the engine's router on `listener` until `shutdown` resolves; then stops
/// accepting, lets requests in flight finish (live event streams end through
/// [`Engine::closing`]) and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send,
) {
    serve_on(listener, None, engine, shutdown).await;
}

/// [`serve`], with TLS on `listener` when `tls` is given (and its loopback listener
/// served in plain HTTP); both share the connection cap.
pub async fn serve_on(
    listener: TcpListener,
    tls: Option<Tls>,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let settings = engine.settings().connections;
    let soft_limit = raise_fd_limit().unwrap_or(1024);
    let fd_capacity = limits::fd_capacity(soft_limit, limits::open_fds().unwrap_or(64));
    let capacity = limits::capacity(settings.max_connections, fd_capacity);
    tracing::info!(
        capacity,
        header_timeout_s = settings.header_timeout.as_secs(),
        body_timeout_s = settings.body_timeout.as_secs(),
        idle_timeout_s = settings.idle_timeout.as_secs(),
        "connection limits"
    );
    // Connections are the engine's tasks: its shutdown waits for them, and its stop
    // ends this loop as `shutdown` does.
    let (tasks, stop) = (engine.tasks().clone(), engine.stopping());
    let registry = Arc::new(conn::Registry::new(capacity, engine.clone()));
    let router = TowerToHyperService::new(super::router(engine));
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(limits::HYPER_MAX_BUF_BYTES)
        // hyper's header timer also runs while a kept-alive connection waits for its
        // next request, which would cut every idle connection at the header timeout;
        // `conn::drive` times headers from their first byte instead.
        .header_read_timeout(None::<Duration>);

    let (acceptor, local) = match tls {
        Some(Tls { config, local }) => (Some(TlsAcceptor::from(config)), Some(local)),
        None => (None, None),
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let ((stream, peer), secure) = tokio::select! {
            () = &mut shutdown => break,
            () = stop.cancelled() => break,
            (accepted, public) = accept(&listener, local.as_ref()) => match accepted {
                Ok(accepted) => (accepted, acceptor.clone().filter(|_| public)),
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, most likely: wait rather than spin.
                        tracing::warn!(error = %e, "accept failed; retrying in 100 ms");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        let Some(conn) = registry.admit() else {
            drop(stream);
            continue;
        };
        let service =
            service::ConnService::new(router.clone(), conn.clone(), settings.body_timeout, peer);
        let (admitted, builder) = (registry.clone(), builder.clone());
        tasks.spawn(async move {
            let io = match secure {
                None => tls::Stream::Plain(stream),
                Some(acceptor) => {
                    match tls::handshake(acceptor, stream, &conn, settings.header_timeout).await {
                        Ok(io) => io,
                        Err(e) => {
                            admitted.remove(conn.id());
                            tracing::debug!(error = %e, "connection closed before TLS");
                            return;
                        }
                    }
                }
            };
            let io = TokioIo::new(service::Tracked::new(io, conn.clone()));
            let connection = builder.serve_connection(io, service);
            let end = conn::drive(connection, &conn, settings).await;
            admitted.remove(conn.id());
            match end {
                conn::End::Closed(Err(e)) => tracing::debug!(error = %e, "connection error"),
                conn::End::Closed(Ok(())) | conn::End::Shutdown => {}
                other => tracing::debug!(end = ?other, "connection closed by the engine"),
            }
        });
        if registry.full() {
            // At the cap, each admission closes someone: let the connection just
            // admitted read its request before the next one is weighed against it.
            tokio::task::yield_now().await;
        }
    }
    drop(listener);
    registry.shut_down_all();
    registry.closed().await;
}

/// Raises the open-file soft limit to the hard limit (see [`limits::raise_fd_limit`])
/// and logs what it did; the soft limit in force, if it could be read. [`serve`] calls
/// it; the CLI calls it first thing, before the engine opens its files.
pub fn raise_fd_limit() -> Option<u64> {
    match limits::raise_fd_limit() {
        Ok(fd) => {
            if let Some(from) = fd.raised_from {
                tracing::info!(from, to = fd.soft, "raised the open-file limit");
            }
            Some(fd.soft)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit; assuming 1024");
            None
        }
    }
}

/// The next connection and its peer, on the public listener (`true`) or the local one.
async fn accept(
    public: &TcpListener,
    local: Option<&TcpListener>,
) -> (std::io::Result<(TcpStream, std::net::SocketAddr)>, bool) {
    let Some(local) = local else {
        return (public.accept().await, true);
    };
    tokio::select! {
        accepted = public.accept() => (accepted, true),
        accepted = local.accept() => (accepted, false),
    }
}

/// Errors of one failed handshake, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
