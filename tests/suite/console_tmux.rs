//! The real binary in a real terminal: tmux runs `switchboard`, keys are sent with
//! `send-keys`, the screen is read with `capture-pane`.
//!
//! - The console on an embedded engine with no configuration: panes, help, a filter, a
//!   log's detail, a copy over OSC 52, and the terminal given back on `q`.
//! - The console attached to `switchboard serve` with a viewer token while Production
//!   traffic flows: no body or patient field ever reaches the screen.

use crate::common;

use common::bin::{BIN, access_token, cli_json, spawn_serve};
use common::tmux::{keys, screen, start, start_sized, wait_for, wait_for_checking, wait_for_copy};
use common::{client, source_toml, subscription_toml};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A loopback port free right now (the console is told to listen there, so the test
/// can reach its embedded engine).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn post(base: &str, path: &str, token: &str, body: &Value) -> (u16, String) {
    let response = client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

const SANDBOX_EHR: &str = "5b7c0a11-c0de-4e57-8a00-000000000e4e";

fn patient_query(mrn: &str, failure: Option<&str>) -> Value {
    let mut meta = json!({"DataModel": "PatientSearch", "EventType": "Query",
                          "Destinations": [{"ID": SANDBOX_EHR}]});
    if let Some(mode) = failure {
        meta["Extensions"] = json!({"sandbox-failure": {"string": mode}});
    }
    json!({"Meta": meta, "Patient": {"Identifiers": [{"ID": mrn, "IDType": "MR"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_opens_filters_shows_help_opens_a_detail_and_gives_the_terminal_back() {
    opens_filters_and_details(120, 40).await;
}

/// The same at the smallest size the console draws in: the filter, the feed's rows
/// and the detail all still fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_80x24_the_console_still_filters_and_opens_a_detail() {
    opens_filters_and_details(80, 24).await;
}

async fn opens_filters_and_details(width: u16, height: u16) {
    // At 80 columns the feed's title is the short one ("Feed … ⚑ status:failed").
    let narrow = width < 100;
    let home = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let xdg = format!(
        "XDG_CONFIG_HOME={h}/c XDG_DATA_HOME={h}/d",
        h = home.path().display()
    );
    let name = format!("sb-{}-{width}", std::process::id());
    let session = start_sized(
        &name,
        &format!(
            "env -u SWITCHBOARD_CONFIG -u SWITCHBOARD_DATA_DIR -u NO_COLOR {xdg} {BIN} --listen 127.0.0.1:{port}; echo CONSOLE-EXITED-$?; sleep 30"
        ),
        width,
        height,
    );
    // Let applications set tmux's clipboard (OSC 52), as a user copying over SSH would.
    session.tmux(&["set-option", "-s", "set-clipboard", "on"]);

    // Each pane fills in as its first answer arrives (slower on a busy machine).
    for pane in [
        "Live feed",
        "Environments",
        "Connections",
        "Sandbox EHR",
        "DEVELOPMENT",
        "role admin",
    ] {
        wait_for(&session, pane);
    }

    keys(&session, &["?"]);
    wait_for(&session, "Help");
    keys(&session, &["Escape"]);

    // esc goes back and never quits: from the Composer pane to the feed, and in the feed
    // it does nothing. Waits and a pause keep the terminal from reading `esc 4` as alt-4.
    wait_for(&session, " feed: ");
    keys(&session, &["4"]);
    wait_for(&session, " composer: ");
    keys(&session, &["Escape"]);
    wait_for(&session, " feed: ");
    keys(&session, &["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    keys(&session, &["4"]);
    let still = wait_for(&session, " composer: ");
    assert!(!still.contains("CONSOLE-EXITED"), "{still}");
    keys(&session, &["3"]);
    wait_for(&session, " feed: ");

    // Traffic through the embedded engine, as a client of the platform would send it:
    // one query the sandbox answers, one it fails on purpose.
    let key = Command::new(BIN)
        .args([
            "keys",
            "create",
            "--source",
            "Switchboard Console",
            "--json",
        ])
        .env("XDG_CONFIG_HOME", home.path().join("c"))
        .env("XDG_DATA_HOME", home.path().join("d"))
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_DATA_DIR")
        .output()
        .expect("keys create");
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let key: Value = serde_json::from_slice(&key.stdout).expect("key JSON");
    let token = access_token(&base, &key).await;
    let (status, body) = post(&base, "/query", &token, &patient_query("0000000001", None)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &base,
        "/query",
        &token,
        &patient_query("0000000002", Some("500")),
    )
    .await;
    assert_eq!(
        status, 502,
        "the sandbox's 500 reaches the client as a gateway error: {body}"
    );
    // Narrow rows keep the status's mark and drop its word, so the route fits.
    let (succeeded, failed) = if narrow {
        ("✔ 1×", "✖ 1×")
    } else {
        ("SUCCEEDED", "FAILED")
    };
    wait_for(&session, succeeded);

    keys(&session, &["/", "status:failed", "Enter"]);
    // FAILED may already be on screen before the filter applies: wait for its mark.
    wait_for(
        &session,
        if narrow {
            "⚑ status:failed"
        } else {
            "filter status:failed"
        },
    );
    let filtered = wait_for(&session, failed);
    assert!(
        !filtered.contains(succeeded),
        "the filter let a success through:\n{filtered}"
    );

    keys(&session, &["Enter"]);
    let detail = wait_for(&session, "Attempts");
    assert!(detail.contains("Request"), "{detail}");
    wait_for(&session, "\"PatientSearch\"");

    // Down to Meta, then copy its DataModel's path and value.
    keys(&session, &["j", "j"]);
    wait_for(&session, "Request · Meta.DataModel");
    keys(&session, &["y"]);
    wait_for_copy(&session, |copied| copied.trim() == "PatientSearch");

    keys(&session, &["q"]);
    wait_for(&session, "Environments");
    keys(&session, &["q"]);
    let end = wait_for(&session, "CONSOLE-EXITED-0");
    // The terminal is back: no console frame left on the screen.
    assert!(!end.contains("Environments"), "{end}");
    // The log went to a file under the data dir, not to the terminal.
    let log = home.path().join("d/switchboard/logs/console.log");
    assert!(log.exists(), "no log file at {}", log.display());
}

/// A Production source and a poll destination: notifications queue there, so their
/// logs stay in the feed as PENDING with their patient on them.
fn production_config(dir: &Path) {
    let config = source_toml("Prod Lab", "production", None)
        + "[[destinations]]\nname = \"Prod Billing\"\nenvironment = \"production\"\nmode = \"poll\"\nverification_token = \"tok\"\n\n"
        + &subscription_toml("Prod Lab", "Prod Billing", &["*"]);
    std::fs::write(dir.join("config.toml"), config).expect("config");
}

fn admission(destination: &Value, mrn: &str, n: usize) -> Value {
    json!({
        "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival",
                 "Destinations": [{"ID": destination}]},
        "Patient": {
            "Identifiers": [{"ID": mrn, "IDType": "MR"}],
            "Demographics": {"FirstName": "Zebulon", "LastName": format!("Quixwell{n}")}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_attached_over_http_never_sees_a_production_body_or_patient() {
    const MRN: &str = "7777777777";
    let dir = tempfile::tempdir().expect("tempdir");
    production_config(dir.path());
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("config.toml"));
    let (_engine, base) = spawn_serve(command);
    let key = cli_json(dir.path(), &["keys", "create", "--source", "Prod Lab"]);
    let billing = common::bin::destination_id(dir.path(), "Prod Billing");
    let viewer = cli_json(
        dir.path(),
        &[
            "tokens",
            "create",
            "--role",
            "viewer",
            "--name",
            "night shift",
        ],
    );
    let viewer = viewer["token"].as_str().expect("token").to_string();
    let token = access_token(&base, &key).await;
    // Traffic before the console attaches (it arrives as history)…
    for n in 0..3 {
        let (status, body) = post(&base, "/endpoint", &token, &admission(&billing, MRN, n)).await;
        assert_eq!(status, 200, "{body}");
    }

    let name = format!("sbv-{}", std::process::id());
    let session = start(
        &name,
        &format!(
            "{BIN} console --engine {base} --token {viewer} --data-dir {d}; echo CONSOLE-EXITED-$?; sleep 30",
            d = dir.path().join("console").display()
        ),
    );
    let never_phi = |screen: &str| {
        // The one place the MRN may show is the filter the user typed.
        let screen = screen.replace(&format!("mrn:{MRN}"), "mrn:…");
        for secret in [MRN, "Zebulon", "Quixwell"] {
            assert!(
                !screen.contains(secret),
                "{secret} reached a viewer's screen:\n{screen}"
            );
        }
    };
    let first = wait_for_checking(&session, "role viewer", never_phi);
    // Development holds no PHI: nothing hidden there to speak of.
    assert!(!first.contains("PHI"), "{first}");
    keys(&session, &[":", "env production", "Enter"]);
    wait_for_checking(&session, "PRODUCTION", never_phi);
    wait_for_checking(&session, "PHI hidden", never_phi);
    wait_for_checking(&session, "Prod Billing", never_phi);

    // …and live, while it watches.
    for n in 3..6 {
        let (status, body) = post(&base, "/endpoint", &token, &admission(&billing, MRN, n)).await;
        assert_eq!(status, 200, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = screen(&session);
        never_phi(&now);
        if now.matches("PatientAdmin").count() >= 6 {
            break;
        }
        assert!(Instant::now() < deadline, "six rows never showed:\n{now}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A patient filter finds nothing for a role that may not see patients.
    keys(&session, &["/", &format!("mrn:{MRN}"), "Enter"]);
    wait_for_checking(&session, "no logs match the filter", never_phi);
    keys(&session, &["/", "C-u", "Enter"]);
    wait_for_checking(&session, "PatientAdmin", never_phi);

    keys(&session, &["Enter"]);
    let detail = wait_for_checking(&session, "hidden: no PHI permission", never_phi);
    assert!(detail.contains("Attempts"), "{detail}");
    // Copying a hidden body is refused, and nothing lands on the clipboard.
    keys(&session, &["y"]);
    wait_for_checking(&session, "nothing to copy", never_phi);

    keys(&session, &["q", "q"]);
    let end = wait_for_checking(&session, "CONSOLE-EXITED-0", never_phi);
    assert!(!end.contains("Live feed"), "{end}");
}
