//! Servers the harness measures from outside, as child processes of this same binary:
//! the engine (`serve`) and the baselines that are measured the way the engine is
//! (`bench-baseline`). Both print one `switchboard listening on URL` line; both can run
//! under a wrapper (valgrind); and both are read from `/proc/<pid>` alike, so CPU time
//! and resident memory compare like with like.

use super::{BenchError, Result};
use std::ffi::OsString;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Names another switchboard binary to run as the engine (see
/// [`ServerProcess::engine_under`]).
pub const ENGINE_OVERRIDE: &str = "SWITCHBOARD_BENCH_ENGINE";

/// What a server child prints first, followed by its base URL.
pub const LISTENING: &str = "switchboard listening on ";

/// A server in a child process. Killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Held open for a baseline child, which exits when it closes (so a harness that
    /// dies leaves no server behind).
    _stdin: Option<ChildStdin>,
    pub base: String,
    /// From spawn to the address line (the server is serving).
    pub startup: Duration,
}

/// The engine is a server child like the others.
pub type EngineProcess = ServerProcess;

impl ServerProcess {
    /// `switchboard serve` on `dir/config.toml` (written from `config_toml`) and
    /// `dir/data`.
    pub fn start(dir: &Path, config_toml: &str) -> Result<ServerProcess> {
        let config = dir.join("config.toml");
        std::fs::write(&config, config_toml).map_err(|e| BenchError::new("write config", e))?;
        Self::start_on(dir, &config)
    }

    /// `switchboard serve` on an existing config file and `dir/data`.
    pub fn start_on(dir: &Path, config: &Path) -> Result<ServerProcess> {
        Self::engine_under(dir, config, &[])
    }

    /// The engine with `wrapper` (a program and its arguments, e.g. valgrind) in front;
    /// an empty wrapper runs it directly.
    pub fn engine_under(dir: &Path, config: &Path, wrapper: &[OsString]) -> Result<ServerProcess> {
        let args: Vec<OsString> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            dir.join("data").into(),
            "--config".into(),
            config.into(),
        ];
        Self::spawn(dir, "engine", wrapper, args, false)
    }

    /// The binary the engine child runs: this one, or `$SWITCHBOARD_BENCH_ENGINE` (another
    /// build of switchboard, to compare two builds with the same harness and baselines).
    fn engine_binary() -> Result<std::path::PathBuf> {
        match std::env::var_os(ENGINE_OVERRIDE) {
            Some(path) if !path.is_empty() => Ok(path.into()),
            _ => std::env::current_exe().map_err(|e| BenchError::new("current exe", e)),
        }
    }

    /// `switchboard bench-baseline <args>` with `wrapper` in front (empty: directly).
    pub fn baseline_under(
        dir: &Path,
        wrapper: &[OsString],
        args: Vec<OsString>,
    ) -> Result<ServerProcess> {
        let mut all: Vec<OsString> = vec!["bench-baseline".into()];
        all.extend(args);
        Self::spawn(dir, "baseline", wrapper, all, true)
    }

    /// Spawns this binary with `args` (behind `wrapper`), its stderr to `dir/<label>.log`,
    /// and waits for its address line.
    fn spawn(
        dir: &Path,
        label: &str,
        wrapper: &[OsString],
        args: Vec<OsString>,
        hold_stdin: bool,
    ) -> Result<ServerProcess> {
        let exe = if label == "engine" {
            Self::engine_binary()?
        } else {
            std::env::current_exe().map_err(|e| BenchError::new("current exe", e))?
        };
        let log_path = dir.join(format!("{label}.log"));
        let log = std::fs::File::create(&log_path).map_err(|e| BenchError::new("server log", e))?;
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let clock = Instant::now();
        let mut child = command
            .args(&args)
            .env("SWITCHBOARD_LOG", "warn")
            .stdin(if hold_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| BenchError::new(&format!("spawn the {label}"), e))?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(BenchError(format!("the {label} has no stdout")));
        };
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        let startup = clock.elapsed();
        let base = line.trim().strip_prefix(LISTENING).map(str::to_string);
        match (read, base) {
            (Ok(_), Some(base)) => Ok(ServerProcess {
                child,
                _stdin: stdin,
                base,
                startup,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                Err(BenchError(format!(
                    "the {label} did not start (first line {line:?}): {}",
                    log.lines().last().unwrap_or("")
                )))
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU time of every thread so far (see [`cpu_time`]).
    pub fn cpu(&self) -> Result<Duration> {
        cpu_time(self.pid()).ok_or_else(|| {
            BenchError(format!(
                "cannot read the CPU time of process {} from /proc",
                self.pid()
            ))
        })
    }

    /// SIGTERM, then waits (SIGKILL after 15 s).
    pub fn stop(self) {
        self.stop_within(Duration::from_secs(15));
    }

    /// SIGTERM, then waits up to `grace` before SIGKILL.
    pub fn stop_within(mut self, grace: Duration) {
        stop_child(&mut self.child, grace);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// SIGTERM, then waits up to `grace` before SIGKILL.
pub(crate) fn stop_child(child: &mut Child, grace: Duration) {
    terminate(child.id());
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM to one process we started.
pub fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Resident memory of a process, from `/proc/PID/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// User + system CPU time of a process, all its threads (fields 14 and 15 of
/// `/proc/PID/stat`, in clock ticks).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_ticks(&text).map(|ticks| Duration::from_secs_f64(ticks as f64 / clock_ticks_per_s()))
}

/// utime + stime from a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted from its closing one.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // field 3 (state) is the first
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf reads a constant of the running system; no memory is passed.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Waits until the engine has applied every acknowledged request to history and the
/// queues (its `switchboard_journal_backlog` gauge on `/metrics` reads 0), so CPU read
/// afterwards includes the work done after the 200.
pub async fn wait_applied(
    client: &reqwest::Client,
    engine: &ServerProcess,
    deadline: Duration,
) -> Result<()> {
    let url = engine.url("/metrics");
    let give_up = Instant::now() + deadline;
    loop {
        let text = super::load::get(client, &url, None)
            .await
            .map_err(|e| BenchError::new("read the engine's /metrics", e))?;
        let backlog = String::from_utf8_lossy(&text)
            .lines()
            .find_map(|l| l.strip_prefix("switchboard_journal_backlog "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        match backlog {
            Some(b) if b <= 0.0 => return Ok(()),
            Some(_) => {}
            None => {
                return Err(BenchError(
                    "the engine's /metrics has no switchboard_journal_backlog gauge".into(),
                ));
            }
        }
        if Instant::now() > give_up {
            return Err(BenchError(format!(
                "the engine's journal backlog did not drain within {deadline:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_ticks_counts_from_the_closing_parenthesis() {
        let line = "4242 (tokio (rt) w) S 1 2 3 4 5 6 7 8 9 10 130 27 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(line), Some(157));
        assert_eq!(cpu_ticks("garbage"), None);
    }
}
