//! Searching a body: every member whose key, or scalar whose value, contains the term
//! (case-insensitive), in the order the rows read. Folded containers do not hide a
//! match: going to one opens every fold on its way, and shows a long body whole if the
//! match lies past the row limit.

use super::{JsonTree, RowKind, Seg};
use serde_json::Value;
use std::collections::HashSet;

/// The matches of one term, in document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Matches {
    term: String,
    paths: Vec<Vec<Seg>>,
    /// Each match's place among all the body's values in reading order.
    places: Vec<usize>,
    set: HashSet<Vec<Seg>>,
}

/// Visits every value under `value` in the order `flatten` lays rows out, with its
/// place in that order.
fn walk(
    value: &Value,
    key: Option<&str>,
    path: &mut Vec<Seg>,
    seen: &mut usize,
    visit: &mut impl FnMut(&Value, Option<&str>, &[Seg], usize),
) {
    visit(value, key, path, *seen);
    *seen += 1;
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Seg::Key(k.clone()));
                walk(v, Some(k), path, seen, visit);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(v, None, path, seen, visit);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Whether a value (or its key) contains `needle` (lower case).
fn hit(value: &Value, key: Option<&str>, needle: &str) -> bool {
    let key_hit = key.is_some_and(|k| k.to_lowercase().contains(needle));
    let value_hit = match value {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Number(_) | Value::Bool(_) | Value::Null => {
            value.to_string().to_lowercase().contains(needle)
        }
        Value::Object(_) | Value::Array(_) => false,
    };
    key_hit || value_hit
}

impl JsonTree {
    /// Searches for `term` (an empty term clears the search); returns how many rows
    /// match. Nothing moves until [`JsonTree::reveal_match`].
    pub fn search(&mut self, term: &str) -> usize {
        if term.is_empty() {
            self.search = None;
            return 0;
        }
        let mut found = Matches {
            term: term.to_string(),
            ..Matches::default()
        };
        let needle = term.to_lowercase();
        walk(
            &self.value,
            None,
            &mut Vec::new(),
            &mut 0,
            &mut |v, key, path, place| {
                if hit(v, key, &needle) {
                    found.paths.push(path.to_vec());
                    found.places.push(place);
                    found.set.insert(path.to_vec());
                }
            },
        );
        let count = found.paths.len();
        self.search = Some(found);
        count
    }

    /// The term searched for, if any.
    pub fn search_term(&self) -> Option<&str> {
        self.search.as_ref().map(|m| m.term.as_str())
    }

    pub fn match_count(&self) -> usize {
        self.search.as_ref().map_or(0, |m| m.paths.len())
    }

    /// Whether `row` is a match (to highlight it); closing rows never are.
    pub fn is_match(&self, row: &super::Row) -> bool {
        !matches!(row.kind, RowKind::Close { .. })
            && self
                .search
                .as_ref()
                .is_some_and(|m| m.set.contains(&row.path))
    }

    /// The match the cursor is on, if it is on one.
    pub fn match_at_cursor(&self) -> Option<usize> {
        let row = self.rows.get(self.cursor)?;
        if !self.is_match(row) {
            return None;
        }
        self.search
            .as_ref()?
            .paths
            .iter()
            .position(|p| *p == row.path)
    }

    /// The first match at or after the cursor's row in reading order, if any.
    pub fn match_from_cursor(&self) -> Option<usize> {
        let found = self.search.as_ref()?;
        let cursor = &self.rows.get(self.cursor)?.path;
        let mut at = None;
        walk(
            &self.value,
            None,
            &mut Vec::new(),
            &mut 0,
            &mut |_, _, path, place| {
                if at.is_none() && path == cursor.as_slice() {
                    at = Some(place);
                }
            },
        );
        let at = at?;
        found.places.iter().position(|&place| place >= at)
    }

    /// Opens every fold on the way to match `i`, and puts the cursor on it.
    pub fn reveal_match(&mut self, i: usize) {
        let Some(path) = self.search.as_ref().and_then(|m| m.paths.get(i)).cloned() else {
            return;
        };
        let before = self.folded.len();
        self.folded
            .retain(|folded| !path.starts_with(folded) || *folded == path);
        if self.folded.len() != before {
            self.rebuild();
        }
        let Some(at) = self
            .rows
            .iter()
            .position(|r| r.path == path && !matches!(r.kind, RowKind::Close { .. }))
        else {
            return;
        };
        if at >= self.shown() {
            self.show_all = true;
        }
        self.cursor = at;
    }
}

#[cfg(test)]
mod tests {
    use super::super::path_text;
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival"},
            "Patient": {
                "Identifiers": [{"ID": "0000000001", "IDType": "MR"}],
                "Demographics": {"FirstName": "Abigail", "LastName": "Baker", "DOB": "1961-04-02"},
                "Notes": ["abigail called", 42, true, null]
            }
        })
    }

    fn cursor_path(tree: &JsonTree) -> String {
        tree.cursor_path()
    }

    #[test]
    fn keys_and_values_match_without_regard_to_case() {
        let mut tree = JsonTree::new(body());
        assert_eq!(tree.search("ABIGAIL"), 2);
        tree.reveal_match(0);
        assert_eq!(cursor_path(&tree), "Patient.Demographics.FirstName");
        tree.reveal_match(1);
        assert_eq!(cursor_path(&tree), "Patient.Notes[0]");
        // A key matches too, containers included; numbers and literals by their text.
        assert_eq!(tree.search("identifiers"), 1);
        tree.reveal_match(0);
        assert_eq!(cursor_path(&tree), "Patient.Identifiers");
        assert_eq!(tree.search("42"), 1);
        assert_eq!(tree.search("null"), 1);
        assert_eq!(tree.search("nothing like it"), 0);
        assert_eq!(tree.search(""), 0);
        assert_eq!(tree.search_term(), None);
    }

    #[test]
    fn going_to_a_match_opens_the_folds_on_its_way() {
        let mut tree = JsonTree::new(body());
        tree.fold_all();
        assert!(
            !tree
                .rows()
                .iter()
                .any(|r| r.key.as_deref() == Some("IDType"))
        );
        assert_eq!(tree.search("mr"), 1);
        tree.reveal_match(0);
        assert_eq!(cursor_path(&tree), "Patient.Identifiers[0].IDType");
        assert!(tree.is_match(&tree.rows()[tree.cursor()]));
        assert_eq!(tree.match_at_cursor(), Some(0));
        // Folds elsewhere stay folded.
        let meta = tree
            .rows()
            .iter()
            .find(|r| path_text(&r.path) == "Meta")
            .expect("Meta row");
        assert!(matches!(meta.kind, RowKind::Open { folded: true, .. }));
    }

    #[test]
    fn a_match_past_the_row_limit_shows_the_whole_body() {
        let mut items: Vec<Value> = (0..3_000).map(|i| json!(i)).collect();
        items.push(json!("needle"));
        let mut tree = JsonTree::new(Value::Array(items));
        assert!(tree.hidden() > 0);
        assert_eq!(tree.search("needle"), 1);
        tree.reveal_match(0);
        assert_eq!(tree.hidden(), 0);
        assert_eq!(cursor_path(&tree), "[3000]");
    }

    #[test]
    fn the_search_starts_from_the_cursor() {
        let mut tree = JsonTree::new(body());
        assert_eq!(tree.search("a"), tree.match_count());
        let at = tree
            .rows()
            .iter()
            .position(|r| r.key.as_deref() == Some("Demographics"))
            .expect("row");
        tree.move_by(at as isize);
        let from = tree.match_from_cursor().expect("a match");
        tree.reveal_match(from);
        assert_eq!(cursor_path(&tree), "Patient.Demographics");
        tree.move_by(1);
        let next = tree.match_from_cursor().expect("a match");
        tree.reveal_match(next);
        assert_eq!(cursor_path(&tree), "Patient.Demographics.FirstName");
    }
}
