//! What nodes share besides history, on a real PostgreSQL: generated IDs that every
//! node and CLI call agree on, and change notes heard by every node.

use crate::common::postgres::database;
use crate::common::records::{pending_log, request_of};
use std::time::Duration;
use switchboard::model::Environment;
use switchboard::store::identities::Kind;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_resolving_names_at_once_agree_on_every_id() {
    let db = database().await;
    let (a, b) = (db.node().await, db.node().await);
    let wanted = [
        (Kind::Source, "Lab"),
        (Kind::Destination, "Lab"),
        (Kind::Destination, "Acme EHR"),
        (Kind::Organization, "General Hospital"),
    ];
    let (from_a, from_b) =
        tokio::join!(a.resolve_identities(&wanted), b.resolve_identities(&wanted));
    let (from_a, from_b) = (from_a.expect("a"), from_b.expect("b"));
    assert_eq!(from_a, from_b, "both nodes see the same IDs");
    assert_ne!(
        from_a[0], from_a[1],
        "a source and a destination never share an ID"
    );
    let again = a
        .resolve_identities(&[(Kind::Destination, "Acme EHR"), (Kind::Source, "Lab")])
        .await
        .expect("again");
    assert_eq!(again, [from_a[2], from_a[0]], "kept, in the order asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_what_another_committed() {
    let db = database().await;
    let (a, b) = (db.node().await, db.node().await);
    let mut heard = b.listen().await.expect("listen");
    let mut sent = Vec::new();
    for _ in 0..3 {
        let log = pending_log(
            Environment::Development,
            Uuid::from_u128(1),
            Uuid::from_u128(2),
        );
        let request = request_of(&log);
        a.accept(&request, std::slice::from_ref(&log), Some(&[0]))
            .await
            .expect("accept");
        sent.push(log.id);
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let note = tokio::time::timeout(Duration::from_secs(10), heard.notes.recv())
            .await
            .expect("a note within 10 s")
            .expect("listening");
        assert_eq!(note.node, a.node(), "from the node that committed it");
        got.push(note.log);
    }
    assert_eq!(got, sent);

    // An explicit note (an outcome written elsewhere) is heard the same way.
    b.announce(&[sent[0]]).await.expect("announce");
    let note = tokio::time::timeout(Duration::from_secs(10), heard.notes.recv())
        .await
        .expect("a note")
        .expect("listening");
    assert_eq!((note.log, note.node), (sent[0], b.node()));
    assert_eq!(heard.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_assertion_id_is_spent_once_across_nodes_until_it_expires() {
    let db = database().await;
    let (a, b) = (db.node().await, db.node().await);
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::minutes(5);
    assert!(
        a.claim_jti("client-1", "jti-1", until, now)
            .await
            .expect("claim")
    );
    assert!(
        !b.claim_jti("client-1", "jti-1", until, now)
            .await
            .expect("claim"),
        "replayed through another node"
    );
    assert!(
        b.claim_jti("client-2", "jti-1", until, now)
            .await
            .expect("claim"),
        "another client's jti is its own"
    );
    // Once the first assertion expired, its jti may be used again.
    let later = until + chrono::Duration::seconds(1);
    assert!(
        b.claim_jti(
            "client-1",
            "jti-1",
            later + chrono::Duration::minutes(5),
            later
        )
        .await
        .expect("claim")
    );
    assert_eq!(
        a.prune_jtis(later + chrono::Duration::hours(1))
            .await
            .expect("prune"),
        2
    );
}
