//! FHIR requests in the composer: `:compose FHIR …`, the search form pre-filled with
//! the sandbox's values, messages, the same guards as data-model requests, the request
//! that goes out, its curl, and the answer's summary line.

use super::*;
use crate::client::wire::DestinationInfo;
use crate::console::composer::Composed;
use crate::model::fhir::request::FhirRequest;
use crate::model::fhir::{FhirKind, MESSAGES};

fn fhir_sent(effects: &[Effect]) -> Option<(Uuid, FhirRequest)> {
    effects.iter().find_map(|e| match e {
        Effect::ComposeFhir { source, request } => Some((*source, request.clone())),
        _ => None,
    })
}

/// `production()`, its destination reached through FHIR as `acme-ehr`.
fn production_fhir() -> ConnectionsView {
    let mut view = production();
    view.destinations[0].destination = DestinationInfo {
        fhir_slug: Some("acme-ehr".into()),
        ..view.destinations[0].destination.clone()
    };
    view
}

#[test]
fn a_fhir_patient_search_is_prefilled_and_sent_as_a_form() {
    let mut app = composing(Role::Admin, "compose FHIR Patient search");
    assert!(app.composer.picker.is_none(), "nothing left to choose");
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.what.label(), "FHIR Patient search");
    assert_eq!(draft.destination.id, SANDBOX_EHR);
    let text = app.composer.text();
    assert!(text.contains("\nidentifier=0000000001\n"), "{text}");
    assert!(app.composer.validation.is_clean(), "{text}");
    let effects = update(&mut app, ctrl('s'));
    let (source, request) = fhir_sent(&effects).expect("sent");
    assert_eq!(source, CONSOLE_SOURCE_ID);
    assert_eq!(
        request,
        FhirRequest {
            path: "/fhir/R4/sandbox-ehr/Development/Patient/_search".into(),
            content_type: "application/x-www-form-urlencoded",
            headers: vec![("Redox-Source-Id", CONSOLE_SOURCE_ID.to_string())],
            body: "identifier=0000000001".into(),
        }
    );
    assert!(sent(&effects).is_none(), "not through /endpoint or /query");
    // What the history records, and the curl (no PHI in the URL: the form is the body).
    let record = app
        .sent_record(Some(200), 3, Vec::new(), None)
        .expect("record");
    assert_eq!(
        (record.data_model.as_str(), record.event_type.as_str()),
        ("FHIR.Patient", "search")
    );
    let effects = update(&mut app, key(KeyCode::Char('y')));
    let Some(Effect::Copy { text, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert!(
        text.contains("'http://127.0.0.1:8443/fhir/R4/sandbox-ehr/Development/Patient/_search'")
            && text.contains("Content-Type: application/x-www-form-urlencoded")
            && text.contains("--data-binary 'identifier=0000000001'"),
        "{text}"
    );
}

#[test]
fn other_searches_name_the_sandbox_patient_and_warn_on_unknown_parameters() {
    let mut app = composing(Role::Admin, "compose fhir observation");
    let text = app.composer.text();
    let id = fixtures::development_samples().fhir_patient_id;
    assert!(text.contains(&format!("\npatient={id}\n")), "{text}");
    edit(&mut app, "patient=1\nfamily=Baker\n");
    assert_eq!(app.composer.validation.schema_issues.len(), 1);
    assert!(
        update(&mut app, ctrl('s')).is_empty(),
        "a warning stops the first ctrl-s"
    );
    let effects = update(&mut app, ctrl('s'));
    let (_, request) = fhir_sent(&effects).expect("sent the second time");
    assert_eq!(request.body, "patient=1&family=Baker");
    // A line that is not name=value is never sent.
    let mut app = composing(Role::Admin, "compose FHIR Encounter");
    edit(&mut app, "patient 1\n");
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(update(&mut app, ctrl('s')).is_empty());
}

#[test]
fn a_fhir_message_goes_as_fhir_json_to_its_operation() {
    for (line, path, code) in [
        (
            "compose FHIR Observation-New",
            "/fhir/R4/sandbox-ehr/Development/Observation/$observation-create",
            "Observation-New",
        ),
        (
            "compose FHIR media-new",
            "/fhir/R4/sandbox-ehr/Development/DocumentReference/$write",
            "Media-New",
        ),
    ] {
        let mut app = composing(Role::Admin, line);
        assert!(app.composer.validation.is_clean(), "{line}");
        let (source, request) = fhir_sent(&update(&mut app, ctrl('s'))).expect(line);
        assert_eq!(source, CONSOLE_SOURCE_ID);
        assert_eq!(request.path, path);
        assert_eq!(request.content_type, "application/fhir+json");
        let body: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
        assert_eq!(body["type"], "message");
        let header = &body["entry"][0]["resource"];
        assert_eq!(header["eventCoding"]["code"], code);
        assert_eq!(header["source"]["endpoint"], CONSOLE_SOURCE_ID.to_string());
    }
}

#[test]
fn fhir_requests_pass_the_same_guards() {
    let mut app = console(Role::Admin);
    command(&mut app, "env production");
    update(&mut app, Msg::Connections(production_fhir()));
    command(&mut app, "compose FHIR Patient search");
    update(&mut app, key(KeyCode::Enter));
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.destination.name, "Acme EHR");
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert_eq!(
        app.composer.guard.as_ref().map(|l| l.text.as_str()),
        Some(""),
        "Production asks first"
    );
    typed(&mut app, "Acme EHR");
    let (_, request) = fhir_sent(&update(&mut app, key(KeyCode::Enter))).expect("sent");
    assert_eq!(request.path, "/fhir/R4/acme-ehr/Production/Patient/_search");

    let mut app = composing(Role::Viewer, "compose FHIR Patient search");
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("viewer")));
    let mut app = composing(Role::Admin, "compose FHIR Observation-New");
    app.read_only = true;
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("read-only")));
}

#[test]
fn only_destinations_with_a_fhir_slug_and_a_subscription_are_offered() {
    let mut app = composing(Role::Admin, "compose FHIR Patient search");
    update(&mut app, key(KeyCode::Char('d')));
    let picker = app.composer.picker.as_ref().expect("destinations");
    let options = picker.options(app.connections.as_ref());
    let billing = options
        .iter()
        .find(|o| o.label == "Billing")
        .expect("listed");
    let why = billing.unavailable.as_deref().unwrap_or_default();
    assert!(
        why.contains("no FHIR slug") && why.contains("fhir_slug"),
        "{why}"
    );
    let sandbox = options
        .iter()
        .find(|o| o.label == "Sandbox EHR")
        .expect("listed");
    assert!(sandbox.unavailable.is_none(), "{sandbox:?}");
    assert!(sandbox.detail.contains("fhir sandbox-ehr"), "{sandbox:?}");

    // A subscription for other data models does not reach it through FHIR.
    let mut view = production_fhir();
    view.subscriptions[0].data_models = vec!["PatientSearch".into(), "FHIR.Encounter".into()];
    let mut app = console(Role::Admin);
    command(&mut app, "env production");
    update(&mut app, Msg::Connections(view.clone()));
    command(&mut app, "compose FHIR Patient search");
    update(&mut app, key(KeyCode::Enter));
    let picker = app.composer.picker.as_ref().expect("no destination taken");
    let options = picker.options(app.connections.as_ref());
    let why = options[0].unavailable.as_deref().unwrap_or_default();
    assert!(why.contains("FHIR.Patient"), "{why}");
    // FHIR.* covers it: the one reachable destination is taken as it arrives.
    view.subscriptions[0].data_models.push("FHIR.*".into());
    update(&mut app, Msg::Connections(view));
    assert!(app.composer.picker.is_none());
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.destination.name, "Acme EHR");
}

#[test]
fn compose_fhir_alone_lists_the_fhir_requests() {
    let app = composing(Role::Admin, "compose FHIR");
    let picker = app.composer.picker.as_ref().expect("picker");
    let options = picker.options(app.connections.as_ref());
    assert_eq!(options.len(), 13, "{options:?}");
    assert!(
        options.iter().all(|o| o.label.starts_with("FHIR ")),
        "{options:?}"
    );
    assert!(options.iter().any(|o| o.label == "FHIR Observation-New"));
}

#[test]
fn the_answer_has_a_summary_line() {
    let mut app = composing(Role::Admin, "compose FHIR Patient search");
    update(&mut app, ctrl('s'));
    let bundle = serde_json::json!({
        "resourceType": "Bundle", "type": "searchset", "total": 1,
        "entry": [{"fullUrl": "http://h/Patient/p1", "search": {"mode": "match"},
                   "resource": {"resourceType": "Patient", "id": "p1",
                                "name": [{"family": "Baker", "given": ["Abigail"]}]}}]
    });
    let effects = update(
        &mut app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(bundle),
            elapsed: Duration::from_millis(9),
            logs: Vec::new(),
        })),
    );
    let answer = app.composer.answer.as_ref().expect("answer");
    assert_eq!(answer.summary.as_deref(), Some("1 patient: Baker, Abigail"));
    let recorded = effects.iter().find_map(|e| match e {
        Effect::RecordSent(s) => Some(s.clone()),
        _ => None,
    });
    let recorded = recorded.expect("recorded in the history");
    assert_eq!(recorded.data_model, "FHIR.Patient");
    assert_eq!(
        recorded.body.as_deref(),
        Some(
            "# one name=value per line\n# Patient: _id, identifier, family, given, birthdate, gender, _count\nidentifier=0000000001\n"
        )
    );
}

#[test]
fn a_fhir_search_is_saved_as_its_lines_and_opens_again() {
    use crate::console::collection::Listed;
    let mut app = composing(Role::Admin, "compose FHIR Patient search");
    edit(
        &mut app,
        "# by name\ngiven=Abigail\nfamily=Baker\nbirthdate=1974-05-30\n",
    );
    let text = app.composer.text();
    update(&mut app, ctrl('w'));
    assert_eq!(
        app.composer.naming.as_ref().map(|l| l.text.as_str()),
        Some("fhir-patient-search")
    );
    let effects = update(&mut app, key(KeyCode::Enter));
    let Some(Effect::SaveRequest { name, request }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (request.data_model.as_str(), request.event.as_str()),
        ("FHIR.Patient", "search")
    );
    assert_eq!(
        request.body,
        serde_json::json!([
            "# by name",
            "given=Abigail",
            "family=Baker",
            "birthdate=1974-05-30"
        ])
    );
    let listed = Listed {
        name: name.clone(),
        request: Ok(request.clone()),
    };
    edit(&mut app, "_id=x\n");
    update(&mut app, key(KeyCode::Char('o')));
    update(&mut app, Msg::SavedList(Ok(vec![listed])));
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.composer.text(), text);
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.what, Composed::Fhir(FhirKind::Search("Patient")));
    assert!(app.composer.validation.is_clean());
}

#[test]
fn a_fhir_message_reopens_from_the_history() {
    use crate::client::wire::{HistoryEntry, HistoryPage};
    let mut app = composing(Role::Admin, "compose FHIR Observation-New");
    update(&mut app, ctrl('s'));
    let sent = app
        .sent_record(Some(200), 5, Vec::new(), None)
        .expect("record");
    assert_eq!(
        (sent.data_model.as_str(), sent.event_type.as_str()),
        ("FHIR.Message.Observation", "Observation-New")
    );
    let body = sent.body.clone().expect("kept");
    edit(&mut app, "{}\n");
    update(&mut app, key(KeyCode::Char('h')));
    update(
        &mut app,
        Msg::History(Ok(HistoryPage {
            entries: vec![HistoryEntry {
                id: Uuid::from_u128(1),
                at: chrono::Utc::now(),
                sent,
            }],
            next: None,
        })),
    );
    update(&mut app, key(KeyCode::Enter));
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.what, Composed::Fhir(FhirKind::Message(&MESSAGES[0])));
    assert_eq!(app.composer.text(), body);
}
