//! Stored files: the bytes on disk, and the [`FileIndex`] that names them.
//!
//! Layout under the data folder:
//!
//! - `files/{service}/{resource path…}/{id}`: the stored bytes, one file per upload, named
//!   by its id (names live in the index, so two uploads of `report.pdf` never collide and
//!   no client-supplied name ever reaches the file system). Every path segment is
//!   percent-encoded so that no service name or folder can climb out of its folder. A
//!   segment whose encoding is longer than [`MAX_DISK_NAME_BYTES`] keeps its first bytes
//!   and ends in a hash of the whole segment; a resource path whose folders would take
//!   more than [`MAX_DISK_FOLDER_BYTES`] is one folder `%23deep-{hash}`. Either way every
//!   path that passes the request limits has a folder on disk, and since the index holds
//!   where each file is, the folder only has to be stable, not reversible.
//! - the index ([`FileIndex`]; `files.db` on the embedded backend) of id, service,
//!   resource path, name, content type, size, created, modified.
//!
//! Invariants: an upload is written to a hidden temp file in its target folder by a
//! blocking writer fed through a bounded channel (memory per upload is bounded by
//! [`sink::BLOCKS`] × [`sink::BLOCK`], written with `O_DIRECT` where the file
//! system takes it), flushed and synced, then renamed into place, and
//! only then indexed. A temp file that is not committed — client gone, limit hit, bad
//! request — is removed when its [`Sink`] is dropped, so nothing partial is ever visible.
//! Every SQLite call and every fsync runs on the blocking pool.
//!
//! Crash recovery: the first time a service is prepared in a process (its first mount
//! after a start), its folder is reconciled with the index ([`Files::prepare`]): every
//! temp file is a leftover of the previous run and is removed, and so is every stored file
//! the index does not know (a kill between the rename and the index insert). Such a file
//! has no name, content type or resource path anywhere but in the upload that was never
//! acknowledged, so removing it is safe and indexing it is impossible.
//!
//! A shared folder (`--files-dir`, [`Files::shared`]) is written by several instances at
//! once: a temp file there may be another instance's upload in progress, and a stored file
//! the index does not know may be one between its rename and its index insert. There,
//! reconciling removes only what no one has written to for [`STALE_TEMP_AGE`]: a live
//! upload keeps its temp file's mtime fresh, and a commit indexes its file moments after
//! its last write.

mod record;
mod sink;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

pub(crate) use record::{contains_pattern, FileRecord, ListQuery, OrderColumn};
pub(crate) use sink::{Finished, Sink};

/// The folder under the data folder that holds stored files.
const FILES_DIR: &str = "files";
/// A temp upload untouched for this long is a crash leftover, removed when a service is
/// mounted again in the same process (at its first mount every temp file is removed,
/// unless the folder is shared): no upload goes this long without a write.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);
/// The longest folder name written on disk, in bytes (`NAME_MAX` of common file systems).
pub(crate) const MAX_DISK_NAME_BYTES: usize = 255;
/// The most bytes the folders of one resource path take under its service's folder; a
/// deeper path is stored in one hashed folder, so that a path on disk stays well under
/// `PATH_MAX` whatever the length of the data folder's own path.
pub(crate) const MAX_DISK_FOLDER_BYTES: usize = 1024;

/// The files store under the data folder; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    index: Arc<dyn FileIndex>,
    /// Whether other instances write the same folder: then only stale leftovers are
    /// removed (see the module docs).
    shared: bool,
    /// The services whose folders were reconciled with the index in this process; a
    /// service is reconciled once, at its first mount, when none of its uploads can be
    /// running yet.
    reconciled: Mutex<HashSet<String>>,
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
                shared: false,
                reconciled: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The same files in a folder other instances write too (`--files-dir`): reconciling
    /// leaves alone what may be theirs. Call it before the first clone.
    pub(crate) fn shared(mut self) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("shared() is called on a new Files, before it is cloned")
            .shared = true;
        self
    }

    /// The folder holding the files of `service` under `resource_path` (canonical).
    pub(crate) fn folder(&self, service: &str, resource_path: &str) -> PathBuf {
        let mut p = self.service_folder(service);
        let segs: Vec<String> = resource_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(disk_segment)
            .collect();
        let bytes: usize = segs.iter().map(|s| s.len() + 1).sum();
        if bytes > MAX_DISK_FOLDER_BYTES {
            p.push(format!("%23deep-{}", short_hash(resource_path)));
        } else {
            p.extend(segs);
        }
        p
    }

    /// The folder of every file of `service`.
    fn service_folder(&self, service: &str) -> PathBuf {
        let mut p = self.inner.data_dir.join(FILES_DIR);
        p.push(disk_segment(service));
        p
    }

    /// Creates the folders of `resource_paths` and opens the index (mount time; blocking).
    ///
    /// The first time `service` is prepared in this process, its folder is reconciled
    /// with the index: temp files of the previous run and stored files without an index
    /// row are removed (see the module docs). Later mounts only remove temp files older
    /// than [`STALE_TEMP_AGE`], since uploads of the mounted version may be running.
    ///
    /// # Errors
    ///
    /// A folder cannot be created (507 when the file system is full) or the index cannot
    /// be opened.
    pub(crate) fn prepare(&self, service: &str, resource_paths: &[&str]) -> Result<()> {
        for rp in resource_paths {
            let dir = self.folder(service, rp);
            std::fs::create_dir_all(&dir).map_err(|e| {
                tracing::error!(folder = %dir.display(), error = %e,
                    "File resource folder cannot be created.");
                Error::io("a folder of the file store cannot be created", &e)
            })?;
        }
        self.inner.index.open()?;
        let first = self
            .inner
            .reconciled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service.to_owned());
        if first {
            self.reconcile(service);
        } else {
            for rp in resource_paths {
                remove_stale_temps(&self.folder(service, rp));
            }
        }
        Ok(())
    }

    /// Removes what a crash left in the folder of `service`: every temp file, and every
    /// stored file the index does not know — in a shared folder, only those untouched for
    /// [`STALE_TEMP_AGE`]. A file whose index lookup fails is kept.
    fn reconcile(&self, service: &str) {
        let root = self.service_folder(service);
        let (mut temps, mut orphans) = (0usize, 0usize);
        let mut pending = vec![root];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(kind) = e.file_type() else { continue };
                let path = e.path();
                if kind.is_dir() {
                    pending.push(path);
                    continue;
                }
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if self.inner.shared && !is_stale(&e) {
                    continue;
                }
                let remove = if sink::is_temp_name(name) {
                    temps += 1;
                    true
                } else {
                    match self.inner.index.get(service, name) {
                        Ok(Some(_)) => false,
                        Ok(None) => {
                            orphans += 1;
                            true
                        }
                        Err(err) => {
                            tracing::warn!(path = %path.display(), error = %err,
                                "Stored file not reconciled: the index cannot be read.");
                            false
                        }
                    }
                };
                if remove {
                    if let Err(err) = std::fs::remove_file(&path) {
                        tracing::warn!(path = %path.display(), error = %err,
                            "Crash leftover not removed.");
                    }
                }
            }
        }
        if temps + orphans > 0 {
            // temps: uploads of the previous run; orphans: files the index does not know.
            tracing::info!(%service, temps, orphans, "Crash leftovers removed.");
        }
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
            const STORE: &str = "the upload could not be stored";
            std::fs::create_dir_all(&folder).map_err(|e| Error::io(STORE, &e))?;
            let target = folder.join(&id);
            let mut sink = sink;
            sink.persist(&target).map_err(|e| Error::io(STORE, &e))?;
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
        let is_temp = e.file_name().to_str().is_some_and(sink::is_temp_name);
        if is_temp && is_stale_meta(&meta) {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "Stale temp upload removed."),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Stale temp upload not removed.")
                }
            }
        }
    }
}

/// Whether the file of `e` was last written more than [`STALE_TEMP_AGE`] ago; a file
/// whose time cannot be read is not.
fn is_stale(e: &std::fs::DirEntry) -> bool {
    e.metadata().is_ok_and(|m| is_stale_meta(&m))
}

fn is_stale_meta(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > STALE_TEMP_AGE)
}

/// Syncs a folder so that a rename into it is durable; best effort (not every file system
/// lets a directory be opened for sync).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The on-disk name of one segment: [`encode_segment`], or, when that is longer than
/// [`MAX_DISK_NAME_BYTES`], its first bytes and `~` and a hash of the whole segment.
fn disk_segment(seg: &str) -> String {
    let enc = encode_segment(seg);
    if enc.len() <= MAX_DISK_NAME_BYTES {
        return enc;
    }
    let hash = short_hash(seg);
    // The encoding is ASCII; do not cut a `%XX` escape in two.
    let mut cut = MAX_DISK_NAME_BYTES - hash.len() - 1;
    while enc.as_bytes()[cut.saturating_sub(2)..cut].contains(&b'%') {
        cut -= 1;
    }
    format!("{}~{hash}", &enc[..cut])
}

/// 32 hex digits of the SHA-256 of `s`: a folder name that is stable and, for any two
/// paths a client may send, distinct.
fn short_hash(s: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(s.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
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
        make(&sub.join(".upload-a.part"), Some(old));
        make(&dir.path().join(".upload-b.part"), None);
        make(&dir.path().join("stored-id"), Some(old));
        remove_stale_temps(dir.path());
        assert!(!sub.join(".upload-a.part").exists());
        assert!(dir.path().join(".upload-b.part").exists());
        assert!(dir.path().join("stored-id").exists());
    }

    /// Makes `path` with the modification time `mtime` (now when `None`).
    fn make(path: &Path, mtime: Option<std::time::SystemTime>) {
        let f = std::fs::File::create(path).unwrap();
        if let Some(t) = mtime {
            f.set_modified(t).unwrap();
        }
    }

    /// A temp file and an unindexed stored file, each fresh and stale, and a stale
    /// indexed one, in the folder `/file` of service `S`; answers the folder.
    fn leftovers(files: &Files) -> PathBuf {
        let folder = files.folder("S", "/file");
        std::fs::create_dir_all(&folder).unwrap();
        let old = std::time::SystemTime::now() - 2 * STALE_TEMP_AGE;
        make(&folder.join(".upload-fresh.part"), None);
        make(&folder.join(".upload-old.part"), Some(old));
        make(&folder.join("fresh-orphan"), None);
        make(&folder.join("old-orphan"), Some(old));
        make(&folder.join("indexed"), Some(old));
        files
            .inner
            .index
            .insert(&FileRecord {
                id: "indexed".into(),
                service: "S".into(),
                resource_path: "/file".into(),
                name: "a.txt".into(),
                content_type: "text/plain".into(),
                size: 0,
                created: 0,
                modified: 0,
                rel_path: "files/S/file/indexed".into(),
            })
            .unwrap();
        folder
    }

    fn names(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn first_mount_removes_every_leftover_of_its_own_folder() {
        let dir = tempfile::tempdir().unwrap();
        let index = crate::store::sqlite::SqliteFileIndex::new(dir.path().join("files.db"));
        let files = Files::new(dir.path(), Arc::new(index));
        let folder = leftovers(&files);
        files.prepare("S", &["/file"]).unwrap();
        assert_eq!(names(&folder), ["indexed"]);
    }

    #[test]
    fn first_mount_on_a_shared_folder_removes_only_stale_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let index = crate::store::sqlite::SqliteFileIndex::new(dir.path().join("files.db"));
        let files = Files::new(dir.path(), Arc::new(index)).shared();
        let folder = leftovers(&files);
        files.prepare("S", &["/file"]).unwrap();
        assert_eq!(
            names(&folder),
            [".upload-fresh.part", "fresh-orphan", "indexed"],
            "another instance's upload in progress and its file about to be indexed stay"
        );
    }

    #[test]
    fn long_segments_and_deep_paths_fit_on_disk() {
        let files = Files::new(
            Path::new("/d"),
            Arc::new(crate::store::sqlite::SqliteFileIndex::new(
                "/d/files.db".into(),
            )),
        );
        // 255 bytes of a character that encodes to 3 bytes each, and of non-ASCII.
        for seg in [":".repeat(255), "é".repeat(127), "%".repeat(200)] {
            let name = disk_segment(&seg);
            assert!(name.len() <= MAX_DISK_NAME_BYTES, "{}", name.len());
            assert_ne!(disk_segment(&format!("{seg}x")), name);
        }
        let deep = format!("/file{}", "/é".repeat(1000));
        let folder = files.folder("S", &deep);
        assert!(folder.as_os_str().len() < 200, "{}", folder.display());
        assert_eq!(folder, files.folder("S", &deep));
        assert_ne!(folder, files.folder("S", &format!("{deep}/x")));
        assert_eq!(files.folder("S", "/a/b"), Path::new("/d/files/S/a/b"));
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
