//! The files store.

use std::path::{Path, PathBuf};

/// The files store under the data folder.
#[derive(Debug)]
pub(crate) struct Files {
    #[allow(dead_code)]
    data_dir: PathBuf,
}

impl Files {
    /// The store under `data_dir`; nothing is opened until first use.
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
        }
    }
}
