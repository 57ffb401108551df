//! The data directory of one running server: created when missing, held with an advisory lock
//! for the server's lifetime, and emptied again when a first start fails.
//!
//! The embedded store assumes one writer per directory (its writer thread's caches are the
//! committed state), so a second server on a directory in use is refused before it touches
//! anything. The lock is `flock`-style (std's `File::try_lock`): the kernel drops it when the
//! process ends, however it ends, so a killed server never leaves a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::config::ConfigError;

/// The lock file's name inside the data directory. It stays there: deleting a lock file
/// another process may be about to lock would let two servers in.
pub const LOCK_FILE: &str = "tidings.lock";

/// A data directory this process holds. Dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DataDir {
    path: PathBuf,
    /// Held for the lock; never read or written.
    _lock: File,
    /// The directory did not exist, or was empty, before this start.
    fresh: bool,
    /// The directory itself was created by this start.
    created: bool,
}

impl DataDir {
    /// Creates the directory if it is missing and locks it; refuses a directory another
    /// server holds.
    pub(crate) fn acquire(path: &Path) -> Result<Self, ConfigError> {
        let io_error = |source| ConfigError::DataDir {
            path: path.to_owned(),
            source,
        };
        let created = !path.exists();
        std::fs::create_dir_all(path).map_err(io_error)?;
        let fresh = created || std::fs::read_dir(path).map_err(io_error)?.next().is_none();
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error)?;
        match lock.try_lock() {
            Ok(()) => Ok(Self {
                path: path.to_owned(),
                _lock: lock,
                fresh,
                created,
            }),
            Err(TryLockError::WouldBlock) => Err(ConfigError::DataDirInUse {
                path: path.to_owned(),
                lock: lock_path,
            }),
            Err(TryLockError::Error(source)) => Err(io_error(source)),
        }
    }

    /// A start that failed: when the directory was new or empty, remove what this start put
    /// in it (and the directory, when this start created it), so that nothing is left behind.
    /// A directory that held data keeps it untouched.
    pub(crate) fn discard_if_fresh(self) {
        if !self.fresh {
            return;
        }
        let outcome = if self.created {
            std::fs::remove_dir_all(&self.path)
        } else {
            empty_directory(&self.path)
        };
        if let Err(e) = outcome {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove what a failed start created");
        }
    }
}

fn empty_directory(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::acquire(dir.path()).unwrap();
        let refused = DataDir::acquire(dir.path()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "data directory {} is in use by another tidings server (it holds {})",
                dir.path().display(),
                dir.path().join(LOCK_FILE).display()
            )
        );
        drop(first);
        DataDir::acquire(dir.path()).expect("free again");
    }

    #[test]
    fn a_failed_first_start_leaves_nothing_and_old_data_stays() {
        let parent = tempfile::tempdir().unwrap();
        let new_dir = parent.path().join("data");
        let held = DataDir::acquire(&new_dir).unwrap();
        std::fs::write(new_dir.join("secret.key"), "k").unwrap();
        held.discard_if_fresh();
        assert!(!new_dir.exists());

        let empty = tempfile::tempdir().unwrap();
        let held = DataDir::acquire(empty.path()).unwrap();
        std::fs::write(empty.path().join("tidings.db"), "x").unwrap();
        held.discard_if_fresh();
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);

        let used = tempfile::tempdir().unwrap();
        std::fs::write(used.path().join("tidings.db"), "data").unwrap();
        let held = DataDir::acquire(used.path()).unwrap();
        held.discard_if_fresh();
        assert_eq!(
            std::fs::read_to_string(used.path().join("tidings.db")).unwrap(),
            "data"
        );
    }
}
