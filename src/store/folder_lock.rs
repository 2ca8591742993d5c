//! One fss per data folder: the lock file that makes a second one refuse to start.
//!
//! The embedded databases are SQLite files that one process writes; two processes on one
//! data folder would each keep their own in-memory view of the registry and the
//! listeners, and the second would reconcile away the first one's uploads. So the binary
//! takes an exclusive lock on `fss.lock` in the data folder before it opens anything, and
//! holds it until it exits; the operating system releases it however the process ends,
//! so a killed fss leaves no stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The lock file in the data folder.
pub(crate) const LOCK_FILE: &str = "fss.lock";

/// The held lock of a data folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `data_dir` (made if missing).
    ///
    /// # Errors
    ///
    /// Another process holds it (the message names the folder and the lock file and
    /// says what to do), or the file cannot be made.
    pub fn take(data_dir: &Path) -> Result<FolderLock, String> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("the lock file {} cannot be opened: {e}", path.display()))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(format!(
                    "the data folder {} is in use by another fss (lock file {} held{}); give each \
                     instance its own --data, and share state with --database",
                    data_dir.display(),
                    path.display(),
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" by process {holder}")
                    }
                ));
            }
            Err(e) => {
                return Err(format!(
                    "the lock file {} cannot be locked: {e}",
                    path.display()
                ));
            }
        }
        // Who holds it, for the message of the next one (advice only: the lock is the
        // kernel's, not this text).
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(FolderLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_one_folder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = FolderLock::take(dir.path()).unwrap();
        let err = FolderLock::take(dir.path()).unwrap_err();
        assert!(err.contains("in use by another fss"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains(LOCK_FILE), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        let again = FolderLock::take(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }
}
