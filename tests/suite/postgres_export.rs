//! `switchboard export --from sled:DIR --to postgres://…` on a real PostgreSQL: history
//! and queues arrive whole and in order, generated IDs keep their values, a second run
//! adds nothing, and a running engine or a database that names things otherwise is
//! refused with what to do.

use crate::common::bin::BIN;
use crate::common::postgres::database;
use crate::common::records::{delivered, pending_log, request_of};
use serde_json::Value;
use std::process::Command;
use switchboard::model::{Environment, LogRecord, LogStatus};
use switchboard::store::identities::{Kind, resolve};
use switchboard::store::postgres::{PgLocation, PgStore};
use switchboard::store::{QueueId, Sealer, Store};
use uuid::Uuid;

fn log(destination: Uuid, status: LogStatus) -> LogRecord {
    let mut log = pending_log(Environment::Staging, Uuid::from_u128(1), destination);
    log.status = status;
    log.patient_id = Some("MRN7".into());
    log
}

fn export(from: &str, to: &str) -> (bool, String, String) {
    export_with(&["--from", from, "--to", to])
}

fn export_with(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("export")
        .args(args)
        .arg("--json")
        .env_remove("SWITCHBOARD_STORE")
        .env_remove("SWITCHBOARD_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run export");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_postgres_with_its_queues_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = resolve(
        dir.path(),
        &[(Kind::Source, "Lab"), (Kind::Destination, "EHR")],
    )
    .expect("generated IDs");
    let queue = QueueId {
        destination: ids[1],
        source: Uuid::from_u128(1),
        lane: 0,
    };
    let (mut succeeded, mut waiting) = (Vec::new(), Vec::new());
    {
        let store = Store::open(dir.path()).expect("sled store");
        for i in 0..30 {
            let status = if i < 10 {
                LogStatus::Succeeded
            } else {
                LogStatus::Pending
            };
            let l = log(ids[1], status);
            let mut request = request_of(&l);
            request.payload = serde_json::json!({"Meta": {"DataModel": "Results"}, "n": i});
            let lanes = (status == LogStatus::Pending).then_some([0u64]);
            store
                .insert_accepted(
                    &request,
                    std::slice::from_ref(&l),
                    lanes.as_ref().map(|l| &l[..]),
                )
                .expect("insert");
            if status == LogStatus::Succeeded {
                let (_, attempt) = delivered(&l);
                let writes = Store::update_writes(
                    store.sealer(),
                    &l,
                    &l,
                    Some(&attempt),
                    Some(b"{\"answer\":1}"),
                );
                store.journal().write_quiet(writes).await.expect("attempt");
                succeeded.push(l.id);
            } else {
                waiting.push(l.id);
            }
        }
        store.journal().applied().await;
        assert_eq!(store.queued(ids[1]).expect("queued"), waiting);
    }

    let db = database().await;
    let (ok, out, err) = export(&format!("sled:{}", dir.path().display()), &db.url);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["requests"], 30);
    assert_eq!(report["logs"], 30);
    assert_eq!(report["attempts"], 10);
    assert_eq!(report["responses"], 10);
    assert_eq!(report["queued"], 20);
    assert_eq!(report["identities"], 2);

    let at: PgLocation = db.url.parse().expect("location");
    let pg = PgStore::open(&at, Sealer::default(), "test")
        .await
        .expect("open");
    assert_eq!(
        pg.queued(&queue).await.expect("queued"),
        waiting,
        "in order"
    );
    for id in &succeeded {
        assert_eq!(
            pg.log(*id).await.expect("log").expect("log").status,
            LogStatus::Succeeded
        );
        assert_eq!(pg.attempts(*id).await.expect("attempts").len(), 1);
    }
    let same = pg
        .resolve_identities(&[(Kind::Source, "Lab"), (Kind::Destination, "EHR")])
        .await
        .expect("IDs");
    assert_eq!(same, ids, "the sled installation's IDs, kept");

    // New traffic queues behind what was exported.
    let l = log(ids[1], LogStatus::Pending);
    let request = request_of(&l);
    pg.accept(&request, std::slice::from_ref(&l), Some(&[0]))
        .await
        .expect("accept");
    let queued = pg.queued(&queue).await.expect("queued");
    assert_eq!(queued.last(), Some(&l.id));
    assert_eq!(&queued[..20], waiting.as_slice());

    // Again, naming the data directory as other commands do: nothing new, nothing
    // doubled.
    let data_dir = dir.path().display().to_string();
    let (ok, out, err) = export_with(&["--data-dir", &data_dir, "--to", &db.url]);
    assert!(ok, "{err}");
    let again: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(again["logs"], 0);
    assert_eq!(again["queued"], 0);
    assert_eq!(again["skipped"], 30 + 30 + 10 + 10 + 20);

    // A database that already names the destination otherwise is refused.
    let other = database().await;
    let at: PgLocation = other.url.parse().expect("location");
    let pg = PgStore::open(&at, Sealer::default(), "test")
        .await
        .expect("open");
    pg.resolve_identities(&[(Kind::Destination, "EHR")])
        .await
        .expect("another ID");
    let (ok, _, err) = export(&dir.path().display().to_string(), &other.url);
    assert!(!ok);
    assert!(
        err.contains("already gives destination \"EHR\" the ID"),
        "{err}"
    );
    assert!(err.contains("export into a new database"), "{err}");

    // Not a data directory.
    let (ok, _, err) = export("/nonexistent/switchboard", &db.url);
    assert!(!ok);
    assert!(err.contains("holds no sled store"), "{err}");
}
