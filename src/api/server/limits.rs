//! The bounds of the engine's HTTP connections that are not settings: the size of a
//! request's head, the open-file limit, and the connection cap derived from it.

use crate::model::ApiError;
use hyper::Request;

/// Longest request target (path and query) answered; longer ones get 414.
pub const MAX_REQUEST_TARGET_BYTES: usize = 8 * 1024;
/// Most header bytes (names, values and 4 bytes of framing per field); more get 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields; more get 431. Below hyper's own 100 so that ours answers first
/// (raising hyper's would move its header array to the heap on every request).
pub const MAX_HEADER_COUNT: usize = 64;
/// hyper's read buffer, which bounds a request head absolutely: a head larger than this,
/// or with more than [`HYPER_MAX_HEADERS`] fields, gets hyper's own bare 431.
pub const HYPER_MAX_BUF_BYTES: usize = 400 * 1024;
/// hyper's default, left as it is (see [`MAX_HEADER_COUNT`]).
pub const HYPER_MAX_HEADERS: usize = 100;

/// File descriptors kept out of the connection cap: sled's files, the log, the
/// listener, outgoing connections to destinations (one pool per destination) and query
/// forwarding, on top of those already open at start.
pub const RESERVED_FDS: u64 = 512;
/// The derived cap never exceeds this: each open connection holds buffers and a task
/// (tens of KiB at worst), so a million would be gigabytes. `max_connections` may say
/// more, up to what the file descriptors allow.
pub const DERIVED_CAP_CEILING: usize = 65_536;

/// A 414 or 431 in the platform's shape for a request head beyond our limits.
pub fn check_head<B>(req: &Request<B>) -> Option<ApiError> {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len());
    if target > MAX_REQUEST_TARGET_BYTES {
        return Some(ApiError::new(
            414,
            "request",
            "Request",
            format!(
                "The request target (path and query) is {target} bytes, over the engine's \
                 limit of {MAX_REQUEST_TARGET_BYTES}. Send long parameters in a POST body \
                 instead."
            ),
        ));
    }
    let headers = req.headers();
    if headers.len() > MAX_HEADER_COUNT {
        return Some(ApiError::new(
            431,
            "request",
            "Request",
            format!(
                "The request has {} header fields, over the engine's limit of \
                 {MAX_HEADER_COUNT}. Send fewer headers.",
                headers.len()
            ),
        ));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            431,
            "request",
            "Request",
            format!(
                "The request headers are {bytes} bytes, over the engine's limit of \
                 {MAX_HEADER_BYTES}. Send fewer or shorter headers (large cookies or \
                 tokens)."
            ),
        ));
    }
    None
}

/// The open-file limit after start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub soft: u64,
    pub hard: u64,
    /// The soft limit before it was raised, when it was.
    pub raised_from: Option<u64>,
}

/// Raises the soft open-file limit to the hard one: each connection takes a file
/// descriptor, and the soft default (often 1024) is far below what the hard limit
/// allows.
pub fn raise_fd_limit() -> Result<FdLimit, std::io::Error> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and keeps no pointer to it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (soft, hard): (u64, u64) = (limit.rlim_cur, limit.rlim_max);
    // Linux refuses a soft limit above fs.nr_open, which an unlimited hard one is.
    let target = if hard == libc::RLIM_INFINITY {
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20)
    } else {
        hard
    };
    if soft >= target {
        return Ok(FdLimit {
            soft,
            hard,
            raised_from: None,
        });
    }
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(FdLimit {
        soft: target,
        hard,
        raised_from: Some(soft),
    })
}

/// File descriptors open in this process now (Linux); `None` elsewhere.
pub fn open_fds() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count() as u64)
}

/// The cap the file descriptors allow: the soft limit less those open at start and
/// [`RESERVED_FDS`]; on a tiny limit, half of what is left. At least 1.
pub fn fd_capacity(soft_limit: u64, open: u64) -> usize {
    let available = soft_limit.saturating_sub(open);
    let cap = if available >= 2 * RESERVED_FDS {
        available - RESERVED_FDS
    } else {
        available / 2
    };
    usize::try_from(cap).unwrap_or(usize::MAX).max(1)
}

/// The cap in force: `configured` if the file descriptors allow it, else what they
/// allow (and it says so); without a setting, what they allow up to
/// [`DERIVED_CAP_CEILING`].
pub fn capacity(configured: Option<usize>, fd_capacity: usize) -> usize {
    match configured {
        Some(n) if n > fd_capacity => {
            tracing::warn!(
                max_connections = n,
                allowed = fd_capacity,
                "max_connections is more than the open-file limit allows; using {fd_capacity} \
                 (raise the hard limit, e.g. LimitNOFILE= or ulimit -Hn, to allow more)"
            );
            fd_capacity
        }
        Some(n) => n,
        None => fd_capacity.min(DERIVED_CAP_CEILING),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_a_reserve_and_a_floor() {
        assert_eq!(fd_capacity(20_000, 30), 20_000 - 30 - 512);
        assert_eq!(fd_capacity(1024, 24), 500);
        assert_eq!(fd_capacity(10, 10), 1);
        assert_eq!(capacity(None, 1_000_000), DERIVED_CAP_CEILING);
        assert_eq!(capacity(Some(32), 19_000), 32);
        assert_eq!(capacity(Some(50_000), 19_000), 19_000);
    }

    #[test]
    fn heads_beyond_the_limits_are_named() {
        let long = format!("/endpoint?q={}", "a".repeat(MAX_REQUEST_TARGET_BYTES));
        let req = Request::get(long).body(()).expect("request");
        let e = check_head(&req).expect("414");
        assert_eq!(e.status, 414);
        assert!(e.entries[0].text.contains("8192"), "{e}");
        let mut req = Request::get("/").body(()).expect("request");
        for i in 0..=MAX_HEADER_COUNT {
            req.headers_mut().insert(
                hyper::header::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).expect("name"),
                hyper::header::HeaderValue::from_static("v"),
            );
        }
        let e = check_head(&req).expect("431");
        assert_eq!(e.status, 431);
        assert!(e.entries[0].text.contains("65 header fields"), "{e}");
        let mut req = Request::get("/").body(()).expect("request");
        req.headers_mut().insert(
            "x-big",
            hyper::header::HeaderValue::from_str(&"b".repeat(MAX_HEADER_BYTES)).expect("value"),
        );
        let e = check_head(&req).expect("431");
        assert!(e.entries[0].text.contains("32768"), "{e}");
        assert!(check_head(&Request::get("/status").body(()).expect("r")).is_none());
    }
}
