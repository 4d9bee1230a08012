//! No import cycles between sibling modules (issue 14): among the crate's top modules
//! and among the children of every module that has any, a module that names another (by
//! `use` or by a path in code) must not be named back by it, directly or through others. A cycle
//! means two modules are one in disguise: neither can be read, tested or moved alone.
//!
//! The scan is textual, on purpose: it reads `src/` as written (paths starting with
//! `crate::`, `super::`, `self::` or a child module's name, `use` trees with braces
//! expanded), skips comments and the `#[cfg(test)]` part of each file (test code may
//! reach anywhere), and maps each path to the sibling it lands in. Items of the parent
//! module itself (`super::Engine`) are not edges: every child uses its parent's types.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file and the module path it defines (`["engine", "delivery", "attempt"]`).
struct SourceFile {
    module: Vec<String>,
    text: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn collect(dir: &Path, out: &mut Vec<SourceFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let Ok(relative) = path.strip_prefix(src_dir()) else {
                continue;
            };
            let mut module: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            // `x/mod.rs` is `x`; `lib.rs` and `main.rs` are the root.
            if module.last().is_some_and(|l| l == "mod") {
                module.pop();
            }
            if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
                module.clear();
            }
            // Test-only files are not part of the architecture.
            if module.iter().any(|m| m == "tests") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push(SourceFile { module, text });
        }
    }
}

/// The code of a file without comments, string literals and its test part.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a `use` tree (`super::{a, b::{c, d}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(expand)
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// Every path a file names: its `use` trees expanded, and `a::b::c` paths in code.
fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let starts_word = at == 0 || !is_ident(rest[..at].chars().last().unwrap_or(' '));
        let after = &rest[at + 4..];
        if starts_word && let Some(end) = after.find(';') {
            paths.extend(expand(&after[..end]));
        }
        rest = after;
    }
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':') {
            let start = i;
            while i < chars.len() && (is_ident(chars[i]) || chars[i] == ':') {
                i += 1;
            }
            let path: String = chars[start..i].iter().collect();
            if path.contains("::") {
                paths.push(path.trim_end_matches(':').to_string());
            }
        } else {
            i += 1;
        }
    }
    paths
}

/// The absolute module path `path` names from `module` (`None`: another crate).
fn resolve(module: &[String], path: &str, modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let first = *segments.first()?;
    // `super` from `engine/query.rs` is `engine`; from `engine/delivery/mod.rs` it is
    // also `engine` (the file is the module `engine::delivery`).
    let here: Vec<String> = module.to_vec();
    let (mut base, rest): (Vec<String>, &[&str]) = match first {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (here, &segments[1..]),
        "super" => {
            let mut base = here;
            let mut n = 0;
            while segments.get(n) == Some(&"super") {
                base.pop();
                n += 1;
            }
            (base, &segments[n..])
        }
        _ => {
            let mut child = here.clone();
            child.push(first.to_string());
            if !modules.contains(&child) {
                return None;
            }
            (here, &segments[..])
        }
    };
    for s in rest {
        base.push((*s).to_string());
        if !modules.contains(&base) {
            base.pop();
            break;
        }
    }
    Some(base)
}

/// The edges between children of `scope`: (from, to) by child name, with one path each
/// as the evidence.
fn edges(
    scope: &[String],
    files: &[SourceFile],
    modules: &BTreeSet<Vec<String>>,
) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    for file in files {
        if file.module.len() <= scope.len() || !file.module.starts_with(scope) {
            continue;
        }
        let from = file.module[scope.len()].clone();
        for path in paths_in(&code_of(&file.text)) {
            let Some(target) = resolve(&file.module, &path, modules) else {
                continue;
            };
            if target.len() <= scope.len() || !target.starts_with(scope) {
                continue;
            }
            let to = target[scope.len()].clone();
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| format!("{}: {path}", file.module.join("::")));
            }
        }
    }
    edges
}

/// The strongly connected groups of more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a str, graph: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in graph.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !s.index.contains_key(w) {
                visit(w, graph, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.groups.push(group);
            }
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for &v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(v, &graph, &mut state);
        }
    }
    state.groups
}

#[test]
fn no_import_cycles_between_sibling_modules() {
    let mut files = Vec::new();
    collect(&src_dir(), &mut files);
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .flat_map(|f| (1..=f.module.len()).map(|n| f.module[..n].to_vec()))
        .collect();
    let mut report = Vec::new();
    // Every module with children, the crate itself included: siblings anywhere.
    let mut scopes: Vec<Vec<String>> = vec![Vec::new()];
    scopes.extend(
        modules
            .iter()
            .filter(|m| {
                modules
                    .iter()
                    .any(|c| c.len() == m.len() + 1 && c.starts_with(m))
            })
            .cloned(),
    );
    for scope in scopes {
        let edges = edges(&scope, &files, &modules);
        for group in cycles(&edges) {
            let evidence: Vec<&String> = edges
                .iter()
                .filter(|((a, b), _)| group.contains(a) && group.contains(b))
                .map(|(_, why)| why)
                .collect();
            report.push(format!(
                "{}::{{{}}} form a cycle:\n    {}",
                if scope.is_empty() {
                    "crate".to_string()
                } else {
                    scope.join("::")
                },
                group.join(", "),
                evidence
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    assert!(report.is_empty(), "import cycles:\n{}", report.join("\n"));
}

#[test]
fn the_scan_sees_what_it_should() {
    let code = code_of(
        "use super::{a, b::{c, d}};\n// use super::e;\nfn f() { crate::engine::x::y(); }\n\
         #[cfg(test)]\nmod tests { use super::z; }",
    );
    let paths = paths_in(&code);
    for wanted in [
        "super::a",
        "super::b::c",
        "super::b::d",
        "crate::engine::x::y",
    ] {
        assert!(
            paths.iter().any(|p| p == wanted),
            "{wanted} missing from {paths:?}"
        );
    }
    assert!(
        !paths.iter().any(|p| p.contains('e') && p.ends_with("::e")),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.ends_with("::z")), "{paths:?}");
    let mut edges = BTreeMap::new();
    edges.insert(("a".to_string(), "b".to_string()), String::new());
    edges.insert(("b".to_string(), "c".to_string()), String::new());
    edges.insert(("c".to_string(), "a".to_string()), String::new());
    edges.insert(("c".to_string(), "d".to_string()), String::new());
    assert_eq!(cycles(&edges), vec![vec!["a", "b", "c"]]);
}
