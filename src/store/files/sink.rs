//! The upload sink: bytes from the socket to a temp file with bounded memory.
//!
//! The async side gathers network chunks, as they came (no copy), into batches of at
//! least [`WRITE_CHUNK`] bytes and hands them to a blocking writer through a channel of
//! [`CHANNEL_DEPTH`] slots, which writes each batch with one vectored write; a full
//! channel makes the upload wait for the disk instead of growing memory. Finishing flushes and
//! syncs the file; dropping an unfinished sink (or a finished one never persisted)
//! removes the temp file.

use std::io::{IoSlice, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{CHANNEL_DEPTH, WRITE_CHUNK};

/// The most chunks one batch holds: a client sending tiny chunks must not make a batch
/// of many small handles (each costs more memory than a byte it carries).
const MAX_BATCH_CHUNKS: usize = 64;
/// Bytes written between two early syncs of a large upload.
const SYNC_EVERY: u64 = 32 << 20;
use crate::error::{Error, Result};

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
    /// Chunks to write in order.
    Data(Vec<Bytes>),
    /// All bytes were sent: sync and report.
    Finish,
}

/// An upload being written.
#[derive(Debug)]
pub(crate) struct Sink {
    tx: Option<mpsc::Sender<Msg>>,
    /// Chunks not yet sent, and their bytes.
    batch: Vec<Bytes>,
    batched: usize,
    writer: Option<JoinHandle<std::io::Result<()>>>,
    temp: TempPath,
    size: u64,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Data(b) => write!(f, "Data({})", b.iter().map(Bytes::len).sum::<usize>()),
            Msg::Finish => f.write_str("Finish"),
        }
    }
}

impl Sink {
    /// Starts the writer of a new hidden temp file in `folder`.
    pub(crate) fn start(folder: PathBuf, exec_id: &str) -> Sink {
        let path = folder.join(format!("{TEMP_PREFIX}{exec_id}{TEMP_SUFFIX}"));
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let target = path.clone();
        let writer = tokio::task::spawn_blocking(move || write_all(&folder, &target, rx));
        Sink {
            tx: Some(tx),
            batch: Vec::new(),
            batched: 0,
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
        if chunk.is_empty() {
            return Ok(());
        }
        self.batched += chunk.len();
        self.batch.push(chunk);
        if self.batched >= WRITE_CHUNK || self.batch.len() >= MAX_BATCH_CHUNKS {
            self.batched = 0;
            let batch = std::mem::take(&mut self.batch);
            return self.send(Msg::Data(batch)).await;
        }
        Ok(())
    }

    /// Writes what is buffered, flushes and syncs the file.
    ///
    /// # Errors
    ///
    /// The writer failed.
    pub(crate) async fn finish(mut self) -> Result<Finished> {
        if !self.batch.is_empty() {
            let rest = std::mem::take(&mut self.batch);
            self.send(Msg::Data(rest)).await?;
        }
        self.send(Msg::Finish).await?;
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
        // The writer ended early: its result says why.
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

/// The blocking writer: creates the file, writes every chunk, syncs on `Finish`.
///
/// Every [`SYNC_EVERY`] bytes a helper thread starts `fdatasync` on the data written so
/// far, so that the disk works while the socket delivers the rest and the final sync
/// only has the tail left to flush. An abandoned or failed upload removes its own file
/// here too: the sink's drop guard may run before this thread has even created it.
fn write_all(folder: &Path, path: &Path, mut rx: mpsc::Receiver<Msg>) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut syncer: Option<std::thread::JoinHandle<()>> = None;
    let mut run = || {
        let mut unsynced = 0u64;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Data(b) => {
                    write_chunks(&mut file, &b)?;
                    unsynced += b.iter().map(|c| c.len() as u64).sum::<u64>();
                    if unsynced >= SYNC_EVERY && syncer.as_ref().is_none_or(|h| h.is_finished()) {
                        unsynced = 0;
                        let early = file.try_clone()?;
                        // Errors surface in the final sync below.
                        syncer = Some(std::thread::spawn(move || {
                            let _ = early.sync_data();
                        }));
                    }
                }
                Msg::Finish => {
                    if let Some(h) = syncer.take() {
                        let _ = h.join();
                    }
                    file.flush()?;
                    return file.sync_all();
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

/// Writes `chunks` in order with vectored writes: the bytes go from the network's
/// buffers to the file without being copied into one buffer first.
fn write_chunks(file: &mut std::fs::File, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "the upload file took no bytes",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
