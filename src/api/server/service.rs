//! The pieces hyper drives for one connection: the socket (which notes when a request
//! begins), the service in front of the router (head limits, phase changes) and the
//! request and response bodies (body timeout, end of the response). None allocates
//! beyond what `axum::serve` did: they wrap values in place.

use super::limits;
use super::phase::{Conn, Phase};
use crate::api::error_response;
use axum::Router;
use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::service::{TowerToHyperService, TowerToHyperServiceFuture};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body did not arrive within the body timeout. `api::read_body` answers
/// 408 when it finds this among a body error's sources.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body did not arrive within {} s of its headers",
    .0.as_secs()
)]
pub struct BodyTimedOut(pub Duration);

/// The accepted socket; its first bytes after an idle spell start a request head.
pub(super) struct Tracked {
    io: TcpStream,
    conn: Arc<Conn>,
}

impl Tracked {
    pub(super) fn new(io: TcpStream, conn: Arc<Conn>) -> Tracked {
        Tracked { io, conn }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.conn.read_attempted();
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request body that fails once the body timeout has passed.
pub(super) struct TimedBody {
    inner: Incoming,
    conn: Arc<Conn>,
    timeout: Duration,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.conn.phase() == Phase::BodyTimedOut {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(self.timeout)))));
        }
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match frame {
            None => {
                self.conn.body_finished();
                Poll::Ready(None)
            }
            Some(Ok(frame)) => {
                if self.inner.is_end_stream() {
                    self.conn.body_finished();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(Box::new(e)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that marks the connection idle when hyper is done with it (hyper
/// drops a body once it has written its end).
pub(super) struct ResponseBody {
    inner: axum::body::Body,
    conn: Arc<Conn>,
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.conn.response_finished();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The router behind one connection.
#[derive(Clone)]
pub(super) struct ConnService {
    router: TowerToHyperService<Router>,
    conn: Arc<Conn>,
    body_timeout: Duration,
    /// The client's address, given to handlers as `ConnectInfo` (see `api::peer`).
    peer: SocketAddr,
}

impl ConnService {
    pub(super) fn new(
        router: TowerToHyperService<Router>,
        conn: Arc<Conn>,
        body_timeout: Duration,
        peer: SocketAddr,
    ) -> ConnService {
        ConnService {
            router,
            conn,
            body_timeout,
            peer,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut req: Request<Incoming>) -> ResponseFuture {
        // hyper's own limits are generous; ours answer first, in the platform's shape.
        if let Some(error) = limits::check_head(&req) {
            self.conn.request_started(false);
            return ResponseFuture {
                state: State::Early {
                    response: Some(if req.uri().path().starts_with(crate::api::fhir::PREFIX) {
                        crate::api::fhir::outcome(&error)
                    } else {
                        error_response(&error, None)
                    }),
                },
                conn: self.conn.clone(),
            };
        }
        self.conn.request_started(!req.body().is_end_stream());
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let req = req.map(|inner| TimedBody {
            inner,
            conn: self.conn.clone(),
            timeout: self.body_timeout,
        });
        ResponseFuture {
            state: State::Routed {
                inner: self.router.call(req),
            },
            conn: self.conn.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State {
        Early { response: Option<axum::response::Response> },
        Routed {
            #[pin]
            inner: TowerToHyperServiceFuture<Router, Request<TimedBody>>,
        },
    }
}

pin_project_lite::pin_project! {
    /// The router's answer, its body wrapped in a [`ResponseBody`].
    pub(super) struct ResponseFuture {
        #[pin]
        state: State,
        conn: Arc<Conn>,
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProjection::Early { response } => response.take().unwrap_or_default(),
            StateProjection::Routed { inner } => match std::task::ready!(inner.poll(cx)) {
                Ok(response) => response,
                Err(never) => match never {},
            },
        };
        let conn = this.conn.clone();
        Poll::Ready(Ok(response.map(|inner| ResponseBody { inner, conn })))
    }
}
