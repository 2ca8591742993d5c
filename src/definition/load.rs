//! Reading definition files: every `*.json` of a folder, every problem collected.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{validate_set, ServiceDefinition};

/// A parsed definition and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedDefinition {
    /// The definition.
    pub definition: ServiceDefinition,
    /// The file it was read from (or the deployment resource name).
    pub source: String,
    /// The folder relative `command` paths resolve against.
    pub base_dir: PathBuf,
}

/// One thing wrong with a definition: which file, where in it, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file or resource name.
    pub file: String,
    /// The JSON path, e.g. `messageActions[0].process`; `.` for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `path` of `file`.
    pub fn new(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            file: file.to_owned(),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.path, self.message)
    }
}

/// Every problem of a set of definitions; never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Parses one definition document; `file` names it in problems.
///
/// # Errors
///
/// The document is not JSON, or does not have the shape of a definition: the problem
/// names the JSON path where parsing stopped.
pub fn parse_definition(file: &str, bytes: &[u8]) -> Result<ServiceDefinition, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Problem::new(file, path, inner.to_string())
    })
}

/// Loads every `*.json` file of `dir` (dotfiles and other extensions skipped), sorted by
/// file name, and validates them as one set.
///
/// # Errors
///
/// Every problem found, in any file; nothing is returned when one file is bad.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedDefinition>, Problems> {
    let dir_name = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Problems(vec![Problem::new(
            &dir_name,
            ".",
            format!("operations folder cannot be read: {e}"),
        )])
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && p.is_file()
        })
        .collect();
    paths.sort();
    let mut problems = Vec::new();
    let mut loaded = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Problem::new(&file, ".", format!("cannot be read: {e}")));
                continue;
            }
        };
        match parse_definition(&file, &bytes) {
            Ok(definition) => loaded.push(LoadedDefinition {
                definition,
                source: file,
                base_dir: dir.to_path_buf(),
            }),
            Err(p) => problems.push(p),
        }
    }
    problems.extend(validate_set(&loaded).0);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(Problems(problems))
    }
}
