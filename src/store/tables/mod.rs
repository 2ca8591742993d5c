//! The tables store.

use std::path::{Path, PathBuf};

/// The tables store under the data folder.
#[derive(Debug)]
pub(crate) struct Tables {
    #[allow(dead_code)]
    data_dir: PathBuf,
}

impl Tables {
    /// The store under `data_dir`; nothing is opened until first use.
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
        }
    }
}
