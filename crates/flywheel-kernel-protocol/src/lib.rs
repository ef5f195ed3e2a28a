//! The kernel protocol: what Flywheel says to a kernel worker process and
//! what the worker answers, one JSON object per line over the worker's
//! stdin and stdout.
//!
//! This is the thick line between the web server and the place code runs
//! (Livebook's `Runtime` seam): the server links this crate, never evcxr;
//! the worker (`flywheel-kernel`) links evcxr and speaks this protocol.
//!
//! Outputs use nbformat 4's output shapes (`stream`, `display_data`,
//! `execute_result`, `error`), so they drop into an `.ipynb` unchanged.
//!
//! A session: the worker first sends [`Event::Ready`] (with the protocol
//! version), then for each [`Request::Execute`] zero or more
//! [`Event::Output`]s while the cell runs, and exactly one [`Event::Done`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change; a worker and a server must agree.
pub const PROTOCOL_VERSION: u32 = 1;

/// The environment variable Flywheel sets on a worker to the directory of
/// its pids cgroup: the worker's relay (the process that starts user code)
/// joins it, and the worker watches it for forks refused at the bound.
pub const PIDS_CGROUP_VAR: &str = "FLYWHEEL_KERNEL_PIDS_CGROUP";

/// A message to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Run a cell.
    Execute {
        /// Chosen by the caller; echoed on every event of this execution.
        id: u64,
        /// The cell's source.
        code: String,
    },
    /// Stop the running cell (if any) as soon as possible.
    Interrupt,
    /// Finish and exit.
    Shutdown,
}

/// A message from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The worker has started and can take requests.
    Ready {
        /// [`PROTOCOL_VERSION`] of the worker.
        protocol: u32,
        /// What the worker's sandbox enforces, in words (absent: no sandbox asked for).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sandbox: Option<String>,
    },
    /// An output of a running (or just finished) execution.
    Output {
        /// The execution.
        id: u64,
        /// The output, in nbformat's shape.
        output: Output,
    },
    /// An execution finished; no more events carry its id.
    Done {
        /// The execution.
        id: u64,
        /// How it ended.
        status: Status,
        /// Wall time of the execution, in milliseconds.
        elapsed_ms: u64,
        /// The worker exits after this event (the cell flooded the kernel
        /// with processes): the next cell needs a new kernel.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        kernel_ends: bool,
    },
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It ran to the end.
    Ok,
    /// It failed to compile, panicked, or was refused; an `error` output says why.
    Error,
    /// It was stopped by an interrupt or the time limit.
    Interrupted,
}

/// One output of a cell, as in nbformat 4 (`output_type` is the tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "output_type", rename_all = "snake_case")]
pub enum Output {
    /// Text the cell printed.
    Stream {
        /// `stdout` or `stderr`.
        name: StreamName,
        /// The text (may hold several lines).
        text: String,
    },
    /// A rich value the cell displayed (a plot, a table).
    DisplayData {
        /// MIME type → content (`text/plain`, `text/html`, `image/svg+xml`, `image/png` as base64).
        data: BTreeMap<String, String>,
        /// nbformat's metadata (unused so far; always present for nbformat).
        #[serde(default)]
        metadata: BTreeMap<String, serde_json::Value>,
    },
    /// The value of the cell's final expression.
    ExecuteResult {
        /// nbformat's execution count (the caller's id).
        execution_count: u64,
        /// MIME type → content.
        data: BTreeMap<String, String>,
        /// nbformat's metadata.
        #[serde(default)]
        metadata: BTreeMap<String, serde_json::Value>,
    },
    /// Why the cell failed.
    Error {
        /// Kind: `CompilationError`, `Panic`, `Refused`, `Interrupted`, `KernelError`.
        ename: String,
        /// One-line summary.
        evalue: String,
        /// Full report, one entry per line.
        traceback: Vec<String>,
        /// For compile errors: where in the cell, 1-based.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        locations: Vec<Location>,
    },
}

/// Which stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamName {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A place in a cell's source: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Encodes a message as one line of JSON (with the trailing newline).
///
/// # Errors
/// Only if the message cannot be serialised (it always can).
pub fn to_line<T: Serialize>(message: &T) -> serde_json::Result<String> {
    let mut s = serde_json::to_string(message)?;
    s.push('\n');
    Ok(s)
}

/// Decodes one line of JSON.
///
/// # Errors
/// When the line is not a valid message.
pub fn from_line<'a, T: Deserialize<'a>>(line: &'a str) -> serde_json::Result<T> {
    serde_json::from_str(line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_have_nbformat_shapes() {
        let out = Output::Stream { name: StreamName::Stdout, text: "hi\n".into() };
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            serde_json::json!({"output_type": "stream", "name": "stdout", "text": "hi\n"})
        );
        let err = Output::Error {
            ename: "Panic".into(),
            evalue: "boom".into(),
            traceback: vec!["boom".into()],
            locations: vec![],
        };
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({"output_type": "error", "ename": "Panic", "evalue": "boom", "traceback": ["boom"]})
        );
        let mut data = BTreeMap::new();
        data.insert("text/plain".to_owned(), "2".to_owned());
        let res = Output::ExecuteResult { execution_count: 3, data, metadata: BTreeMap::new() };
        assert_eq!(
            serde_json::to_value(&res).unwrap(),
            serde_json::json!({"output_type": "execute_result", "execution_count": 3, "data": {"text/plain": "2"}, "metadata": {}})
        );
    }

    #[test]
    fn messages_round_trip_as_lines() {
        let r = Request::Execute { id: 7, code: "let x = 1;\nx".into() };
        let line = to_line(&r).unwrap();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "one line: {line:?}");
        assert_eq!(from_line::<Request>(&line).unwrap(), r);
        let e = Event::Done { id: 7, status: Status::Interrupted, elapsed_ms: 12, kernel_ends: false };
        assert_eq!(from_line::<Event>(&to_line(&e).unwrap()).unwrap(), e);
        assert!(from_line::<Request>("{\"type\":\"format_disk\"}").is_err());
    }
}
