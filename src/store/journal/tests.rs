//! The journal: order, the applied wait, ordered updates, waking, replay after a crash.

use super::expander::apply_coalesced;
use super::*;

fn trees() -> (sled::Db, sled::Tree, sled::Tree) {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let journal = db.open_tree("journal").unwrap();
    let target = db.open_tree("target").unwrap();
    (db, journal, target)
}

fn sample() -> Writes {
    let mut w = Writes::default();
    w.insert(b"r1".to_vec(), b"request".to_vec());
    w.insert(b"x1".to_vec(), Vec::new());
    w.remove(b"gone".to_vec());
    w
}

/// Until the expander sleeps, waiting for work.
fn wait_until_idle(j: &Journal) {
    for _ in 0..5_000 {
        if j.shared.lock().idle {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the expander never went idle");
}

/// Whether everything queued gets applied within 5 s, yielding meanwhile so a
/// scheduled wake can run.
async fn drained(j: &Journal) -> bool {
    for _ in 0..500 {
        if j.backlog() == 0 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

fn one(key: &[u8]) -> Writes {
    let mut w = Writes::default();
    w.insert(key.to_vec(), b"v".to_vec());
    w
}

#[tokio::test]
async fn quiet_writes_wait_for_a_wake_and_the_next_wake_takes_them() {
    let (_db, journal, target) = trees();
    let j = Journal::start(journal, target.clone()).unwrap();
    wait_until_idle(&j);
    j.write_quiet(one(b"pending")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(j.backlog(), 1, "a quiet write alone wakes nothing");
    assert!(target.get(b"pending").unwrap().is_none());
    drop(j.wake_on_drop());
    assert!(drained(&j).await, "the guard's wake applied nothing");
    assert!(target.get(b"pending").unwrap().is_some());

    // A write that wakes the expander takes the quiet ones queued before it.
    wait_until_idle(&j);
    j.write_quiet(one(b"quiet")).await.unwrap();
    j.write(one(b"loud"), None).await.unwrap();
    assert!(drained(&j).await);
    assert!(target.get(b"quiet").unwrap().is_some());
    assert!(target.get(b"loud").unwrap().is_some());

    // A reader waiting for "applied" does not wait for anyone else's wake.
    wait_until_idle(&j);
    j.write_quiet(one(b"read")).await.unwrap();
    j.applied().await;
    assert!(target.get(b"read").unwrap().is_some());
}

#[test]
fn a_wake_left_on_a_runtime_that_stops_still_wakes_the_expander() {
    let (_db, journal, target) = trees();
    let j = Journal::start(journal, target.clone()).unwrap();
    wait_until_idle(&j);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The wake is a task this runtime never gets to run.
    runtime.block_on(j.write(one(b"k"), None)).unwrap();
    drop(runtime);
    for _ in 0..500 {
        if j.backlog() == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(j.backlog(), 0);
    assert!(target.get(b"k").unwrap().is_some());
}

#[test]
fn write_sets_round_trip_and_truncation_is_refused() {
    let w = sample();
    let bytes = encode(&w);
    assert_eq!(decode(&bytes).unwrap().ops, w.ops);
    assert!(decode(&bytes[..bytes.len() - 1]).is_none());
    assert!(decode(&[0, 0, 0, 1, b'k', 7]).is_none());
}

#[tokio::test]
async fn applied_records_leave_the_journal_and_the_applied_wait_waits_for_them() {
    let (_db, journal, target) = trees();
    target.insert(b"gone", b"x".to_vec()).unwrap();
    let j = Journal::start(journal.clone(), target.clone()).unwrap();
    let record = j.record(sample()).await.unwrap();
    assert_eq!(journal.len(), 1);
    let (tx, rx) = std::sync::mpsc::channel();
    j.apply(record, Some(Box::new(move || tx.send(()).unwrap())));
    j.applied().await;
    assert_eq!(target.get(b"r1").unwrap().unwrap(), b"request".as_slice());
    j.wait_applied();
    assert_eq!(target.get(b"r1").unwrap().unwrap(), b"request".as_slice());
    assert!(target.get(b"gone").unwrap().is_none());
    assert!(journal.is_empty());
    assert_eq!(j.backlog(), 0);
    rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
}

#[tokio::test]
async fn writes_queued_together_end_as_if_applied_one_by_one() {
    let (_db, journal, target) = trees();
    let j = Journal::start(journal, target.clone()).unwrap();
    let mut model = std::collections::BTreeMap::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..200u32 {
        let mut writes = Writes::default();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = vec![b'k', (x % 6) as u8];
            if x.is_multiple_of(3) {
                writes.remove(key.clone());
                model.remove(&key);
            } else {
                writes.insert(key.clone(), round.to_be_bytes().to_vec());
                model.insert(key, round.to_be_bytes().to_vec());
            }
        }
        j.write(writes, None).await.unwrap();
    }
    j.wait_applied();
    let stored: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = target
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert_eq!(stored, model);
}

#[tokio::test]
async fn a_batch_applies_only_the_last_write_of_each_key() {
    let (_db, _journal, target) = trees();
    let sets: Vec<Writes> = [
        vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"1".to_vec())),
        ],
        vec![(b"a".to_vec(), None), (b"c".to_vec(), Some(b"2".to_vec()))],
        vec![(b"b".to_vec(), Some(b"3".to_vec()))],
    ]
    .into_iter()
    .map(|ops| Writes { ops })
    .collect();
    target.insert(b"a", b"0".as_slice()).unwrap();
    apply_coalesced(&target, &sets.iter().collect::<Vec<_>>()).unwrap();
    assert!(target.get(b"a").unwrap().is_none());
    assert_eq!(target.get(b"b").unwrap().unwrap(), b"3".as_slice());
    assert_eq!(target.get(b"c").unwrap().unwrap(), b"2".as_slice());
}

#[tokio::test]
async fn replay_applies_what_a_crash_left_and_discard_forgets() {
    let (_db, journal, target) = trees();
    {
        let j = Journal::start(journal.clone(), target.clone()).unwrap();
        // Journaled but never handed to the expander: what a crash after the
        // flush and before the expansion leaves.
        let kept = j.record(sample()).await.unwrap();
        std::mem::forget(kept);
        let dropped = j.record(sample()).await.unwrap();
        j.discard(dropped);
    }
    assert_eq!(journal.len(), 1);
    assert!(target.get(b"r1").unwrap().is_none());
    assert_eq!(replay(&journal, &target).unwrap(), 1);
    assert!(journal.is_empty());
    assert!(target.get(b"r1").unwrap().is_some());
    // Applying again is harmless.
    assert_eq!(replay(&journal, &target).unwrap(), 0);
}

#[tokio::test]
async fn an_ordered_update_reads_what_was_queued_before_it_and_is_applied_when_it_returns() {
    let (_db, journal, target) = trees();
    let j = Journal::start(journal, target.clone()).unwrap();
    wait_until_idle(&j);
    // Queued without a wake: the update must still see it.
    j.write_quiet(one(b"before")).await.unwrap();
    let seen = j
        .ordered(|now| {
            let seen = now.raw(b"before");
            (one(b"after"), seen)
        })
        .await
        .unwrap();
    assert_eq!(seen, Some(b"v".to_vec()));
    assert!(target.get(b"after").unwrap().is_some());
    assert_eq!(j.backlog(), 0);
}

#[tokio::test]
async fn a_panicking_update_fails_alone_and_the_expander_goes_on() {
    let (_db, journal, target) = trees();
    let j = Journal::start(journal, target.clone()).unwrap();
    let failed = j
        .ordered(|_| -> (Writes, ()) { panic!("a bug in an update") })
        .await;
    assert!(failed.is_err());
    j.write(one(b"next"), None).await.unwrap();
    j.applied().await;
    assert!(target.get(b"next").unwrap().is_some());
}

#[test]
fn a_read_with_nothing_pending_does_not_wait_and_one_with_writes_pending_does() {
    let (_db, journal, target) = trees();
    let j = Journal::start(journal, target.clone()).unwrap();
    wait_until_idle(&j);
    j.wait_applied();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Queued without a wake, so only the reader's own wait gets it applied.
    runtime.block_on(j.write_quiet(one(b"quiet"))).unwrap();
    assert_eq!(j.backlog(), 1);
    j.wait_applied();
    assert!(target.get(b"quiet").unwrap().is_some());
}
