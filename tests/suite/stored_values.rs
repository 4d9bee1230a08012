//! How stored values are encoded (`store::codec`): records and bodies are packed
//! (compressed) and then sealed; what earlier versions wrote (plain JSON, raw bodies,
//! sealed plain JSON) reads back unchanged; the `[store]` configuration. Real sled
//! stores in temp dirs, read through the store's own API.

use chrono::Utc;
use serde_json::json;
use switchboard::engine::Config;
use switchboard::model::{
    Attempt, AttemptOutcome, Environment, Exchange, LogRecord, LogStatus, LogType,
};
use switchboard::store::seal::Keyring;
use switchboard::store::{OpenMode, Sealer, Session, Store, StoredRequest, Tuning};
use uuid::Uuid;

const KEY: [u8; 32] = [5u8; 32];

/// Now, to the millisecond that records keep.
fn now() -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now")
}

fn request() -> StoredRequest {
    StoredRequest {
        id: Uuid::now_v7(),
        received_at: now(),
        environment: Environment::Development,
        source_id: Uuid::now_v7(),
        exchange: Exchange::Notification,
        payload: json!({
            "Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival"},
            "Patient": {"Demographics": {"FirstName": "Zephyrina", "LastName": "Quillfeather"}},
            "Visit": {"Reason": "follow-up ".repeat(60)},
        }),
    }
}

fn log_of(request: &StoredRequest, status: LogStatus) -> LogRecord {
    let now = now();
    LogRecord {
        id: Uuid::now_v7(),
        request_id: request.id,
        attempt_id: Uuid::now_v7(),
        log_type: LogType::Send,
        status,
        exchange: Exchange::Notification,
        environment: Environment::Development,
        source_id: request.source_id,
        source_name: "Lab".into(),
        destination_id: Uuid::now_v7(),
        destination_name: "Acme EHR".into(),
        data_model: "PatientAdmin".into(),
        event_type: "Arrival".into(),
        test: false,
        created_at: now,
        updated_at: now,
        attempts: u32::from(status != LogStatus::Pending),
        latency_ms: None,
        patient_id: Some("0000000042".into()),
        quarantined: false,
        released_at_attempt: 0,
        resend_of: None,
        legacy_ids: None,
    }
}

fn attempt_of(log: &LogRecord) -> Attempt {
    Attempt {
        id: Uuid::now_v7(),
        log_id: log.id,
        number: 1,
        started_at: now(),
        outcome: AttemptOutcome::Succeeded,
        http_status: Some(200),
        latency_ms: 3.5,
        response_body: Some(r#"{"Zephyrina":"acknowledged"}"#.into()),
        response_truncated: false,
        error: None,
    }
}

fn key(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![kind];
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn raw(store: &Store, key: &[u8]) -> Vec<u8> {
    store
        .db()
        .open_tree("exchange")
        .expect("tree")
        .get(key)
        .expect("get")
        .expect("stored")
        .to_vec()
}

fn sealed_store(dir: &std::path::Path) -> Store {
    let sealer = Sealer::new(Some(Keyring::from_keys(&KEY, &[])));
    Store::open_sealed(dir, OpenMode::Serve, sealer).expect("open")
}

/// A request, its log, an attempt and a query's answer, written as this version
/// writes them, take fewer bytes than their JSON and read back equal; sealed bodies
/// are packed before sealing (sealed bytes would not compress).
#[test]
fn records_are_stored_packed_and_sealed_and_read_back_equal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sealed_store(dir.path());
    let request = request();
    let log = log_of(&request, LogStatus::Pending);
    store
        .insert_accepted(&request, std::slice::from_ref(&log), None)
        .expect("insert");

    let stored_log = raw(&store, &key(b'l', &[log.id.as_bytes()]));
    let log_json = serde_json::to_vec(&log).expect("json");
    assert!(
        stored_log.len() * 2 < log_json.len(),
        "a log takes {} bytes stored, {} as JSON",
        stored_log.len(),
        log_json.len()
    );
    assert_eq!(store.log(log.id).expect("read").as_ref(), Some(&log));

    let stored_request = raw(&store, &key(b'r', &[request.id.as_bytes()]));
    let keyring = Keyring::from_keys(&KEY, &[]);
    let opened = keyring.open(&stored_request).expect("sealed with the key");
    let request_json = serde_json::to_vec(&request).expect("json");
    assert!(
        opened.len() * 2 < request_json.len(),
        "the sealed request holds {} bytes, its JSON {}",
        opened.len(),
        request_json.len()
    );
    assert!(
        !stored_request.windows(9).any(|w| w == b"Zephyrina"),
        "the body is sealed"
    );
    assert_eq!(store.request(request.id).expect("read"), Some(request));

    // A query's outcome: the attempt and the destination's full answer.
    let attempt = attempt_of(&log);
    let mut done = log.clone();
    done.status = LogStatus::Succeeded;
    done.attempts = 1;
    let answer = format!(
        r#"{{"Patients":[{}]}}"#,
        r#"{"Name":"Zephyrina"},"#.repeat(40)
    );
    let writes = Store::update_writes(
        store.sealer(),
        &log,
        &done,
        Some(&attempt),
        Some(answer.as_bytes()),
    );
    store
        .db()
        .open_tree("exchange")
        .expect("tree")
        .apply_batch(writes.into_batch())
        .expect("apply");
    let stored_answer = raw(&store, &key(b'p', &[log.id.as_bytes()]));
    let opened = keyring.open(&stored_answer).expect("sealed");
    assert!(opened.len() * 4 < answer.len(), "{} bytes", opened.len());
    assert_eq!(
        store.response_body(log.id).expect("read").as_deref(),
        Some(answer.as_bytes())
    );
    assert_eq!(store.attempts(log.id).expect("read"), vec![attempt]);
    assert_eq!(store.log(log.id).expect("read"), Some(done));
}

/// Every record kind as the previous version wrote it (plain JSON; bodies sealed as
/// plain JSON, or raw), put straight into sled, reads back through the store, and the
/// store keeps working in the new format beside them.
#[test]
fn records_written_by_the_previous_version_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = Keyring::from_keys(&KEY, &[]);
    let request = request();
    let log = log_of(&request, LogStatus::Succeeded);
    let attempt = attempt_of(&log);
    let answer = br#"{"Patients":[]}"#.to_vec();
    let plain_request = request_plain();
    let plain_log = log_of(&plain_request, LogStatus::Failed);
    let session = Session {
        source_id: Uuid::now_v7(),
        api_key: "lab-key".into(),
        refresh: true,
        expires: now() + chrono::Duration::hours(1),
        family: None,
        rotated: false,
    };
    {
        let store = sealed_store(dir.path());
        let tree = store.db().open_tree("exchange").expect("tree");
        tree.insert(
            key(b'r', &[request.id.as_bytes()]),
            keyring.seal(&json(&request)),
        )
        .expect("r");
        tree.insert(key(b'l', &[log.id.as_bytes()]), json(&log))
            .expect("l");
        tree.insert(
            key(b'a', &[log.id.as_bytes(), &1u32.to_be_bytes()]),
            keyring.seal(&json(&attempt)),
        )
        .expect("a");
        tree.insert(key(b'p', &[log.id.as_bytes()]), keyring.seal(&answer))
            .expect("p");
        // Written before a key was configured: plain JSON, and a raw answer.
        tree.insert(
            key(b'r', &[plain_request.id.as_bytes()]),
            json(&plain_request),
        )
        .expect("r plain");
        tree.insert(key(b'l', &[plain_log.id.as_bytes()]), json(&plain_log))
            .expect("l plain");
        tree.insert(key(b'p', &[plain_log.id.as_bytes()]), &b"OK, raw"[..])
            .expect("p raw");
        store
            .db()
            .open_tree("sessions")
            .expect("sessions")
            .insert([7u8; 32], json(&session))
            .expect("session");
        store.db().flush().expect("flush");
    }
    let store = sealed_store(dir.path());
    assert_eq!(store.request(request.id).expect("r"), Some(request));
    assert_eq!(store.log(log.id).expect("l"), Some(log.clone()));
    assert_eq!(store.attempts(log.id).expect("a"), vec![attempt]);
    assert_eq!(store.response_body(log.id).expect("p"), Some(answer));
    assert_eq!(
        store.request(plain_request.id).expect("r plain"),
        Some(plain_request)
    );
    assert_eq!(
        store.log(plain_log.id).expect("l plain"),
        Some(plain_log.clone())
    );
    assert_eq!(
        store.response_body(plain_log.id).expect("p raw").as_deref(),
        Some(&b"OK, raw"[..])
    );
    assert_eq!(store.session(&[7u8; 32]).expect("session"), Some(session));
    // An old session is rotated in place (read, changed, written back packed).
    let rotated = store
        .rotate_refresh(&[7u8; 32], Uuid::now_v7())
        .expect("rotate");
    assert!(
        matches!(rotated, switchboard::store::Rotation::Rotated(_)),
        "{rotated:?}"
    );
    assert!(
        store
            .session(&[7u8; 32])
            .expect("read")
            .expect("kept")
            .rotated
    );

    // An old log updated by this version: rewritten packed, indexes kept right.
    let mut updated = log.clone();
    updated.status = LogStatus::Failed;
    let writes = Store::update_writes(store.sealer(), &log, &updated, None, None);
    store
        .db()
        .open_tree("exchange")
        .expect("tree")
        .apply_batch(writes.into_batch())
        .expect("apply");
    assert_eq!(store.log(log.id).expect("l"), Some(updated));
}

fn request_plain() -> StoredRequest {
    let mut r = request();
    r.id = Uuid::now_v7();
    r
}

/// A record as the previous version encoded it: its JSON.
fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

/// A packed record that is damaged is a clear error naming the record, never a panic
/// or a wrong value.
#[test]
fn a_damaged_packed_record_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let request = request();
    let log = log_of(&request, LogStatus::Pending);
    store
        .insert_accepted(&request, std::slice::from_ref(&log), None)
        .expect("insert");
    let tree = store.db().open_tree("exchange").expect("tree");
    let k = key(b'l', &[log.id.as_bytes()]);
    let good = raw(&store, &k);
    let mut cut = good.clone();
    cut.truncate(good.len() - 20);
    let mut bad_length = good.clone();
    bad_length[3] = 0xff;
    bad_length[4] = 0xff;
    let mut newer = good.clone();
    newer[2] = 9;
    for (what, damaged) in [
        ("cut short", cut),
        ("length", bad_length),
        ("unknown version", newer),
    ] {
        tree.insert(&k, damaged).expect("damage");
        let e = store.log(log.id).expect_err(what).to_string();
        assert!(e.contains("unreadable"), "{what}: {e}");
    }
}

/// `[store] cache_mib`: its default, a value, and a value out of range refused with
/// the line and what to use.
#[test]
fn the_store_cache_is_configured_under_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let parse = |text: &str| Config::parse(text, &path, dir.path());

    let default = parse("").expect("empty config");
    assert_eq!(default.settings.store, Tuning::default());
    assert_eq!(
        Tuning::default().cache_bytes,
        Tuning::DEFAULT_CACHE_MIB * 1024 * 1024
    );

    let set = parse("[store]\ncache_mib = 200\n").expect("set");
    assert_eq!(set.settings.store.cache_bytes, 200 * 1024 * 1024);

    let e = parse("[store]\ncache_mib = 0\n")
        .expect_err("zero")
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("cache_mib") && e.contains("8 to 65536"),
        "{e}"
    );
    let e = parse("[store]\ncache_mb = 100\n")
        .expect_err("misspelt")
        .to_string();
    assert!(e.contains("cache_mb") && e.contains("cache_mib"), "{e}");

    // The setting opens the engine's store (and a store opens with any in range).
    let store = Store::open_tuned(
        dir.path(),
        OpenMode::Serve,
        Sealer::default(),
        set.settings.store,
    )
    .expect("open tuned");
    drop(store);
}
