//! `console`: the console's draw function on a 200×50 `TestBackend` while 5k events/s
//! arrive (the feed ring full, as after a while on a busy engine), its memory, and what
//! the real console writes to a real terminal (a pty) per second when nothing happens.
//!
//! - Draw time: `App` driven through `update` (status, connections, a first history page,
//!   then the live feed), then `view::draw` each 16 ms frame, with the events due at
//!   5k/s applied before each frame. Baseline: ratatui drawing a full screen of changing
//!   text (a 50-line `Paragraph`) on the same backend: the floor of any full-screen frame.
//! - Idle bytes: `switchboard` (the console on an embedded engine, its history filled
//!   through the store API) under `script(1)`, which gives it a 200×50 pty; after it
//!   settles, every byte it writes is counted for a while. The ideal is 0.
//! - Memory: the console process's resident set after that, next to `switchboard serve`
//!   alone on the same data dir.

use super::history::fill;
use crate::bench::load::Latencies;
use crate::bench::report::Report;
use crate::bench::serve::{self, EngineProcess, TempDir};
use crate::bench::{BenchError, Result, Scenario, new_report};
use crate::client::{FeedEvent, Status};
use crate::console::app::{App, Effect, Msg, update};
use crate::console::theme::Theme;
use crate::console::view;
use crate::engine::config::{DeliveryMode, DeliveryPolicy, Destination, VerificationMethod};
use crate::engine::health::{ConnectionsView, DestinationView};
use crate::model::{LogRecord, LogStatus, Role};
use crate::store::LogPage;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::Paragraph;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRAME: Duration = Duration::from_millis(16);
const EVENTS_PER_S: f64 = 5000.0;

fn connections() -> ConnectionsView {
    ConnectionsView {
        sources: Vec::new(),
        destinations: (0..10)
            .map(|i| DestinationView {
                destination: (&Destination {
                    id: serve::destination_id(i),
                    name: format!("D{i}"),
                    environment: crate::model::Environment::Development,
                    url: Some(format!("http://127.0.0.1:9/d/{i}")),
                    verification_token: String::new(),
                    verification_method: VerificationMethod::Post,
                    mode: DeliveryMode::Push,
                    timezone: chrono_tz::Tz::UTC,
                    verified: true,
                    delivery: DeliveryPolicy::default(),
                    outbound_auth: None,
                    fhir_slug: None,
                    fhir_url: None,
                    organization: crate::engine::config::OWN_ORGANIZATION_ID,
                    render_time_zone: None,
                })
                    .into(),
                paused: false,
                delivery_allowed: true,
                queue_depth: i * 3,
                queue_depth_capped: false,
                oldest_queued_at: None,
                quarantined: 0,
                health: Default::default(),
                delivered_by: None,
            })
            .collect(),
        subscriptions: Vec::new(),
        organizations: Vec::new(),
    }
}

/// Event k: even k a new PENDING log, odd k the same log SUCCEEDED.
fn event(k: u64) -> LogRecord {
    let seq = k / 2;
    let status = if k.is_multiple_of(2) {
        LogStatus::Pending
    } else {
        LogStatus::Succeeded
    };
    let mut log = super::history::log_record(seq, (seq % 10) as usize, status);
    log.id = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + seq as u128);
    log
}

/// (draw latencies, update µs per event, frames)
fn draw_under_load(duration: Duration) -> Result<(Latencies, f64, usize)> {
    let theme = Theme::dark();
    let mut terminal =
        Terminal::new(TestBackend::new(200, 50)).map_err(|e| BenchError::new("terminal", e))?;
    let (mut app, first) = App::new(Role::Admin, "127.0.0.1:8443".into());
    // The first page answers the request the console made for it.
    let tag = first
        .iter()
        .find_map(|e| match e {
            Effect::LoadPage(tag, _) => Some(*tag),
            _ => None,
        })
        .unwrap_or_default();
    update(&mut app, Msg::Resize(200, 50));
    let status = |s: u64| {
        Msg::Status(Status {
            uptime_seconds: 3600 + s,
            accepted_per_second: EVENTS_PER_S / 2.0,
            delivered_per_second: EVENTS_PER_S / 2.0,
            role: Role::Admin,
            phi_visible: true,
            overloaded: 0,
            queue_full: 0,
        })
    };
    update(&mut app, status(0));
    update(&mut app, Msg::Connections(connections()));
    let history: Vec<LogRecord> = (0..crate::console::app::PAGE_SIZE as u64)
        .map(|i| super::history::log_record(1_000_000 - i, (i % 10) as usize, LogStatus::Succeeded))
        .collect();
    let next = history.last().map(|l| l.id);
    update(
        &mut app,
        Msg::Page(
            tag,
            LogPage {
                logs: history,
                next,
            },
        ),
    );
    // Fill the ring, as a console open for a while on a busy engine has it.
    let capacity = app.feed.capacity() as u64;
    let mut k = 0u64;
    while k < 2 * capacity {
        update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(event(k)))));
        k += 1;
    }
    terminal
        .draw(|f| view::draw(f, &mut app, &theme))
        .map_err(|e| BenchError::new("draw", e))?;

    let mut draws = Latencies::default();
    let mut update_time = Duration::ZERO;
    let mut updates = 0u64;
    let start = Instant::now();
    let first = k;
    let mut frame = 0u64;
    while start.elapsed() < duration {
        let due = first + (start.elapsed().as_secs_f64() * EVENTS_PER_S) as u64;
        let t = Instant::now();
        while k < due {
            update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(event(k)))));
            k += 1;
            updates += 1;
        }
        if frame.is_multiple_of(60) {
            update(&mut app, status(frame / 60));
        }
        update_time += t.elapsed();
        if app.take_dirty() {
            let t = Instant::now();
            terminal
                .draw(|f| view::draw(f, &mut app, &theme))
                .map_err(|e| BenchError::new("draw", e))?;
            draws.record(t.elapsed());
        }
        frame += 1;
        let next = start + FRAME * frame as u32;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let per_event = update_time.as_secs_f64() * 1e6 / updates.max(1) as f64;
    let frames = draws.len();
    Ok((draws, per_event, frames))
}

/// The floor: a full screen of text that changes every frame.
fn baseline_draws(frames: usize) -> Result<Latencies> {
    let mut terminal =
        Terminal::new(TestBackend::new(200, 50)).map_err(|e| BenchError::new("terminal", e))?;
    let mut draws = Latencies::default();
    for f in 0..frames.max(10) {
        let text: String = (0..50)
            .map(|l| {
                let line = format!("{:>8} {:>6} row of the live feed, frame {f} ", l + f, l);
                let mut line = line.repeat(200 / line.len() + 1);
                line.truncate(200);
                line + "\n"
            })
            .collect();
        let t = Instant::now();
        terminal
            .draw(|frame| frame.render_widget(Paragraph::new(text.as_str()), frame.area()))
            .map_err(|e| BenchError::new("draw", e))?;
        draws.record(t.elapsed());
        std::thread::sleep(FRAME.saturating_sub(t.elapsed()));
    }
    Ok(draws)
}

/// (bytes per second written while idle, resident bytes of the console process).
fn idle_console(dir: &std::path::Path, settle: Duration, window: Duration) -> Result<(f64, u64)> {
    let exe = std::env::current_exe().map_err(|e| BenchError::new("current exe", e))?;
    let pidfile = dir.join("console.pid");
    let inner = format!(
        "echo $$ > '{}'; stty rows 50 cols 200; exec '{}' --data-dir '{}' --listen 127.0.0.1:0",
        pidfile.display(),
        exe.display(),
        dir.join("data").display()
    );
    let mut child = Command::new("script")
        .arg("-qfec")
        .arg(format!("sh -c \"{inner}\""))
        .arg("/dev/null")
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("TERM", "xterm-256color")
        .env("SWITCHBOARD_LOG", "warn")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError::new("spawn script(1) (util-linux) for a pty", e))?;
    let mut stdout = child.stdout.take().ok_or(BenchError("no stdout".into()))?;
    let stdin = Arc::new(Mutex::new(child.stdin.take()));
    let written: Arc<Mutex<Vec<(Instant, usize)>>> = Arc::default();
    let (sink, answer) = (written.clone(), stdin.clone());
    let reader = std::thread::spawn(move || {
        use std::io::Write;
        let mut buf = [0u8; 65536];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut w) = sink.lock() {
                w.push((Instant::now(), n));
            }
            // The terminal's part: answer a cursor position request (`ESC [ 6 n`),
            // which the console sends at start-up.
            if buf[..n].windows(4).any(|w| w == b"\x1b[6n")
                && let Ok(mut input) = answer.lock()
                && let Some(input) = input.as_mut()
            {
                let _ = input.write_all(b"\x1b[1;1R");
                let _ = input.flush();
            }
        }
    });
    let started = Instant::now();
    std::thread::sleep(settle);
    let from = Instant::now();
    std::thread::sleep(window);
    let to = Instant::now();
    let pid = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
    let rss = pid.and_then(serve::rss_bytes).unwrap_or(0);
    let first_frame = written.lock().map(|w| w.len()).unwrap_or(0);
    // Quit as a user would; then make sure.
    if let Ok(mut input) = stdin.lock()
        && let Some(input) = input.as_mut()
    {
        use std::io::Write;
        let _ = input.write_all(b"q");
        let _ = input.flush();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Ok(None) = child.try_wait() {
        if let Some(pid) = pid {
            serve::terminate(pid);
        }
        let _ = child.kill();
    }
    let _ = child.wait();
    if let Ok(mut input) = stdin.lock() {
        input.take();
    }
    let _ = reader.join();
    if first_frame == 0 || rss == 0 {
        return Err(BenchError(format!(
            "the console under a pty wrote nothing or could not be found (pid {pid:?}) after {:.1} s",
            started.elapsed().as_secs_f64()
        )));
    }
    let idle: usize = written
        .lock()
        .map(|w| {
            w.iter()
                .filter(|(t, _)| *t >= from && *t < to)
                .map(|(_, n)| n)
                .sum()
        })
        .unwrap_or(0);
    Ok((idle as f64 / window.as_secs_f64(), rss))
}

pub async fn run(quick: bool) -> Result<Report> {
    let mut report = new_report(Scenario::Console, quick);
    report.baseline_is = "draw: ratatui drawing a full 200×50 screen of changing text on the \
        same TestBackend; memory: `switchboard serve` alone on the same data dir; idle bytes: \
        the ideal is 0"
        .into();
    let duration = super::secs(quick, 2.0, 10.0);
    let settle = super::secs(quick, 2.5, 5.0);
    let window = super::secs(quick, 3.0, 10.0);
    let history: u64 = if quick { 5_000 } else { 200_000 };
    report.size("terminal", "200x50");
    report.size("events_per_s", EVENTS_PER_S);
    report.size("draw_seconds", duration.as_secs_f64());
    report.size("idle_window_seconds", window.as_secs_f64());
    report.size("pty_console_history_logs", history);

    let (mut draws, per_event, frames) = tokio::task::block_in_place(|| draw_under_load(duration))?;
    let mut base = tokio::task::block_in_place(|| baseline_draws(frames))?;
    report.pair("draw_p50", "µs", draws.p50(), base.p50());
    report.pair("draw_p99", "µs", draws.p99(), base.p99());
    report.figure("frames_drawn", "", frames as f64);
    report.figure("update_per_event", "µs", per_event);
    let p99 = draws.p99();
    report.floor(
        &format!("draw p99 ≤ 2 ms (is {:.2} ms)", p99 / 1000.0),
        p99 <= 2000.0,
    );

    let dir = TempDir::new("console")?;
    tokio::task::block_in_place(|| fill(&dir.path().join("data"), history, false, history))?;
    let (idle_bps, rss) = tokio::task::block_in_place(|| idle_console(dir.path(), settle, window))?;
    // The engine alone on the same data dir, for the memory baseline.
    std::fs::write(dir.path().join("serve.toml"), "").map_err(|e| BenchError::new("config", e))?;
    let engine = EngineProcess::start_on(dir.path(), &dir.path().join("serve.toml"))?;
    tokio::time::sleep(settle).await;
    let serve_rss = serve::rss_bytes(engine.pid()).unwrap_or(0);
    engine.stop();
    report.figure("idle_bytes_per_s", "B/s", idle_bps);
    report.pair(
        "rss",
        "MiB",
        rss as f64 / 1048576.0,
        serve_rss as f64 / 1048576.0,
    );
    Ok(report)
}
