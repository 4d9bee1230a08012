//! `switchboard migrate --store URL` on a real PostgreSQL: the schema applied once and
//! recorded, nodes starting together taking turns, a newer schema refused untouched,
//! and a store that cannot be reached or named said so without its password.

use crate::common::bin::BIN;
use crate::common::postgres::{Database, database};
use serde_json::Value;
use std::process::{Command, Output};

fn migrate(store: &str, json: bool) -> Output {
    let mut command = Command::new(BIN);
    command.args(["migrate", "--store", store]);
    if json {
        command.arg("--json");
    }
    command
        .env_remove("SWITCHBOARD_STORE")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run switchboard migrate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn versions(db: &Database) -> Vec<(i32, String, String)> {
    db.client()
        .await
        .query(
            "SELECT version, name, applied_by FROM switchboard_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("switchboard_migrations")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn migrate_applies_the_schema_once_and_records_it() {
    let db = database().await;
    let first = migrate(&db.url, false);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let said = text(&first.stdout);
    let latest = switchboard::store::postgres::migrate::latest();
    assert!(
        said.contains(&format!("schema version 0 → {latest}")),
        "{said}"
    );
    assert!(said.contains(&db.name), "{said}");

    let recorded = versions(&db).await;
    let known: Vec<(i32, &str)> = switchboard::store::postgres::migrate::MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name))
        .collect();
    let applied: Vec<(i32, &str)> = recorded.iter().map(|r| (r.0, r.1.as_str())).collect();
    assert_eq!(applied, known, "every version, in order");
    assert_eq!(known[0], (1, "schema"));
    assert!(recorded[0].2.contains("migrate"), "{recorded:?}");

    // The tables a node needs, the history ones partitioned with a default partition.
    let client = db.client().await;
    let partitioned: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_partitioned_table p \
             JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1",
            &[],
        )
        .await
        .expect("partitioned tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected = Vec::new();
    for table in ["attempts", "logs", "requests", "responses"] {
        expected.push(table.to_string());
        for environment in ["development", "production", "staging"] {
            expected.push(format!("{table}_{environment}"));
        }
    }
    expected.sort();
    assert_eq!(
        partitioned, expected,
        "history is partitioned by environment, then by day"
    );
    for table in [
        "queues",
        "queue_items",
        "audit",
        "sessions",
        "identities",
        "nodes",
    ] {
        let found: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
                &[&table],
            )
            .await
            .expect("information_schema")
            .get(0);
        assert_eq!(found, 1, "table {table}");
    }

    // Again: nothing to do, said so, and as JSON for scripts.
    let again = migrate(&db.url, true);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let report: Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(report["from"], latest);
    assert_eq!(report["to"], latest);
    assert_eq!(report["applied"], Value::Array(vec![]));
    assert_eq!(versions(&db).await.len(), latest as usize);
    let plain = migrate(&db.url, false);
    assert!(text(&plain.stdout).contains("nothing to apply"));
}

/// A database a version-1 switchboard filled: its queues numbered per row. After the
/// upgrade, new items are numbered after every item already there.
#[tokio::test]
async fn the_queue_sequence_starts_after_what_version_one_numbered() {
    let db = database().await;
    let client = db.client().await;
    client
        .batch_execute(include_str!(
            "../../src/store/postgres/migrations/0001_schema.sql"
        ))
        .await
        .expect("version 1");
    let (destination, source) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    client
        .batch_execute(&format!(
            "CREATE TABLE switchboard_migrations (version integer PRIMARY KEY, name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL);
             INSERT INTO switchboard_migrations (version, name, applied_by)
                 VALUES (1, 'schema', 'an older switchboard');
             INSERT INTO queues (destination_id, source_id, lane, next_seq)
                 VALUES ('{destination}', '{source}', 0, 42);
             INSERT INTO queue_items (destination_id, source_id, lane, seq, log_id)
                 VALUES ('{destination}', '{source}', 0, 41, '{}');
             INSERT INTO quarantine (destination_id, log_id, source_id, lane, seq)
                 VALUES ('{destination}', '{}', '{source}', 0, 77);",
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4()
        ))
        .await
        .expect("a version-1 queue");
    let upgraded = migrate(&db.url, false);
    assert!(upgraded.status.success(), "{}", text(&upgraded.stderr));
    let latest = switchboard::store::postgres::migrate::latest();
    assert!(text(&upgraded.stdout).contains(&format!("schema version 1 → {latest}")));
    let next: i64 = client
        .query_one("SELECT nextval('queue_item_seq')", &[])
        .await
        .expect("nextval")
        .get(0);
    assert!(next > 77, "numbered after the largest item, got {next}");
    let still: i64 = client
        .query_one("SELECT count(*) FROM queue_items", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(still, 1, "the queued item kept");
}

#[tokio::test]
async fn nodes_migrating_together_take_turns() {
    let db = database().await;
    let latest = switchboard::store::postgres::migrate::latest();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(BIN)
                .args(["migrate", "--json"])
                .env("SWITCHBOARD_STORE", &db.url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn migrate")
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        applied += report["applied"].as_array().expect("applied").len();
        assert_eq!(report["to"], latest);
    }
    assert_eq!(
        applied, latest as usize,
        "each version applied exactly once"
    );
    assert_eq!(versions(&db).await.len(), latest as usize);
}

#[tokio::test]
async fn a_schema_newer_than_this_switchboard_is_refused_untouched() {
    let db = database().await;
    assert!(migrate(&db.url, false).status.success());
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO switchboard_migrations (version, name, applied_by) \
             VALUES (99, 'from the future', 'a newer switchboard')",
        )
        .await
        .expect("a newer version");
    let refused = migrate(&db.url, false);
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(said.contains("schema version 99"), "{said}");
    let latest = switchboard::store::postgres::migrate::latest();
    assert!(
        said.contains(&format!("knows versions up to {latest}")),
        "{said}"
    );
    assert!(said.contains("Nothing was changed"), "{said}");
    assert_eq!(
        versions(&db).await.len(),
        latest as usize + 1,
        "nothing added or removed"
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_named_or_reached_says_so_without_its_password() {
    // Nothing listens on port 1 of loopback.
    let out = migrate("postgres://app:s3cret@127.0.0.1:1/sb", false);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("cannot connect to PostgreSQL at postgres://app@127.0.0.1:1/sb"),
        "{said}"
    );
    assert!(!said.contains("s3cret"), "{said}");

    for (given, says) in [
        ("/var/lib/switchboard", "does not start with postgres://"),
        (
            "postgres://app:s3cret@db:notaport/sb",
            "is not a PostgreSQL URL",
        ),
    ] {
        let out = migrate(given, false);
        assert!(!out.status.success(), "{given}");
        let said = text(&out.stderr);
        assert!(said.contains(says), "{given}: {said}");
        assert!(!said.contains("s3cret"), "{given}: {said}");
        assert!(said.contains("postgres://USER"), "{given}: {said}");
    }

    // No --store and no SWITCHBOARD_STORE: clap says what is missing.
    let out = Command::new(BIN)
        .arg("migrate")
        .env_remove("SWITCHBOARD_STORE")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--store"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn tls_is_used_when_asked_and_the_server_must_verify() {
    let db = database().await;
    let ca = crate::common::postgres::server_ca().await;
    let with_ca = format!(
        "{}?sslmode=require&sslrootcert={}",
        db.url,
        ca.display().to_string().replace('/', "%2F")
    );
    let out = migrate(&with_ca, false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The session really is encrypted.
    let at: switchboard::store::postgres::PgLocation = with_ca.parse().expect("location");
    let store = switchboard::store::postgres::PgStore::open(
        &at,
        switchboard::store::Sealer::default(),
        "t",
    )
    .await
    .expect("open over TLS");
    assert!(store.session_uses_tls().await.expect("pg_stat_ssl"));

    // Without a CA that vouches for the server, no connection (and no plain fallback).
    let out = migrate(&format!("{}?sslmode=require", db.url), false);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("TLS to PostgreSQL at"), "{said}");
    assert!(said.contains("sslrootcert"), "{said}");

    let out = migrate(
        &format!(
            "{}?sslmode=require&sslrootcert=%2Fnonexistent%2Fca.pem",
            db.url
        ),
        false,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot read sslrootcert /nonexistent/ca.pem"));
}
