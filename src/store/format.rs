//! The format version of a data directory: one number for the layout of everything the
//! store keeps (sled's trees and their record encodings, the journal's write sets, and
//! the files beside sled: `credentials/`, `identities.json`, `uploads/`), kept in the
//! `meta` tree.
//!
//! At open ([`upgrade`]):
//! - no version: a store from before versions existed, which is the first format; it
//!   is stamped;
//! - a newer version than this binary knows: refused before anything is written
//!   ([`StoreError::NewerFormat`]), since an older binary would misread or overwrite
//!   what it does not know;
//! - an older one: the [`MIGRATIONS`] run in order, each step's version written
//!   (and flushed) as soon as it is done, so a crash resumes at the step it stopped in.
//!   A migration must therefore be safe to run again over its own partial work.
//!
//! Adding a format: write `fn vN_to_vM(at: &Migrating) -> Result<()>` and add one
//! line to [`MIGRATIONS`]; [`CURRENT`] follows from the table.
//!
//! The history index has its own version ([`super::history`]): it is derived data that
//! is rebuilt from the logs whenever its layout changes, at any format, so it stays
//! outside this table.

use super::{Result, StoreError};
use std::path::Path;

/// The `meta` key of the format version (u32, big-endian).
pub(crate) const KEY: &[u8] = b"format-version";
/// The format of stores written before versions existed.
pub const FIRST: u32 = 1;
/// The format this binary writes: the first one plus one per migration.
pub const CURRENT: u32 = FIRST + MIGRATIONS.len() as u32;

/// What a migration works on: the opened database and the data directory around it.
pub struct Migrating<'a> {
    pub db: &'a sled::Db,
    pub data_dir: &'a Path,
}

/// One step, from format `from` to `from + 1`.
pub struct Migration {
    pub from: u32,
    pub run: fn(&Migrating) -> Result<()>,
}

/// Every step from [`FIRST`] to [`CURRENT`], in order (one line each).
pub const MIGRATIONS: &[Migration] = &[Migration {
    from: 1,
    run: v1_to_v2,
}];

/// Format 2: records and bodies may be stored packed (compressed, see
/// [`super::codec`]). Nothing is converted: a packed value is told apart by its first
/// bytes and earlier records read as they are. The step exists for its number, which
/// keeps a switchboard of format 1 from opening a store it would misread.
fn v1_to_v2(_: &Migrating) -> Result<()> {
    Ok(())
}

/// The version a store records, if it records one.
pub fn stored(meta: &sled::Tree) -> Result<Option<u32>> {
    let Some(bytes) = meta.get(KEY)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = bytes.as_ref().try_into().map_err(|_| StoreError::Corrupt {
        key: "meta format-version".into(),
        reason: format!("{} bytes where 4 were expected", bytes.len()),
    })?;
    Ok(Some(u32::from_be_bytes(bytes)))
}

/// Refuses a store of a newer format than `known`, before anything is written.
pub(crate) fn refuse_newer(meta: &sled::Tree, db_path: &Path, known: u32) -> Result<()> {
    match stored(meta)? {
        Some(found) if found > known => Err(StoreError::NewerFormat {
            path: db_path.to_path_buf(),
            found,
            known,
        }),
        _ => Ok(()),
    }
}

/// Brings the store at `at` to the newest format of `migrations`: stamps a store
/// without a version, runs the steps it lacks. Returns the steps run. The engine calls
/// it with [`MIGRATIONS`]; tests with their own table.
pub(crate) fn upgrade(at: &Migrating, migrations: &[Migration]) -> Result<usize> {
    let meta = at.db.open_tree("meta")?;
    let known = FIRST + migrations.len() as u32;
    let db_path = at.data_dir.join("db");
    refuse_newer(&meta, &db_path, known)?;
    let found = stored(&meta)?;
    let mut version = found.unwrap_or(FIRST);
    if found.is_none() {
        meta.insert(KEY, &version.to_be_bytes())?;
        at.db.flush()?;
    }
    let mut ran = 0;
    while let Some(step) = migrations.iter().find(|m| m.from == version) {
        tracing::info!(
            from = version,
            to = version + 1,
            "migrating the store's format"
        );
        (step.run)(at)?;
        version += 1;
        meta.insert(KEY, &version.to_be_bytes())?;
        at.db.flush()?;
        ran += 1;
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_table_steps_one_version_at_a_time() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.from, FIRST + i as u32, "migration {i} starts elsewhere");
        }
    }

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    /// A test step: marks that it ran, in the store and in a counter.
    fn v1_to_v2(at: &Migrating) -> Result<()> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        at.db.open_tree("meta")?.insert(b"test-migrated", &[1])?;
        Ok(())
    }

    #[test]
    fn an_unversioned_store_is_stamped_and_a_registered_step_runs_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path().join("db")).expect("sled");
        let at = Migrating {
            db: &db,
            data_dir: dir.path(),
        };
        let meta = db.open_tree("meta").expect("meta");
        assert_eq!(upgrade(&at, &[]).expect("stamp"), 0);
        assert_eq!(stored(&meta).expect("read"), Some(FIRST));

        let table = [Migration {
            from: 1,
            run: v1_to_v2,
        }];
        assert_eq!(upgrade(&at, &table).expect("migrate"), 1);
        assert_eq!(stored(&meta).expect("read"), Some(2));
        assert!(meta.get(b"test-migrated").expect("get").is_some());
        assert_eq!(upgrade(&at, &table).expect("again"), 0, "ran twice");
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);

        // The table without the step is a binary that knows only format 1.
        let e = upgrade(&at, &[]).expect_err("newer").to_string();
        assert!(
            e.contains("format version 2") && e.contains("up to 1"),
            "{e}"
        );
        assert_eq!(stored(&meta).expect("read"), Some(2), "left as it was");
    }
}
