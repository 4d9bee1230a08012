//! The console's real event loop (`console::run::run`) in process: a `TestBackend` the
//! test reads while the loop draws, scripted keys, resizes and clicks, and a real
//! engine (in process through `Local`, or a `switchboard serve` child through `Remote`
//! for losing it). The tmux tests stay as the smoke layer over the real terminal.

use crate::common;

use common::bin::{BIN, LAB_TO_EHR, Served, access_token, spawn_serve};
use common::screen::{Input, Recorder, Shared};
use common::{TestEngine, payload};
use crossterm::event::{Event, KeyCode, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::client::{Engine, Local, Remote};
use switchboard::console::run::{ConsoleOptions, run};
use switchboard::console::theme::Theme;
use switchboard::model::Role;

fn options(dir: &Path, role: Role) -> ConsoleOptions {
    ConsoleOptions {
        role,
        theme: Theme::dark(),
        themes_dir: dir.join("themes"),
        feed_capacity: 1000,
        read_only: false,
        collection: dir.join("requests"),
        mouse: true,
        prompt_history: Some(dir.join("console-prompts.json")),
        ca: None,
    }
}

fn click(column: u16, row: u16) -> Event {
    Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: crossterm::event::KeyModifiers::NONE,
    })
}

/// Waits (bounded) for `done`, checking every 20 ms.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_loop_draws_follows_traffic_takes_clicks_filters_resizes_and_quits() {
    let te = TestEngine::start(LAB_TO_EHR).await;
    let ehr = te.destination_id("EHR");
    let client: Arc<dyn Engine> =
        Arc::new(Local::new(te.engine.clone(), Role::Admin, "test", &te.base));
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = Shared::new(120, 40);
    let mut terminal = Terminal::new(backend.clone()).expect("terminal");
    let (input, stream) = Input::new();
    let mut host = Recorder::default();
    let asked = host.clone();
    let console = run(
        &mut terminal,
        stream,
        &mut host,
        client,
        options(dir.path(), Role::Admin),
    );
    let script = async {
        backend.wait_for("Live feed").await;
        backend.wait_for("EHR").await;
        assert_eq!(asked.asked().mouse, [true], "mouse capture is asked for");

        // A notification through the engine shows up in the feed.
        let token = te.token("Lab").await;
        let body = payload("PatientAdmin", "Arrival", &[ehr], "0000000042");
        let (status, answer) = te.post_json("/endpoint", Some(&token), &body).await;
        assert_eq!(status, 200, "{answer}");
        backend.wait_for("Lab → EHR").await;

        // Two clicks on its row open its detail; q goes back.
        input.event(click(60, 3)).await;
        input.event(click(60, 3)).await;
        backend.wait_for("Attempts").await;
        input.key(KeyCode::Char('q')).await;
        backend
            .wait_until("the feed again", |s| !s.contains("Attempts"))
            .await;

        // `/` + filter + enter: the feed's title says it.
        input.key(KeyCode::Char('/')).await;
        input.text("status:failed").await;
        input.key(KeyCode::Enter).await;
        backend.wait_for("filter status:failed").await;

        // The terminal shrinks to 80×24: the next frame is drawn at that size.
        backend.resize(80, 24);
        input.event(Event::Resize(80, 24)).await;
        backend
            .wait_until("a whole frame at 80×24", |s| {
                s.lines().count() == 24 && s.contains("Live feed") && s.contains("Connections")
            })
            .await;
        assert_eq!(backend.size(), (80, 24));

        // ctrl-z is the terminal's business: asked of it once.
        input.ctrl('z').await;
        until("ctrl-z suspends", || asked.asked().suspended == 1).await;

        input.key(KeyCode::Char('q')).await;
    };
    let (ended, ()) = tokio::join!(console, script);
    ended.expect("q ends the loop cleanly");
}

/// `switchboard serve` on `listen` with the built-in Development setup.
fn serve(data: &Path, listen: &str) -> (Served, String) {
    let mut command = std::process::Command::new(BIN);
    command
        .args(["serve", "--listen", listen])
        .arg("--data-dir")
        .arg(data)
        .env_remove("SWITCHBOARD_CONFIG")
        .env("XDG_CONFIG_HOME", data.join("no-config"))
        .env("SWITCHBOARD_LOG", "warn");
    spawn_serve(command)
}

fn cli(data: &Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(BIN)
        .args(args)
        .arg("--json")
        .arg("--data-dir")
        .arg(data)
        .env_remove("SWITCHBOARD_CONFIG")
        .env("XDG_CONFIG_HOME", data.join("no-config"))
        .output()
        .expect("run switchboard");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

const SANDBOX_EHR: &str = "5b7c0a11-c0de-4e57-8a00-000000000e4e";

/// The engine goes away long enough that a doubling backoff without a low cap would
/// wait many seconds more; the console says so in words, then is back within a few
/// seconds of the engine (the 2 s cap, with a generous margin), and traffic flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_says_the_engine_is_lost_and_is_back_soon_after_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let token = cli(
        &data,
        &["tokens", "create", "--role", "admin", "--name", "t"],
    );
    let token = token["token"].as_str().expect("token").to_string();
    let key = cli(
        &data,
        &["keys", "create", "--source", "Switchboard Console"],
    );
    let (mut engine, base) = serve(&data, "127.0.0.1:0");
    let listen = base.trim_start_matches("http://").to_string();
    let client: Arc<dyn Engine> = Arc::new(Remote::new(&base, &token).expect("client"));

    let backend = Shared::new(120, 40);
    let mut terminal = Terminal::new(backend.clone()).expect("terminal");
    let (input, stream) = Input::new();
    let mut host = Recorder::default();
    let console = run(
        &mut terminal,
        stream,
        &mut host,
        client,
        options(dir.path(), Role::Admin),
    );
    let script = async {
        backend.wait_for("Sandbox EHR").await;
        backend.wait_for("  up ").await;
        engine.sigkill();
        let lost = backend.wait_for("engine unreachable at").await;
        assert!(lost.contains(&listen), "{lost}");
        assert!(lost.contains("✖ disconnected"), "{lost}");
        assert!(
            !lost.contains("  up "),
            "uptime shown while disconnected:\n{lost}"
        );
        tokio::time::sleep(Duration::from_secs(8)).await;

        let again = listen.clone();
        let data_again = data.clone();
        let (restarted, _) = tokio::task::spawn_blocking(move || serve(&data_again, &again))
            .await
            .expect("serve again");
        let back = Instant::now();
        backend
            .wait_until("the banner gone", |s| !s.contains("engine unreachable"))
            .await;
        let took = back.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "the console took {took:?} to reconnect after the engine was back"
        );

        // Traffic after the restart reaches the feed.
        let access = access_token(&base, &key).await;
        let query = json!({
            "Meta": {"DataModel": "PatientSearch", "EventType": "Query",
                     "Destinations": [{"ID": SANDBOX_EHR}]},
            "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}
        });
        let answer = common::client()
            .post(format!("{base}/query"))
            .bearer_auth(&access)
            .json(&query)
            .send()
            .await
            .expect("query");
        assert_eq!(answer.status(), 200);
        backend.wait_for("PatientSearch").await;
        input.key(KeyCode::Char('q')).await;
        restarted
    };
    let (ended, _restarted) = tokio::join!(console, script);
    ended.expect("q ends the loop cleanly");
}
