//! Snapshots of the Composer pane: empty, a template, validation errors, an answer, the
//! picker and the Production guard.

use super::*;
use crate::client::send::Answer;
use crate::console::composer::pick::Picker;
use crate::console::composer::{Composed, Draft, Named};
use crate::model::catalog;
use crate::model::template::{Options, Party, TemplateStyle, template_text};

pub(super) fn draft(env: Environment, model: &str, event: &str) -> Draft {
    Draft {
        environment: env,
        source: Named {
            id: crate::model::reach::CONSOLE_SOURCE_ID,
            name: "Switchboard Console".into(),
        },
        destination: Named {
            id: crate::console::fixtures::SANDBOX_EHR,
            name: "Sandbox EHR".into(),
        },
        what: Composed::Event(catalog::lookup(model, event).expect("known event")),
    }
}

pub(super) fn template(d: &Draft) -> String {
    let samples = crate::console::fixtures::development_samples();
    template_text(&Options {
        event: match d.what {
            Composed::Event(e) => e,
            Composed::Fhir(_) => panic!("a data-model draft"),
        },
        now: now(),
        source: Some(Party::new(d.source.id.to_string(), d.source.name.clone())),
        destinations: vec![Party::new(
            d.destination.id.to_string(),
            d.destination.name.clone(),
        )],
        samples: &samples,
        style: TemplateStyle::Variables,
    })
    .expect("template")
}

/// A Development console with the Composer focused and `text` loaded for `d`.
pub(super) fn composing(d: Draft, text: &str) -> App {
    let mut app = console(Role::Admin, d.environment);
    let vars = crate::console::fixtures::development_samples().variables();
    app.composer.load(d, text, &vars);
    app.focus = crate::console::app::Pane::Composer;
    app
}

#[test]
fn composer_empty_and_focused() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Char('4')));
    let terminal = render(&mut app, &Theme::dark(), 120, 32);
    assert!(screen(&terminal).contains("c compose a request"));
    assert_snapshot!(terminal.backend());
}

#[test]
fn composer_with_a_generated_template() {
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut app = composing(d, &text);
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let shown = screen(&terminal);
    assert!(shown.contains("✔ valid"), "{shown}");
    assert!(shown.contains("PatientSearch Query · Switchboard Console → Sandbox EHR"));
    assert_snapshot!(terminal.backend());
}

#[test]
fn composer_lists_validation_errors_with_path_and_line() {
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = "{\n  \"Meta\": {\n    \"DataModel\": \"PatientSearch\",\n    \"EventType\": \"Query\",\n    \"Destinations\": [{\"ID\": 42}],\n    \"Test\": \"yes\"\n  }\n}\n";
    let mut app = composing(d, text);
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let shown = screen(&terminal);
    assert!(shown.contains("schema warnings"), "{shown}");
    assert!(
        shown.contains("⚠ line 5 Meta.Destinations[0].ID"),
        "{shown}"
    );
    assert_snapshot!(terminal.backend());
}

#[test]
fn composer_shows_a_syntax_error_at_its_line() {
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let mut app = composing(
        d,
        "{\n  \"Meta\": {\n    \"DataModel\": \"PatientSearch\",,\n",
    );
    let shown = screen(&render(&mut app, &Theme::dark(), 120, 40));
    assert!(shown.contains("✖ invalid JSON"), "{shown}");
    assert!(shown.contains("✖ line 3"), "{shown}");
}

#[test]
fn composer_with_an_answer() {
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut app = composing(d, &text);
    let log = Uuid::from_u128(0x10);
    update(
        &mut app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(serde_json::json!({
                "Meta": {"DataModel": "PatientSearch", "EventType": "Query", "Logs": [{"ID": log}]},
                "Patient": {
                    "Identifiers": [{"ID": PATIENT, "IDType": "MR"}],
                    "Demographics": {"FirstName": "Abigail", "LastName": "Baker", "DOB": "1974-05-30"}
                }
            })),
            elapsed: std::time::Duration::from_micros(12_400),
            logs: vec![log],
        })),
    );
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let shown = screen(&terminal);
    assert!(shown.contains("HTTP 200"), "{shown}");
    assert!(shown.contains("\"Abigail\""), "{shown}");
    // Above the JSON, the answer in words.
    assert!(
        shown.contains("1 patient: Abigail Baker, born 1974-05-30, MRN"),
        "{shown}"
    );
    assert_snapshot!(terminal.backend());
}

#[test]
fn composer_picker_narrowed_by_typing() {
    let mut app = console(Role::Admin, Environment::Development);
    update(&mut app, key(KeyCode::Char('c')));
    update(&mut app, key(KeyCode::Enter));
    keys(&mut app, "patientsearch");
    assert!(
        app.composer
            .picker
            .as_ref()
            .is_some_and(|p: &Picker| p.query.text == "patientsearch")
    );
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    assert!(screen(&terminal).contains("PatientSearch Query"));
    assert_snapshot!(terminal.backend());
}

#[test]
fn composer_production_guard() {
    let d = draft(Environment::Production, "PatientSearch", "Query");
    let mut app = composing(d, "{}\n");
    app.composer.guard = Some(crate::console::prompt::LineInput::new("Sandbox"));
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let shown = screen(&terminal);
    assert!(
        shown.contains("Type the destination's name to send"),
        "{shown}"
    );
    assert!(shown.contains("PRODUCTION"), "{shown}");
    assert_snapshot!(terminal.backend());
}

#[test]
fn composer_history_list() {
    use crate::client::wire::{HistoryEntry, HistoryPage, Sent};
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut app = composing(d, &text);
    update(&mut app, key(KeyCode::Char('h')));
    let entry = |n: u128, env: Environment, status: Option<u16>, body: bool| HistoryEntry {
        id: Uuid::from_u128(n),
        at: now() - Duration::minutes(n as i64),
        sent: Sent {
            environment: env,
            source_id: crate::model::reach::CONSOLE_SOURCE_ID,
            source_name: "Switchboard Console".into(),
            destination_id: crate::console::fixtures::SANDBOX_EHR,
            destination_name: "Sandbox EHR".into(),
            data_model: "PatientSearch".into(),
            event_type: "Query".into(),
            body: body.then(|| "{}".into()),
            status,
            elapsed_ms: 12,
            log_ids: Vec::new(),
            error: status.is_none().then(|| "connection refused".into()),
            summary: None,
        },
    };
    update(
        &mut app,
        Msg::History(Ok(HistoryPage {
            entries: vec![
                entry(1, Environment::Development, Some(200), true),
                entry(2, Environment::Production, Some(200), false),
                entry(3, Environment::Development, Some(400), true),
                entry(4, Environment::Staging, None, true),
            ],
            next: Some(Uuid::from_u128(4)),
        })),
    );
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    let shown = screen(&terminal);
    assert!(
        shown.contains("History · newest first · more below"),
        "{shown}"
    );
    assert!(shown.contains("body not kept"), "{shown}");
    assert_snapshot!(terminal.backend());
}

#[test]
fn history_entries_show_the_summary_and_the_mrn() {
    use crate::client::wire::{HistoryEntry, HistoryPage, Sent};
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut app = composing(d, &text);
    update(&mut app, key(KeyCode::Char('h')));
    let body =
        r#"{"Meta": {}, "Patient": {"Identifiers": [{"ID": "0000099999", "IDType": "MR"}]}}"#;
    let entry = HistoryEntry {
        id: Uuid::from_u128(1),
        at: now(),
        sent: Sent {
            environment: Environment::Development,
            source_id: crate::model::reach::CONSOLE_SOURCE_ID,
            source_name: "Switchboard Console".into(),
            destination_id: crate::console::fixtures::SANDBOX_EHR,
            destination_name: "Sandbox EHR".into(),
            data_model: "PatientSearch".into(),
            event_type: "Query".into(),
            body: Some(body.into()),
            status: Some(200),
            elapsed_ms: 12,
            log_ids: Vec::new(),
            error: None,
            summary: Some("no patient matches MRN 0000099999".into()),
        },
    };
    update(
        &mut app,
        Msg::History(Ok(HistoryPage {
            entries: vec![entry],
            next: None,
        })),
    );
    let shown = screen(&render(&mut app, &Theme::dark(), 200, 40));
    let row = shown
        .lines()
        .find(|l| l.contains("200 Development"))
        .unwrap_or_default();
    assert!(row.contains("MRN 0000099999"), "{shown}");
    assert!(row.contains("no patient matches MRN 0000099999"), "{shown}");
}

#[test]
fn a_prefilled_name_is_drawn_selected() {
    use ratatui::style::Modifier;
    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut app = composing(d, &text);
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL)),
    );
    let reversed = |terminal: &Terminal<TestBackend>| {
        let buffer = terminal.backend().buffer();
        let area = buffer.area;
        (area.top()..area.bottom()).any(|y| {
            (area.left()..area.right()).any(|x| {
                let cell = &buffer[(x, y)];
                cell.symbol() == "p" && cell.modifier.contains(Modifier::REVERSED)
            })
        })
    };
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    assert!(screen(&terminal).contains("patientsearch-query"));
    assert!(reversed(&terminal), "the suggestion is shown selected");
    update(&mut app, key(KeyCode::End));
    let terminal = render(&mut app, &Theme::dark(), 120, 40);
    assert!(!reversed(&terminal), "no longer selected");
}
