//! The catalog matches the platform's published schemas and example payloads in
//! `../shared/fixtures`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use switchboard::model::catalog;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

fn json_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_schema_has_a_catalog_entry_and_back() {
    let root = fixtures().join("redox-schemas");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(
        files.len() > 100,
        "schemas not found under {}",
        root.display()
    );
    let on_disk: BTreeSet<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let in_catalog: BTreeSet<String> = catalog::all()
        .iter()
        .map(|e| e.schema.to_string())
        .collect();
    let missing: Vec<_> = on_disk.difference(&in_catalog).collect();
    let extra: Vec<_> = in_catalog.difference(&on_disk).collect();
    assert!(
        missing.is_empty(),
        "schemas without a catalog entry: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "catalog entries without a schema: {extra:?}"
    );
}

#[test]
fn every_example_payload_names_a_known_event() {
    let root = fixtures().join("redox-examples");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(
        files.len() >= 50,
        "examples not found under {}",
        root.display()
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let model = value["Meta"]["DataModel"].as_str().expect("DataModel");
        let event = value["Meta"]["EventType"].as_str().expect("EventType");
        catalog::lookup(model, event).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
