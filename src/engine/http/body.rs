//! Bounded reads of an answer's body. A peer decides how much it sends; the engine
//! decides how much it reads: past the bound the rest is left unread and dropped with
//! the connection, so a runaway answer costs at most the bound in memory.

/// How much of a destination's answer an attempt record keeps inline; the whole
/// answer of a query is stored separately.
pub const ATTEMPT_BODY_LIMIT: usize = 64 * 1024;

/// Why a whole body could not be had.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Said by `Content-Length` or found while reading; nothing past `limit` was read.
    #[error("the answer is larger than {limit} bytes, the most this engine reads")]
    TooLarge { limit: usize },
    /// The connection failed or the body broke off (a timeout among them: ask
    /// `is_timeout`).
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// The first bytes of a body, as much as was read.
#[derive(Debug, Default)]
pub struct Prefix {
    pub bytes: Vec<u8>,
    /// There was more than the bound; it was not read.
    pub cut: bool,
    /// The body broke off before its end (`bytes` holds what came).
    pub error: Option<reqwest::Error>,
}

/// Reads at most `limit` bytes of a body; the rest is dropped with the connection.
/// Never fails: what came, whether it was cut, and the error it broke off with.
pub async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Prefix {
    let mut prefix = Prefix::default();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - prefix.bytes.len();
                if chunk.len() > room {
                    prefix.bytes.extend_from_slice(&chunk[..room]);
                    prefix.cut = true;
                    return prefix;
                }
                prefix.bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return prefix,
            Err(e) => {
                prefix.error = Some(e);
                return prefix;
            }
        }
    }
}

/// Reads a whole body of at most `limit` bytes. A larger one is refused by its
/// `Content-Length` before reading, or as soon as it passes the bound.
pub async fn read_bounded(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let prefix = read_prefix(response, limit).await;
    if prefix.cut {
        return Err(BodyError::TooLarge { limit });
    }
    match prefix.error {
        Some(e) => Err(BodyError::Transport(e)),
        None => Ok(prefix.bytes),
    }
}

/// At most `limit` bytes of `body` as text, cut on a character boundary; and whether
/// it was cut.
pub fn excerpt(body: &[u8], limit: usize) -> (String, bool) {
    let cut = body.len() > limit;
    let end = body.len().min(limit);
    // The longest valid prefix: one pass, not one per byte given up.
    let end = match std::str::from_utf8(&body[..end]) {
        Ok(_) => end,
        Err(e) => e.valid_up_to(),
    };
    (String::from_utf8_lossy(&body[..end]).into_owned(), cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_a_character() {
        assert_eq!(excerpt("héllo".as_bytes(), 2), ("h".to_string(), true));
        assert_eq!(excerpt(b"ok", 10), ("ok".to_string(), false));
        assert_eq!(excerpt(b"ok\xff\xfe", 10), ("ok".to_string(), false));
    }
}
