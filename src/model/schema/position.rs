//! Where each value of a JSON text starts: a map from JSON pointer (RFC 6901) to line and
//! column, so a validation error about `/Patient/Identifiers/0/ID` can point at a line of
//! the editor.
//!
//! serde_json keeps no positions, so this is a small scanner of its own. It is meant for
//! text serde_json has already accepted; on anything else it stops at the first thing it
//! does not understand and keeps what it indexed so far (it never panics). Duplicate
//! keys resolve like serde_json's map: the last one wins.

use std::collections::HashMap;

/// A place in the text, both 1-based; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// JSON pointer → start of that value.
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    starts: HashMap<String, Position>,
}

/// Deeper than serde_json's own recursion limit (128), so valid text is always indexed
/// whole, while hostile text cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

impl PositionIndex {
    pub fn build(text: &str) -> PositionIndex {
        let mut scanner = Scanner {
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
            column: 1,
            starts: HashMap::new(),
        };
        scanner.skip_ws();
        let mut pointer = String::new();
        // A stop part-way leaves what was indexed; see the module docs.
        let _ = scanner.value(&mut pointer, 0);
        PositionIndex {
            starts: scanner.starts,
        }
    }

    /// The start of the value at `pointer` (`""` is the whole document).
    pub fn get(&self, pointer: &str) -> Option<Position> {
        self.starts.get(pointer).copied()
    }

    /// The start of the value at `pointer`, or of its nearest indexed ancestor (a
    /// missing property is reported on the object that lacks it); line 1 if none.
    pub fn nearest(&self, pointer: &str) -> Position {
        let mut p = pointer;
        loop {
            if let Some(found) = self.get(p) {
                return found;
            }
            match p.rfind('/') {
                Some(cut) => p = &p[..cut],
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// Escapes one pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_segment(key: &str, out: &mut String) {
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
    starts: HashMap<String, Position>,
}

/// The scanner gave up (text serde_json would refuse, or too deep).
struct Stop;

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Moves past `n` bytes that hold no newline, counting characters (UTF-8 lead
    /// bytes) for the column.
    fn bump(&mut self, n: usize) {
        let end = (self.pos + n).min(self.bytes.len());
        self.column += self.bytes[self.pos..end]
            .iter()
            .filter(|b| (**b & 0xC0) != 0x80)
            .count();
        self.pos = end;
    }

    /// Newlines only occur in whitespace in valid JSON, so only this counts lines.
    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.column = 1;
                }
                b' ' | b'\t' | b'\r' => self.bump(1),
                _ => break,
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek() == Some(byte) {
            self.bump(1);
            Ok(())
        } else {
            Err(Stop)
        }
    }

    fn value(&mut self, pointer: &mut String, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop);
        }
        self.starts.insert(
            pointer.clone(),
            Position {
                line: self.line,
                column: self.column,
            },
        );
        match self.peek().ok_or(Stop)? {
            b'{' => self.object(pointer, depth),
            b'[' => self.array(pointer, depth),
            b'"' => self.string().map(|_| ()),
            _ => {
                let len = self.bytes[self.pos..]
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n'))
                    .unwrap_or(self.bytes.len() - self.pos);
                if len == 0 {
                    return Err(Stop);
                }
                self.bump(len);
                Ok(())
            }
        }
    }

    fn object(&mut self, pointer: &mut String, depth: usize) -> Result<(), Stop> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump(1);
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let keep = pointer.len();
            pointer.push('/');
            escape_segment(&key, pointer);
            let outcome = self.value(pointer, depth + 1);
            pointer.truncate(keep);
            outcome?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump(1);
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.bump(1);
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    fn array(&mut self, pointer: &mut String, depth: usize) -> Result<(), Stop> {
        self.expect(b'[')?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump(1);
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            let keep = pointer.len();
            pointer.push('/');
            pointer.push_str(&index.to_string());
            let outcome = self.value(pointer, depth + 1);
            pointer.truncate(keep);
            outcome?;
            index += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump(1);
                    self.skip_ws();
                }
                Some(b']') => {
                    self.bump(1);
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    /// Reads a string literal and returns its decoded content (keys need decoding:
    /// `"a\u002fb"` is the key `a/b`).
    fn string(&mut self) -> Result<String, Stop> {
        let start = self.pos;
        self.expect(b'"')?;
        let mut escaped = false;
        let mut end = None;
        for (i, b) in self.bytes[self.pos..].iter().enumerate() {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => {
                    end = Some(self.pos + i + 1);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or(Stop)?;
        let raw = &self.bytes[start..end];
        self.bump(end - self.pos);
        let text = std::str::from_utf8(raw).map_err(|_| Stop)?;
        serde_json::from_str::<String>(text).map_err(|_| Stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(index: &PositionIndex, pointer: &str) -> Option<usize> {
        index.get(pointer).map(|p| p.line)
    }

    #[test]
    fn pretty_text_maps_every_value_to_its_line() {
        let text = r#"{
  "Meta": {
    "DataModel": "PatientAdmin",
    "Destinations": [
      {"ID": "x", "Name": "y"},
      {
        "ID": "z"
      }
    ]
  },
  "Patient": {"Identifiers": [], "Empty": {}},
  "Numbers": [1, -2.5e3, true, null,
    "last"]
}"#;
        let index = PositionIndex::build(text);
        assert_eq!(line(&index, ""), Some(1));
        assert_eq!(line(&index, "/Meta"), Some(2));
        assert_eq!(line(&index, "/Meta/DataModel"), Some(3));
        assert_eq!(line(&index, "/Meta/Destinations"), Some(4));
        assert_eq!(line(&index, "/Meta/Destinations/0"), Some(5));
        assert_eq!(line(&index, "/Meta/Destinations/0/Name"), Some(5));
        assert_eq!(line(&index, "/Meta/Destinations/1"), Some(6));
        assert_eq!(line(&index, "/Meta/Destinations/1/ID"), Some(7));
        assert_eq!(line(&index, "/Patient/Identifiers"), Some(11));
        assert_eq!(line(&index, "/Patient/Empty"), Some(11));
        assert_eq!(line(&index, "/Numbers/3"), Some(12));
        assert_eq!(line(&index, "/Numbers/4"), Some(13));
        assert_eq!(line(&index, "/Numbers/5"), None);
        assert_eq!(index.len(), 18);
        // Columns count characters from 1.
        assert_eq!(
            index.get("/Meta/DataModel"),
            Some(Position {
                line: 3,
                column: 18
            })
        );
    }

    #[test]
    fn keys_are_decoded_and_escaped_as_pointers() {
        let text = "{\"a/b\": 1,\n \"t~x\": 2,\n \"\\u00e9\": {\"ü\": [0,\n 7]},\n \"\": 3}";
        let index = PositionIndex::build(text);
        assert_eq!(line(&index, "/a~1b"), Some(1));
        assert_eq!(line(&index, "/t~0x"), Some(2));
        assert_eq!(line(&index, "/é/ü/1"), Some(4));
        assert_eq!(line(&index, "/"), Some(5));
        // "ü" is one character: the 7 is in column 2 of its line.
        assert_eq!(index.get("/é/ü/1").map(|p| p.column), Some(2));
    }

    #[test]
    fn strings_with_escaped_quotes_and_brackets_do_not_confuse_it() {
        let text = "{\"s\": \"a \\\" ] } \\\\\",\n\"n\": 1}";
        let index = PositionIndex::build(text);
        assert_eq!(line(&index, "/n"), Some(2));
    }

    #[test]
    fn the_last_duplicate_wins_like_serde_json() {
        let text = "{\"a\": 1,\n\"a\": 2}";
        assert_eq!(line(&PositionIndex::build(text), "/a"), Some(2));
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value["a"], 2);
    }

    #[test]
    fn nearest_falls_back_to_ancestors() {
        let index = PositionIndex::build("{\n \"P\": {\n  \"I\": []\n }\n}");
        assert_eq!(index.nearest("/P/I/0/ID").line, 3);
        assert_eq!(index.nearest("/P/Missing").line, 2);
        assert_eq!(index.nearest("/Nope").line, 1);
    }

    #[test]
    fn broken_text_keeps_what_came_before_and_never_panics() {
        let index = PositionIndex::build("{\"a\": 1,\n\"b\": [1, 2");
        assert_eq!(line(&index, "/a"), Some(1));
        assert_eq!(line(&index, "/b/1"), Some(2));
        for text in [
            "", "{", "[", "\"", "{\"a\"", "{\"a\":", "[1,", "}", "{\"\\", "\u{e9}",
        ] {
            let _ = PositionIndex::build(text);
        }
        let deep = "[".repeat(10_000);
        assert!(PositionIndex::build(&deep).len() <= MAX_DEPTH + 1);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        /// Keys that stress pointers: escapes, non-ASCII, digits, empty, quotes.
        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("a/b".to_string()),
                Just("t~x".to_string()),
                Just("é ü".to_string()),
                Just("0".to_string()),
                Just(String::new()),
                Just("q\"\\".to_string()),
                "[A-Za-z]{1,6}",
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(Value::from),
                "[ -~é\n]{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::vec((key(), inner), 0..5)
                        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        /// Every pointer of `value`.
        fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        let mut p = at.clone();
                        p.push('/');
                        escape_segment(k, &mut p);
                        pointers(v, p, out);
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        pointers(v, format!("{at}/{i}"), out);
                    }
                }
                _ => {}
            }
            out.push(at);
        }

        /// The byte offset of a (line, character column) position.
        fn offset(text: &str, at: Position) -> usize {
            let line_start: usize = text
                .split_inclusive('\n')
                .take(at.line - 1)
                .map(str::len)
                .sum();
            let rest = &text[line_start..];
            line_start
                + rest
                    .char_indices()
                    .nth(at.column - 1)
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            /// Parsing at the indexed position of every pointer, compact or pretty,
            /// gives exactly the value at that pointer.
            #[test]
            fn every_pointer_starts_its_own_value(value in value(), pretty in any::<bool>()) {
                let text = if pretty {
                    serde_json::to_string_pretty(&value).unwrap()
                } else {
                    serde_json::to_string(&value).unwrap()
                };
                let index = PositionIndex::build(&text);
                let mut all = Vec::new();
                pointers(&value, String::new(), &mut all);
                prop_assert_eq!(index.len(), all.len());
                for pointer in all {
                    let at = index.get(&pointer);
                    prop_assert!(at.is_some(), "{} not indexed in {}", pointer, text);
                    let start = offset(&text, at.unwrap());
                    let found = serde_json::Deserializer::from_str(&text[start..])
                        .into_iter::<Value>()
                        .next();
                    let found = found.and_then(Result::ok);
                    prop_assert_eq!(found.as_ref(), value.pointer(&pointer), "{} in {}", pointer, text);
                }
            }
        }
    }
}
