//! The one nesting limit for JSON taken at the door.
//!
//! serde_json refuses to read values nested deeper than 128 containers, and a stored
//! record wraps the payload in one or two more. A payload parsed at the door near that
//! limit would be acknowledged and then be unreadable from storage, so the door applies
//! a limit well below it, and everything acknowledged can be read back, delivered and
//! shown.

/// Containers (objects and arrays) a request body may nest: the top-level object is 1.
/// Real payloads of the platform nest about 8 deep.
pub const MAX_JSON_DEPTH: usize = 64;

/// The nesting depth of a JSON text, counted without parsing, or `None` once it passes
/// `limit` (the scan stops there). Brackets inside strings do not count; the text is
/// not validated here (the parser does that next).
pub fn depth_within(bytes: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return None;
                }
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Some(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!(
            "{}{{}}{}",
            r#"{"x":"#.repeat(levels - 1),
            "}".repeat(levels - 1)
        )
    }

    #[test]
    fn counts_containers_not_brackets_in_strings() {
        assert_eq!(
            depth_within(br#"{"a":"[[[{{{","b":[1,{"c":"\"]"}]}"#, 64),
            Some(3)
        );
        assert_eq!(depth_within(b"[]", 64), Some(1));
        assert_eq!(depth_within(b"1", 64), Some(0));
    }

    #[test]
    fn stops_past_the_limit() {
        assert_eq!(depth_within(nested(64).as_bytes(), 64), Some(64));
        assert_eq!(depth_within(nested(65).as_bytes(), 64), None);
        assert!(serde_json::from_str::<serde_json::Value>(&nested(64)).is_ok());
    }
}
