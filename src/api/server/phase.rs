//! One connection's shared state: where it is in its request cycle and since when,
//! and the command another task may send it. Written by the connection's own task,
//! read by the accept loop (which connection to evict) and the service (body timeouts).

use crate::engine::config::ConnectionSettings;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use tokio::time::Instant;

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// No request in flight and no byte of the next one: the idle timeout runs.
    Idle = 0,
    /// Bytes of a request head have arrived: the header timeout runs.
    Head = 1,
    /// The request is with the engine and its body is still arriving: the body timeout runs.
    Body = 2,
    /// The body timeout passed: the body's next read fails, and the handler answers 408.
    BodyTimedOut = 3,
    /// The whole request has arrived; the engine works on it or streams the answer.
    Busy = 4,
}

impl Phase {
    pub(super) fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Idle,
            1 => Phase::Head,
            2 => Phase::Body,
            3 => Phase::BodyTimedOut,
            _ => Phase::Busy,
        }
    }
}

pub(super) const COMMAND_NONE: u8 = 0;
/// Finish the request in flight, then close.
pub(super) const COMMAND_SHUTDOWN: u8 = 1;
/// Close now: the slot is given to a newer connection.
pub(super) const COMMAND_EVICT: u8 = 2;

/// One connection's shared state.
pub(super) struct Conn {
    pub(super) id: u64,
    pub(super) phase: AtomicU8,
    /// When the phase began, in milliseconds after `epoch`.
    pub(super) since_ms: AtomicU64,
    pub(super) command: AtomicU8,
    pub(super) waker: AtomicWaker,
    pub(super) epoch: Instant,
    /// Its task has tried to read the socket at least once. Until then it has had no
    /// chance to send anything, so it is closed for a newcomer only as a last resort:
    /// in a burst of connections the accept loop can admit many before any of their
    /// tasks runs, and evicting those unread would drop honest clients with the rest.
    pub(super) read_tried: AtomicBool,
}

impl Conn {
    pub(super) fn new(id: u64, epoch: Instant) -> Conn {
        let conn = Conn {
            id,
            phase: AtomicU8::new(Phase::Idle as u8),
            since_ms: AtomicU64::new(0),
            command: AtomicU8::new(COMMAND_NONE),
            waker: AtomicWaker::new(),
            epoch,
            read_tried: AtomicBool::new(false),
        };
        conn.enter(Phase::Idle);
        conn
    }

    pub(super) fn id(&self) -> u64 {
        self.id
    }

    pub(super) fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    pub(super) fn enter(&self, phase: Phase) {
        let now = self.epoch.elapsed().as_millis();
        self.since_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// The connection's task polled the socket.
    pub(super) fn read_attempted(&self) {
        if !self.read_tried.load(Ordering::Relaxed) {
            self.read_tried.store(true, Ordering::Relaxed);
        }
    }

    /// The socket gave bytes: on an idle connection, a request head has begun.
    pub(super) fn bytes_arrived(&self) {
        if self.phase() == Phase::Idle {
            self.enter(Phase::Head);
        }
    }

    /// hyper has parsed a request head and hands the request to the engine.
    pub(super) fn request_started(&self, body_pending: bool) {
        self.enter(if body_pending {
            Phase::Body
        } else {
            Phase::Busy
        });
    }

    /// The request body has arrived whole.
    pub(super) fn body_finished(&self) {
        if matches!(self.phase(), Phase::Body | Phase::BodyTimedOut) {
            self.phase.store(Phase::Busy as u8, Ordering::Release);
        }
    }

    /// The response has been written (or dropped): the connection waits for the next one.
    pub(super) fn response_finished(&self) {
        self.enter(Phase::Idle);
    }

    /// Still sending a request (or between requests), so it may be closed for a newcomer.
    pub(super) fn evictable(&self) -> bool {
        self.phase() != Phase::Busy && self.command.load(Ordering::Acquire) != COMMAND_EVICT
    }

    /// The order in which evictable connections are closed for newcomers, first first:
    /// those whose task has read the socket before those it has not, then the longest
    /// in their phase (idle since long ago, or dribbling one head for long), then the
    /// oldest. A client that sends its request promptly leaves the idle phase at once
    /// and is the last one evicted.
    pub(super) fn eviction_rank(&self) -> (bool, u64, u64) {
        (
            !self.read_tried.load(Ordering::Relaxed),
            self.since_ms.load(Ordering::Relaxed),
            self.id,
        )
    }

    pub(super) fn tell(&self, command: u8) {
        self.command.fetch_max(command, Ordering::AcqRel);
        self.waker.wake();
    }

    /// When the current phase's timeout passes, if it has one.
    pub(super) fn deadline(&self, timeouts: &ConnectionSettings) -> Option<Instant> {
        let timeout = match self.phase() {
            Phase::Idle => timeouts.idle_timeout,
            Phase::Head => timeouts.header_timeout,
            Phase::Body => timeouts.body_timeout,
            Phase::BodyTimedOut | Phase::Busy => return None,
        };
        let since = std::time::Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        Some(self.epoch + since + timeout)
    }
}
