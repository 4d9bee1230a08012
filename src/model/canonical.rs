//! Recognizes JSON objects that `serde_json` (with `preserve_order`) would write back
//! byte for byte, and reads their members as spans of the original bytes.
//!
//! The engine adds fields to a destination's answer (`Meta.Logs` and friends). Parsing
//! the whole answer into a `Value` and writing it out again costs more than the rest of
//! the answer's handling; when the answer is already in the form the writer produces,
//! the new fields can be spliced into its bytes instead, and the output is the same.
//! Anything outside that form (whitespace, `\u` escapes, fractions and exponents,
//! integers a `u64`/`i64` may not hold, duplicate keys, deep nesting, a timestamp the
//! caller would rewrite) is refused, and the caller takes the parse-and-write path.
//! The recognizer is strict, never lenient: a refusal costs speed, an acceptance of
//! something the writer would change would change the wire.

use std::collections::HashSet;
use std::ops::Range;

/// Nesting past this is left to the parser (which has no depth limit here).
const MAX_DEPTH: usize = 128;
/// Objects with more keys than this check duplicates with a hash set.
const LINEAR_KEYS: usize = 24;
/// Digits an integer may have and still be read as `u64`/`i64` whatever they are.
const MAX_DIGITS: usize = 18;

/// One member of an object: its key as written (without the quotes; never escaped)
/// and its value's span.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: Range<usize>,
    pub value: Range<usize>,
}

/// The members of `bytes` when it is one canonical JSON object and nothing else.
/// `keeps_timestamp(text)` is asked for every string under a timestamp key (see
/// `model::time`); `false` refuses the whole text, since the caller would rewrite
/// that value.
pub fn object_members(bytes: &[u8], keeps_timestamp: &dyn Fn(&str) -> bool) -> Option<Vec<Member>> {
    // The parser refuses invalid UTF-8 in strings; checking the whole text once is
    // cheaper than per string.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut scanner = Scanner {
        text,
        at: 0,
        keeps_timestamp,
    };
    let members = scanner.object(0, true)?;
    (scanner.at == bytes.len()).then_some(members)
}

/// The members of an object at `span` inside a text [`object_members`] accepted.
pub fn members_within(bytes: &[u8], span: Range<usize>) -> Option<Vec<Member>> {
    let text = std::str::from_utf8(bytes.get(..span.end)?).ok()?;
    let mut scanner = Scanner {
        text,
        at: span.start,
        keeps_timestamp: &|_| true,
    };
    let members = scanner.object(0, true)?;
    (scanner.at == span.end).then_some(members)
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
    keeps_timestamp: &'a dyn Fn(&str) -> bool,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// An object; its members are kept only when `collect` (only the top's are needed).
    fn object(&mut self, depth: usize, collect: bool) -> Option<Vec<Member>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        let mut members = Vec::new();
        let mut keys = Keys::default();
        if self.eat(b'}').is_some() {
            return Some(members);
        }
        loop {
            let key = self.string()?;
            let raw = &self.text[key.clone()];
            // An escaped key might equal another once unescaped: left to the parser.
            if raw.contains('\\') || !keys.insert(raw) {
                return None;
            }
            self.eat(b':')?;
            let start = self.at;
            self.value(depth + 1, crate::model::time::is_timestamp_field(raw))?;
            if collect {
                members.push(Member {
                    key,
                    value: start..self.at,
                });
            }
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(members);
                }
                _ => return None,
            }
        }
    }

    /// Any value; `timestamp` when it sits under a timestamp key (directly or in arrays
    /// under one), so its strings are the caller's to judge.
    fn value(&mut self, depth: usize, timestamp: bool) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth, false).map(drop),
            b'[' => self.array(depth, timestamp),
            b'"' => {
                let span = self.string()?;
                let text = &self.text[span];
                if timestamp && (text.contains('\\') || !(self.keeps_timestamp)(text)) {
                    return None;
                }
                Some(())
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.integer(),
        }
    }

    fn array(&mut self, depth: usize, timestamp: bool) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth + 1, timestamp)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.text[self.at..]
            .starts_with(word)
            .then(|| self.at += word.len())
    }

    /// An integer as the writer writes it: no sign but `-`, no leading zero, no `-0`
    /// (read as a float), few enough digits to be a `u64`/`i64`; no fraction or exponent.
    fn integer(&mut self) -> Option<()> {
        let negative = self.eat(b'-').is_some();
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = &self.text.as_bytes()[start..self.at];
        let first = *digits.first()?;
        // A leading zero only as the whole (positive) number.
        let zero_ok = first != b'0' || (digits.len() == 1 && !negative);
        let canonical = digits.len() <= MAX_DIGITS && zero_ok;
        let ends = !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (canonical && ends).then_some(())
    }

    /// A string's contents' span. Only the escapes the writer itself uses for these
    /// characters (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`); a raw control character
    /// is invalid JSON, `\u` and `\/` the writer would not write back.
    fn string(&mut self) -> Option<Range<usize>> {
        self.eat(b'"')?;
        let start = self.at;
        let bytes = self.text.as_bytes();
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(start..self.at - 1);
                }
                b'\\' => {
                    if !matches!(
                        bytes.get(self.at + 1)?,
                        b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f'
                    ) {
                        return None;
                    }
                    self.at += 2;
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }
}

/// One object's keys so far: a list while short, a set past that.
#[derive(Default)]
struct Keys<'a> {
    list: Vec<&'a str>,
    set: Option<HashSet<&'a str>>,
}

impl<'a> Keys<'a> {
    /// `false` when `key` was there already.
    fn insert(&mut self, key: &'a str) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(key);
        }
        if self.list.contains(&key) {
            return false;
        }
        self.list.push(key);
        if self.list.len() > LINEAR_KEYS {
            self.set = Some(self.list.drain(..).collect());
        }
        true
    }
}

#[cfg(test)]
mod tests;
