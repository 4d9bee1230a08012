//! The real `switchboard` binary as a child process, for the tests that need a real
//! process: crashes, signals, the CLI.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// A running `switchboard`, killed when dropped so a failing test leaves none behind.
pub struct Served(pub Child);

impl Served {
    /// SIGKILL, and reap.
    pub fn sigkill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }

    pub fn pid(&self) -> String {
        self.0.id().to_string()
    }

    /// SIGTERM, then the exit status once it has exited (panics after `within`).
    pub async fn terminate(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let term = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .expect("kill -TERM");
        assert!(term.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the engine did not stop within {within:?} of SIGTERM"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A Development source "Lab" subscribed to a destination "EHR" on a closed port, for
/// the tests that only need something to accept and queue.
pub const LAB_TO_EHR: &str = r#"
[[sources]]
name = "Lab"
environment = "development"

[[destinations]]
name = "EHR"
environment = "development"
url = "http://127.0.0.1:9/unused"
verification_token = "t0ken"

[[subscriptions]]
source = "Lab"
destination = "EHR"
data_models = ["*"]
"#;

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a `switchboard serve …` command and waits for the one line it prints on
/// stdout; returns the process and its base URL.
pub fn spawn_serve(mut command: Command) -> (Served, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn switchboard serve");
    let stdout = child.stdout.take().expect("stdout");
    let served = Served(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the first line");
    let base = line
        .trim()
        .strip_prefix("switchboard listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (served, base)
}

/// `switchboard serve` on an ephemeral port on the layout these tests use (`DIR/data`,
/// `DIR/config.toml`), logging warnings and errors only; not yet started.
pub fn serve_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("SWITCHBOARD_LOG", "warn");
    command
}

/// [`serve_command`], started: the process and its base URL.
pub fn serve_dir(dir: &std::path::Path) -> (Served, String) {
    spawn_serve(serve_command(dir))
}

/// Runs `switchboard ARGS --json` on the layout these tests use (`DIR/data`,
/// `DIR/config.toml`) and returns its JSON output.
pub fn cli_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(args)
        .arg("--json")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .output()
        .expect("run switchboard");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// The ID of a configured destination, from `switchboard connections --json`.
pub fn destination_id(dir: &std::path::Path, name: &str) -> serde_json::Value {
    cli_json(dir, &["connections"])["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no destination {name}"))["id"]
        .clone()
}

/// An access token from `POST /auth/authenticate` at `base` for `key`, the JSON that
/// `switchboard keys create --json` printed.
pub async fn access_token(base: &str, key: &serde_json::Value) -> String {
    let grant: serde_json::Value = super::client()
        .post(format!("{base}/auth/authenticate"))
        .json(&serde_json::json!({"apiKey": key["apiKey"], "secret": key["secret"]}))
        .send()
        .await
        .expect("authenticate")
        .json()
        .await
        .expect("grant");
    grant["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_string()
}
