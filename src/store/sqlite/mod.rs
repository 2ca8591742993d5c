//! The embedded backend: SQLite databases (WAL) under the data folder — `tables.db` for
//! the tables of data actions, `files.db` for the index of stored files, `admin.db` for
//! the registry, `runs.db` for the runs of the incoming API, `listeners.db` for the Flow
//! listener registrations. Each opens on first use.

mod file_index;
mod listeners;
mod registry;
mod runs;
pub(crate) mod tables;

pub(crate) use file_index::SqliteFileIndex;
pub(crate) use listeners::SqliteListeners;
pub(crate) use registry::{SqliteRegistry, DB_FILE as REGISTRY_FILE};
pub(crate) use runs::SqliteRuns;
pub(crate) use tables::SqliteTables;

/// The file index database under the data folder.
pub(crate) const FILE_INDEX: &str = "files.db";
