//! Copying through the terminal: OSC 52 puts text on the clipboard of the machine the
//! user sits at, even when the console runs on a server at the far end of SSH (and
//! inside tmux with `set -g set-clipboard on`).

/// The most the console copies in one go: some terminals drop longer OSC 52 sequences
/// without a word, which is worse than saying so.
pub const COPY_LIMIT: usize = 100 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{size} bytes is more than the {COPY_LIMIT}-byte clipboard limit: fold to a smaller part, or fetch the log with GET /admin/v1/logs/ID"
)]
pub struct TooLarge {
    pub size: usize,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648), which is what OSC 52 carries.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The escape sequence that sets the clipboard to `text`.
pub fn osc52(text: &str) -> Result<String, TooLarge> {
    if text.len() > COPY_LIMIT {
        return Err(TooLarge { size: text.len() });
    }
    Ok(format!("\x1b]52;c;{}\x07", base64(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn osc52_wraps_the_text_and_refuses_what_terminals_would_drop() {
        assert_eq!(osc52("hi").unwrap(), "\x1b]52;c;aGk=\x07");
        let big = "x".repeat(COPY_LIMIT + 1);
        assert_eq!(
            osc52(&big),
            Err(TooLarge {
                size: COPY_LIMIT + 1
            })
        );
    }
}
