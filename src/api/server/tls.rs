//! TLS on the accept loop: the handshake of one accepted connection, bounded by the
//! header timeout and ended by the connection's commands (eviction, shutdown) like a
//! request head, and the socket hyper then reads, plain or TLS.

use super::phase::{COMMAND_NONE, Conn};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why a connection ended before its handshake completed.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unsecured {
    /// Not a TLS client hello, or a failed negotiation (e.g. the client does not trust
    /// the certificate and aborts).
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    /// A plain HTTP request on the TLS port: answered with a 400 that says so.
    #[error("plain HTTP on the TLS port (answered 400)")]
    PlainHttp,
    #[error("TLS handshake not finished within the header timeout")]
    TimedOut,
    /// Evicted for a newcomer, or the engine is stopping.
    #[error("closed during the TLS handshake")]
    Closed,
}

/// What a plain-HTTP client gets on the TLS port: a clear answer in the platform's
/// shape instead of bytes it cannot read.
fn plain_http_answer() -> String {
    let body = crate::model::ApiError::bad_request(
        "This port speaks HTTPS only: use an https:// URL for this engine.",
    )
    .body(None)
    .to_string();
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Negotiates TLS on `tcp` for `conn`. The handshake counts as the start of a request
/// head: the header timeout bounds it and, at the connection cap, it may be closed
/// for a newcomer as a slow head would be.
pub(super) async fn handshake(
    acceptor: TlsAcceptor,
    mut tcp: TcpStream,
    conn: &Conn,
    timeout: Duration,
) -> Result<Stream, Unsecured> {
    conn.read_attempted();
    conn.bytes_arrived();
    let work = async move {
        let mut first = [0u8; 1];
        let n = tcp.peek(&mut first).await.map_err(Unsecured::Handshake)?;
        // A TLS record starts with its content type (22 for a handshake); an HTTP
        // request with its method's first letter.
        if n == 1 && first[0].is_ascii_uppercase() {
            let _ = tcp.write_all(plain_http_answer().as_bytes()).await;
            let _ = tcp.shutdown().await;
            return Err(Unsecured::PlainHttp);
        }
        acceptor.accept(tcp).await.map_err(Unsecured::Handshake)
    };
    let mut work = std::pin::pin!(work);
    let mut sleep = std::pin::pin!(tokio::time::sleep(timeout));
    let tls = poll_fn(|cx| {
        // Registered before the command is read, so no command is missed.
        conn.waker.register(cx.waker());
        if conn.command.load(Ordering::Acquire) != COMMAND_NONE {
            return Poll::Ready(Err(Unsecured::Closed));
        }
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Unsecured::TimedOut));
        }
        Poll::Pending
    })
    .await?;
    // Secured, and no request yet: the idle timeout runs until one begins.
    conn.response_finished();
    Ok(Stream::Tls(Box::new(tls)))
}

/// An accepted socket as hyper reads it.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plain_http_answer_has_its_length() {
        let answer = super::plain_http_answer();
        let (head, body) = answer.split_once("\r\n\r\n").expect("head");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{body}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert!(json["Meta"]["Errors"][0]["Text"].is_string());
    }
}
