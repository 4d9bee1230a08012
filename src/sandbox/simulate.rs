//! `switchboard simulate`: "Sandbox Dev Tools" sends a realistic stream of
//! notifications about panel patients through the real platform API, at a steady rate,
//! so the live feed has traffic.
//!
//! Sends are scheduled on a fixed timetable (message i at start + i/rate), not one after
//! another, so a slow answer does not lower the rate; at most [`MAX_IN_FLIGHT`] requests
//! are outstanding, and a tick that finds them all busy is counted as skipped.

use super::answers::sample_notification;
use super::panel::{DEFAULT_PATIENTS, DEFAULT_SEED, Panel};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Requests outstanding at once; beyond this, ticks are skipped rather than queued.
pub const MAX_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// Engine base URL, e.g. `http://127.0.0.1:8443`.
    pub engine: String,
    pub api_key: String,
    pub secret: String,
    /// Destinations per data model: a notification goes to those subscribed to its model.
    pub routes: Vec<(String, Vec<String>)>,
    /// Messages per second.
    pub rate: f64,
    /// `None`: until `stop` resolves.
    pub duration: Option<Duration>,
    /// Certificate authorities to trust beside the system's, for an `https://` engine
    /// whose certificate a private CA issued (`--ca`).
    pub roots: Vec<reqwest::Certificate>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulateReport {
    pub sent: u64,
    pub accepted: u64,
    pub refused: u64,
    pub skipped: u64,
    pub seconds: f64,
    pub rate: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(
        "cannot reach the engine at {0}: {1}. Is `switchboard serve` (or the console) running there?"
    )]
    Unreachable(String, String),
    #[error("the engine at {engine} refused the simulator's key (HTTP {status}): {text}")]
    Auth {
        engine: String,
        status: u16,
        text: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Parses `10`, `10/s`, `600/m`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, per) = match text.split_once('/') {
        Some((n, unit)) => (n, unit.trim()),
        None => (text, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("rate \"{text}\" is not a number per second, e.g. 10/s"))?;
    let per_second = match per {
        "s" | "sec" => n,
        "m" | "min" => n / 60.0,
        "h" => n / 3600.0,
        _ => return Err(format!("rate unit \"{per}\": use /s, /m or /h")),
    };
    if !(per_second.is_finite() && per_second > 0.0 && per_second <= 100_000.0) {
        return Err(format!(
            "rate \"{text}\" must be above 0 and at most 100000/s"
        ));
    }
    Ok(per_second)
}

/// Parses `30`, `30s`, `5m`, `1h`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("duration \"{text}\": use e.g. 30s, 5m, 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("duration unit \"{unit}\": use ms, s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("duration \"{text}\" must be above 0"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

async fn authenticate(
    client: &reqwest::Client,
    options: &SimulateOptions,
) -> Result<String, SimulateError> {
    let url = format!("{}/auth/authenticate", options.engine);
    let response = client
        .post(&url)
        .json(&json!({"apiKey": options.api_key, "secret": options.secret}))
        .send()
        .await
        .map_err(|e| {
            SimulateError::Unreachable(options.engine.clone(), crate::model::error::error_chain(&e))
        })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    let refused = |text: String| SimulateError::Auth {
        engine: options.engine.clone(),
        status: status.as_u16(),
        text,
    };
    if !status.is_success() {
        // The platform's error texts, not the raw envelope.
        let texts: Vec<&str> = body["Meta"]["Errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["Text"].as_str()).collect())
            .unwrap_or_default();
        return Err(refused(if texts.is_empty() {
            body.to_string()
        } else {
            texts.join(" ")
        }));
    }
    body["accessToken"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| refused(format!("no accessToken in {body}")))
}

/// Runs the stream until `duration` passes or `stop` resolves.
pub async fn run(
    options: SimulateOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<SimulateReport, SimulateError> {
    if options.routes.is_empty() {
        return Err(SimulateError::Invalid(
            "Sandbox Dev Tools has no subscribed destination to send to".into(),
        ));
    }
    let client = options
        .roots
        .iter()
        .fold(reqwest::Client::builder(), |b, root| {
            b.add_root_certificate(root.clone())
        })
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SimulateError::Invalid(e.to_string()))?;
    let token = authenticate(&client, &options).await?;
    let panel = Arc::new(Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS));
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let endpoint = format!("{}/endpoint", options.engine);
    let interval = Duration::from_secs_f64(1.0 / options.rate);

    let start = Instant::now();
    let mut report = SimulateReport::default();
    tokio::pin!(stop);
    let mut n: u64 = 0;
    loop {
        let due = start + interval.mul_f64(n as f64);
        if options
            .duration
            .is_some_and(|d| due.duration_since(start) >= d)
        {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = &mut stop => break,
        }
        n += 1;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            report.skipped += 1;
            continue;
        };
        let mut payload = sample_notification(&panel, n);
        let model = payload["Meta"]["DataModel"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some((_, destinations)) = options
            .routes
            .iter()
            .find(|(m, d)| *m == model && !d.is_empty())
        else {
            report.skipped += 1;
            continue;
        };
        payload["Meta"]["Destinations"] = destinations.iter().map(|id| json!({"ID": id})).collect();
        report.sent += 1;
        let (client, endpoint, token) = (client.clone(), endpoint.clone(), token.clone());
        let (accepted, refused) = (accepted.clone(), refused.clone());
        tokio::spawn(async move {
            let ok = client
                .post(&endpoint)
                .bearer_auth(&token)
                .json(&payload)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                accepted.fetch_add(1, Ordering::Relaxed);
            } else {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    // Let the last requests finish (bounded by the client timeout).
    let _ = slots.acquire_many(MAX_IN_FLIGHT as u32).await;
    report.seconds = start.elapsed().as_secs_f64();
    report.accepted = accepted.load(Ordering::Relaxed);
    report.refused = refused.load(Ordering::Relaxed);
    report.rate = report.accepted as f64 / report.seconds.max(f64::EPSILON);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations_parse() {
        assert_eq!(parse_rate("10"), Ok(10.0));
        assert_eq!(parse_rate("10/s"), Ok(10.0));
        assert_eq!(parse_rate("120/m"), Ok(2.0));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
    }
}
