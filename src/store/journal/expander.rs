//! The expander: the one thread that applies queued write sets to the exchange tree,
//! in the order they were queued (journaled records, quiet writes and ordered updates
//! alike), and [`replay`], which applies what a stop or crash left in the journal.

use super::*;

/// What an update's caller is told once its writes are applied (or failed).
pub(super) type Done = Box<dyn FnOnce(Option<String>) + Send>;

pub(super) fn expand_loop(shared: &Shared) {
    EXPANDER.with(|e| e.set(true));
    loop {
        let mut batch: Vec<Pending> = {
            let mut state = shared.lock();
            // Quiet writes may sit queued while it sleeps: the next wake takes them too.
            while state.queue.is_empty() && !state.stopped {
                state.idle = true;
                state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.idle = false;
            state.wake_scheduled = false;
            if state.queue.is_empty() {
                // Stopped and nothing left: wake anyone waiting for it.
                shared.progress.notify_all();
                return;
            }
            let n = state.queue.len().min(EXPAND_BATCH);
            state.queue.drain(..n).collect()
        };
        let all_applied = Cell::new(true);
        let failed = |e: &dyn std::fmt::Display| {
            all_applied.set(false);
            tracing::error!(error = %e, "applying journal records failed");
            shared.lock().failed.get_or_insert_with(|| e.to_string());
        };
        let writing = shared.gate.read().unwrap_or_else(|e| e.into_inner());
        // Plain write sets are applied a run at a time (coalesced); an update ends a
        // run, so that it reads everything queued before it.
        let mut run: Vec<Writes> = Vec::new();
        let mut done: Vec<(Done, Option<String>)> = Vec::new();
        let apply_run = |run: &mut Vec<Writes>| {
            let sets: Vec<&Writes> = run.iter().collect();
            if let Err(e) = apply_coalesced(&shared.target, &sets) {
                // Journaled records stay in the journal: the next start applies them.
                failed(&e);
            }
            run.clear();
        };
        for pending in &mut batch {
            match std::mem::replace(&mut pending.work, Work::Writes(Writes::default())) {
                Work::Writes(writes) => run.push(writes),
                Work::Update(update) => {
                    apply_run(&mut run);
                    let applied = Applied::new(&shared.target, &shared.sealer);
                    // A panic in an update must not take the expander (and every
                    // writer waiting on it) down: the update fails alone.
                    let computed =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| update(&applied)));
                    match computed {
                        Ok((writes, tell)) => {
                            let outcome = apply_coalesced(&shared.target, &[&writes]).err();
                            if let Some(e) = &outcome {
                                failed(e);
                            }
                            done.push((tell, outcome.map(|e| e.to_string())));
                        }
                        Err(_) => tracing::error!("a journal update panicked; it was dropped"),
                    }
                }
            }
        }
        apply_run(&mut run);
        // A record leaves the journal only once applied; after a failure they all
        // stay, and the next start applies them again.
        if all_applied.get() {
            for key in batch.iter().filter_map(|p| p.key.as_ref()) {
                if let Err(e) = shared.journal.remove(key) {
                    failed(&e);
                    break;
                }
            }
        }
        drop(writing);
        let applied = {
            let mut state = shared.lock();
            state.applied += batch.len() as u64;
            shared
                .unapplied
                .fetch_sub(batch.len() as u64, Ordering::SeqCst);
            state.applied
        };
        shared.progress.notify_all();
        shared.applied.send_replace(applied);
        // Callbacks last: whoever they wake reads a store that has caught up with them.
        let mut after = Vec::with_capacity(batch.len());
        for pending in batch {
            after.extend(pending.after);
            // Dropping the entry releases its backlog permit.
        }
        for f in after {
            f();
        }
        for (tell, outcome) in done {
            tell(outcome);
        }
    }
}

/// Applies `sets` in order, skipping every write that a later one replaces (under load
/// a query's pending log and its outcome are often drained together): the same end
/// state with fewer sled writes. Journaled records are never cut this way: nothing else
/// writes their keys before they are applied.
pub(super) fn apply_coalesced(
    tree: &sled::Tree,
    sets: &[&Writes],
) -> std::result::Result<(), sled::Error> {
    let mut last: HashMap<&[u8], (usize, usize)> = HashMap::new();
    for (i, writes) in sets.iter().enumerate() {
        for (j, (key, _)) in writes.ops.iter().enumerate() {
            last.insert(key.as_slice(), (i, j));
        }
    }
    for (i, writes) in sets.iter().enumerate() {
        for (j, (key, value)) in writes.ops.iter().enumerate() {
            if last.get(key.as_slice()) != Some(&(i, j)) {
                continue;
            }
            match value {
                Some(v) => tree.insert(key.as_slice(), v.as_slice())?,
                None => tree.remove(key.as_slice())?,
            };
        }
    }
    Ok(())
}

/// Applies every record left by a stop or crash, oldest first; run before anything
/// reads `target`.
pub fn replay(journal: &sled::Tree, target: &sled::Tree) -> Result<usize> {
    let mut count = 0;
    for entry in journal.iter() {
        let (key, value) = entry?;
        let writes = decode(&value).ok_or_else(|| StoreError::Corrupt {
            key: format!("journal {}", hex(&key)),
            reason: "truncated write set".into(),
        })?;
        apply_coalesced(target, &[&writes])?;
        journal.remove(&key)?;
        count += 1;
    }
    if count > 0 {
        tracing::info!(
            records = count,
            "applied journal records left by the last run"
        );
    }
    Ok(count)
}
