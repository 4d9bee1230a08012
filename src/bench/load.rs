//! Load generators and latency recording.
//!
//! - [`closed_loop`]: N clients, each sends its next request when the previous answer
//!   arrives (throughput at a concurrency).
//! - [`fixed_rate`]: requests at fixed intended send times, whatever the answers do.
//!   Latency is measured from the moment the schedule releases a request, including any
//!   wait for an in-flight slot, so a server stall that delays later sends shows up in
//!   their latency (no coordinated omission).

use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// One request of a load: given its sequence number and the time it was released (the
/// time its latency counts from), sends it and says whether the answer was the one
/// expected.
pub type Request =
    Arc<dyn Fn(u64, Instant) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Recorded latencies (nanoseconds), with percentiles.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    ns: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.ns.push(d.as_nanos().min(u64::MAX as u128) as u64);
        self.sorted = false;
    }

    pub fn extend(&mut self, other: Latencies) {
        self.ns.extend(other.ns);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ns.is_empty()
    }

    /// The `q` quantile (0..=1) in microseconds; NaN when nothing was recorded.
    pub fn quantile_us(&mut self, q: f64) -> f64 {
        if self.ns.is_empty() {
            return f64::NAN;
        }
        if !self.sorted {
            self.ns.sort_unstable();
            self.sorted = true;
        }
        let rank = ((q * self.ns.len() as f64).ceil() as usize).clamp(1, self.ns.len());
        self.ns[rank - 1] as f64 / 1000.0
    }

    pub fn p50(&mut self) -> f64 {
        self.quantile_us(0.50)
    }
    pub fn p99(&mut self) -> f64 {
        self.quantile_us(0.99)
    }
    pub fn p999(&mut self) -> f64 {
        self.quantile_us(0.999)
    }
}

/// What a load run achieved.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

impl Outcome {
    /// Successful answers per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Adds `other`'s answers, latencies and time (runs of the same load in turns).
    pub fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    fn absorb(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.ok += 1,
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }
}

/// `concurrency` clients in a closed loop for `duration` (after `warmup`, whose
/// answers are not counted).
pub async fn closed_loop(
    request: Request,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    let seq = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let measure_from = begin + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (request, seq) = (request.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let i = seq.fetch_add(1, Ordering::Relaxed);
                let result = request(i, now).await;
                if now >= measure_from {
                    out.latencies.record(now.elapsed());
                    out.absorb(result);
                }
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        if let Ok(out) = task.await {
            total.merge(out);
        }
    }
    // The last answers may come a little after `end`: count the time they took.
    total.elapsed = Instant::now().saturating_duration_since(measure_from);
    total
}

/// `concurrency` clients in a closed loop until `n` requests have been answered, all
/// counted (for counts that must be exact, such as instructions per request).
pub async fn counted_loop(request: Request, concurrency: usize, n: u64) -> Outcome {
    let seq = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (request, seq) = (request.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            loop {
                let i = seq.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let now = Instant::now();
                let result = request(i, now).await;
                out.latencies.record(now.elapsed());
                out.absorb(result);
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        if let Ok(out) = task.await {
            total.merge(out);
        }
    }
    total.elapsed = begin.elapsed();
    total
}

/// Lateness of a timer release still taken for the timer's own: its 1 ms tick plus the
/// thread's wake-up.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// `rate` requests per second at fixed intended times for `duration`. At most
/// `max_in_flight` requests are outstanding; beyond that the schedule waits (and the
/// wait is counted in the latency of the requests that were late).
///
/// Latency counts from when tokio's timer released the request, not from the intended
/// time, unless the release is [`TIMER_SLACK`] late or more: the timer fires on 1 ms ticks,
/// so at 1,000/s every request of a run fires the same fraction of a millisecond late, a
/// constant set by the run's start phase. Counted in, it moved a run's p50 by up to 1 ms
/// and made two runs' difference swing by as much. More lateness than that is a stall
/// (the schedule waiting for a slot, or a starved generator) and stays counted.
pub async fn fixed_rate(
    request: Request,
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
) -> Outcome {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let slots = max_in_flight.clamp(1, tokio::sync::Semaphore::MAX_PERMITS) as u32;
    let limit = Arc::new(tokio::sync::Semaphore::new(slots as usize));
    // Answers are recorded as they come rather than kept as task handles: a long run
    // (the soak's 600,000 requests) would otherwise hold every finished task.
    let recorded = Arc::new(std::sync::Mutex::new(Outcome::default()));
    for i in 0..total {
        let intended = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(intended).await;
        let now = Instant::now();
        let released = if now.duration_since(intended) < TIMER_SLACK {
            now
        } else {
            intended
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (request, recorded) = (request.clone(), recorded.clone());
        tokio::spawn(async move {
            let result = request(i, released).await;
            let latency = released.elapsed();
            if let Ok(mut out) = recorded.lock() {
                out.latencies.record(latency);
                out.absorb(result);
            }
            drop(permit);
        });
    }
    // Every slot back means every request has been answered.
    let _ = limit.acquire_many(slots).await;
    let mut out = recorded
        .lock()
        .map(|mut o| std::mem::take(&mut *o))
        .unwrap_or_default();
    out.elapsed = Instant::now().saturating_duration_since(start);
    out
}

/// Turns an async closure into a [`Request`].
pub fn request<F, Fut>(f: F) -> Request
where
    F: Fn(u64, Instant) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |i, t| Box::pin(f(i, t)))
}

/// A POST of `body` to `url` that expects a 2xx; the answer body is read to the end.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    body: axum::body::Bytes,
) -> Result<axum::body::Bytes, String> {
    let req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    expect_success(req, bearer).await
}

/// A GET that expects a 2xx.
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> Result<axum::body::Bytes, String> {
    expect_success(client.get(url), bearer).await
}

/// Sends `req` (with `bearer` when given) and reads the answer; an error unless 2xx.
async fn expect_success(
    mut req: reqwest::RequestBuilder,
    bearer: Option<&str>,
) -> Result<axum::body::Bytes, String> {
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let response = req.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    Ok(bytes)
}

/// A loopback HTTP client: no proxy, a pool big enough for the largest concurrency.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}
