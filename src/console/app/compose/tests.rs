//! The composer driven through `update`: picking, templates, the send checks, the
//! Production guard, and following the answer.

use super::super::*;
use crate::client::send::{Answer, PlatformPath};
use crate::client::wire::{ConnectionsView, EnvironmentView, SourceView};
use crate::console::composer::ComposerFocus;
use crate::console::composer::pick::PickStep;
use crate::console::fixtures::{
    self, SANDBOX_EHR, builtin_development, builtin_environments, idle, source,
};
use crate::model::reach::{CONSOLE_SOURCE_ID, DeliveryMode, Subscription};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::Duration;

/// The built-in Development connections, plus a poll destination no one subscribes to.
fn development() -> ConnectionsView {
    let mut view = builtin_development();
    view.destinations.push(idle(fixtures::destination(
        Uuid::from_u128(0xb111),
        "Billing",
        Environment::Development,
        DeliveryMode::Poll,
    )));
    view
}

/// One Production source subscribed to one push destination.
fn production() -> ConnectionsView {
    let dest = fixtures::destination(
        Uuid::from_u128(0xe4e),
        "Acme EHR",
        Environment::Production,
        DeliveryMode::Push,
    );
    let lab = source(Uuid::from_u128(0x1ab), "Prod Lab", Environment::Production);
    ConnectionsView {
        sources: vec![SourceView {
            source: lab.clone(),
            health: Default::default(),
        }],
        subscriptions: vec![Subscription {
            source_id: lab.id,
            destination_id: dest.id,
            data_models: Vec::new(),
        }],
        destinations: vec![idle(dest)],
        organizations: Vec::new(),
    }
}

fn environments() -> Vec<EnvironmentView> {
    builtin_environments()
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn typed(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| update(app, key(KeyCode::Char(c))))
        .collect()
}

fn command(app: &mut App, line: &str) -> Vec<Effect> {
    let mut effects = update(app, key(KeyCode::Char(':')));
    effects.extend(typed(app, line));
    effects.extend(update(app, key(KeyCode::Enter)));
    effects
}

/// A Development console (role `role`) with connections and profiles loaded.
fn console(role: Role) -> App {
    let (mut app, _) = App::new(role, "127.0.0.1:8443".into());
    app.clock = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .ok()
        .map(|t| t.to_utc());
    update(&mut app, Msg::Environments(environments()));
    update(&mut app, Msg::Connections(development()));
    app
}

fn composing(role: Role, line: &str) -> App {
    let mut app = console(role);
    command(&mut app, line);
    app
}

fn sent(effects: &[Effect]) -> Option<(Uuid, PlatformPath, serde_json::Value)> {
    effects.iter().find_map(|e| match e {
        Effect::ComposeSend { source, path, body } => Some((
            *source,
            *path,
            serde_json::from_str(body).expect("JSON body"),
        )),
        _ => None,
    })
}

/// Replaces the body as if typed in `$EDITOR`.
fn edit(app: &mut App, text: &str) {
    update(app, Msg::Edited(Ok(text.to_string())));
}

#[test]
fn compose_by_name_takes_the_console_source_and_the_only_reachable_destination() {
    let app = composing(Role::Admin, "compose PatientSearch Query");
    assert_eq!(app.focus, Pane::Composer);
    assert!(app.composer.picker.is_none(), "nothing left to choose");
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.source.id, CONSOLE_SOURCE_ID);
    assert_eq!(draft.destination.id, SANDBOX_EHR);
    assert_eq!(draft.path(), PlatformPath::Query);
    let text = app.composer.text();
    assert!(text.contains("\"DataModel\": \"PatientSearch\""), "{text}");
    assert!(text.contains("2026-01-02T03:04:05.000Z"), "{text}");
    assert!(
        app.composer.validation.is_clean(),
        "{:?}",
        app.composer.validation
    );
}

/// A remote console fills templates with the engine's sample values (they travel in
/// the environment view), not with whatever its own build would make.
#[test]
fn templates_take_the_engines_samples_from_the_environment_view() {
    use crate::model::template::Samples;
    let note_id = |samples: Option<Samples>| {
        let mut app = console(Role::Admin);
        let mut envs = environments();
        envs[0].samples = samples;
        update(&mut app, Msg::Environments(envs));
        command(&mut app, "compose Notes Replace");
        let text = app.composer.text();
        let body: serde_json::Value = serde_json::from_str(&text).expect("JSON template");
        body["Note"]["OriginalDocumentID"]
            .as_str()
            .map(str::to_string)
    };
    let engines = Samples {
        note_id: "note-from-the-engine".into(),
        ..crate::console::fixtures::development_samples()
    };
    assert_eq!(
        note_id(Some(engines)).as_deref(),
        Some("note-from-the-engine")
    );
    // An older engine sends none: the placeholders, not this build's sandbox.
    assert_eq!(note_id(None), Some(Samples::default().note_id));
}

#[test]
fn the_picker_narrows_as_you_type_and_explains_unreachable_destinations() {
    let mut app = console(Role::Admin);
    update(&mut app, key(KeyCode::Char('c')));
    assert_eq!(app.focus, Pane::Composer);
    // The environment first, the console's own preselected.
    let picker = app.composer.picker.as_ref().expect("picker");
    assert_eq!(
        picker.step,
        crate::console::composer::pick::PickStep::Environment
    );
    update(&mut app, key(KeyCode::Enter));
    typed(&mut app, "notes new");
    let picker = app.composer.picker.as_ref().expect("picker");
    let options = picker.options(app.connections.as_ref());
    assert_eq!(options[0].label, "Notes New", "{options:?}");
    update(&mut app, key(KeyCode::Enter));
    // The console's own source is taken, and Sandbox EHR, the one destination it can
    // reach, too.
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.what.label(), "Notes New");
    assert_eq!(draft.destination.id, SANDBOX_EHR);
    assert_eq!(draft.path(), PlatformPath::Endpoint);
    // `d` lists every destination: Billing with the reason it cannot be chosen.
    update(&mut app, key(KeyCode::Char('d')));
    let picker = app.composer.picker.as_ref().expect("destination step");
    let options = picker.options(app.connections.as_ref());
    let billing = options
        .iter()
        .find(|o| o.label == "Billing")
        .expect("Billing");
    let why = billing.unavailable.as_deref().expect("unreachable");
    assert!(why.contains("no subscription"), "{why}");
    // Choosing it is refused with the reason; the reachable one is taken.
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Enter));
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("no subscription")));
    // A refresh of the connections does not choose for the user who asked to choose.
    update(&mut app, Msg::Connections(development()));
    assert!(app.composer.picker.is_some());
    update(&mut app, key(KeyCode::Esc));
    assert!(app.composer.picker.is_none());
}

#[test]
fn choosing_another_environment_moves_the_console_and_offers_its_connections() {
    let mut app = console(Role::Admin);
    update(&mut app, key(KeyCode::Char('c')));
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Down));
    let effects = update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.environment, Environment::Production);
    assert!(effects.contains(&Effect::LoadConnections(Some(Environment::Production))));
    typed(&mut app, "patientadmin arrival");
    update(&mut app, key(KeyCode::Enter));
    // The source list waits for Production's connections…
    let picker = app.composer.picker.as_ref().expect("picker");
    assert_eq!(
        picker.step,
        crate::console::composer::pick::PickStep::Source
    );
    assert!(picker.options(app.connections.as_ref()).is_empty());
    update(&mut app, Msg::Connections(production()));
    let picker = app.composer.picker.as_ref().expect("picker");
    assert_eq!(
        picker.options(app.connections.as_ref())[0].label,
        "Prod Lab"
    );
    update(&mut app, key(KeyCode::Enter));
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.environment, Environment::Production);
    assert_eq!(draft.destination.name, "Acme EHR");
}

#[test]
fn ctrl_s_sends_with_variables_filled_and_the_feed_follows_the_request() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    assert!(
        app.composer.text().contains("{{"),
        "templates carry variables"
    );
    let effects = update(&mut app, ctrl('s'));
    let (source, path, body) = sent(&effects).expect("sent");
    assert_eq!((source, path), (CONSOLE_SOURCE_ID, PlatformPath::Query));
    let text = body.to_string();
    assert!(
        !text.contains("{{"),
        "variables are filled before sending: {text}"
    );
    assert_eq!(body["Patient"]["Identifiers"][0]["ID"], "0000000001");
    assert!(app.composer.sending);
    assert!(
        update(&mut app, ctrl('s')).is_empty(),
        "one request at a time"
    );

    let log = Uuid::from_u128(0x10);
    let effects = update(
        &mut app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(
                serde_json::json!({"Meta": {"Logs": [{"ID": log}]}, "Patient": {"Demographics": {"FirstName": "Abigail"}}}),
            ),
            elapsed: Duration::from_millis(12),
            logs: vec![log],
        })),
    );
    assert!(effects.contains(&Effect::FollowRequest(log)), "{effects:?}");
    assert!(effects.iter().any(|e| matches!(e, Effect::RecordSent(_))));
    let answer = app.composer.answer.as_ref().expect("answer");
    let tree = answer.tree.as_ref().expect("tree");
    assert!(
        tree.rows()
            .iter()
            .all(|r| !crate::console::json_tree::path_text(&r.path).starts_with("Meta.")),
        "Meta starts folded"
    );
    let mut record = crate::console::feed::tests::log(0x10, Environment::Development);
    record.request_id = Uuid::from_u128(0x77);
    let effects = update(
        &mut app,
        Msg::Followed(Some(Box::new(crate::client::wire::VisibleDetail {
            detail: crate::client::wire::LogDetail {
                log: record,
                attempts: Vec::new(),
                request: None,
                response: None,
                next_attempt_at: None,
            },
            masked: false,
        }))),
    );
    assert_eq!(app.filter_text, format!("req:{}", Uuid::from_u128(0x77)));
    assert!(effects.iter().any(|e| matches!(e, Effect::Subscribe(_))));
}

#[test]
fn invalid_json_is_never_sent_and_schema_warnings_need_a_second_ctrl_s() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    edit(&mut app, "{\n  \"Meta\": {\n");
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice::Error(m)) if m.contains("line 3")),
        "{:?}",
        app.notice
    );

    // Valid JSON that breaks the schema: DataModel must be a string.
    let text = app.composer.text();
    let _ = text;
    edit(
        &mut app,
        "{\n  \"Meta\": {\n    \"DataModel\": \"PatientSearch\",\n    \"EventType\": \"Query\",\n    \"Destinations\": [{\"ID\": 42}]\n  }\n}\n",
    );
    let issues = &app.composer.validation.schema_issues;
    assert!(!issues.is_empty());
    assert!(issues.iter().any(|i| i.line == 5), "{issues:?}");
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("ctrl-s again")));
    assert!(sent(&update(&mut app, ctrl('s'))).is_some(), "sent anyway");
}

#[test]
fn an_undefined_variable_is_reported_with_its_line_before_sending() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    edit(
        &mut app,
        "{\n  \"Meta\": {\"DataModel\": \"PatientSearch\", \"EventType\": \"Query\"},\n  \"Patient\": {\"Identifiers\": [{\"ID\": \"{{ward}}\"}]}\n}\n",
    );
    assert_eq!(app.composer.undefined.len(), 1);
    assert!(update(&mut app, ctrl('s')).is_empty());
    let Some(Notice::Error(m)) = &app.notice else {
        panic!("{:?}", app.notice)
    };
    assert!(m.contains("ward") && m.contains("line 3"), "{m}");
    assert!(m.contains("[environments.development.variables]"), "{m}");
}

#[test]
fn production_sends_only_after_the_destination_is_named() {
    let mut app = console(Role::Admin);
    command(&mut app, "env production");
    update(&mut app, Msg::Connections(production()));
    command(&mut app, "compose PatientAdmin Arrival");
    // No console source in Production: the source is chosen, the destination follows.
    assert!(app.composer.picker.is_some());
    update(&mut app, key(KeyCode::Enter));
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.destination.name, "Acme EHR");
    // Production has no variable profile here: the template's variables stop it first.
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice::Error(m)) if m.contains("{{mrn}}")),
        "{:?}",
        app.notice
    );
    let mut envs = environments();
    envs[2].variables = envs[0].variables.clone();
    update(&mut app, Msg::Environments(envs));
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert_eq!(
        app.composer.guard.as_ref().map(|l| l.text.as_str()),
        Some("")
    );
    typed(&mut app, "Acme");
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "a partial name does not send"
    );
    typed(&mut app, " EHR");
    let effects = update(&mut app, key(KeyCode::Enter));
    assert!(sent(&effects).is_some());
    assert!(app.composer.guard.is_none());
}

#[test]
fn an_operator_composes_in_production_but_never_sends_there() {
    let mut app = console(Role::Operator);
    command(&mut app, "env production");
    update(&mut app, Msg::Connections(production()));
    let mut envs = environments();
    envs[2].variables = envs[0].variables.clone();
    update(&mut app, Msg::Environments(envs));
    command(&mut app, "compose PatientSearch Query");
    update(&mut app, key(KeyCode::Enter));
    assert!(app.composer.draft.is_some());
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice::Error(m)) if m.contains("phi or admin")),
        "{:?}",
        app.notice
    );
    assert!(app.composer.guard.is_none(), "refused before the guard");
}

#[test]
fn viewers_and_read_only_consoles_compose_but_never_send() {
    let mut app = composing(Role::Viewer, "compose PatientSearch Query");
    assert!(app.composer.draft.is_some());
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("viewer")));

    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    app.read_only = true;
    assert!(update(&mut app, ctrl('s')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("read-only")));
}

#[test]
fn editing_takes_every_key_until_esc() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    update(&mut app, key(KeyCode::Char('i')));
    assert_eq!(app.composer.focus, ComposerFocus::Editing);
    // q, ?, / and digits are text while editing, not commands.
    let effects = typed(&mut app, "q?/1");
    assert!(effects.is_empty());
    assert!(!app.help && app.prompt.is_none() && app.focus == Pane::Composer);
    assert!(
        app.composer.text().starts_with("q?/1{"),
        "{}",
        app.composer.text()
    );
    assert!(app.composer.validation.syntax_error.is_some());
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.composer.focus, ComposerFocus::Body);
    // The edits are unsaved: `q` asks before losing them.
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![Effect::Quit]
    );
}

#[test]
fn e_hands_the_body_to_the_editor_and_y_copies_it_as_curl() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let effects = update(&mut app, key(KeyCode::Char('e')));
    assert_eq!(effects, vec![Effect::EditExternally(app.composer.text())]);
    let effects = update(&mut app, key(KeyCode::Char('y')));
    let Some(Effect::Copy { text, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert!(text.starts_with("curl"), "{text}");
    assert!(text.contains("http://127.0.0.1:8443/query"), "{text}");
    assert!(text.contains("${SWITCHBOARD_API_TOKEN}"), "{text}");
}

fn answered(app: &mut App) -> Vec<Effect> {
    let log = Uuid::from_u128(0x10);
    update(
        app,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(serde_json::json!({"Meta": {"Logs": [{"ID": log}]}})),
            elapsed: Duration::from_millis(12),
            logs: vec![log],
        })),
    )
}

#[test]
fn what_was_sent_goes_to_the_history_and_comes_back_from_it() {
    use crate::client::wire::{HistoryEntry, HistoryPage};
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    update(&mut app, ctrl('s'));
    let effects = answered(&mut app);
    let Some(Effect::RecordSent(sent)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(sent.status, Some(200));
    let body = sent.body.clone().expect("body kept");
    assert!(
        body.contains("\"0000000001\""),
        "the body as sent, variables filled"
    );
    let sent = sent.clone();

    // Something else in the editor; then `h`, and the entry re-opened.
    edit(&mut app, "{}\n");
    assert_eq!(
        update(&mut app, key(KeyCode::Char('h'))),
        vec![Effect::LoadHistory { before: None }]
    );
    let entry = HistoryEntry {
        id: Uuid::from_u128(0x4157),
        at: app.now(),
        sent: sent.clone(),
    };
    update(
        &mut app,
        Msg::History(Ok(HistoryPage {
            entries: vec![entry.clone()],
            next: None,
        })),
    );
    update(&mut app, key(KeyCode::Enter));
    assert!(app.composer.list.is_none());
    assert_eq!(app.composer.text(), body);

    // A Production entry kept without its body says why it cannot be re-opened.
    let mut hidden = entry;
    hidden.sent.environment = Environment::Production;
    hidden.sent.body = None;
    update(&mut app, key(KeyCode::Char('h')));
    update(
        &mut app,
        Msg::History(Ok(HistoryPage {
            entries: vec![hidden],
            next: None,
        })),
    );
    update(&mut app, key(KeyCode::Enter));
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("not kept")));
}

#[test]
fn ctrl_w_saves_under_a_name_and_o_opens_it_again() {
    use crate::console::collection::Listed;
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    let text = app.composer.text();
    update(&mut app, ctrl('w'));
    assert_eq!(
        app.composer.naming.as_ref().map(|l| l.text.as_str()),
        Some("patientsearch-query")
    );
    // The suggestion is selected: end keeps it to edit.
    update(&mut app, key(KeyCode::End));
    for _ in 0.."query".len() {
        update(&mut app, key(KeyCode::Backspace));
    }
    typed(&mut app, "by-mrn");
    let effects = update(&mut app, key(KeyCode::Enter));
    let Some(Effect::SaveRequest { name, request }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(name, "patientsearch-by-mrn");
    assert_eq!(request.destination, "Sandbox EHR");
    assert_eq!(request.body_text(), text, "saved as typed, variables kept");
    let listed = Listed {
        name: name.clone(),
        request: Ok(request.clone()),
    };

    edit(&mut app, "{}\n");
    assert_eq!(
        update(&mut app, key(KeyCode::Char('o'))),
        vec![Effect::LoadSaved]
    );
    update(&mut app, Msg::SavedList(Ok(vec![listed])));
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.composer.text(), text);
    let draft = app.composer.draft.as_ref().expect("draft");
    assert_eq!(draft.destination.id, SANDBOX_EHR);
}

#[test]
fn a_body_that_is_not_json_is_not_saved() {
    let mut app = composing(Role::Admin, "compose PatientSearch Query");
    edit(&mut app, "{ nope\n");
    update(&mut app, ctrl('w'));
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.starts_with("not saved")));
}

mod fhir;
mod quit;
mod support;
