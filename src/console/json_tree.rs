//! A JSON body as a foldable tree of display rows with a cursor: what the detail view
//! shows and what `y` copies. Pure: the view draws [`JsonTree::rows`], the update
//! function moves the cursor and folds.
//!
//! Rows look like pretty-printed JSON (an opening row, the members, a closing row) so
//! what is on screen reads as the body; a folded container is one row, `{…} 5 keys`.
//! Long bodies are cut at [`ROW_LIMIT`] rows until the user asks for all of them, as a
//! terminal that draws a 50,000-line body on every frame is a terminal nobody can use.
//! `json_tree::search`: `/` inside a body, matches opened and highlighted.

use super::keymap::Command;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt::Write;

mod search;

/// Rows shown before "load all".
pub const ROW_LIMIT: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// `{` or `[` of a container with `len` members, or the whole container when folded.
    Open {
        array: bool,
        len: usize,
        folded: bool,
    },
    Close {
        array: bool,
    },
    Leaf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub depth: usize,
    /// Where the row's value sits in the body; a closing row has its container's path.
    pub path: Vec<Seg>,
    /// The member's key when the row is an object member.
    pub key: Option<String>,
    pub kind: RowKind,
    /// A leaf's value as JSON text (`"Jane"`, `42`, `null`).
    pub scalar: Option<String>,
    /// Whether a comma follows (not the last member of its container).
    pub comma: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonTree {
    value: Value,
    folded: HashSet<Vec<Seg>>,
    rows: Vec<Row>,
    cursor: usize,
    show_all: bool,
    /// What `/` found (see `json_tree::search`).
    search: Option<search::Matches>,
}

/// `Patient.Identifiers[0].ID`; keys that are not plain words are quoted:
/// `Meta.Extensions["sandbox-failure"]`. The root is `$`.
pub fn path_text(path: &[Seg]) -> String {
    if path.is_empty() {
        return "$".into();
    }
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Seg::Key(k) if !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Key(k) => {
                let quoted = serde_json::to_string(k).unwrap_or_default();
                let _ = write!(out, "[{quoted}]");
            }
        }
    }
    out
}

fn flatten(
    value: &Value,
    key: Option<&str>,
    path: &mut Vec<Seg>,
    depth: usize,
    comma: bool,
    folded: &HashSet<Vec<Seg>>,
    out: &mut Vec<Row>,
) {
    let row = |kind, scalar| Row {
        depth,
        path: path.clone(),
        key: key.map(str::to_string),
        kind,
        scalar,
        comma,
    };
    let (array, len) = match value {
        Value::Object(map) => (false, map.len()),
        Value::Array(items) => (true, items.len()),
        scalar => {
            out.push(row(RowKind::Leaf, Some(scalar.to_string())));
            return;
        }
    };
    let is_folded = len > 0 && folded.contains(path);
    out.push(row(
        RowKind::Open {
            array,
            len,
            folded: is_folded,
        },
        None,
    ));
    if is_folded || len == 0 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (i, (k, v)) in map.iter().enumerate() {
                path.push(Seg::Key(k.clone()));
                flatten(v, Some(k), path, depth + 1, i + 1 < len, folded, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                flatten(v, None, path, depth + 1, i + 1 < len, folded, out);
                path.pop();
            }
        }
        _ => {}
    }
    out.push(Row {
        depth,
        path: path.clone(),
        key: None,
        kind: RowKind::Close { array },
        scalar: None,
        comma,
    });
}

fn lookup<'v>(value: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.get(i),
    })
}

impl JsonTree {
    /// Everything unfolded, the cursor on the first row.
    pub fn new(value: Value) -> JsonTree {
        let mut tree = JsonTree {
            value,
            folded: HashSet::new(),
            rows: Vec::new(),
            cursor: 0,
            show_all: false,
            search: None,
        };
        tree.rebuild();
        tree
    }

    fn rebuild(&mut self) {
        let mut rows = Vec::new();
        flatten(
            &self.value,
            None,
            &mut Vec::new(),
            0,
            false,
            &self.folded,
            &mut rows,
        );
        self.rows = rows;
        self.cursor = self.cursor.min(self.shown().saturating_sub(1));
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Every row, folded containers as one row.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Rows on screen: all of them, or [`ROW_LIMIT`] until [`JsonTree::show_all`].
    pub fn shown(&self) -> usize {
        if self.show_all {
            self.rows.len()
        } else {
            self.rows.len().min(ROW_LIMIT)
        }
    }

    /// Rows held back by the limit.
    pub fn hidden(&self) -> usize {
        self.rows.len() - self.shown()
    }

    pub fn show_all(&mut self) {
        self.show_all = true;
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn move_by(&mut self, delta: isize) {
        let last = self.shown().saturating_sub(1) as isize;
        self.cursor = (self.cursor as isize + delta).clamp(0, last.max(0)) as usize;
    }

    pub fn first(&mut self) {
        self.cursor = 0;
    }

    pub fn last(&mut self) {
        self.cursor = self.shown().saturating_sub(1);
    }

    fn cursor_row(&self) -> Option<&Row> {
        self.rows.get(self.cursor)
    }

    /// The container the cursor's row belongs to for folding: the row's own container,
    /// or a leaf's parent.
    fn fold_target(&self) -> Option<Vec<Seg>> {
        let row = self.cursor_row()?;
        match row.kind {
            RowKind::Open { len, .. } if len > 0 => Some(row.path.clone()),
            RowKind::Close { .. } => Some(row.path.clone()),
            _ if row.path.is_empty() => None,
            _ => Some(row.path[..row.path.len() - 1].to_vec()),
        }
    }

    fn set_folded(&mut self, path: Vec<Seg>, fold: bool) {
        let changed = if fold {
            self.folded.insert(path.clone())
        } else {
            self.folded.remove(&path)
        };
        if changed {
            self.rebuild();
            // Keep the cursor on the container that was folded or opened.
            if let Some(at) = self.rows.iter().position(|r| {
                r.path == path && matches!(r.kind, RowKind::Open { .. } | RowKind::Leaf)
            }) {
                self.cursor = at.min(self.shown().saturating_sub(1));
            }
        }
    }

    /// Folds the container at `path`, if there is one (e.g. `Meta` of an answer, which
    /// matters less than what follows it).
    pub fn fold_path(&mut self, path: &[Seg]) {
        if lookup(&self.value, path).is_some_and(|v| v.is_object() || v.is_array()) {
            self.set_folded(path.to_vec(), true);
            self.cursor = 0;
        }
    }

    /// Folds an open container (a leaf's parent), opens a folded one.
    pub fn toggle(&mut self) {
        let Some(path) = self.fold_target() else {
            return;
        };
        let folded = self.folded.contains(&path);
        self.set_folded(path, !folded);
    }

    /// `h`: folds the container under the cursor (or the leaf's parent).
    pub fn fold(&mut self) {
        if let Some(path) = self.fold_target() {
            self.set_folded(path, true);
        }
    }

    /// `l`: opens the folded container under the cursor.
    pub fn unfold(&mut self) {
        if let Some(row) = self.cursor_row()
            && let RowKind::Open { folded: true, .. } = row.kind
        {
            let path = row.path.clone();
            self.set_folded(path, false);
        }
    }

    /// Folds every container below the root's members, so the body reads as an outline.
    pub fn fold_all(&mut self) {
        let mut folded = HashSet::new();
        collect_containers(&self.value, &mut Vec::new(), &mut folded);
        folded.retain(|p| !p.is_empty());
        self.folded = folded;
        self.cursor = 0;
        self.rebuild();
    }

    pub fn unfold_all(&mut self) {
        self.folded.clear();
        self.rebuild();
    }

    /// The value under the cursor (a closing row stands for its container).
    pub fn cursor_value(&self) -> Option<&Value> {
        lookup(&self.value, &self.cursor_row()?.path)
    }

    /// The cursor's path as text, for `Y`.
    pub fn cursor_path(&self) -> String {
        self.cursor_row()
            .map_or_else(|| "$".into(), |r| path_text(&r.path))
    }
}

fn collect_containers(value: &Value, path: &mut Vec<Seg>, out: &mut HashSet<Vec<Seg>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.insert(path.clone());
            for (k, v) in map {
                path.push(Seg::Key(k.clone()));
                collect_containers(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.insert(path.clone());
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                collect_containers(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// What a key did to a tree (see [`JsonTree::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeKey {
    /// Moved or folded: redraw.
    Done,
    /// `y` / `Y`: put `text` on the clipboard; `what` names it.
    Copy { text: String, what: String },
}

impl JsonTree {
    /// The commands every body view shares (the detail's bodies, the composer's answer;
    /// their keys are in `keymap`): move, fold, fold all / unfold all, load all of a long
    /// body, copy the value under the cursor or its path. `None` for other commands.
    /// `page` is the rows PgDn/PgUp move.
    pub fn command(&mut self, command: Command, page: isize) -> Option<TreeKey> {
        match command {
            Command::Down => self.move_by(1),
            Command::Up => self.move_by(-1),
            Command::PageDown => self.move_by(page),
            Command::PageUp => self.move_by(-page),
            Command::First => self.first(),
            Command::Last => self.last(),
            Command::Toggle => self.toggle(),
            Command::Fold => self.fold(),
            Command::Unfold => self.unfold(),
            Command::FoldAll => self.fold_all(),
            Command::UnfoldAll => self.unfold_all(),
            Command::LoadAll => self.show_all(),
            Command::Copy => {
                let path = self.cursor_path();
                let text = self.cursor_value().map(copy_text).unwrap_or_default();
                let what = if path == "$" { "the body".into() } else { path };
                return Some(TreeKey::Copy { text, what });
            }
            Command::CopyPath => {
                let path = self.cursor_path();
                return Some(TreeKey::Copy {
                    what: format!("the path {path}"),
                    text: path,
                });
            }
            _ => return None,
        }
        Some(TreeKey::Done)
    }
}

/// The text `y` puts on the clipboard for a value: strings without their quotes (an MRN
/// pastes as `0000000001`), everything else pretty-printed JSON.
pub fn copy_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "Meta": {"DataModel": "PatientAdmin", "Extensions": {"sandbox-failure": "500"}},
            "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}], "Notes": []}
        })
    }

    fn texts(tree: &JsonTree) -> Vec<String> {
        tree.rows().iter().map(|r| path_text(&r.path)).collect()
    }

    #[test]
    fn rows_read_like_pretty_json() {
        let tree = JsonTree::new(body());
        let pretty = serde_json::to_string_pretty(tree.value()).unwrap();
        // Empty containers are one row in both.
        assert_eq!(tree.rows().len(), pretty.lines().count());
        assert_eq!(
            tree.rows()[0].kind,
            RowKind::Open {
                array: false,
                len: 2,
                folded: false
            }
        );
        assert!(matches!(
            tree.rows().last().unwrap().kind,
            RowKind::Close { array: false }
        ));
        let id = tree
            .rows()
            .iter()
            .find(|r| r.key.as_deref() == Some("ID"))
            .unwrap();
        assert_eq!(id.scalar.as_deref(), Some("\"0000000001\""));
        assert!(id.comma);
        assert_eq!(path_text(&id.path), "Patient.Identifiers[0].ID");
    }

    #[test]
    fn path_text_quotes_keys_that_are_not_words() {
        let path = [
            Seg::Key("Meta".into()),
            Seg::Key("Extensions".into()),
            Seg::Key("sandbox-failure".into()),
        ];
        assert_eq!(path_text(&path), "Meta.Extensions[\"sandbox-failure\"]");
        assert_eq!(path_text(&[Seg::Index(2)]), "[2]");
        assert_eq!(path_text(&[]), "$");
    }

    #[test]
    fn folding_a_container_hides_its_members_and_keeps_the_cursor_on_it() {
        let mut tree = JsonTree::new(body());
        let all = tree.rows().len();
        let at = texts(&tree).iter().position(|p| p == "Patient").unwrap();
        tree.move_by(at as isize);
        tree.toggle();
        assert_eq!(tree.cursor(), at);
        assert_eq!(
            tree.rows()[at].kind,
            RowKind::Open {
                array: false,
                len: 2,
                folded: true
            }
        );
        assert!(!texts(&tree).iter().any(|p| p.starts_with("Patient.")));
        assert_eq!(tree.cursor_value(), body().get("Patient"));
        tree.toggle();
        assert_eq!(tree.rows().len(), all);
    }

    #[test]
    fn h_on_a_leaf_folds_its_parent_and_l_opens_it_again() {
        let mut tree = JsonTree::new(body());
        let at = texts(&tree)
            .iter()
            .position(|p| p == "Meta.DataModel")
            .unwrap();
        tree.move_by(at as isize);
        tree.fold();
        assert_eq!(tree.cursor_path(), "Meta");
        tree.unfold();
        assert!(texts(&tree).contains(&"Meta.DataModel".to_string()));
    }

    #[test]
    fn fold_all_leaves_an_outline_of_the_top_level() {
        let mut tree = JsonTree::new(body());
        tree.fold_all();
        let shown: Vec<String> = texts(&tree);
        assert_eq!(shown, ["$", "Meta", "Patient", "$"]);
        tree.unfold_all();
        assert!(texts(&tree).contains(&"Patient.Identifiers[0].IDType".to_string()));
    }

    #[test]
    fn long_bodies_are_cut_until_load_all() {
        let items: Vec<Value> = (0..3_000).map(|i| json!(i)).collect();
        let mut tree = JsonTree::new(Value::Array(items));
        assert_eq!(tree.shown(), ROW_LIMIT);
        assert_eq!(tree.hidden(), 3_002 - ROW_LIMIT);
        tree.last();
        assert_eq!(tree.cursor(), ROW_LIMIT - 1);
        tree.show_all();
        assert_eq!(tree.hidden(), 0);
        tree.last();
        assert_eq!(tree.cursor(), 3_001);
    }

    #[test]
    fn copy_text_unquotes_strings_and_pretty_prints_the_rest() {
        assert_eq!(copy_text(&json!("0000000001")), "0000000001");
        assert_eq!(copy_text(&json!({"a": 1})), "{\n  \"a\": 1\n}");
    }

    #[test]
    fn scalar_and_empty_bodies_are_one_row() {
        for v in [json!("text"), json!({}), json!([]), json!(null)] {
            let mut tree = JsonTree::new(v);
            assert_eq!(tree.rows().len(), 1);
            tree.toggle();
            tree.fold_all();
            assert_eq!(tree.rows().len(), 1);
        }
    }
}
