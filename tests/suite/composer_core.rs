//! The composer's core, end to end without a screen: a template for every event of the
//! catalog, filled from the sandbox panel, substituted with the Development profile,
//! validated against its schema; query templates answered by the sandbox.

use serde_json::Value;
use switchboard::engine::config::{CONSOLE_SOURCE_ID, CONSOLE_SOURCE_NAME, Config};
use switchboard::model::Environment;
use switchboard::model::catalog::{self, Exchange};
use switchboard::model::schema::{validate, validate_as};
use switchboard::model::template::{Options, Party, TemplateStyle, template_text};
use switchboard::model::variables::substitute;
use switchboard::sandbox::answers::{apply, respond};
use switchboard::sandbox::panel::samples::default_samples;
use switchboard::sandbox::panel::{DEFAULT_PATIENTS, DEFAULT_SEED, Panel};
use switchboard::sandbox::{DESTINATION_ID, DESTINATION_NAME};

fn options(event: &'static catalog::EventInfo, style: TemplateStyle) -> Options<'static> {
    Options {
        event,
        now: chrono::Utc::now(),
        source: Some(Party::new(
            CONSOLE_SOURCE_ID.to_string(),
            CONSOLE_SOURCE_NAME,
        )),
        destinations: vec![Party::new(DESTINATION_ID.to_string(), DESTINATION_NAME)],
        samples: default_samples(),
        style,
    }
}

/// The Development profile of the no-config setup: what the composer substitutes with.
fn development_profile() -> switchboard::model::variables::Variables {
    Config::builtin().variables(Environment::Development)
}

#[test]
fn every_template_validates_against_its_schema() {
    let profile = development_profile();
    let mut failures = Vec::new();
    for event in catalog::all() {
        let label = format!("{} {}", event.data_model, event.event_type);
        for style in [TemplateStyle::Variables, TemplateStyle::Values] {
            let text = match template_text(&options(event, style)) {
                Ok(text) => text,
                Err(e) => {
                    failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            let filled = match substitute(&text, &profile) {
                Ok(filled) => filled,
                Err(undefined) => {
                    failures.push(format!("{label} ({style:?}): undefined {undefined:?}"));
                    continue;
                }
            };
            if style == TemplateStyle::Values && filled != text {
                failures.push(format!("{label}: a Values template holds variables"));
            }
            let v = validate(&filled);
            if !v.is_clean() || v.event != Some(event) {
                failures.push(format!("{label} ({style:?}): {v:?}\n{filled}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(catalog::all().len() >= 100);
}

#[test]
fn the_sandbox_answers_every_query_template() {
    let panel = Panel::generate(DEFAULT_SEED, DEFAULT_PATIENTS);
    let profile = development_profile();
    let mut failures = Vec::new();
    for event in catalog::all()
        .iter()
        .filter(|e| e.exchange == Exchange::Query)
    {
        let label = format!("{} {}", event.data_model, event.event_type);
        let text = template_text(&options(event, TemplateStyle::Variables)).expect("template");
        let filled = substitute(&text, &profile).expect("defined");
        let request: Value = serde_json::from_str(&filled).expect("JSON");
        if let Err(e) = respond(&panel, &request) {
            failures.push(format!("{label}: {e}\n{filled}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_broken_template_is_caught_with_its_line() {
    let event = catalog::lookup("Results", "New").expect("known");
    let text = template_text(&options(event, TemplateStyle::Values)).expect("template");
    // Break the first result's Value: a number where the schema wants a string.
    let broken = text.replacen("\"Value\": \"72\"", "\"Value\": 72", 1);
    assert_ne!(broken, text);
    let line = broken
        .lines()
        .position(|l| l.contains("\"Value\": 72"))
        .expect("line")
        + 1;
    let v = validate_as(event, &broken);
    assert!(v.can_send());
    assert_eq!(v.schema_issues.len(), 1, "{v:?}");
    assert_eq!(v.schema_issues[0].line, line);
    assert_eq!(v.schema_issues[0].path, "Orders[0].Results[0].Value");
}

/// Not a timed test: prints how long validation of a typical template takes, for the
/// record (`cargo test --test composer_core -- --nocapture timing`).
#[test]
fn timing_of_live_validation() {
    let event = catalog::lookup("Results", "New").expect("known");
    let text = template_text(&options(event, TemplateStyle::Values)).expect("template");
    let started = std::time::Instant::now();
    let first = validate(&text);
    let compile = started.elapsed();
    let rounds = 200;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        assert!(validate(&text).is_clean());
    }
    let each = started.elapsed() / rounds;
    let broken = text.replacen("\"Value\": \"72\"", "\"Value\": 72", 1);
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        assert!(!validate(&broken).is_clean());
    }
    let each_broken = started.elapsed() / rounds;
    assert!(first.is_clean());
    eprintln!(
        "validate Results New ({} bytes, {} lines): first call {compile:?} (compiles the schema), \
         then {each:?} per call when clean, {each_broken:?} with an issue",
        text.len(),
        text.lines().count()
    );
}

/// The vendored copy under `schemas/redox/` is the shared fixture, byte for byte. The
/// fixture must be there: a test that skips itself passes without checking anything.
#[test]
fn vendored_schemas_match_the_shared_fixtures() {
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/redox-schemas");
    assert!(
        shared.is_dir(),
        "{} is missing: these tests compare against the shared fixtures; check out \
         shared/ beside the repository (as CI lays it out)",
        shared.display()
    );
    let mut compared = 0;
    for path in switchboard::model::schema::paths() {
        let fixture =
            std::fs::read_to_string(shared.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            switchboard::model::schema::schema_text(path) == Some(fixture.as_str()),
            "{path} differs from the shared fixture"
        );
        compared += 1;
    }
    assert_eq!(compared, catalog::all().len());
}

#[test]
fn the_sandbox_applies_every_notification_and_writeback_template() {
    let mut panel = Panel::generate(DEFAULT_SEED, 20);
    let profile = development_profile();
    let mut failures = Vec::new();
    for event in catalog::all()
        .iter()
        .filter(|e| matches!(e.exchange, Exchange::Notification | Exchange::Writeback))
    {
        let text = template_text(&options(event, TemplateStyle::Variables)).expect("template");
        let filled = substitute(&text, &profile).expect("defined");
        let request: Value = serde_json::from_str(&filled).expect("JSON");
        if let Err(e) = apply(&mut panel, &request) {
            failures.push(format!("{} {}: {e}", event.data_model, event.event_type));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
