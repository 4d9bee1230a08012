//! Who may read the data directory: only the engine's user. At start the process umask
//! becomes 077, so everything written from then on (sled's files, uploads, identities,
//! keys, run files, backups) is created 0600 / 0700; and what an earlier version or a
//! copy left looser is fixed, with one warning naming what was fixed. Unix only: other
//! systems keep their own access control.

use std::path::{Path, PathBuf};

/// How many fixed paths the warning names; the rest are counted.
const NAMED: usize = 5;

/// Makes everything this process creates from now on private to its user (umask 077):
/// called first thing by every command, so that files written by `keys create` and
/// friends beside a running engine are private too.
pub fn private_umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Restricts the process umask, creates `data_dir` (0700) if absent, and fixes the
/// modes under it. Returns the paths fixed.
pub fn secure(data_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    #[cfg(unix)]
    {
        private_umask();
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)?;
        let mut fixed = Vec::new();
        fix_tree(data_dir, &mut fixed)?;
        if !fixed.is_empty() {
            let mut named: Vec<String> = fixed
                .iter()
                .take(NAMED)
                .map(|p| p.display().to_string())
                .collect();
            if fixed.len() > NAMED {
                named.push(format!("and {} more", fixed.len() - NAMED));
            }
            tracing::warn!(
                fixed = fixed.len(),
                "the data directory was readable by other users: made {} private (directories \
                 0700, files 0600): {}",
                fixed.len(),
                named.join(", ")
            );
        }
        Ok(fixed)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(data_dir)?;
        Ok(Vec::new())
    }
}

/// Sets directories to 0700 and files to 0600 where group or others had any access.
/// Symbolic links are left alone (their targets are not ours to change).
#[cfg(unix)]
fn fix_tree(path: &Path, fixed: &mut Vec<PathBuf>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    let mode = meta.permissions().mode() & 0o7777;
    let wanted = if meta.is_dir() {
        0o700
    } else if meta.is_file() {
        0o600
    } else {
        return Ok(());
    };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
        fixed.push(path.to_path_buf());
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            fix_tree(&entry?.path(), fixed)?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn loose_modes_are_fixed_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("db")).expect("mkdir");
        std::fs::write(data.join("db/conf"), "x").expect("write");
        for (p, m) in [(&data, 0o755), (&data.join("db"), 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        std::fs::set_permissions(data.join("db/conf"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let fixed = secure(&data).expect("secure");
        assert_eq!(fixed.len(), 3, "{fixed:?}");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("db")), 0o700);
        assert_eq!(mode(&data.join("db/conf")), 0o600);
        assert!(secure(&data).expect("again").is_empty());
    }
}
