//! Setup mistakes with the real binary (issue 18, point 11): each message names what
//! is actually wrong (the URL, the token file, the data directory) and the exit code
//! is a failure; and what is only a matter of form (no scheme, blank lines around a
//! token) is accepted.
//!
//! A console started by a test has no terminal: getting as far as "the console needs a
//! terminal" proves that the URL, the token and the engine's first answer were fine.

use crate::common;

use common::bin::{BIN, cli_json, serve_dir};
use std::path::Path;
use std::process::{Command, Output};

const NEEDS_TERMINAL: &str = "the console needs a terminal";

/// A served engine on the built-in Development setup, with an admin token.
fn engine(dir: &Path) -> (common::bin::Served, String, String) {
    std::fs::write(dir.join("config.toml"), "").expect("config");
    let (served, base) = serve_dir(dir);
    let token = cli_json(
        dir,
        &["tokens", "create", "--role", "admin", "--name", "tester"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    (served, base, token)
}

/// `switchboard ARGS` with its own data directory, stdin closed (no terminal).
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir.join("console-data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env_remove("SWITCHBOARD_TOKEN")
        .env_remove("SWITCHBOARD_ENGINE")
        .output()
        .expect("run switchboard")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code 1 and a message that contains `want` and none of `not`.
fn fails_with(out: &Output, want: &str, not: &[&str]) {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(want), "wanted {want:?} in: {text}");
    for wrong in not {
        assert!(!text.contains(wrong), "{wrong:?} in: {text}");
    }
}

#[test]
fn an_engine_url_without_a_scheme_is_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_served, base, token) = engine(dir.path());
    let bare = base.trim_start_matches("http://");
    let out = run(dir.path(), &["--engine", bare, "--token", &token]);
    fails_with(
        &out,
        NEEDS_TERMINAL,
        &["relative URL", "cannot reach the engine"],
    );

    // The simulator takes it too.
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--rate",
            "5/s",
            "--duration",
            "1s",
            "--engine",
            bare,
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .output()
        .expect("simulate");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn token_files_are_trimmed_and_must_hold_the_token_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_served, base, token) = engine(dir.path());
    let file = dir.path().join("token");
    let file_arg = file.to_str().expect("path");

    // Blank lines and spaces around the token: accepted.
    std::fs::write(&file, format!("\n\n   {token}  \n\n")).expect("write");
    let out = run(dir.path(), &["--engine", &base, "--token-file", file_arg]);
    fails_with(&out, NEEDS_TERMINAL, &["header"]);

    // The whole output of `tokens create` saved to the file: said as such.
    std::fs::write(
        &file,
        format!("Admin token \"tester\" with role admin\n  {token}\nIt expires soon.\n"),
    )
    .expect("write");
    let out = run(dir.path(), &["--engine", &base, "--token-file", file_arg]);
    fails_with(
        &out,
        &format!("the token file {file_arg} holds 3 lines: it must hold the admin token alone"),
        &["cannot reach the engine", "failed to parse header value"],
    );

    // A token with a character no header carries, from the flag.
    let out = run(
        dir.path(),
        &["--engine", &base, "--token", &format!("{token}\u{7}")],
    );
    fails_with(
        &out,
        "the token given with --token (or SWITCHBOARD_TOKEN) contains characters a header cannot carry",
        &["cannot reach the engine"],
    );
}

#[test]
fn a_server_that_is_not_an_engine_is_named_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_served, base, token) = engine(dir.path());
    let out = run(
        dir.path(),
        &["--engine", &format!("{base}/sandbox"), "--token", &token],
    );
    fails_with(
        &out,
        "has a path, and the engine has no admin API under it",
        &["There is no route"],
    );
}

#[test]
fn simulate_against_another_data_directory_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_served, base, _token) = engine(dir.path());
    let other = dir.path().join("other");
    let out = Command::new(BIN)
        .args(["simulate", "--duration", "1s", "--engine", &base])
        .arg("--data-dir")
        .arg(&other)
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .output()
        .expect("simulate");
    fails_with(
        &out,
        &format!(
            "the engine at {base} does not know the simulator's key: simulate makes its key in the data directory {}, and no engine is running on it",
            other.display()
        ),
        &["{\"Meta\""],
    );
}

#[test]
fn tokens_create_out_writes_the_token_alone_in_a_private_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_served, base, _token) = engine(dir.path());
    let file = dir.path().join("viewer.token");
    let file_arg = file.to_str().expect("path");
    let created = cli_json(
        dir.path(),
        &[
            "tokens", "create", "--role", "viewer", "--name", "v", "--out", file_arg,
        ],
    );
    assert_eq!(created["file"], file_arg, "{created}");
    assert!(created.get("token").is_none(), "printed: {created}");
    let text = std::fs::read_to_string(&file).expect("token file");
    assert!(text.starts_with("sbt_") && text.ends_with('\n'), "{text:?}");
    assert_eq!(text.lines().count(), 1, "{text:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The file is what --token-file wants.
    let out = run(dir.path(), &["--engine", &base, "--token-file", file_arg]);
    fails_with(&out, NEEDS_TERMINAL, &[]);

    // An existing file is never overwritten, and no token is made for it.
    let out = Command::new(BIN)
        .args(["tokens", "create", "--role", "viewer", "--name", "again"])
        .args(["--out", file_arg])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .output()
        .expect("tokens create");
    fails_with(&out, "already exists", &[]);
    assert_eq!(std::fs::read_to_string(&file).expect("unchanged"), text);
}

#[test]
fn tokens_create_help_lists_the_roles() {
    let out = Command::new(BIN)
        .args(["tokens", "create", "--help"])
        .output()
        .expect("help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (role, says) in [
        ("viewer", "metadata of every log"),
        ("phi", "Production payloads"),
        ("operator", "operator actions"),
        ("admin", "everything"),
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("- {role}:")))
            .unwrap_or_else(|| panic!("no line for {role} in:\n{help}"));
        assert!(line.contains(says), "{line}");
    }
}
