//! The engine's Prometheus metrics (`GET /metrics`), kept and rendered by the Prometheus
//! project's own client (`prometheus-client`, OpenMetrics text format).
//!
//! Two kinds: counters and histograms fed as traffic passes (HTTP answers, ingest,
//! queries, delivery attempts, quarantines), and gauges read at scrape time from what
//! the engine keeps anyway (queues, the journal, the listener), so they cost nothing
//! between scrapes and never go stale when a destination is removed by a reload.
//!
//! Label values are bounded: routes are the router's path templates (never raw URLs),
//! destinations are named from the configuration, and no log or request ID is a label.

use super::{Destination, Engine};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Every metric's name starts with this.
const PREFIX: &str = "switchboard";

/// Upper bounds (seconds) of the latency buckets: from a millisecond (an in-memory
/// answer) to the platform's 120 s bound on a query's round trip.
const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// One HTTP answer: the route template (`/admin/v1/logs/{id}`; `unmatched` for paths
/// no route took), the method (`OTHER` for non-standard ones) and the status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabel {
    destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics fed as traffic passes.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    auth_failures: Family<RouteLabel, Counter>,
    ingest: Histogram,
    query: Histogram,
    attempts: HistogramFamily<DestinationLabel>,
    deliveries: Family<DestinationLabel, Counter>,
    failures: Family<DestinationLabel, Counter>,
    quarantined: Family<DestinationLabel, Counter>,
}

/// Registers `metric` as `name` with its help text, and hands it back to be kept and
/// fed (the registry holds a clone: both share the same values).
fn add<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// As [`add`], for a metric in seconds (its name gains `_seconds`).
fn add_seconds<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register_with_unit(name, help, Unit::Seconds, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let r = &mut Registry::with_prefix(PREFIX);
        Metrics {
            http_requests: add(
                r,
                "http_requests",
                "HTTP requests answered, by route template, method and status",
                Family::default(),
            ),
            auth_failures: add(
                r,
                "auth_failures",
                "Requests answered 401 (bad credentials, or a missing, expired or revoked token), by route",
                Family::default(),
            ),
            ingest: add_seconds(
                r,
                "ingest_duration",
                "Time to accept a notification or writeback: routed, stored and flushed",
                latency_histogram(),
            ),
            query: add_seconds(
                r,
                "query_duration",
                "Time to forward a query and get the destination's answer",
                latency_histogram(),
            ),
            attempts: add_seconds(
                r,
                "delivery_attempt_duration",
                "Time of one push delivery attempt, by destination",
                Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ),
            deliveries: add(
                r,
                "deliveries",
                "Messages delivered (acknowledged by the destination), by destination",
                Family::default(),
            ),
            failures: add(
                r,
                "delivery_failures",
                "Delivery attempts that failed (an error answer or none), by destination",
                Family::default(),
            ),
            quarantined: add(
                r,
                "quarantined",
                "Messages moved to quarantine (by the engine or an operator), by destination",
                Family::default(),
            ),
            registry: std::mem::take(r),
        }
    }
}

/// A method as a label: the standard ones by name, anything else as `OTHER`, so a
/// client cannot add series by inventing methods.
fn method_label(method: &str) -> &str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

impl Metrics {
    /// An HTTP answer; a 401 counts as an authentication failure too.
    pub fn http_request(&self, route: &str, method: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                method: method_label(method).to_string(),
                status,
            })
            .inc();
        if status == 401 {
            self.auth_failures
                .get_or_create(&RouteLabel {
                    route: route.to_string(),
                })
                .inc();
        }
    }

    pub(crate) fn ingested(&self, took: Duration) {
        self.ingest.observe(took.as_secs_f64());
    }

    pub(crate) fn queried(&self, took: Duration) {
        self.query.observe(took.as_secs_f64());
    }

    /// One delivery attempt to `destination` ended (`took`: `None` for a poll
    /// destination's acknowledgement, which has no attempt to time).
    pub(crate) fn attempt(&self, destination: &str, succeeded: bool, took: Option<Duration>) {
        let label = DestinationLabel {
            destination: destination.to_string(),
        };
        if let Some(took) = took {
            self.attempts
                .get_or_create(&label)
                .observe(took.as_secs_f64());
        }
        let counter = if succeeded {
            &self.deliveries
        } else {
            &self.failures
        };
        counter.get_or_create(&label).inc();
    }

    pub(crate) fn quarantine(&self, destination: &str) {
        self.quarantined
            .get_or_create(&DestinationLabel {
                destination: destination.to_string(),
            })
            .inc();
    }
}

/// What a scrape reads from the engine as it is now.
struct Now {
    registry: Registry,
    queue_depth: Family<DestinationLabel, Gauge>,
    oldest_age: Family<DestinationLabel, Gauge<f64, AtomicU64>>,
    paused: Family<DestinationLabel, Gauge>,
    refused: Family<ReasonLabel, Counter>,
}

impl Now {
    /// The per-destination and refusal families, registered and still empty.
    fn new() -> Self {
        let r = &mut Registry::with_prefix(PREFIX);
        Now {
            queue_depth: add(
                r,
                "queue_depth",
                "Messages queued for a destination (counted up to 100000)",
                Family::default(),
            ),
            oldest_age: add_seconds(
                r,
                "queue_oldest_age",
                "Age of the oldest message queued for a destination (0 when its queue is empty)",
                Family::default(),
            ),
            paused: add(
                r,
                "destination_paused",
                "1 while an operator has paused delivery to a destination",
                Family::default(),
            ),
            refused: add(
                r,
                "requests_refused",
                "Requests refused since start: 503 with the journal's backlog full, 429 with a destination's queue at its bound",
                Family::default(),
            ),
            registry: std::mem::take(r),
        }
    }
}

impl Engine {
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A quarantine of one of `destination`'s messages, for the metrics.
    pub(crate) fn count_quarantined(&self, destination: uuid::Uuid) {
        if let Some(d) = self.registry().destination(destination) {
            self.metrics.quarantine(&d.name);
        }
    }

    /// The whole exposition, in the OpenMetrics text format.
    pub fn render_metrics(&self) -> Result<String, std::fmt::Error> {
        let now = self.read_now();
        let mut text = String::new();
        encode_registry(&mut text, &self.metrics.registry)?;
        encode_registry(&mut text, &now.registry)?;
        encode_eof(&mut text)?;
        Ok(text)
    }

    /// The scrape-time gauges: queues per configured destination, the journal, the
    /// listener and the refusals counted in [`super::stats`].
    fn read_now(&self) -> Now {
        let mut now = Now::new();
        for d in &self.registry().destinations {
            self.read_queue(d, &now);
        }
        let (backlog_full, queue_full) = self.stats.refusals();
        for (reason, n) in [("backlog_full", backlog_full), ("queue_full", queue_full)] {
            now.refused.get_or_create(&ReasonLabel { reason }).inc_by(n);
        }
        let journal = self.store.journal();
        let gauge = |value: usize| Gauge::<i64>::default().tap(value);
        let r = &mut now.registry;
        for (name, help, value) in [
            (
                "journal_backlog",
                "Accepted requests journaled but not yet applied to history and the queues",
                journal.backlog(),
            ),
            (
                "journal_backlog_limit",
                "The journal backlog's bound (journal_backlog); past it new requests get 503",
                journal.capacity(),
            ),
            (
                "open_connections",
                "HTTP connections open to the engine",
                self.listener.open(),
            ),
            (
                "connection_limit",
                "The cap on open HTTP connections",
                self.listener.capacity(),
            ),
        ] {
            add(r, name, help, gauge(value));
        }
        now
    }

    fn read_queue(&self, d: &Destination, now: &Now) {
        let label = DestinationLabel {
            destination: d.name.clone(),
        };
        now.paused
            .get_or_create(&label)
            .set(i64::from(self.delivery.is_paused(d.id)));
        let cap = super::health::QUEUE_COUNT_CAP;
        let summary = match &self.shared {
            // Every node reports the shared queues (as every node's Connections pane).
            Some(shared) => {
                crate::store::postgres::blocking::wait(shared.destination_summary(d.id, cap))
                    .map(|s| (s.depth, s.oldest))
                    .map_err(crate::store::StoreError::from)
            }
            None => self
                .store
                .queue_summary(d.id, cap)
                .and_then(|(depth, oldest)| {
                    let created = match oldest {
                        Some(item) => self.store.log(item.log_id)?.map(|l| l.created_at),
                        None => None,
                    };
                    Ok((depth, created))
                }),
        };
        match summary {
            Ok((depth, created)) => {
                now.queue_depth
                    .get_or_create(&label)
                    .set(i64::try_from(depth).unwrap_or(i64::MAX));
                let age = created.map_or(0.0, |at| {
                    (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                });
                now.oldest_age.get_or_create(&label).set(age);
            }
            // The other figures are still worth a scrape: this queue's are left out.
            Err(e) => {
                tracing::warn!(error = %e, destination = %d.name, "cannot read a queue for metrics")
            }
        }
    }
}

/// Sets a gauge in an expression.
trait Tap {
    fn tap(self, value: usize) -> Self;
}

impl Tap for Gauge<i64> {
    fn tap(self, value: usize) -> Self {
        self.set(i64::try_from(value).unwrap_or(i64::MAX));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "OTHER");
    }

    #[test]
    fn names_follow_the_conventions() {
        let metrics = Metrics::default();
        metrics.http_request("/endpoint", "POST", 401);
        metrics.ingested(Duration::from_millis(3));
        metrics.attempt("EHR", false, Some(Duration::from_millis(20)));
        let mut text = String::new();
        encode_registry(&mut text, &metrics.registry).expect("encode");
        for line in [
            "switchboard_http_requests_total{route=\"/endpoint\",method=\"POST\",status=\"401\"} 1",
            "switchboard_auth_failures_total{route=\"/endpoint\"} 1",
            "switchboard_ingest_duration_seconds_count 1",
            "switchboard_delivery_failures_total{destination=\"EHR\"} 1",
            "switchboard_delivery_attempt_duration_seconds_count{destination=\"EHR\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
