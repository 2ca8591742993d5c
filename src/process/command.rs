//! The `command` process: a program per execution, JSON on stdin, JSON on stdout.
//!
//! Stdout is read up to a bound and stderr keeps only its tail, so a chatty or runaway
//! program cannot grow the server's memory.
//!
//! Each run is a process group of its own, and the whole group is killed when the run
//! ends — when the program exits (what it left running in the background goes with it),
//! and when the run's future is dropped: at the execution deadline, or when the caller
//! went away. So no process of a command outlives its execution.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rustix::process::{kill_process_group, Pid, Signal};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ProcessCall, Reply};
use crate::error::{Error, Result};

/// The most stdout a command may write, in bytes.
pub(crate) const MAX_STDOUT_BYTES: u64 = 64 << 20;
/// How much of stderr's tail is kept to find the last line.
const STDERR_TAIL_BYTES: usize = 16 << 10;

/// A program and its arguments, with the folder it runs in.
#[derive(Debug, Clone)]
pub struct CommandProcess {
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
}

impl CommandProcess {
    /// A command from its argv; a relative program path with a `/` resolves against `dir`,
    /// and the program runs with `dir` as its working directory.
    pub fn new(argv: &[String], dir: &Path) -> Self {
        let first = argv.first().map(String::as_str).unwrap_or_default();
        let program = if first.contains('/') && Path::new(first).is_relative() {
            dir.join(first)
        } else {
            PathBuf::from(first)
        };
        CommandProcess {
            program,
            args: argv.iter().skip(1).cloned().collect(),
            dir: dir.to_path_buf(),
        }
    }

    /// Runs the program once with `call` on stdin.
    ///
    /// # Errors
    ///
    /// [`Error::Process`] when the program cannot start, exits non-zero (the message is
    /// the last line of stderr), writes too much, or answers something that is not a
    /// JSON object.
    pub async fn run(&self, call: &ProcessCall) -> Result<Reply> {
        let input = serde_json::to_vec(call).map_err(Error::internal)?;
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own group, led by the child: the guard below reaches every process
            // the program starts, which `kill_on_drop` (the child alone) does not.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                // The program as the definition names it: the folder it resolves against
                // is a server path, for the log only.
                let named = self.program.strip_prefix(&self.dir).unwrap_or(&self.program);
                tracing::warn!(program = %self.program.display(), error = %e, "Command did not start.");
                Error::Process(format!("command '{}' could not start: {e}", named.display()))
            })?;
        let _group = child.id().and_then(ProcessGroup::led_by);
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");

        let write = async move {
            // A program that does not read its stdin closes the pipe early; that is its
            // business, not an error of the execution.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        };
        let read_out = async {
            let mut buf = Vec::new();
            let n = (&mut stdout)
                .take(MAX_STDOUT_BYTES + 1)
                .read_to_end(&mut buf)
                .await?;
            Ok::<_, std::io::Error>((buf, n as u64 > MAX_STDOUT_BYTES))
        };
        let read_err = async {
            let mut tail: Vec<u8> = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = stderr.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > STDERR_TAIL_BYTES * 2 {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
            Ok::<_, std::io::Error>(tail)
        };
        let ((), out, err) = tokio::join!(write, read_out, read_err);
        let status = child.wait().await.map_err(Error::internal)?;
        let (out, too_long) = out.map_err(Error::internal)?;
        let err = err.unwrap_or_default();

        if !status.success() {
            let text = String::from_utf8_lossy(&err);
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            return Err(Error::Process(match last {
                Some(line) => line.trim().to_owned(),
                None => format!("command exited with {status}"),
            }));
        }
        if too_long {
            return Err(Error::Process(format!(
                "command wrote more than {MAX_STDOUT_BYTES} bytes on stdout"
            )));
        }
        match serde_json::from_slice::<Value>(&out) {
            Ok(Value::Object(m)) => Ok(Reply(m)),
            Ok(_) => Err(Error::Process(
                "command answered JSON that is not an object".into(),
            )),
            Err(e) => Err(Error::Process(format!(
                "command answered invalid JSON on stdout: {e}"
            ))),
        }
    }
}

/// The process group of one run; dropping it kills every process still in it.
#[derive(Debug)]
struct ProcessGroup(Pid);

impl ProcessGroup {
    /// The group whose leader is the process `pid` (a child spawned with
    /// `process_group(0)`).
    fn led_by(pid: u32) -> Option<Self> {
        Pid::from_raw(i32::try_from(pid).ok()?).map(ProcessGroup)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // ESRCH (the group is already empty) is the common case after a clean exit.
        let _ = kill_process_group(self.0, Signal::KILL);
    }
}
