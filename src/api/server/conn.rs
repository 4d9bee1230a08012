//! One connection's phase and its timers, and the registry of open connections that the
//! accept loop consults to keep under the cap.
//!
//! Everything that changes a connection's phase happens inside that connection's own
//! task: hyper reads the socket, calls the service and polls the handler and the
//! response body all within [`drive`]'s poll. So `drive` sees every change right after
//! polling the connection and re-arms its single timer then; other tasks only read the
//! phase (the accept loop, to choose whom to evict) or send a command.

use super::phase::{COMMAND_EVICT, COMMAND_SHUTDOWN, Conn, Phase};
use super::service::{ConnService, Tracked};
use crate::engine::Engine;
use crate::engine::config::ConnectionSettings;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Why a connection ended.
#[derive(Debug)]
pub(super) enum End {
    Closed(Result<(), hyper::Error>),
    IdleTimeout,
    HeaderTimeout,
    Evicted,
    Shutdown,
}

/// Drives one connection to its end, applying its timeouts and commands.
pub(super) async fn drive(
    connection: http1::Connection<TokioIo<Tracked>, ConnService>,
    conn: &Conn,
    timeouts: ConnectionSettings,
) -> End {
    let mut connection = std::pin::pin!(connection);
    let mut armed = conn.deadline(&timeouts);
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(
        armed.unwrap_or_else(|| Instant::now() + timeouts.idle_timeout)
    ));
    let mut shutting_down = false;
    poll_fn(|cx| {
        loop {
            // Registered before the command is read, so no command is missed.
            conn.waker.register(cx.waker());
            match conn.command.load(Ordering::Acquire) {
                COMMAND_EVICT => return Poll::Ready(End::Evicted),
                COMMAND_SHUTDOWN if !shutting_down => {
                    shutting_down = true;
                    if matches!(conn.phase(), Phase::Idle | Phase::Head) {
                        return Poll::Ready(End::Shutdown);
                    }
                    connection.as_mut().graceful_shutdown();
                }
                _ => {}
            }
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                return Poll::Ready(End::Closed(result));
            }
            let Some(deadline) = conn.deadline(&timeouts) else {
                return Poll::Pending;
            };
            // A timer set for an earlier deadline is left to fire and then re-armed:
            // most phase changes move the deadline later, and this spares a reset each.
            if armed.is_none_or(|a| deadline < a) {
                sleep.as_mut().reset(deadline);
                armed = Some(deadline);
            }
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            armed = None;
            if Instant::now() < deadline {
                continue;
            }
            match conn.phase() {
                Phase::Idle => return Poll::Ready(End::IdleTimeout),
                Phase::Head => return Poll::Ready(End::HeaderTimeout),
                Phase::Body => {
                    // Poll the connection again: the handler's next body read fails.
                    conn.phase
                        .store(Phase::BodyTimedOut as u8, Ordering::Release);
                }
                Phase::BodyTimedOut | Phase::Busy => {}
            }
        }
    })
    .await
}

/// The connection to close for a newcomer: the first evictable one in
/// [`Conn::eviction_rank`] order.
fn choose_victim<'a>(conns: impl Iterator<Item = &'a Conn>) -> Option<u64> {
    conns
        .filter(|c| c.evictable())
        .min_by_key(|c| c.eviction_rank())
        .map(Conn::id)
}

/// The open connections, oldest first, and the cap.
pub(super) struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    capacity: usize,
    engine: Arc<Engine>,
    epoch: Instant,
    emptied: Notify,
    /// When a refusal was last logged (ms after `epoch`), to log at most one a second.
    refusal_logged_ms: AtomicU64,
}

impl Registry {
    pub(super) fn new(capacity: usize, engine: Arc<Engine>) -> Registry {
        engine.listener().set_capacity(capacity);
        engine.listener().set_open(0);
        Registry {
            conns: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            capacity,
            engine,
            epoch: Instant::now(),
            emptied: Notify::new(),
            refusal_logged_ms: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        // The map stays consistent whatever panicked while holding it.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection. At the cap, a connection that has not finished
    /// sending a request is closed to make room (chosen by [`choose_victim`]); if every
    /// one is busy with a request, the newcomer is refused (`None`) rather than going
    /// past the cap.
    pub(super) fn admit(&self) -> Option<Arc<Conn>> {
        let mut conns = self.lock();
        if conns.len() >= self.capacity {
            let victim = choose_victim(conns.values().map(|c| &**c));
            match victim.and_then(|id| conns.remove(&id)) {
                Some(victim) => {
                    victim.tell(COMMAND_EVICT);
                    self.engine.listener().count_evicted();
                    tracing::debug!(
                        connection = victim.id,
                        phase = ?victim.phase(),
                        "connection cap reached: closed the connection idle or sending for the longest"
                    );
                }
                None => {
                    drop(conns);
                    self.engine.listener().count_refused();
                    self.log_refusal();
                    return None;
                }
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(id, self.epoch));
        conns.insert(id, conn.clone());
        self.engine.listener().set_open(conns.len());
        Some(conn)
    }

    /// Whether the cap is reached: the accept loop then lets the connections it just
    /// admitted read their requests before it admits more (see [`Conn::read_tried`]).
    pub(super) fn full(&self) -> bool {
        self.lock().len() >= self.capacity
    }

    fn log_refusal(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.refusal_logged_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 1000)
            && self
                .refusal_logged_ms
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                capacity = self.capacity,
                refused = self.engine.listener().refused(),
                "connection cap reached and every connection is busy with a request: \
                 refusing new connections (raise max_connections or the open-file limit)"
            );
        }
    }

    pub(super) fn remove(&self, id: u64) {
        let mut conns = self.lock();
        if conns.remove(&id).is_some() {
            self.engine.listener().set_open(conns.len());
        }
        if conns.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Asks every connection to finish its request in flight and close.
    pub(super) fn shut_down_all(&self) {
        for conn in self.lock().values() {
            conn.tell(COMMAND_SHUTDOWN);
        }
    }

    /// Resolves once no connection is open.
    pub(super) async fn closed(&self) {
        loop {
            let notified = self.emptied.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: u64, epoch: Instant) -> Conn {
        Conn::new(id, epoch)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_not_yet_read_is_evicted_last_and_a_prompt_request_later_still() {
        let epoch = Instant::now();
        let probe = conn(0, epoch);
        let dribbler = conn(1, epoch);
        dribbler.read_attempted();
        dribbler.bytes_arrived();
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        let idle = conn(2, epoch);
        idle.read_attempted();
        let unread = conn(3, epoch);
        // The probe is the oldest, but nothing has read it yet.
        let all = [&probe, &dribbler, &idle, &unread];
        assert_eq!(choose_victim(all.into_iter()), Some(1));
        // Read and sending its head now: the newest phase of all, so the last to go.
        tokio::time::advance(std::time::Duration::from_millis(10)).await;
        probe.read_attempted();
        probe.bytes_arrived();
        let without_dribbler = [&probe, &idle, &unread];
        assert_eq!(choose_victim(without_dribbler.into_iter()), Some(2));
        assert_eq!(choose_victim([&probe, &unread].into_iter()), Some(0));
        // Busy with a request: never.
        probe.request_started(false);
        assert_eq!(choose_victim([&probe, &unread].into_iter()), Some(3));
        assert_eq!(choose_victim([&probe].into_iter()), None);
    }
}
