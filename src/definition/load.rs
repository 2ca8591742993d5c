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
    /// Where in the file, `(line, column)` counted from 1, when the problem was found
    /// while reading the text (shape problems; set-wide checks have only the path).
    pub at: Option<(usize, usize)>,
}

impl Problem {
    /// A problem at `path` of `file`.
    pub fn new(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            file: file.to_owned(),
            path: path.into(),
            message: message.into(),
            at: None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}: {}",
                self.file, self.path, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.path, self.message),
        }
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

/// How many unknown fields one document may report before reading stops: a file that
/// is not a definition at all should not print a page per key.
const MAX_UNKNOWN_FIELDS: usize = 50;

/// Parses one definition document; `file` names it in problems.
///
/// Every unknown field is reported, each with its line and column, and then the first
/// problem of another kind (bad JSON, a missing or mistyped field), after which serde
/// cannot go on.
///
/// # Errors
///
/// The document is not JSON, or does not have the shape of a definition: each problem
/// names the JSON path and the line and column where it was found.
pub fn parse_definition(file: &str, bytes: &[u8]) -> Result<ServiceDefinition, Problems> {
    let mut text = std::borrow::Cow::Borrowed(bytes);
    let mut problems = Vec::new();
    loop {
        let de = &mut serde_json::Deserializer::from_slice(&text);
        let err = match serde_path_to_error::deserialize(de) {
            Ok(definition) if problems.is_empty() => return Ok(definition),
            Ok(_) => return Err(Problems(problems)),
            Err(e) => e,
        };
        let path = err.path().to_string();
        let inner = err.into_inner();
        let at = (inner.line() > 0).then(|| (inner.line(), inner.column()));
        let message = without_position(&inner);
        let unknown = message.starts_with("unknown field");
        // where the text stopped; `?` is serde_path_to_error's mark for a key not yet read
        let path = match path.trim_end_matches('?').trim_end_matches('.') {
            "" => ".".to_owned(),
            p => p.to_owned(),
        };
        problems.push(Problem {
            file: file.to_owned(),
            path,
            message,
            at,
        });
        let blanked = unknown && problems.len() < MAX_UNKNOWN_FIELDS;
        match at.and_then(|(line, column)| blank_member(&text, line, column)) {
            Some(next) if blanked => text = std::borrow::Cow::Owned(next),
            _ => return Err(Problems(problems)),
        }
    }
}

/// serde_json's message without the ` at line L column C` it appends: fss reports the
/// position as `file:line:column` in front.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix)
        .map_or(text.clone(), str::to_owned)
}

/// The document with the object member whose key ends at `line`:`column` (where
/// serde_json reports an unknown field) turned into spaces, with one comma next to it,
/// so that parsing again goes on past it and every later position stays where it was.
/// `None` when the text there is not a member as expected.
fn blank_member(text: &[u8], line: usize, column: usize) -> Option<Vec<u8>> {
    let line_start = if line == 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(line - 2)?
            .0
            + 1
    };
    let key_end = line_start + column; // one past the key's closing quote
    if text.get(key_end - 1) != Some(&b'"') {
        return None;
    }
    let key_start = (line_start..key_end - 1)
        .rev()
        .find(|&i| text[i] == b'"' && !escaped(text, i))?;
    let colon = key_end + skip_space(&text[key_end..]);
    if text.get(colon) != Some(&b':') {
        return None;
    }
    let value_start = colon + 1;
    let mut values = serde_json::Deserializer::from_slice(&text[value_start..])
        .into_iter::<serde::de::IgnoredAny>();
    values.next()?.ok()?;
    let value_end = value_start + values.byte_offset();
    let after = value_end + skip_space(&text[value_end..]);
    let (from, to) = if text.get(after) == Some(&b',') {
        (key_start, after + 1)
    } else {
        let before = text[..key_start]
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())?;
        match text[before] {
            b',' => (before, value_end),
            b'{' => (key_start, value_end),
            _ => return None,
        }
    };
    let mut out = text.to_vec();
    for b in &mut out[from..to] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
    Some(out)
}

/// Whether the quote at `i` is escaped by an odd run of backslashes before it.
fn escaped(text: &[u8], i: usize) -> bool {
    text[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// How many bytes of JSON whitespace `text` starts with.
fn skip_space(text: &[u8]) -> usize {
    text.iter().take_while(|b| b.is_ascii_whitespace()).count()
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
            Err(p) => problems.extend(p.0),
        }
    }
    problems.extend(validate_set(&loaded).0);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(Problems(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNKNOWN: &str = r#"{ "name": "Unknown",
  "colour": "blue",
  "messageActions": [
    { "name": "Ping",
      "flavour": { "a": [1, "}"] },
      "outputs": [ { "name": "In", "type": "String" } ],
      "process": { "builtin": "echo" }, "tail": 1 } ] }"#;

    #[test]
    fn every_unknown_field_is_reported_with_its_line_and_column() {
        let problems = parse_definition("u.json", UNKNOWN.as_bytes())
            .unwrap_err()
            .0;
        let seen: Vec<_> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.at, p.message.split(',').next().unwrap()))
            .collect();
        assert_eq!(
            seen,
            [
                ("colour", Some((2, 10)), "unknown field `colour`"),
                (
                    "messageActions[0].flavour",
                    Some((5, 15)),
                    "unknown field `flavour`"
                ),
                (
                    "messageActions[0].tail",
                    Some((7, 46)),
                    "unknown field `tail`"
                ),
            ]
        );
        assert_eq!(
            problems[0].to_string().split(',').next().unwrap(),
            "u.json:2:10: colour: unknown field `colour`"
        );
    }

    #[test]
    fn a_shape_problem_after_unknown_fields_is_reported_and_ends_the_file() {
        let text = UNKNOWN.replace(r#""process": { "builtin": "echo" }, "#, "");
        let problems = parse_definition("u.json", text.as_bytes()).unwrap_err().0;
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(problems[3].path, "messageActions[0]");
        assert!(
            problems[3].message.contains("missing field `process`"),
            "{}",
            problems[3]
        );
        assert!(problems[3].at.is_some());
    }

    #[test]
    fn truncated_json_is_reported_at_its_end_where_the_text_stopped() {
        let problems = parse_definition("t.json", b"{ \"name\": \"T\",\n  \"messageActions\": [\n")
            .unwrap_err()
            .0;
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "messageActions");
        assert_eq!(problems[0].at, Some((3, 0)));
        assert_eq!(problems[0].message, "EOF while parsing a list");
    }

    #[test]
    fn a_clean_document_parses_after_nothing_was_blanked() {
        let text = r#"{"name":"A","messageActions":[{"name":"e","process":{"builtin":"echo"}}]}"#;
        assert_eq!(
            parse_definition("a.json", text.as_bytes()).unwrap().name,
            "A"
        );
    }

    #[test]
    fn blanking_keeps_every_later_position() {
        let text = b"{\"a\": 1,\n \"b\": [2,\n 3], \"c\": 4}";
        let out = blank_member(text, 2, 4).unwrap();
        assert_eq!(out.len(), text.len());
        assert_eq!(out, b"{\"a\": 1,\n         \n     \"c\": 4}");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "c": 4}));
    }
}
