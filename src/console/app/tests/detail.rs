//! The detail view through `update`: opening, answers, actions and their
//! confirmations, and the bodies (moving, folding, copying, masking).

use super::*;

#[test]
fn detail_opens_on_enter_and_closes_with_q_or_esc() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    assert_eq!(
        app.detail.as_ref().map(|d| d.log_id),
        Some(Uuid::from_u128(1))
    );
    assert!(
        send(&mut app, [ch('q')]).is_empty(),
        "q closes the detail, not the app"
    );
    assert!(app.detail.is_none());
    send(&mut app, [key(KeyCode::Enter)]);
    send(&mut app, [key(KeyCode::Esc)]);
    assert!(app.detail.is_none());
}

#[test]
fn detail_answers_fill_or_close_the_view() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    let mut done = log(1, Environment::Development);
    done.status = LogStatus::Succeeded;
    let tag = app.detail_tag();
    let found = |log| {
        Msg::Detail(
            tag,
            Some(Box::new(VisibleDetail {
                detail: LogDetail {
                    log,
                    attempts: Vec::new(),
                    request: None,
                    response: None,
                },
                masked: false,
            })),
        )
    };
    // An answer for another log (a detail closed and reopened meanwhile) is ignored.
    update(&mut app, found(log(2, Environment::Development)));
    assert!(app.detail.as_ref().is_some_and(|d| d.detail.is_none()));
    update(&mut app, found(done));
    let record = app.detail.as_ref().map(|d| d.record());
    assert_eq!(record.map(|l| l.status), Some(LogStatus::Succeeded));

    update(&mut app, Msg::Detail(tag, None));
    assert!(app.detail.is_none());
    assert!(matches!(app.notice, Some(Notice::Error(_))));
}

#[test]
fn development_actions_need_no_confirmation() {
    let mut app = detail_open(Role::Operator, Environment::Development);
    let id = Uuid::from_u128(1);
    assert_eq!(
        send(&mut app, [ch('r')]),
        vec![Effect::Act(Action::RetryNow(DEST))]
    );
    assert_eq!(
        send(&mut app, [ch('p')]),
        vec![Effect::Act(Action::Pause(DEST))]
    );
    assert_eq!(
        send(&mut app, [ch('Q')]),
        vec![Effect::Act(Action::Quarantine(id))]
    );
    assert_eq!(
        send(&mut app, [ch('R')]),
        vec![Effect::Act(Action::Resend(id))]
    );
    // A known paused destination resumes instead.
    update(
        &mut app,
        Msg::Connections(connections(Environment::Development, true)),
    );
    assert_eq!(
        send(&mut app, [ch('p')]),
        vec![Effect::Act(Action::Resume(DEST))]
    );
    assert!(app.confirm.is_none());
}

#[test]
fn production_actions_wait_for_y() {
    let mut app = detail_open(Role::Admin, Environment::Production);
    assert!(send(&mut app, [ch('r')]).is_empty());
    let confirm = app.confirm.clone().expect("a confirmation");
    assert_eq!(confirm.effect, Effect::Act(Action::RetryNow(DEST)));
    assert!(confirm.question.contains("Sandbox EHR"));
    assert_eq!(
        send(&mut app, [ch('y')]),
        vec![Effect::Act(Action::RetryNow(DEST))]
    );
    assert!(app.confirm.is_none());

    // Anything else cancels, and is not taken as a key (q does not close the detail).
    assert!(send(&mut app, [ch('R')]).is_empty());
    assert!(send(&mut app, [ch('q')]).is_empty());
    assert!(app.confirm.is_none());
    assert!(app.detail.is_some());
    assert_eq!(app.notice, Some(Notice::Info("cancelled".into())));
}

#[test]
fn a_viewer_may_not_act() {
    let mut app = detail_open(Role::Viewer, Environment::Development);
    assert!(send(&mut app, [ch('r')]).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("viewer")));
}

fn loaded(app: &App, env: Environment, masked: bool) -> Msg {
    Msg::Detail(
        app.detail_tag(),
        Some(Box::new(VisibleDetail {
            detail: LogDetail {
                log: log(1, env),
                attempts: Vec::new(),
                request: (!masked).then(|| {
                    serde_json::json!({"Meta": {"DataModel": "PatientAdmin"},
                    "Patient": {"Identifiers": [{"ID": "0000000001", "IDType": "MR"}]}})
                }),
                response: None,
            },
            masked,
        })),
    )
}

#[test]
fn detail_bodies_move_fold_and_copy_the_value_or_its_path() {
    let mut app = detail_open(Role::Admin, Environment::Development);
    let msg = loaded(&app, Environment::Development, false);
    update(&mut app, msg);
    // Down to Patient, fold it, copy it, copy its path.
    send(&mut app, [ch('j'), ch('j'), ch('j'), ch('j')]);
    let tree = app
        .detail
        .as_ref()
        .and_then(|d| d.request.as_ref())
        .unwrap();
    assert_eq!(tree.cursor_path(), "Patient");
    send(&mut app, [ch(' ')]);
    let tree = app
        .detail
        .as_ref()
        .and_then(|d| d.request.as_ref())
        .unwrap();
    assert_eq!(tree.rows().len(), 6, "{:?}", tree.rows());
    let copied = send(&mut app, [ch('y')]);
    let Some(Effect::Copy { text, what }) = copied.first() else {
        panic!("{copied:?}")
    };
    assert_eq!(what, "Patient");
    assert!(text.contains("\"IDType\": \"MR\""), "{text}");
    assert_eq!(
        send(&mut app, [ch('Y')]),
        vec![Effect::Copy {
            text: "Patient".into(),
            what: "the path Patient".into()
        }]
    );
    // The response side has no body: nothing to copy, and said so.
    send(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(
        app.detail.as_ref().map(|d| d.side),
        Some(BodySide::Response)
    );
    assert!(send(&mut app, [ch('y')]).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("no body")));
}

#[test]
fn a_masked_body_cannot_be_copied() {
    let mut app = detail_open(Role::Viewer, Environment::Production);
    let msg = loaded(&app, Environment::Production, true);
    update(&mut app, msg);
    assert!(app.detail.as_ref().is_some_and(|d| d.request.is_none()));
    assert!(send(&mut app, [ch('y'), ch('Y')]).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("no PHI permission")));
}

#[test]
fn a_body_the_engine_forgot_to_mask_is_still_not_copied_in_production() {
    let mut app = detail_open(Role::Operator, Environment::Production);
    // A misbehaving engine sends the body unmasked to a role without PHI permission.
    let msg = loaded(&app, Environment::Production, false);
    update(&mut app, msg);
    assert!(app.detail.as_ref().is_some_and(|d| d.request.is_none()));
    assert!(send(&mut app, [ch('y')]).is_empty());
}

#[test]
fn revocations_are_for_admins_and_always_wait_for_y() {
    let run = |app: &mut App, line: &str| {
        send(app, [ch(':')]);
        send(app, line.chars().map(ch).collect::<Vec<_>>());
        send(app, [key(KeyCode::Enter)])
    };
    // Development: no Production guard, yet a revocation still asks.
    let mut app = App::new(Role::Admin, "127.0.0.1:8443".into()).0;
    assert!(run(&mut app, "revoke-token \"ops team\"").is_empty());
    let confirm = app.confirm.clone().expect("a confirmation");
    assert_eq!(
        confirm.effect,
        Effect::Revoke(crate::client::Revoke::Token("ops team".into()))
    );
    assert!(confirm.question.contains("ops team"));
    assert_eq!(
        send(&mut app, [ch('y')]),
        vec![Effect::Revoke(crate::client::Revoke::Token(
            "ops team".into()
        ))]
    );
    assert!(run(&mut app, "revoke-key 6c1e2f0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f").is_empty());
    assert!(send(&mut app, [ch('n')]).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Info(m)) if m == "cancelled"));

    for role in [Role::Viewer, Role::Phi, Role::Operator] {
        let mut app = App::new(role, "127.0.0.1:8443".into()).0;
        assert!(run(&mut app, "revoke-token ops").is_empty());
        assert!(app.confirm.is_none());
        assert!(matches!(&app.notice, Some(Notice::Error(m)) if m.contains("admin")));
    }
}
