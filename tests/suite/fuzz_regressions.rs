//! The fuzz targets' properties (fuzz/src/properties, compiled in here as they are)
//! over every seed (`fuzz/seeds/<target>/`) and every kept finding
//! (`fuzz/regressions/<target>/`), so `cargo test` checks them on stable, without
//! libFuzzer. A failure names the file; `cargo +nightly fuzz run <target> <file>`
//! replays it under the fuzzer.

#[path = "../../fuzz/src/properties/mod.rs"]
mod properties;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// Runs `check` over the target's seeds and findings; fails naming every file whose
/// property does not hold.
fn run(target: &str, check: fn(&[u8])) {
    let seeds = files("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ has no seeds");
    let mut failed = Vec::new();
    for file in seeds.iter().chain(&files("regressions", target)) {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "the {target} property fails on (panic messages above):\n{}",
        failed.join("\n")
    );
}

#[test]
fn envelope_seeds_and_findings_hold() {
    run("envelope", properties::envelope::check);
}

#[test]
fn timestamp_seeds_and_findings_hold() {
    run("timestamp", properties::timestamp::check);
}

#[test]
fn filter_seeds_and_findings_hold() {
    run("filter", properties::filter::check);
}

#[test]
fn auth_seeds_and_findings_hold() {
    run("auth", properties::auth::check);
}

#[test]
fn jwt_seeds_and_findings_hold() {
    run("jwt", properties::jwt::check);
}

#[test]
fn fhir_search_seeds_and_findings_hold() {
    run("fhir_search", properties::fhir_search::check);
}

/// The harness can fail: an answer outside the platform's shape is caught.
#[test]
fn a_broken_property_is_caught() {
    let internal = switchboard::model::ApiError::internal("Meta check lost its error");
    let caught = catch_unwind(|| properties::assert_platform_error(&internal, b"{}"));
    assert!(caught.is_err(), "a 500 passed as a refusal of bad input");
    let silent = switchboard::model::ApiError::bad_request(" ");
    let caught = catch_unwind(|| properties::assert_platform_error(&silent, b"{}"));
    assert!(caught.is_err(), "an error without text passed");
}
