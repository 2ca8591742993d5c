//! The upload sink: bytes from the socket to a temp file with bounded memory.
//!
//! The async side copies network chunks into page-aligned blocks of [`BLOCK`] bytes and
//! hands each full block to a blocking writer; the writer hands it back once written, and
//! no more than [`BLOCKS`] exist per upload, so a slow disk makes the upload wait instead of
//! growing memory. Finishing writes the last partial block and syncs the file; dropping
//! an unfinished sink (or a finished one never persisted) removes the temp file.
//!
//! The writer opens the file with `O_DIRECT` where the file system takes it: aligned blocks
//! go from the sink's memory to the disk without passing through the page cache, so the
//! disk writes while the socket delivers the next block and the final sync has only the
//! tail and the metadata left (on a virtio disk this is twice the rate of buffered writes
//! and one `fdatasync`). Where `O_DIRECT` is refused (tmpfs, some network file systems),
//! writes are buffered and a helper thread starts `fdatasync` every [`SYNC_EVERY`] bytes,
//! for the same overlap. Either way the answer waits for `fsync`.

use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// The bytes of one block: what the writer writes at once.
pub(crate) const BLOCK: usize = 1 << 20;
/// Blocks per upload: one filling, one being written, one waiting.
pub(crate) const BLOCKS: usize = 3;
/// The alignment `O_DIRECT` asks of addresses, lengths and offsets (the largest logical
/// block size in common use).
const ALIGN: usize = 4096;
/// Bytes written between two early syncs of a large buffered upload.
const SYNC_EVERY: u64 = 32 << 20;

/// Temp files are `.upload-{execution id}.part`: hidden, and never a stored file's name
/// (those are ids).
pub(super) const TEMP_PREFIX: &str = ".upload-";
/// See [`TEMP_PREFIX`].
pub(super) const TEMP_SUFFIX: &str = ".part";

/// Whether a file name is the name of an upload's temp file.
pub(super) fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// What the writer receives.
enum Msg {
    /// A full block to write next.
    Block(Block),
    /// All bytes were sent, the last of them in this block: write it, sync and report.
    Finish(Option<Block>),
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Block(b) => write!(f, "Block({})", b.len),
            Msg::Finish(b) => write!(f, "Finish({:?})", b.as_ref().map(|b| b.len)),
        }
    }
}

/// A page-aligned buffer of [`BLOCK`] bytes and how many of them are filled.
struct Block {
    /// One [`ALIGN`] longer than a block: a `Vec` promises no alignment beyond its
    /// element's, so the block starts at the first aligned byte.
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Block {
    fn new() -> Block {
        // Zeroed by the allocator's fresh mapping: no page is touched until it is filled.
        let buf = vec![0u8; BLOCK + ALIGN];
        // An unaligned start only makes the writer fall back to buffered writes.
        let start = Some(buf.as_ptr().align_offset(ALIGN))
            .filter(|s| *s < ALIGN)
            .unwrap_or(0);
        Block { buf, start, len: 0 }
    }

    /// Copies as much of `bytes` as fits; answers how much that was.
    fn fill(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(BLOCK - self.len);
        let at = self.start + self.len;
        self.buf[at..at + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        n
    }

    fn is_full(&self) -> bool {
        self.len == BLOCK
    }

    fn filled(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// An upload being written.
#[derive(Debug)]
pub(crate) struct Sink {
    tx: Option<mpsc::Sender<Msg>>,
    /// The block being filled.
    block: Option<Block>,
    /// Blocks the writer has written, to be filled again.
    spent: mpsc::Receiver<Block>,
    /// Blocks made so far (at most [`BLOCKS`]).
    made: usize,
    writer: Option<JoinHandle<std::io::Result<()>>>,
    temp: TempPath,
    size: u64,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({} of {BLOCK})", self.len)
    }
}

impl Sink {
    /// Starts the writer of a new hidden temp file in `folder`.
    pub(crate) fn start(folder: PathBuf, exec_id: &str) -> Sink {
        let path = folder.join(format!("{TEMP_PREFIX}{exec_id}{TEMP_SUFFIX}"));
        let (tx, rx) = mpsc::channel(BLOCKS);
        let (back, spent) = mpsc::channel(BLOCKS);
        let target = path.clone();
        let writer = tokio::task::spawn_blocking(move || write_all(&folder, &target, rx, back));
        Sink {
            tx: Some(tx),
            block: None,
            spent,
            made: 0,
            writer: Some(writer),
            temp: TempPath(Some(path)),
            size: 0,
        }
    }

    /// The bytes written so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Appends `chunk`, waiting when the writer is behind.
    ///
    /// # Errors
    ///
    /// The writer failed (disk full, permissions).
    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.size += chunk.len() as u64;
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.block.is_none() {
                let next = self.next_block().await?;
                self.block = Some(next);
            }
            let block = self.block.as_mut().expect("a block is being filled");
            rest = &rest[block.fill(rest)..];
            if block.is_full() {
                let full = self.block.take().expect("a block is being filled");
                self.send(Msg::Block(full)).await?;
            }
        }
        Ok(())
    }

    /// A block to fill: one the writer is done with, a new one while fewer than
    /// [`BLOCKS`] exist, or else the next the writer hands back.
    async fn next_block(&mut self) -> Result<Block> {
        let spent = match self.spent.try_recv() {
            Ok(b) => Some(b),
            Err(_) if self.made < BLOCKS => None,
            Err(_) => match self.spent.recv().await {
                Some(b) => Some(b),
                None => return self.writer_stopped().await,
            },
        };
        Ok(match spent {
            Some(mut b) => {
                b.len = 0;
                b
            }
            None => {
                self.made += 1;
                Block::new()
            }
        })
    }

    /// Writes what is buffered, flushes and syncs the file.
    ///
    /// # Errors
    ///
    /// The writer failed.
    pub(crate) async fn finish(mut self) -> Result<Finished> {
        let last = self.block.take();
        self.send(Msg::Finish(last)).await?;
        self.tx = None;
        self.join().await?;
        Ok(Finished {
            temp: std::mem::replace(&mut self.temp, TempPath(None)),
            size: self.size,
        })
    }

    async fn send(&mut self, msg: Msg) -> Result<()> {
        let tx = self.tx.as_ref().expect("the sender lives until finish");
        if tx.send(msg).await.is_ok() {
            return Ok(());
        }
        self.writer_stopped().await
    }

    /// The writer ended early: its result says why.
    async fn writer_stopped<T>(&mut self) -> Result<T> {
        self.tx = None;
        self.join().await?;
        Err(Error::internal("upload writer stopped"))
    }

    async fn join(&mut self) -> Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        match w.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("the upload could not be written", &e)),
            Err(e) => Err(Error::internal(format!("upload writer failed: {e}"))),
        }
    }
}

/// A completely written and synced temp file.
#[derive(Debug)]
pub(crate) struct Finished {
    temp: TempPath,
    size: u64,
}

impl Finished {
    /// The size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The temp file's path.
    pub(crate) fn path(&self) -> &Path {
        self.temp
            .0
            .as_deref()
            .expect("the temp path is set until persisted")
    }

    /// Renames the temp file to `target` (blocking); from then on nothing removes it.
    pub(crate) fn persist(&mut self, target: &Path) -> std::io::Result<()> {
        std::fs::rename(self.path(), target)?;
        self.temp.0 = None;
        Ok(())
    }
}

/// The blocking writer: creates the file, writes every block, syncs on `Finish`, and
/// hands each written block back. An abandoned or failed upload removes its own file here
/// too: the sink's drop guard may run before this thread has even created it.
fn write_all(
    folder: &Path,
    path: &Path,
    mut rx: mpsc::Receiver<Msg>,
    back: mpsc::Sender<Block>,
) -> std::io::Result<()> {
    let mut run = || {
        std::fs::create_dir_all(folder)?;
        let mut out = Out::create(path)?;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Block(b) => {
                    out.put(b.filled())?;
                    // The sink may be gone already; then the block is just dropped.
                    let _ = back.try_send(b);
                }
                Msg::Finish(last) => {
                    if let Some(b) = last {
                        out.put(b.filled())?;
                    }
                    return out.sync();
                }
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "upload abandoned",
        ))
    };
    let result = run();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// The file being written: a buffered handle, and a direct one while `O_DIRECT` works.
struct Out {
    file: std::fs::File,
    direct: Option<std::fs::File>,
    /// Bytes written so far: the offset of the next write.
    at: u64,
    /// Buffered bytes written since the last early sync was started.
    unsynced: u64,
    syncer: Option<std::thread::JoinHandle<()>>,
}

impl Out {
    /// Creates the file (never an existing one) and opens it for direct writes too, where
    /// the file system allows.
    fn create(path: &Path) -> std::io::Result<Out> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        let direct = open_direct(path);
        Ok(Out {
            file,
            direct,
            at: 0,
            unsynced: 0,
            syncer: None,
        })
    }

    /// Writes `bytes` at the end: the aligned part directly while that works, the rest
    /// (an unaligned tail, or all of it after a refusal) through the page cache.
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut rest = bytes;
        if let Some(direct) = &self.direct {
            let aligned = rest.len() - rest.len() % ALIGN;
            let ready = (rest.as_ptr() as usize) % ALIGN == 0 && self.at % ALIGN as u64 == 0;
            if aligned > 0 && ready {
                match direct.write_all_at(&rest[..aligned], self.at) {
                    Ok(()) => {
                        self.at += aligned as u64;
                        rest = &rest[aligned..];
                    }
                    // Refused (the device wants another alignment): what was written at
                    // these offsets is written again, buffered.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.direct = None,
                    Err(e) => return Err(e),
                }
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        self.file.write_all_at(rest, self.at)?;
        self.at += rest.len() as u64;
        self.unsynced += rest.len() as u64;
        if self.unsynced >= SYNC_EVERY && self.syncer.as_ref().is_none_or(|h| h.is_finished()) {
            self.unsynced = 0;
            let early = self.file.try_clone()?;
            // Errors surface in the final sync.
            self.syncer = Some(std::thread::spawn(move || {
                let _ = early.sync_data();
            }));
        }
        Ok(())
    }

    /// Syncs data and metadata: the answer waits for this.
    fn sync(mut self) -> std::io::Result<()> {
        if let Some(h) = self.syncer.take() {
            let _ = h.join();
        }
        self.file.flush()?;
        self.file.sync_all()
    }
}

/// A second, `O_DIRECT` handle on the file just created; `None` where the file system
/// does not take direct writes.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> Option<std::fs::File> {
    None
}

/// Removes its path on drop, unless taken. Holds `None` once the file was persisted.
#[derive(Debug)]
struct TempPath(Option<PathBuf>);

impl Drop for TempPath {
    fn drop(&mut self) {
        let Some(path) = self.0.take() else {
            return;
        };
        // Unlinking a large file can take a while: keep it off the async workers.
        let remove = move || match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Temp upload not removed.")
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes that differ at every offset of a block.
    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 4093) as u8).collect()
    }

    async fn upload(dir: &Path, sizes: &[usize]) -> Vec<u8> {
        let total: usize = sizes.iter().sum();
        let data = pattern(total);
        let mut sink = Sink::start(dir.to_path_buf(), &format!("t{total}-{}", sizes.len()));
        let mut at = 0;
        for n in sizes {
            sink.write(Bytes::copy_from_slice(&data[at..at + n]))
                .await
                .unwrap();
            at += n;
        }
        let mut done = sink.finish().await.unwrap();
        assert_eq!(done.size(), total as u64);
        let target = dir.join(format!("stored-{total}-{}", sizes.len()));
        done.persist(&target).unwrap();
        let stored = std::fs::read(&target).unwrap();
        assert_eq!(stored.len(), data.len());
        assert!(stored == data, "the stored bytes differ from the sent ones");
        stored
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uploads_land_byte_for_byte_whatever_their_sizes_and_chunks() {
        let dir = tempfile::tempdir().unwrap();
        // Empty; one byte; under a page; exactly a block; blocks and an unaligned tail in
        // odd chunks; more blocks than the sink keeps, in one chunk.
        for sizes in [
            vec![],
            vec![1],
            vec![100, 4000],
            vec![BLOCK],
            vec![7; 3]
                .into_iter()
                .chain([BLOCK, 65_537, BLOCK - 3, 11])
                .collect(),
            vec![BLOCK * (BLOCKS + 2) + ALIGN + 5],
        ] {
            upload(dir.path(), &sizes).await;
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_temp_name(n))
            .collect();
        assert!(left.is_empty(), "temp files left behind: {left:?}");
    }

    #[tokio::test]
    async fn a_dropped_upload_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::start(dir.path().to_path_buf(), "gone");
        sink.write(Bytes::from(pattern(BLOCK + 10))).await.unwrap();
        drop(sink);
        let temp = dir.path().join(format!("{TEMP_PREFIX}gone{TEMP_SUFFIX}"));
        // The writer and the drop guard finish on blocking threads: wait for the removal.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while temp.exists() {
            assert!(std::time::Instant::now() < deadline, "the temp file stayed");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
