//! The folders of deployments: the files of each deployment, extracted under
//! `<data>/deployments/<id>/`. A folder is written whole under a temporary name
//! ([`Staging`]) and renamed into place before its registry rows are written, and removed
//! after them: a folder without a row is an orphan, removed at the next start
//! ([`remove_orphans`]). Every function blocks (fsync).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of extracted deployments under the data folder.
pub(crate) const DEPLOYMENTS_DIR: &str = "deployments";

/// The folder of deployment `id`.
pub(crate) fn deployment_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join(DEPLOYMENTS_DIR).join(id)
}

/// A deployment folder being written: `<data>/deployments/.tmp-<id>/`, filled file by file
/// as the upload is unpacked (so that no file of a `.zip` has to sit in memory), then
/// renamed into place by [`Staging::commit`]. Dropped uncommitted, it removes itself
/// (blocking); a crash leaves it to [`remove_orphans`] at the next start.
#[derive(Debug)]
pub(crate) struct Staging {
    parent: PathBuf,
    /// The temporary folder; `None` once committed.
    tmp: Option<PathBuf>,
    done: PathBuf,
}

/// One file of a [`Staging`] folder being written.
#[derive(Debug)]
pub(crate) struct StagedFile {
    file: std::fs::File,
    mode: Option<u32>,
}

impl Staging {
    /// Creates the temporary folder of deployment `id` (blocking).
    ///
    /// # Errors
    ///
    /// The folder cannot be created.
    pub(crate) fn new(data_dir: &Path, id: &str) -> std::io::Result<Staging> {
        let parent = data_dir.join(DEPLOYMENTS_DIR);
        let tmp = parent.join(format!(".tmp-{id}"));
        std::fs::create_dir_all(&tmp)?;
        Ok(Staging {
            done: parent.join(id),
            parent,
            tmp: Some(tmp),
        })
    }

    /// Creates the file `name` (a `/`-separated path inside the folder, already checked
    /// to stay inside it), with the Unix permission bits `mode` of a zip entry, if any.
    ///
    /// # Errors
    ///
    /// The file or its folder cannot be created.
    pub(crate) fn create(&self, name: &str, mode: Option<u32>) -> std::io::Result<StagedFile> {
        let tmp = self
            .tmp
            .as_ref()
            .expect("a staging folder is open until committed");
        let path = tmp.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(&path)?;
        Ok(StagedFile { file, mode })
    }

    /// Renames the folder into place and syncs its parent, so that the deployment's files
    /// survive a crash; answers the final folder.
    ///
    /// # Errors
    ///
    /// The rename or the sync failed; the temporary folder is removed then.
    pub(crate) fn commit(mut self) -> std::io::Result<PathBuf> {
        let tmp = self
            .tmp
            .as_ref()
            .expect("a staging folder is open until committed");
        std::fs::rename(tmp, &self.done)?;
        self.tmp = None;
        sync_dir(&self.parent)?;
        Ok(self.done.clone())
    }
}

impl Drop for Staging {
    /// Removes the folder at once (blocking), so that a refused deployment leaves nothing
    /// once its answer is sent; drop a `Staging` on the blocking pool.
    fn drop(&mut self) {
        let Some(tmp) = self.tmp.take() else {
            return;
        };
        if let Err(e) = std::fs::remove_dir_all(&tmp) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(folder = %tmp.display(), error = %e,
                    "Staged deployment folder not removed.");
            }
        }
    }
}

impl StagedFile {
    /// Appends `bytes`.
    ///
    /// # Errors
    ///
    /// The write failed (a full disk, typically).
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)
    }

    /// Sets the file's permissions and syncs it.
    ///
    /// # Errors
    ///
    /// The permissions or the sync failed.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            use std::os::unix::fs::PermissionsExt;
            // Owner read is kept so that fss can always serve the resource back.
            let bits = (mode & 0o777) | 0o400;
            self.file
                .set_permissions(std::fs::Permissions::from_mode(bits))?;
        }
        self.file.sync_all()
    }
}

/// Removes the folder of deployment `id`, if present.
pub(crate) fn remove_deployment_dir(data_dir: &Path, id: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(deployment_dir(data_dir, id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes the folders under `<data>/deployments/` that belong to no known deployment
/// (interrupted writes, deletions whose files were still in use at shutdown).
pub(crate) fn remove_orphans(data_dir: &Path, known: &dyn Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(data_dir.join(DEPLOYMENTS_DIR)) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !known(&name) && e.path().is_dir() {
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => removed += 1,
                Err(err) => tracing::warn!(folder = %e.path().display(), error = %err,
                    "Orphan deployment folder not removed."),
            }
        }
    }
    removed
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_written_whole_and_orphans_removed() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path(), "d1").unwrap();
        let mut f = staging.create("a.json", None).unwrap();
        f.write_all(b"{}").unwrap();
        f.finish().unwrap();
        let mut f = staging.create("scripts/run.sh", Some(0o100755)).unwrap();
        f.write_all(b"#!/bin/sh\n").unwrap();
        f.finish().unwrap();
        let out = staging.commit().unwrap();
        assert_eq!(
            std::fs::read(out.join("scripts/run.sh")).unwrap(),
            b"#!/bin/sh\n"
        );
        assert!(!dir.path().join("deployments/.tmp-d1").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("scripts/run.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        std::fs::create_dir_all(dir.path().join("deployments/.tmp-x")).unwrap();
        assert_eq!(remove_orphans(dir.path(), &|n| n == "d1"), 1);
        assert!(out.exists());
    }

    #[test]
    fn an_uncommitted_staging_folder_removes_itself() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path(), "d2").unwrap();
        staging.create("x/y.txt", None).unwrap().finish().unwrap();
        let tmp = dir.path().join("deployments/.tmp-d2");
        assert!(tmp.join("x/y.txt").exists());
        drop(staging);
        assert!(!tmp.exists());
    }
}
