//! The embedded store behind the `store` builtin: SQLite tables for data actions, a
//! directory plus an SQLite index for file resources, both under the data folder.

pub(crate) mod files;
pub(crate) mod tables;

use std::path::Path;

/// The stores of one runtime, opened lazily on first use.
#[derive(Debug)]
pub(crate) struct Stores {
    /// Files and their index.
    pub(crate) files: files::Files,
    /// Tables of data actions.
    pub(crate) tables: tables::Tables,
}

impl Stores {
    /// The stores under `data_dir`.
    pub(crate) fn new(data_dir: &Path) -> Self {
        Stores {
            files: files::Files::new(data_dir),
            tables: tables::Tables::new(data_dir),
        }
    }
}
