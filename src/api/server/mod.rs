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
//! The figures are shown in `GET /admin/v1/status`.

mod conn;
pub mod limits;
mod phase;
mod service;

pub use service::BodyTimedOut;

use crate::engine::Engine;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves the engine's router on `listener` until `shutdown` resolves; then stops
/// accepting, lets requests in flight finish (live event streams end through
/// [`Engine::closing`]) and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
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

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let io = TokioIo::new(service::Tracked::new(stream, conn.clone()));
        let service =
            service::ConnService::new(router.clone(), conn.clone(), settings.body_timeout, peer);
        let connection = builder.serve_connection(io, service);
        let admitted = registry.clone();
        tasks.spawn(async move {
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

/// Errors of one failed handshake, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
