//! Copying through the terminal: OSC 52 puts text on the clipboard of the machine the
//! user sits at, even when the console runs on a server at the far end of SSH (and
//! inside tmux with `set -g set-clipboard on`). The sequence is crossterm's.

use crossterm::Command;
use crossterm::clipboard::CopyToClipboard;

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

/// The escape sequence that sets the clipboard to `text`.
pub fn osc52(text: &str) -> Result<String, TooLarge> {
    if text.len() > COPY_LIMIT {
        return Err(TooLarge { size: text.len() });
    }
    let mut sequence = String::new();
    // Writing into a String cannot fail; an empty sequence would copy nothing.
    let _ = CopyToClipboard::to_clipboard_from(text).write_ansi(&mut sequence);
    Ok(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_wraps_the_text_and_refuses_what_terminals_would_drop() {
        assert_eq!(osc52("hi").unwrap(), "\x1b]52;c;aGk=\x1b\\");
        let big = "x".repeat(COPY_LIMIT + 1);
        assert_eq!(
            osc52(&big),
            Err(TooLarge {
                size: COPY_LIMIT + 1
            })
        );
    }
}
