//! Replay records of the JWT flow: each assertion's `jti` is single-use for the
//! assertion's lifetime. One sled tree, `oauth_jti`: `client_id \0 jti` → the instant
//! (ms since the epoch, big-endian) until which the `jti` stays spent. Records past it
//! are pruned, at most once a minute, by the claims themselves: the tree holds at most
//! the assertions of the last few minutes.

use super::{Result, Store};
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often expired records are swept.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct Replays {
    tree: sled::Tree,
    last_prune: Mutex<Option<Instant>>,
    /// On nodes sharing a PostgreSQL store the records live there, so an assertion
    /// replayed through another node is caught too.
    shared: Option<super::postgres::PgStore>,
}

fn key(client_id: &str, jti: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(client_id.len() + 1 + jti.len());
    key.extend_from_slice(client_id.to_ascii_lowercase().as_bytes());
    key.push(0);
    key.extend_from_slice(jti.as_bytes());
    key
}

fn until_of(value: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(value.try_into().ok()?))
}

impl Replays {
    pub fn open(store: &Store) -> Result<Replays> {
        Ok(Replays {
            tree: store.db().open_tree("oauth_jti")?,
            last_prune: Mutex::new(None),
            shared: None,
        })
    }

    /// These records, kept in `shared` instead.
    pub fn shared(mut self, shared: Option<super::postgres::PgStore>) -> Replays {
        self.shared = shared;
        self
    }

    /// Spends `jti` of `client_id` until `until`. False when it was spent already (and
    /// has not expired): a replay. Atomic, so two copies racing in get one `true`.
    pub fn claim(
        &self,
        client_id: &str,
        jti: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.prune_now_and_then(now)?;
        if let Some(shared) = &self.shared {
            let client_id = client_id.to_ascii_lowercase();
            return Ok(super::postgres::blocking::wait(
                shared.claim_jti(&client_id, jti, until, now),
            )?);
        }
        let key = key(client_id, jti);
        let value = until.timestamp_millis().to_be_bytes();
        let now_ms = now.timestamp_millis();
        let mut first = false;
        self.tree.fetch_and_update(&key, |old| {
            first = old.and_then(until_of).is_none_or(|spent| spent <= now_ms);
            if first {
                Some(value.to_vec())
            } else {
                old.map(<[u8]>::to_vec)
            }
        })?;
        Ok(first)
    }

    /// Removes the records that expired; how many.
    pub fn prune(&self, now: DateTime<Utc>) -> Result<usize> {
        if let Some(shared) = &self.shared {
            return Ok(super::postgres::blocking::wait(shared.prune_jtis(now))?);
        }
        let now_ms = now.timestamp_millis();
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.tree.iter() {
            let (k, v) = item?;
            if until_of(&v).is_none_or(|until| until <= now_ms) {
                batch.remove(k);
                n += 1;
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(n)
    }

    fn prune_now_and_then(&self, now: DateTime<Utc>) -> Result<()> {
        {
            let mut last = match self.last_prune.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if last.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        self.prune(now).map(|_| ())
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration as Span;

    #[test]
    fn a_jti_is_spent_once_until_it_expires_and_then_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let replays = Replays::open(&store).expect("tree");
        let now = Utc::now();
        let until = now + Span::minutes(5);
        assert!(replays.claim("client", "a", until, now).expect("claim"));
        assert!(!replays.claim("client", "a", until, now).expect("replay"));
        assert!(
            !replays
                .claim("CLIENT", "a", until, now)
                .expect("same client")
        );
        // Another client's jti is its own.
        assert!(replays.claim("other", "a", until, now).expect("other"));
        // Once expired, the record no longer stands, and the sweep removes it.
        let later = until + Span::seconds(1);
        assert_eq!(replays.prune(later).expect("prune"), 2);
        assert!(replays.is_empty());
        assert!(
            replays
                .claim("client", "a", later + Span::minutes(5), later)
                .expect("again")
        );
    }
}
