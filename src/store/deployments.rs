//! The folders of deployments: the files of each deployment, extracted under
//! `<data>/deployments/<id>/`. Folders are written before their registry rows and removed
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

/// One file to write into a deployment folder.
#[derive(Debug)]
pub(crate) struct FileToWrite<'a> {
    /// The `/`-separated path inside the folder, already checked to stay inside it.
    pub(crate) name: &'a str,
    pub(crate) bytes: &'a [u8],
    /// Unix permission bits from a zip entry, when it carried them.
    pub(crate) mode: Option<u32>,
}

/// Writes `files` into the folder of deployment `id`, atomically: into a temporary folder
/// beside it, each file fsynced, then renamed into place and the parent fsynced.
pub(crate) fn write_deployment_dir(
    data_dir: &Path,
    id: &str,
    files: &[FileToWrite<'_>],
) -> std::io::Result<PathBuf> {
    let parent = data_dir.join(DEPLOYMENTS_DIR);
    std::fs::create_dir_all(&parent)?;
    let tmp = parent.join(format!(".tmp-{id}"));
    let done = parent.join(id);
    let result = (|| {
        std::fs::create_dir_all(&tmp)?;
        for f in files {
            let path = tmp.join(f.name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::File::create(&path)?;
            file.write_all(f.bytes)?;
            #[cfg(unix)]
            if let Some(mode) = f.mode {
                use std::os::unix::fs::PermissionsExt;
                // Owner read is kept so that fss can always serve the resource back.
                let bits = (mode & 0o777) | 0o400;
                file.set_permissions(std::fs::Permissions::from_mode(bits))?;
            }
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &done)?;
        sync_dir(&parent)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|()| done)
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
        let files = [
            FileToWrite {
                name: "a.json",
                bytes: b"{}",
                mode: None,
            },
            FileToWrite {
                name: "scripts/run.sh",
                bytes: b"#!/bin/sh\n",
                mode: Some(0o100755),
            },
        ];
        let out = write_deployment_dir(dir.path(), "d1", &files).unwrap();
        assert_eq!(
            std::fs::read(out.join("scripts/run.sh")).unwrap(),
            b"#!/bin/sh\n"
        );
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
}
