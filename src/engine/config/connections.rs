//! `[engine]` settings for the engine's own HTTP connections: how long a client may take
//! to send a request's headers and body, how long an idle kept-alive connection stays
//! open, and how many connections may be open at once (see `api::server`).

use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Time for a request's headers, from their first byte to the blank line.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Time for a request's whole body, from the end of its headers.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a connection may stay open with no request on it (before its first one, and
/// between kept-alive ones).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Above this, a timeout would let one slow client hold a connection for over an hour.
const MAX_TIMEOUT_SECONDS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: derived from the open-file limit at start (see `api::server::limits`).
    pub max_connections: Option<usize>,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
        }
    }
}

/// The four raw values of `[engine]`, as written.
pub(super) struct RawConnections<'a> {
    pub header_timeout_seconds: Option<&'a Spanned<u64>>,
    pub body_timeout_seconds: Option<&'a Spanned<u64>>,
    pub idle_timeout_seconds: Option<&'a Spanned<u64>>,
    pub max_connections: Option<&'a Spanned<u64>>,
}

/// Checks the raw values; each problem goes to `problem` with the span it is about.
pub(super) fn check(
    raw: RawConnections<'_>,
    mut problem: impl FnMut(Range<usize>, String),
) -> ConnectionSettings {
    let defaults = ConnectionSettings::default();
    let mut timeout = |value: Option<&Spanned<u64>>, name: &str, default: Duration| {
        let Some(value) = value else { return default };
        let seconds = *value.get_ref();
        if seconds == 0 || seconds > MAX_TIMEOUT_SECONDS {
            problem(
                value.span(),
                format!(
                    "{name} = {seconds} is out of range: use 1 to {MAX_TIMEOUT_SECONDS} \
                     (the default is {})",
                    default.as_secs()
                ),
            );
            return default;
        }
        Duration::from_secs(seconds)
    };
    let header_timeout = timeout(
        raw.header_timeout_seconds,
        "header_timeout_seconds",
        defaults.header_timeout,
    );
    let body_timeout = timeout(
        raw.body_timeout_seconds,
        "body_timeout_seconds",
        defaults.body_timeout,
    );
    let idle_timeout = timeout(
        raw.idle_timeout_seconds,
        "idle_timeout_seconds",
        defaults.idle_timeout,
    );
    let max_connections = raw.max_connections.and_then(|value| {
        let n = *value.get_ref();
        if n == 0 {
            problem(
                value.span(),
                "max_connections = 0 would refuse every client: use a positive number, \
                 or remove it to have it derived from the open-file limit"
                    .to_string(),
            );
            return None;
        }
        Some(usize::try_from(n).unwrap_or(usize::MAX))
    });
    ConnectionSettings {
        header_timeout,
        body_timeout,
        idle_timeout,
        max_connections,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        Config::parse(text, Path::new("config.toml"), dir.path()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_bounded_and_values_are_read() {
        let plain = parse("").expect("valid");
        let c = plain.settings.connections;
        assert!(c.header_timeout <= Duration::from_secs(30));
        assert!(c.idle_timeout <= Duration::from_secs(60));
        assert_eq!(c.max_connections, None);
        let set = parse(
            "[engine]\nheader_timeout_seconds = 5\nbody_timeout_seconds = 7\n\
             idle_timeout_seconds = 9\nmax_connections = 32\n",
        )
        .expect("valid");
        let c = set.settings.connections;
        assert_eq!(c.header_timeout, Duration::from_secs(5));
        assert_eq!(c.body_timeout, Duration::from_secs(7));
        assert_eq!(c.idle_timeout, Duration::from_secs(9));
        assert_eq!(c.max_connections, Some(32));
    }

    #[test]
    fn bad_values_name_the_line_and_the_range() {
        let err = parse("[engine]\nheader_timeout_seconds = 0\nmax_connections = 0\n")
            .expect_err("refused");
        assert!(
            err.contains("line 2: header_timeout_seconds = 0 is out of range: use 1 to 3600"),
            "{err}"
        );
        assert!(err.contains("line 3: max_connections = 0"), "{err}");
        let err = parse("[engine]\n\nidle_timeout_seconds = 86400\n").expect_err("refused");
        assert!(
            err.contains("line 3: idle_timeout_seconds = 86400"),
            "{err}"
        );
    }
}
