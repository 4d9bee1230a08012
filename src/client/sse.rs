//! The live feed from a remote engine: its server-sent events at `/admin/v1/events`,
//! read with `sse-stream` (any line end, LF, CRLF or CR, and bytes carried across
//! reads, so a character split between two chunks arrives whole), and reconnection
//! with exponential backoff from `backon` when the stream drops, capped low so the feed
//! is back within about [`MAX_RECONNECT_WAIT`] of the engine.

use super::FeedEvent;
use crate::model::error::error_chain;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use sse_stream::{Sse, SseStream};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// First wait before reconnecting; it doubles after every failed attempt.
pub const FIRST_RECONNECT_WAIT: Duration = Duration::from_millis(250);
/// Longest wait between reconnection attempts of the live feed. One attempt is one
/// small request to a loopback or LAN engine, so trying every 2 s costs nothing and
/// the console is back within 2 s of the engine.
pub const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(2);
/// How long subscribing waits for the first connection's outcome.
pub const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(10);

/// One server-sent event: its type (`message` when the frame names none) and its data
/// (several `data:` lines joined with `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub event: String,
    pub data: String,
}

/// Why an event stream stopped yielding frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The connection failed (reset, closed, timed out), in the transport's own words.
    #[error("{0}")]
    Transport(String),
    /// The bytes are not an event stream.
    #[error("the engine's event stream is unreadable: {0}")]
    Unreadable(String),
}

/// Frames as they arrive; an error ends the stream.
pub type Frames = Pin<Box<dyn Stream<Item = Result<Frame, StreamError>> + Send>>;

/// The frames of an event-stream response. Frames without data (keep-alive comments,
/// a bare `id:`) are skipped, as a browser's `EventSource` skips them.
pub fn response_frames(response: reqwest::Response) -> Frames {
    Box::pin(
        SseStream::new(reqwest::Body::from(response)).filter_map(|item| async move { frame(item) }),
    )
}

fn frame(item: Result<Sse, sse_stream::Error>) -> Option<Result<Frame, StreamError>> {
    match item {
        Ok(sse) => {
            let data = sse.data.filter(|d| !d.is_empty())?;
            Some(Ok(Frame {
                event: sse.event.unwrap_or_else(|| "message".into()),
                data,
            }))
        }
        // The transport's own words (reset, closed, timed out), as before.
        Err(sse_stream::Error::Body(e)) => Some(Err(StreamError::Transport(error_chain(&*e)))),
        Err(e) => Some(Err(StreamError::Unreadable(e.to_string()))),
    }
}

/// What the console shows of a frame; `None` for events it has no use for.
fn feed_event(frame: &Frame) -> Option<FeedEvent> {
    match frame.event.as_str() {
        "log" => serde_json::from_str(&frame.data)
            .ok()
            .map(|log| FeedEvent::Log(Box::new(log))),
        "lagged" => Some(FeedEvent::Dropped(
            serde_json::from_str::<Value>(&frame.data)
                .ok()
                .and_then(|v| v["missed"].as_u64())
                .unwrap_or(0),
        )),
        _ => None,
    }
}

/// Why a relay ended.
enum Ended {
    /// The stream ended or failed; the reason, for the console.
    Stream(String),
    /// Nobody listens any more.
    Receiver,
}

/// Passes the feed events of `frames` to `tx` until the stream ends.
async fn relay(mut frames: Frames, tx: &mpsc::Sender<FeedEvent>) -> Ended {
    while let Some(item) = frames.next().await {
        match item {
            Ok(frame) => {
                if let Some(event) = feed_event(&frame)
                    && tx.send(event).await.is_err()
                {
                    return Ended::Receiver;
                }
            }
            Err(reason) => return Ended::Stream(reason.to_string()),
        }
    }
    Ended::Stream("the engine closed the event stream".into())
}

/// The waits between reconnection attempts: [`FIRST_RECONNECT_WAIT`], doubling up to
/// [`MAX_RECONNECT_WAIT`], without end; back to the first after a good connection.
pub struct Reconnect {
    waits: ExponentialBackoff,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            waits: Self::schedule(),
        }
    }
}

impl Reconnect {
    fn schedule() -> ExponentialBackoff {
        ExponentialBuilder::new()
            .with_min_delay(FIRST_RECONNECT_WAIT)
            .with_max_delay(MAX_RECONNECT_WAIT)
            .with_factor(2.0)
            .without_max_times()
            .build()
    }

    /// After a successful connection: the next failure starts the schedule again.
    pub fn reset(&mut self) {
        self.waits = Self::schedule();
    }

    /// The next wait of the schedule.
    pub fn next_wait(&mut self) -> Duration {
        // Without a limit on attempts the schedule never ends; the cap is the fallback.
        self.waits.next().unwrap_or(MAX_RECONNECT_WAIT)
    }

    /// Sleeps the next wait of the schedule.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_wait()).await;
    }
}

/// Follows the event stream until the receiver is dropped, reconnecting with backoff.
/// `ready` is told when the first attempt has an outcome.
pub(super) async fn follow(
    http: reqwest::Client,
    url: String,
    token: String,
    filter: String,
    tx: mpsc::Sender<FeedEvent>,
    ready: oneshot::Sender<()>,
    retry_now: Arc<Notify>,
) {
    let mut ready = Some(ready);
    let mut reconnect = Reconnect::default();
    let mut connected_before = false;
    loop {
        let response = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[("filter", &filter)])
            .send()
            .await;
        // Connected, the engine has registered this subscriber before its answer:
        // nothing it publishes from now on is missed. A failure is told on the channel.
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        let reason = match response {
            Ok(response) if response.status().is_success() => {
                if connected_before && tx.send(FeedEvent::Reconnected).await.is_err() {
                    return;
                }
                connected_before = true;
                reconnect.reset();
                match relay(response_frames(response), &tx).await {
                    Ended::Stream(reason) => reason,
                    Ended::Receiver => return,
                }
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                super::ClientError::refusal(status, &body).to_string()
            }
            Err(e) => error_chain(&e),
        };
        let retry_in = reconnect.next_wait();
        if tx
            .send(FeedEvent::Disconnected { reason, retry_in })
            .await
            .is_err()
        {
            return;
        }
        // The user's `r` cuts the wait short.
        tokio::select! {
            () = tokio::time::sleep(retry_in) => {}
            () = retry_now.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames the real decoder makes of `chunks`, read one by one as from a socket.
    async fn decode(chunks: &[&'static [u8]]) -> Vec<Result<Frame, StreamError>> {
        let chunks: Vec<Result<&'static [u8], std::io::Error>> =
            chunks.iter().map(|c| Ok(*c)).collect();
        SseStream::from_bytes_stream(futures_util::stream::iter(chunks))
            .filter_map(|item| async move { frame(item) })
            .collect()
            .await
    }

    fn ok(event: &str, data: &str) -> Result<Frame, StreamError> {
        Ok(Frame {
            event: event.into(),
            data: data.into(),
        })
    }

    #[tokio::test]
    async fn frames_are_split_and_partial_ones_kept() {
        let got = decode(&[
            b"event: log\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: lagged\ndata: {\"missed\"",
            b":3}\n\n",
        ])
        .await;
        assert_eq!(
            got,
            vec![ok("log", "{\"a\":1}"), ok("lagged", "{\"missed\":3}")]
        );
    }

    #[tokio::test]
    async fn crlf_frames_are_read() {
        let got = decode(&[
            b"event: lagged\r\ndata: {\"missed\":2}\r\n\r\n",
            b": keep-alive\r\n\r\nevent: log\r\ndata: [1,\r\ndata: 2]\r\n\r\n",
        ])
        .await;
        assert_eq!(
            got,
            vec![ok("lagged", "{\"missed\":2}"), ok("log", "[1,\n2]")]
        );
    }

    #[tokio::test]
    async fn a_character_split_between_two_reads_arrives_whole() {
        // "é" is 0xC3 0xA9: the first read ends between its two bytes.
        let got = decode(&[b"event: log\ndata: {\"name\":\"Ren\xC3", b"\xA9e\"}\n\n"]).await;
        assert_eq!(got, vec![ok("log", "{\"name\":\"Renée\"}")]);
    }

    #[tokio::test]
    async fn lagged_frames_become_a_dropped_count() {
        let (tx, mut rx) = mpsc::channel(4);
        let frames: Frames = Box::pin(futures_util::stream::iter(vec![
            ok("lagged", "{\"missed\":3}"),
            ok("ping", "{}"),
        ]));
        let ended = relay(frames, &tx).await;
        assert!(matches!(ended, Ended::Stream(ref r) if r.contains("closed")));
        assert_eq!(rx.try_recv().ok(), Some(FeedEvent::Dropped(3)));
        assert!(rx.try_recv().is_err(), "an unknown event was passed on");
    }

    /// The policy alone: 0.25 s, doubling, capped at 2 s so the feed is back within
    /// about 2 s of the engine, however long it was away.
    #[test]
    fn the_reconnection_schedule_doubles_from_a_quarter_second_to_two() {
        let mut reconnect = Reconnect::default();
        let waits: Vec<u128> = (0..8).map(|_| reconnect.next_wait().as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 2000, 2000, 2000, 2000]);
    }

    /// The reconnection schedule, on tokio's paused clock: each wait doubles up to the
    /// cap, and a good connection starts it again.
    #[tokio::test(start_paused = true)]
    async fn reconnection_waits_double_up_to_the_cap_and_reset() {
        let mut reconnect = Reconnect::default();
        let mut waits = Vec::new();
        for _ in 0..10 {
            let start = tokio::time::Instant::now();
            reconnect.wait().await;
            waits.push(start.elapsed().as_millis());
        }
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 2000, 2000, 2000, 2000, 2000, 2000]
        );
        reconnect.reset();
        let start = tokio::time::Instant::now();
        reconnect.wait().await;
        assert_eq!(start.elapsed(), FIRST_RECONNECT_WAIT);
    }
}
