//! The dependency rules of `src/lib.rs`, checked on the source text: the console speaks
//! to an engine only through `client` and `model` (console -> {client, model}), and the
//! wire types and the reach rule it is written in name nothing of the layers below;
//! every layer names only those below it; and no function in `src/` runs past 100
//! lines. A failure names each file and line that crosses, and what to use instead.

use std::path::{Path, PathBuf};

/// Paths a module may not name, written as code names them.
const BELOW_THE_SEAM: [&str; 3] = ["engine", "store", "sandbox"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` (or `dir` itself when it is a file), sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The modules of this crate that `text` names: `crate::engine`, `switchboard::store`,
/// or in a group (on one line or several), `crate::{client, engine::X}`; each with the
/// byte offset where the path starts.
fn named(text: &str, modules: &[&str]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for prefix in ["crate::", "switchboard::"] {
        for (at, _) in text.match_indices(prefix) {
            let after = &text[at + prefix.len()..];
            let heads: Vec<&str> = match after.strip_prefix('{') {
                Some(group) => top_level_items(group),
                None => vec![after],
            };
            for head in heads {
                for module in modules {
                    let whole_word = head.starts_with(module)
                        && !head[module.len()..]
                            .starts_with(|c: char| c == '_' || c.is_alphanumeric());
                    if whole_word {
                        out.push((at, format!("{prefix}{module}")));
                    }
                }
            }
        }
    }
    out
}

/// The items of a `{...}` group (text after the `{`), each trimmed, up to its `}`.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(group[start..i].trim());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(group[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn names(line: &str, modules: &[&str]) -> Option<String> {
    named(line, modules).into_iter().next().map(|(_, m)| m)
}

/// Every `file:line: text (names X)` under `paths` (relative to `src/`) that names one
/// of `modules`, skipping the files in `allowed`.
fn crossings(paths: &[&str], modules: &[&str], allowed: &[&str]) -> Vec<String> {
    let src = root();
    let mut found = Vec::new();
    for path in paths {
        for file in rust_files(&src.join(path)) {
            let shown = file
                .strip_prefix(&src)
                .unwrap_or(&file)
                .display()
                .to_string();
            if allowed.contains(&shown.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for (at, module) in named(&text, modules) {
                let line = text[..at].matches('\n').count();
                let shown_line = text.lines().nth(line).unwrap_or_default().trim();
                found.push(format!(
                    "src/{shown}:{}: {shown_line} (names {module})",
                    line + 1
                ));
            }
        }
    }
    found
}

#[test]
fn console_names_nothing_of_engine_store_or_sandbox() {
    let found = crossings(&["console"], &BELOW_THE_SEAM, &[]);
    assert!(
        found.is_empty(),
        "the console speaks to an engine only through `client` (the `Engine` trait and \
         `client::wire`) and `model`; these lines cross the seam:\n{}",
        found.join("\n")
    );
}

#[test]
fn wire_types_and_the_reach_rule_name_nothing_below_them() {
    let found = crossings(
        &["model/view", "model/reach.rs"],
        &["engine", "store", "sandbox", "client", "console", "api"],
        &[],
    );
    assert!(
        found.is_empty(),
        "`model::view` (`client::wire`) and `model::reach` are plain types and rules every \
         layer builds on; these lines name a layer above them:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_local_client_names_the_engine() {
    let mut found = crossings(&["client"], &BELOW_THE_SEAM, &["client/local.rs"]);
    // `engine::http` (bounded reads of an answer, error chains) is the one shared
    // toolkit for talking HTTP; it names nothing of the engine (checked below).
    found.retain(|line| !line.contains("crate::engine::http::"));
    assert!(
        found.is_empty(),
        "`client` reaches an engine through the admin API (`Remote`) or in the same \
         process (`Local`, in client/local.rs); these lines name it elsewhere:\n{}",
        found.join("\n")
    );
}

#[test]
fn engine_http_is_a_leaf_that_names_only_model() {
    let found = crossings(
        &["engine/http"],
        &[
            "api", "bench", "cli", "client", "console", "engine", "sandbox", "store",
        ],
        &[],
    );
    assert!(
        found.is_empty(),
        "`engine::http` is shared with the client, so it may name only `model`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_direct_and_grouped_paths() {
    let m = &BELOW_THE_SEAM;
    assert!(names("use crate::engine::health::View;", m).is_some());
    assert!(names("    let s = switchboard::sandbox::DESTINATION_ID;", m).is_some());
    assert!(names("use crate::{client, store::LogPage};", m).is_some());
    assert!(names("use crate::engineering::X;", m).is_none());
    assert!(names("use crate::client::wire::LogPage;", m).is_none());
    assert!(
        names(
            "use crate::{\n    client::Engine,\n    engine::Local,\n};",
            m
        )
        .is_some()
    );
    assert!(names("use crate::{model::{a, engine}, client};", m).is_none());
}

/// What each layer may name besides itself (`cli` and `bench` wire everything together
/// and are not checked). `client` names the engine only in `local.rs` (checked above).
const LAYERS: [(&str, &[&str]); 7] = [
    ("model", &[]),
    ("store", &["model"]),
    ("sandbox", &["model"]),
    ("engine", &["store", "model", "sandbox"]),
    ("api", &["engine", "store", "model", "sandbox"]),
    ("client", &["engine", "model"]),
    ("console", &["client", "model"]),
];
const ALL_MODULES: [&str; 9] = [
    "api", "bench", "cli", "client", "console", "engine", "model", "sandbox", "store",
];

#[test]
fn the_layers_point_one_way() {
    let mut found = Vec::new();
    for (layer, may) in LAYERS {
        let forbidden: Vec<&str> = ALL_MODULES
            .iter()
            .copied()
            .filter(|m| *m != layer && !may.contains(m))
            .collect();
        found.extend(crossings(&[layer], &forbidden, &[]));
    }
    assert!(
        found.is_empty(),
        "dependencies point one way (console -> client -> engine -> store -> model, \
         api -> engine, sandbox -> model; see src/lib.rs); these lines point back:\n{}",
        found.join("\n")
    );
}

/// Longest function allowed in `src/` (tests and the benchmark harness aside).
const MAX_FUNCTION_LINES: usize = 100;

/// `line` without string and character literals and without a trailing `//` comment,
/// so that braces inside them are not counted.
fn code_only(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if chars.peek() == Some(&'/') => break,
            // A char literal ('{', '\'', '\\'); lifetimes ('a) have no closing quote.
            '\'' => {
                let rest: String = chars.clone().take(4).collect();
                let len = if rest.starts_with('\\') {
                    rest.find('\'').filter(|i| *i > 1).map(|i| i + 1)
                } else if rest.chars().nth(1) == Some('\'') {
                    Some(2)
                } else {
                    None
                };
                if let Some(len) = len {
                    for _ in 0..len {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// `(name, first line, length)` of every function body in `text` longer than `max`,
/// skipping `#[cfg(test)]` modules.
fn long_functions(text: &str, max: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<String> = text.lines().map(code_only).collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if line.starts_with("#[cfg(test)]") {
            // Skip the item that follows (a test module), brace to brace.
            i = end_of_block(&lines, i + 1).map_or(lines.len(), |end| end + 1);
            continue;
        }
        if let Some(name) = function_name(line)
            && let Some(end) = end_of_block(&lines, i)
        {
            let length = end - i + 1;
            if length > max {
                found.push((name, i + 1, length));
            }
        }
        i += 1;
    }
    found
}

/// The name of the function declared on `line`, if it declares one.
fn function_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.peek() {
        let qualifier = word.starts_with("pub")
            || ["async", "const", "unsafe", "extern", "\"C\""].contains(word);
        if !qualifier {
            break;
        }
        words.next();
    }
    if words.next() != Some("fn") {
        return None;
    }
    let name: String = words
        .next()?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The line where the block opened at or after `start` closes; `None` for a declaration
/// without a body (a `;` before any `{`).
fn end_of_block(lines: &[String], start: usize) -> Option<usize> {
    let mut depth = 0i64;
    let mut opened = false;
    for (i, line) in lines.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                ';' if !opened => return None,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return Some(i);
        }
    }
    None
}

#[test]
fn no_function_in_src_is_longer_than_a_hundred_lines() {
    let src = root();
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let shown = file
            .strip_prefix(&src)
            .unwrap_or(&file)
            .display()
            .to_string();
        let is_test = shown
            .split('/')
            .any(|part| part == "tests" || part == "tests.rs");
        if shown.starts_with("bench/") || is_test {
            continue;
        }
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (name, line, length) in long_functions(&text, MAX_FUNCTION_LINES) {
            found.push(format!("src/{shown}:{line}: fn {name} is {length} lines"));
        }
    }
    assert!(
        found.is_empty(),
        "functions in src/ stay under {MAX_FUNCTION_LINES} lines (split along a real seam):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_length_check_counts_bodies_not_braces_in_text() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let text = format!(
        "pub(crate) async fn long() {{\n{}}}\nfn short() {{\n    let s = \"}}}}{{\";\n    let c = '{{';\n}}\nfn decl();\n#[cfg(test)]\nmod tests {{\n    fn very_long() {{\n{}    }}\n}}\n",
        body(100),
        body(200)
    );
    let found = long_functions(&text, 100);
    assert_eq!(found, vec![("long".to_string(), 1, 102)]);
}
