//! The console attached over HTTP to one node of a PostgreSQL cluster, in a real
//! terminal (tmux): traffic sent through the other node shows in its feed, and its
//! Connections pane names the node delivering each destination.

use crate::common::bin::BIN;
use crate::common::payload;
use crate::common::postgres::database;
use crate::common::tmux::{screen, start, wait_for};
use std::time::{Duration, Instant};
use switchboard::model::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_on_one_node_follows_the_other_nodes_traffic_and_who_delivers() {
    let db = database().await;
    // Its queue stays leased by the node retrying it: the pane names that node.
    let (_stub, a, b) = crate::cluster_nodes::two_nodes_and_a_failing_destination(&db).await;
    let admin = b.admin_token(Role::Admin);

    let name = format!("sbc-{}", std::process::id());
    let session = start(
        &name,
        &format!(
            "{BIN} console --engine {base} --token {admin} --data-dir {d}; echo CONSOLE-EXITED-$?; sleep 30",
            base = b.base,
            d = b.dir.path().join("console").display()
        ),
    );
    wait_for(&session, "role admin");
    wait_for(&session, "EHR");

    // Sent through node A only.
    let token = a.token("Lab").await;
    let ehr = a.destination_id("EHR");
    for n in 0..3 {
        let (status, body) = a
            .post_json(
                "/endpoint",
                Some(&token),
                &payload("PatientAdmin", "Arrival", &[ehr], &format!("MRN-{n}")),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = screen(&session);
        if now.matches("PatientAdmin").count() >= 3 && now.contains(" via ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node A's traffic and the delivering node never showed on node B's console:\n{now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = screen(&session);
    assert!(
        shown.contains("127.0.0.1:"),
        "the delivering node is named by its address:\n{shown}"
    );
}
