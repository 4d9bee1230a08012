//! FHIR on screen: a FHIR search and a FHIR message in the feed, and the composer with
//! a FHIR search and its answer, at the smallest supported size in the dark and light
//! themes (the snapshots hold the text; the colours are checked by cell).

use super::*;
use crate::client::send::Answer;
use crate::console::composer::{Composed, Draft, Named};
use crate::model::fhir::FhirKind;

fn themes() -> [(&'static str, Theme); 2] {
    [
        ("dark", Theme::dark()),
        (
            "light",
            Theme::built_in("light").expect("built-in light theme"),
        ),
    ]
}

/// Where `text` starts on the screen, as (x, y) in cells.
fn find(terminal: &Terminal<TestBackend>, text: &str) -> Option<(u16, u16)> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height).find_map(|y| {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        line.find(text)
            .map(|i| (line[..i].chars().count() as u16, y))
    })
}

/// A Development console whose feed ends with a FHIR Patient search and a FHIR
/// Observation message.
fn with_fhir_rows() -> App {
    let mut app = console(Role::Admin, Environment::Development);
    let rows = [
        (
            LogType::Request,
            LogStatus::Succeeded,
            "FHIR.Patient",
            "search",
            11.0,
        ),
        (
            LogType::Send,
            LogStatus::Succeeded,
            "FHIR.Message.Observation",
            "observation-created",
            3.2,
        ),
    ];
    for (i, (log_type, status, dm, event, latency)) in rows.into_iter().enumerate() {
        let mut l = log(100 + i as u128, Environment::Development);
        l.created_at += Duration::seconds(10 + i as i64);
        l.updated_at = l.created_at;
        l.log_type = log_type;
        l.status = status;
        l.data_model = dm.into();
        l.event_type = event.into();
        l.attempts = 1;
        l.latency_ms = Some(latency);
        l.source_name = "Switchboard Console".into();
        update(&mut app, Msg::Feed(FeedEvent::Log(Box::new(l))));
    }
    app
}

#[test]
fn fhir_rows_in_the_feed() {
    for (name, theme) in themes() {
        let mut app = with_fhir_rows();
        let terminal = render(&mut app, &theme, 80, 24);
        let shown = screen(&terminal);
        assert!(shown.contains("REQUEST FHIR Patient search"), "{shown}");
        assert!(
            shown.contains("SEND    FHIR observation-created"),
            "{shown}"
        );
        let Some((x, y)) = find(&terminal, "REQUEST FHIR") else {
            panic!("no FHIR row: {shown}")
        };
        let buffer = terminal.backend().buffer();
        assert_eq!(
            buffer[(x, y)].fg,
            theme.accent.fg.unwrap_or(Color::Reset),
            "{name}"
        );
        assert_snapshot!(format!("fhir_rows_in_the_feed_{name}"), terminal.backend());
    }
    // Wide: one line a log, the route in full in its column after the label.
    let mut app = with_fhir_rows();
    let shown = screen(&render(&mut app, &Theme::dark(), 200, 60));
    let row = shown
        .lines()
        .find(|l| l.contains("REQUEST FHIR Patient search"))
        .unwrap_or_default();
    assert!(row.contains("Switchboard Console → Sandbox EHR"), "{shown}");
}

/// The composer focused on a FHIR Patient search, answered by a searchset.
fn fhir_search_answered() -> App {
    let mut app = console(Role::Admin, Environment::Development);
    let draft = Draft {
        environment: Environment::Development,
        source: Named {
            id: crate::model::reach::CONSOLE_SOURCE_ID,
            name: "Switchboard Console".into(),
        },
        destination: Named {
            id: crate::console::fixtures::SANDBOX_EHR,
            name: "Sandbox EHR".into(),
        },
        what: Composed::Fhir(FhirKind::Search("Patient")),
    };
    let samples = crate::console::fixtures::development_samples();
    let text = crate::model::fhir::search::form_text("Patient", &samples);
    app.composer.load(draft, &text, &samples.variables());
    app.focus = crate::console::app::Pane::Composer;
    let patient = |id: &str, given: &str| {
        serde_json::json!({"fullUrl": format!("http://127.0.0.1:8443/fhir/R4/sandbox-ehr/Development/Patient/{id}"),
         "search": {"mode": "match"},
         "resource": {"resourceType": "Patient", "id": id,
                      "name": [{"family": "Baker", "given": [given]}]}})
    };
    update(
        &mut app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(serde_json::json!({
                "resourceType": "Bundle", "type": "searchset", "total": 2,
                "entry": [patient("p1", "Abigail"), patient("p2", "Ann")]
            })),
            elapsed: std::time::Duration::from_micros(8_300),
            logs: Vec::new(),
        })),
    );
    app
}

#[test]
fn composer_with_a_fhir_search() {
    for (name, theme) in themes() {
        let mut app = fhir_search_answered();
        let terminal = render(&mut app, &theme, 80, 24);
        let shown = screen(&terminal);
        assert!(
            shown.contains("FHIR Patient search · Switchboard Console"),
            "{shown}"
        );
        assert!(shown.contains("identifier=0000000001"), "{shown}");
        assert!(
            shown.contains("2 patients: Baker, Abigail; Baker"),
            "{shown}"
        );
        assert!(shown.contains("search form"), "{shown}");
        let Some((x, y)) = find(&terminal, "2 patients") else {
            panic!("no summary: {shown}")
        };
        let buffer = terminal.backend().buffer();
        assert_eq!(
            buffer[(x, y)].fg,
            theme.accent.fg.unwrap_or(Color::Reset),
            "{name}"
        );
        assert_snapshot!(
            format!("composer_with_a_fhir_search_{name}"),
            terminal.backend()
        );
    }
}
