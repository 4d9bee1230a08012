//! Queue leases across nodes on a real PostgreSQL: one node delivers a queue at a
//! time, a dead node's queue is taken over once its lease expires, and a node that
//! lost its lease cannot write an outcome (it stops before delivering again).

use crate::common::postgres::database;
use crate::common::records::{self, delivered, request_of};
use chrono::Utc;
use std::time::Duration;
use switchboard::model::{Environment, LogRecord, LogStatus};
use switchboard::store::QueueId;
use uuid::Uuid;

const QUEUE: QueueId = QueueId {
    destination: Uuid::from_u128(10),
    source: Uuid::from_u128(1),
    lane: 0,
};

fn pending_log() -> LogRecord {
    records::pending_log(Environment::Staging, QUEUE.source, QUEUE.destination)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_delivers_a_queue_and_another_takes_it_over_when_the_lease_lapses() {
    let db = database().await;
    let (a, b) = (db.node().await, db.node().await);
    let (node_a, node_b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut logs = Vec::new();
    for _ in 0..4 {
        let log = pending_log();
        let request = request_of(&log);
        a.accept(&request, std::slice::from_ref(&log), Some(&[0]))
            .await
            .expect("accept");
        logs.push(log);
    }

    let ttl = Duration::from_millis(800);
    let lease_a = a
        .try_lease(&QUEUE, node_a, ttl)
        .await
        .expect("lease")
        .expect("A takes it");
    assert_eq!(
        b.try_lease(&QUEUE, node_b, ttl).await.expect("lease"),
        None,
        "B must wait"
    );
    assert!(
        b.deliverable_queues(node_b)
            .await
            .expect("queues")
            .is_empty()
    );
    assert_eq!(a.deliverable_queues(node_a).await.expect("queues"), [QUEUE]);
    assert_eq!(
        b.delivering_nodes().await.expect("who"),
        [(QUEUE.destination, node_a)],
        "any node can say who delivers"
    );

    // A delivers the head.
    let head = a.head(&QUEUE).await.expect("head").expect("an item");
    assert_eq!(head.log_id, logs[0].id);
    let (new, attempt) = delivered(&logs[0]);
    assert!(
        a.settle(&lease_a, &head, &new, |_| new.clone(), Some(&attempt), true)
            .await
            .expect("settle")
            .is_some()
    );
    assert_eq!(
        a.head(&QUEUE).await.expect("head").map(|i| i.log_id),
        Some(logs[1].id)
    );

    // A stops renewing (it died, or hangs): once the lease lapses B takes the queue.
    let deadline = std::time::Instant::now() + ttl + Duration::from_secs(10);
    while b
        .deliverable_queues(node_b)
        .await
        .expect("queues")
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the lease never lapsed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.deliverable_queues(node_b).await.expect("queues"), [QUEUE]);
    let lease_b = b
        .try_lease(&QUEUE, node_b, Duration::from_secs(30))
        .await
        .expect("lease")
        .expect("B takes over");

    // A comes back with an outcome for the next item: refused, nothing written.
    let head = a.head(&QUEUE).await.expect("head").expect("an item");
    let (late, late_attempt) = delivered(&logs[1]);
    assert!(
        a.settle(
            &lease_a,
            &head,
            &late,
            |_| late.clone(),
            Some(&late_attempt),
            true
        )
        .await
        .expect("settle")
        .is_none()
    );
    assert_eq!(
        b.log(logs[1].id).await.expect("log").expect("log").status,
        LogStatus::Pending
    );
    assert!(b.attempts(logs[1].id).await.expect("attempts").is_empty());
    assert_eq!(a.try_lease(&QUEUE, node_a, ttl).await.expect("lease"), None);

    // B delivers the rest, in order, once each.
    for log in &logs[1..] {
        let head = b.head(&QUEUE).await.expect("head").expect("an item");
        assert_eq!(head.log_id, log.id, "in order");
        let (new, attempt) = delivered(log);
        assert!(
            b.settle(&lease_b, &head, &new, |_| new.clone(), Some(&attempt), true)
                .await
                .expect("settle")
                .is_some()
        );
    }
    assert_eq!(b.head(&QUEUE).await.expect("head"), None);
    for log in &logs {
        assert_eq!(
            a.log(log.id).await.expect("log").expect("log").status,
            LogStatus::Succeeded
        );
        assert_eq!(a.attempts(log.id).await.expect("attempts").len(), 1);
    }

    // A clean stop gives the queue back at once.
    b.release_lease(&lease_b).await.expect("release");
    assert!(
        a.try_lease(&QUEUE, node_a, ttl)
            .await
            .expect("lease")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_polled_through_one_node_is_acknowledged_through_another() {
    let db = database().await;
    let (a, b) = (db.node().await, db.node().await);
    let mut logs = Vec::new();
    for _ in 0..6 {
        let log = pending_log();
        let request = request_of(&log);
        b.accept(&request, std::slice::from_ref(&log), Some(&[0]))
            .await
            .expect("accept");
        logs.push(log);
    }
    let now = Utc::now().timestamp_millis() as u64;
    let until = now + 60_000;
    // Two nodes polling at once split the items; none is handed out twice.
    let (from_a, from_b) = tokio::join!(
        a.poll_lease(QUEUE.destination, 4, now, until),
        b.poll_lease(QUEUE.destination, 4, now, until)
    );
    let (from_a, from_b) = (from_a.expect("a"), from_b.expect("b"));
    assert_eq!(from_a.len() + from_b.len(), 6, "{from_a:?} {from_b:?}");
    assert!(
        from_a
            .iter()
            .all(|i| !from_b.iter().any(|j| j.log_id == i.log_id))
    );
    assert!(
        a.poll_lease(QUEUE.destination, 4, now, until)
            .await
            .expect("again")
            .is_empty()
    );

    // A's batch is acknowledged through B.
    let acks: Vec<Uuid> = from_a.iter().map(|item| item.log_id).collect();
    let acked = b
        .ack_polled(QUEUE.destination, &acks, delivered)
        .await
        .expect("ack");
    assert_eq!(acked.len(), from_a.len());
    assert!(
        b.ack_polled(QUEUE.destination, &acks, delivered)
            .await
            .expect("twice")
            .is_empty(),
        "an ack is once"
    );
    for item in &from_a {
        assert_eq!(
            a.log(item.log_id).await.expect("log").expect("log").status,
            LogStatus::Succeeded
        );
    }

    // B's batch, never acknowledged, is handed out again once its lease has passed.
    let later = until + 1;
    let again = a
        .poll_lease(QUEUE.destination, 10, later, later + 60_000)
        .await
        .expect("later");
    let mut again: Vec<Uuid> = again.iter().map(|i| i.log_id).collect();
    let mut unacked: Vec<Uuid> = from_b.iter().map(|i| i.log_id).collect();
    again.sort();
    unacked.sort();
    assert_eq!(again, unacked);
}
