//! The table's own rules, and that the handlers use it.

use super::*;

fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

#[test]
fn no_context_binds_one_key_twice() {
    for context in Context::ALL {
        let keys: Vec<Key> = rows(context)
            .iter()
            .flat_map(|r| r.keys)
            .map(|(k, _)| *k)
            .collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(
                !keys[..i].contains(key),
                "{context:?} binds {key:?} twice: the second can never be reached"
            );
        }
    }
}

#[test]
fn every_row_has_a_label_and_help() {
    for context in Context::ALL {
        for r in rows(context) {
            assert!(!r.label.is_empty() && !r.help.is_empty(), "{context:?}");
        }
    }
}

#[test]
fn ctrl_is_part_of_the_key_and_shift_is_part_of_the_letter() {
    let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(lookup(Context::Always, &ctrl_c), Some(Command::ForceQuit));
    assert_eq!(lookup(Context::Editing, &ctrl_c), None);
    assert_eq!(lookup(Context::Global, &ctrl_c), None);
    let c = press(KeyCode::Char('c'), KeyModifiers::NONE);
    assert_eq!(lookup(Context::Global, &c), Some(Command::Compose));
    let big_g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
    assert_eq!(lookup(Context::Feed, &big_g), Some(Command::Last));
    let mut released = c;
    released.kind = KeyEventKind::Release;
    assert_eq!(lookup(Context::Global, &released), None);
}

/// The non-test code of `path` (a file, or every `.rs` file under a directory):
/// each file's text up to its `#[cfg(test)]`, skipping test modules' own files.
fn handler_code(path: &std::path::Path, out: &mut Vec<(String, String)>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .expect("a source directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            let test_module = entry.file_stem().is_some_and(|s| s == "tests");
            if !test_module {
                handler_code(&entry, out);
            }
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        let text = std::fs::read_to_string(path).expect("a source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        out.push((path.display().to_string(), code.to_string()));
    }
}

#[test]
fn the_handlers_resolve_keys_through_the_table() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut files = Vec::new();
    handler_code(&src.join("app.rs"), &mut files);
    handler_code(&src.join("app"), &mut files);
    handler_code(&src.join("json_tree.rs"), &mut files);
    assert!(files.len() > 5, "the scan found the handlers");
    let mut found = Vec::new();
    for (path, code) in &files {
        for (n, line) in code.lines().enumerate() {
            if line.contains("KeyCode::") || line.contains("KeyModifiers::") {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "keys matched outside the keymap: add a row to src/console/keymap.rs and \
         match on its Command instead:\n{}",
        found.join("\n")
    );
}

/// README's key list, one item per context: `- **Title** (where): `label` help · …`.
fn readme_items() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme
        .find("### Keys")
        .expect("README has a ### Keys section");
    let section = &readme[start..];
    let end = section.find("\n## ").unwrap_or(section.len());
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    section[..end]
        .split("\n- **")
        .skip(1)
        .filter_map(|item| {
            let (title, rest) = item.split_once("**")?;
            let (_, keys) = rest.split_once(": ")?;
            Some((title.to_string(), one_line(keys)))
        })
        .collect()
}

#[test]
fn readme_lists_every_key_as_the_table_binds_it() {
    let items = readme_items();
    for context in Context::ALL {
        let title = context.title();
        let Some((_, keys)) = items.iter().find(|(t, _)| t == title) else {
            panic!("README's key list has no item **{title}**");
        };
        let rows = rows(context);
        for row in rows {
            let line = format!("`{}` {}", row.label, row.help);
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                keys.contains(&line),
                "README's **{title}** does not say {line:?}; it says:\n{keys}"
            );
        }
        let listed = keys.matches('`').count() / 2;
        assert_eq!(
            listed,
            rows.len(),
            "README's **{title}** lists keys the table does not bind: {keys}"
        );
    }
    assert_eq!(
        items.len(),
        Context::ALL.len(),
        "one README item per context"
    );
}
