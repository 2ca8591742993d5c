//! Stored files: the bytes on disk, and the [`FileIndex`] that names them.
//!
//! Layout under the data folder:
//!
//! - `files/{service}/{resource path…}/{id}`: the stored bytes, one file per upload, named
//!   by its id (names live in the index, so two uploads of `report.pdf` never collide and
//!   no client-supplied name ever reaches the file system). Every path segment is
//!   percent-encoded so that no service name or folder can climb out of its folder.
//! - the index ([`FileIndex`]; `files.db` on the embedded backend) of id, service,
//!   resource path, name, content type, size, created, modified.
//!
//! Invariants: an upload is written to a hidden temp file in its target folder by a
//! blocking writer fed through a bounded channel (memory per upload is bounded by
//! [`CHANNEL_DEPTH`] × [`WRITE_CHUNK`]), flushed and synced, then renamed into place, and
//! only then indexed. A temp file that is not committed — client gone, limit hit, bad
//! request — is removed when its [`Sink`] is dropped, so nothing partial is ever visible.
//! Every SQLite call and every fsync runs on the blocking pool.

mod record;
mod sink;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

pub(crate) use record::{FileRecord, ListQuery, OrderColumn};
pub(crate) use sink::{Finished, Sink};

/// The folder under the data folder that holds stored files.
const FILES_DIR: &str = "files";
/// The bytes handed to the writer at once; smaller network chunks are coalesced.
pub(crate) const WRITE_CHUNK: usize = 256 << 10;
/// How many chunks may wait for the writer before the upload waits for the disk.
pub(crate) const CHANNEL_DEPTH: usize = 4;
/// A temp upload untouched for this long is a crash leftover, removed at mount.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The files store under the data folder; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    index: Arc<dyn FileIndex>,
}

/// The index of stored files. Every method blocks; [`Files`] calls them on the blocking
/// pool.
pub(crate) trait FileIndex: Send + Sync + std::fmt::Debug {
    /// Opens the index (mount time), so that a broken one fails the mount, not a request.
    fn open(&self) -> Result<()>;
    /// Adds a committed file.
    fn insert(&self, record: &FileRecord) -> Result<()>;
    /// The file `id` of `service`.
    fn get(&self, service: &str, id: &str) -> Result<Option<FileRecord>>;
    /// Removes the file `id` of `service`; returns what was removed.
    fn delete(&self, service: &str, id: &str) -> Result<Option<FileRecord>>;
    /// One page of the files of `service` in `resource_path`, and whether more follow.
    fn list(
        &self,
        service: &str,
        resource_path: &str,
        query: &ListQuery,
    ) -> Result<(Vec<FileRecord>, bool)>;
}

/// What an upload stores besides its bytes.
#[derive(Debug, Clone)]
pub(crate) struct NewFile {
    /// The service.
    pub(crate) service: String,
    /// The resource path, canonical (`/file/reports`).
    pub(crate) resource_path: String,
    /// The cleaned file name.
    pub(crate) name: String,
    /// The content type.
    pub(crate) content_type: String,
}

impl Files {
    /// The files under `data_dir`, named by `index`; nothing is opened until first use.
    pub(crate) fn new(data_dir: &Path, index: Arc<dyn FileIndex>) -> Self {
        Files {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_path_buf(),
                index,
            }),
        }
    }

    /// The folder holding the files of `service` under `resource_path` (canonical).
    pub(crate) fn folder(&self, service: &str, resource_path: &str) -> PathBuf {
        let mut p = self.inner.data_dir.join(FILES_DIR);
        p.push(encode_segment(service));
        for seg in resource_path.split('/').filter(|s| !s.is_empty()) {
            p.push(encode_segment(seg));
        }
        p
    }

    /// Creates the folders of `resource_paths`, removes temp files that a crash left
    /// behind, and opens the index (mount time).
    ///
    /// # Errors
    ///
    /// A folder cannot be created or the index cannot be opened.
    pub(crate) fn prepare(&self, service: &str, resource_paths: &[&str]) -> Result<()> {
        for rp in resource_paths {
            let dir = self.folder(service, rp);
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::internal(format!("cannot create folder {}: {e}", dir.display()))
            })?;
            remove_stale_temps(&dir);
        }
        self.inner.index.open()
    }

    /// Starts an upload into `folder`: a hidden temp file written by a blocking writer.
    pub(crate) fn begin(&self, folder: PathBuf, exec_id: &str) -> Sink {
        Sink::start(folder, exec_id)
    }

    /// Moves a finished upload into its folder under a fresh id and indexes it.
    ///
    /// The temp file is renamed into `folder` (created when missing); the folder is synced
    /// so that the rename survives a crash; then the row is inserted. A failure after the
    /// rename removes the file again.
    ///
    /// # Errors
    ///
    /// The rename or the index insert failed.
    pub(crate) async fn commit(
        &self,
        sink: Finished,
        folder: PathBuf,
        file: NewFile,
    ) -> Result<FileRecord> {
        let this = self.clone();
        blocking(move || {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::create_dir_all(&folder)?;
            let target = folder.join(&id);
            let mut sink = sink;
            sink.persist(&target)?;
            sync_dir(&folder);
            let rel = target
                .strip_prefix(&this.inner.data_dir)
                .unwrap_or(&target)
                .to_string_lossy()
                .into_owned();
            let now = now_millis();
            let record = FileRecord {
                id,
                service: file.service,
                resource_path: file.resource_path,
                name: file.name,
                content_type: file.content_type,
                size: sink.size() as i64,
                created: now,
                modified: now,
                rel_path: rel,
            };
            if let Err(e) = this.inner.index.insert(&record) {
                let _ = std::fs::remove_file(&target);
                return Err(e);
            }
            Ok(record)
        })
        .await
    }

    /// One page of the files of `service` in `resource_path`, and whether more follow.
    ///
    /// # Errors
    ///
    /// The index cannot be read.
    pub(crate) async fn list(
        &self,
        service: String,
        resource_path: String,
        query: ListQuery,
    ) -> Result<(Vec<FileRecord>, bool)> {
        let this = self.clone();
        blocking(move || this.inner.index.list(&service, &resource_path, &query)).await
    }

    /// The file `id` of `service`.
    ///
    /// # Errors
    ///
    /// The index cannot be read.
    pub(crate) async fn get(&self, service: String, id: String) -> Result<Option<FileRecord>> {
        let this = self.clone();
        blocking(move || this.inner.index.get(&service, &id)).await
    }

    /// Deletes the file `id` of `service`: the index row, then the bytes. Returns what was
    /// deleted, or `None` for an unknown id.
    ///
    /// # Errors
    ///
    /// The index cannot be written.
    pub(crate) async fn delete(&self, service: String, id: String) -> Result<Option<FileRecord>> {
        let this = self.clone();
        blocking(move || {
            let Some(record) = this.inner.index.delete(&service, &id)? else {
                return Ok(None);
            };
            match std::fs::remove_file(this.path_of(&record)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(id = %record.id, error = %e, "Stored file not removed."),
            }
            Ok(Some(record))
        })
        .await
    }

    /// Where the bytes of `record` are.
    pub(crate) fn path_of(&self, record: &FileRecord) -> PathBuf {
        self.inner.data_dir.join(&record.rel_path)
    }
}

/// Runs blocking store work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("store task failed: {e}")))?
}

/// Removes the temp files under `dir` that no upload has written to for
/// [`STALE_TEMP_AGE`]: leftovers of a crash. A live upload keeps its file's mtime fresh,
/// so a remount while uploads run leaves them alone.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            remove_stale_temps(&path);
            continue;
        }
        let is_temp = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(sink::TEMP_PREFIX) && n.ends_with(sink::TEMP_SUFFIX));
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if is_temp && stale {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "Stale temp upload removed."),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Stale temp upload not removed.")
                }
            }
        }
    }
}

/// Syncs a folder so that a rename into it is durable; best effort (not every file system
/// lets a directory be opened for sync).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> i64 {
    crate::clock::now_millis()
}

/// A path segment safe on disk: controls, separators, `%` and a leading dot are
/// percent-encoded, so `..`, `a/b` or `C:\x` stay one plain segment.
fn encode_segment(seg: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b'/')
        .add(b'\\')
        .add(b'%')
        .add(b':');
    let enc = percent_encoding::utf8_percent_encode(seg, SET).to_string();
    match enc.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None if enc.is_empty() => "%20".to_owned(),
        None => enc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stale_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let old = std::time::SystemTime::now() - 2 * STALE_TEMP_AGE;
        let make = |p: &Path, mtime: Option<std::time::SystemTime>| {
            let f = std::fs::File::create(p).unwrap();
            if let Some(t) = mtime {
                f.set_modified(t).unwrap();
            }
        };
        make(&sub.join(".upload-a.part"), Some(old));
        make(&dir.path().join(".upload-b.part"), None);
        make(&dir.path().join("stored-id"), Some(old));
        remove_stale_temps(dir.path());
        assert!(!sub.join(".upload-a.part").exists());
        assert!(dir.path().join(".upload-b.part").exists());
        assert!(dir.path().join("stored-id").exists());
    }

    #[test]
    fn segments_cannot_escape_their_folder() {
        assert_eq!(encode_segment(".."), "%2E.");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        assert_eq!(encode_segment("C:\\x"), "C%3A%5Cx");
        assert_eq!(encode_segment("Sample"), "Sample");
        let files = Files::new(
            Path::new("/d"),
            Arc::new(crate::store::sqlite::SqliteFileIndex::new(
                "/d/files.db".into(),
            )),
        );
        assert_eq!(
            files.folder("My Svc", "/file/reports"),
            Path::new("/d/files/My Svc/file/reports")
        );
    }
}
