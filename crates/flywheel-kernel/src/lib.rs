//! The kernel worker: owns one evcxr `CommandContext` (a Rust REPL whose
//! user code runs in evcxr's child process) and serves
//! [`flywheel_kernel_protocol`] requests read from stdin, writing events to
//! stdout.
//!
//! Threads: the main thread runs cells (evcxr's `execute` blocks); a reader
//! thread parses requests (so an interrupt arrives while a cell runs); a
//! forwarder thread drains evcxr's stdout/stderr channels into `stream`
//! outputs as lines are printed — never leaving them undrained, which stalls
//! evcxr — and, after each cell, confirms it has forwarded everything before
//! the main thread sends `done`, so output never arrives after `done`.
//!
//! Architecture invariant: this crate and its binary are the only code that
//! links evcxr.
//!
//! # Design notes
//!
//! The worker binary `flywheel-kernel`. Its `main` calls `evcxr::runtime_hook()`
//! first (evcxr's child that runs user code is this same binary). Threads: the
//! main thread runs cells (evcxr blocks); a reader thread takes requests so an
//! interrupt arrives mid-cell (it stops evcxr's child with its process group:
//! the cell stops within a second and the kernel restarts, losing variables,
//! which the error says); a
//! forwarder drains evcxr's stdout/stderr channels into `stream` outputs as
//! they are printed and, after each cell, confirms it is drained before
//! `done` is sent. `:` commands that reach the host (`:dep`, `:sccache`,
//! `:linker`, …) are refused with a reason. `--prelude PATH` loads
//! `flywheel-ml` before `ready`; cold, that compile takes minutes, which is
//! why sessions start from the server's prebuilt template (`flywheel-app`'s `kernels.rs`).
//!
//! When its stdin closes (the server has gone) the worker kills evcxr's child
//! and exits, so a running cell never outlives the server.
//!
//! `runtime.rs` — evcxr's child is two processes of this binary: a relay
//! (what evcxr started, waits on and kills; it leads its own process group
//! and dies with the worker) and the runtime behind it that runs user code
//! (memory bounded; `PR_SET_PDEATHSIG`, so it dies with the relay). An
//! interrupt stops the relay's whole process group, so processes a cell
//! started go too (one left running also kept evcxr waiting for the end of
//! the child's stderr). The relay copies the runtime's stdout to evcxr line
//! by line and puts its own marker before evcxr's `EVCXR_ERROR_OCCURRED`, which evcxr
//! 0.22 swallows (a cell whose `?` returned an error was answered `Ok`);
//! evcxr passes the marker on as an ordinary line, and the worker fails the
//! cell with the error's text. Why a process and not a thread:
//! a pipe keeps what a crashing cell wrote last, a thread in the dying process
//! would not.
//!
//! `display.rs` — with the library loaded, the worker rewrites a cell's
//! final expression `expr` (found with `ra_ap_syntax`, the parser evcxr
//! splits cells with) into `flywheel_ml::show!(expr);`. Why: evcxr compiles
//! `(expr).evcxr_display()` and, when that fails, the cell again with `{:?}`
//! — a second compile for every cell ending in a number (≈ 250 ms of a
//! ≈ 650 ms warm cell in the kernel issue's measurement) — and it takes that
//! fallback for any error it attributes to the line, even one it then fixes:
//! the likely cause of the first table of a new session sometimes coming
//! back as text (seen in the labs, never reproduced on demand). Not
//! rewritten: cells with `:` commands or that do not parse, and the rest of a session once a cell mentions
//! `evcxr_display` (a participant's own rich type). Compile-error columns are
//! mapped back to the participant's cell.
//!
//! `processes.rs` — the bound on user code's processes and threads: the
//! kernel's pids cgroup, named by Flywheel in `FLYWHEEL_KERNEL_PIDS_CGROUP`.
//! The relay joins it before starting the runtime, so the cells and what
//! they start are counted, but not the worker and its compilers (a full
//! cgroup must not stop the worker from starting a thread: evcxr panicked
//! when it could not, found by the fork-bomb test). A watcher thread reads
//! `pids.events` every 100 ms; forks refused at the bound stop the cell's
//! process group, the cell fails with `ProcessLimit`, and the worker exits so
//! Flywheel stops what is left; its `done` says so (`kernel_ends`), and the
//! session lets the worker go at once, so the next cell starts a new kernel
//! instead of being sent to one on its way out (found by trying it through
//! the API: a cell sent straight after failed with `KernelError`).
//!
//! `sandbox.rs` — with `--sandbox`, the worker restricts itself before evcxr
//! starts, so cargo, rustc and evcxr's child inherit it: root's capabilities
//! dropped (bounding set, `NO_ROOT` secure bits, every set; the user id
//! stays, since the toolchain usually lives in root's unreadable home);
//! Landlock read/execute rules for the system, the toolchain and the paths
//! the server passes (`--allow-read`: of the operator's Cargo home only
//! `registry` and `git`, never `credentials.toml`), read-write only for the
//! session directory (`--allow-write`), and Landlock's scopes (signals and
//! abstract Unix sockets stay inside the kernel); a seccomp filter that
//! answers `EACCES` to `socket()` for IPv4/IPv6/packet/netlink; rlimits (no
//! core, file size, open files). The runtime (user code) adds
//! `confine_user_code` when it finds itself under seccomp: a second filter
//! refusing `execve`, Unix sockets, signals outside its process group (the
//! rule that holds where Landlock's scopes are missing), `ptrace`, other
//! processes' memory, namespaces (`clone3` answers `ENOSYS`, so threads fall
//! back to `clone`, whose flags it checks), mounts, key rings and BPF; the
//! compiler, in the worker, is not under it. `commands.rs` refuses `!` lines,
//! which evcxr would run with `sh -c` in the worker itself. `lib.rs` adds a
//! line after a cell whose output shows "Operation not permitted" or
//! "Permission denied", saying what the sandbox allows.
//! `main` bounds the address space of evcxr's child from
//! `FLYWHEEL_KERNEL_MEMORY_BYTES`. `ready` carries what was enforced. Found by
//! tracing a sandboxed start: rust-analyzer ran `$CARGO_HOME/bin/cargo` (the
//! rustup proxy, which reads `~/.rustup`) unless `CARGO`/`RUSTC` name the
//! toolchain's binaries, and cargo writes lock files in `CARGO_HOME` even
//! offline — so kernels share one `CARGO_HOME` (`data/kernels/cargo-home`:
//! `registry` linked to the server's, read-only) in which only cargo's lock
//! files are writable. One shared path matters: cargo's fingerprints contain
//! each registry crate's source path, and a per-session `CARGO_HOME` made
//! every copy of the template rebuild the whole library (239 s instead of 3 s).
//!
//! **Invariant:** `flywheel-kernel` is the only crate that links evcxr
//! (checked by `tests/tidy.rs`).
//! Dependencies are built with `opt-level = 1` even in debug: evcxr runs
//! rust-analyzer in-process for every cell, and unoptimised it took minutes.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender, select};
use evcxr::{CommandContext, Error as EvcxrError, EvalOutputs};
use flywheel_kernel_protocol::{
    Event, Location, Output, PROTOCOL_VERSION, Request, Status, StreamName, from_line, to_line,
};

mod commands;
mod display;
pub mod processes;
pub mod runtime;
pub mod sandbox;

/// Writes events to stdout, one line each, from any thread.
#[derive(Clone)]
struct EventSink(Arc<Mutex<std::io::Stdout>>);

impl EventSink {
    fn send(&self, event: &Event) {
        let Ok(line) = to_line(event) else { return };
        if let Ok(mut out) = self.0.lock() {
            // If Flywheel has gone away there is nobody to tell.
            let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        }
    }

    fn output(&self, id: u64, output: Output) {
        self.send(&Event::Output { id, output });
    }
}

/// How the worker is started.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Path of the `flywheel-ml` crate to load before the first cell, so that
    /// `use flywheel_ml::prelude::*;` is in scope from the start.
    pub prelude: Option<std::path::PathBuf>,
    /// The sandbox to enter before evcxr starts (`--sandbox`).
    pub sandbox: Option<sandbox::Sandbox>,
    /// Show final expressions as evcxr does (`--evcxr-display`), not by the
    /// library's `show!`: for the benchmark's plain-evcxr side.
    pub evcxr_display: bool,
}

const USAGE: &str = "usage: flywheel-kernel [--prelude PATH] [--evcxr-display] [--sandbox [--allow-read PATH]… [--allow-write PATH]… [--require-sandbox]]";

impl Options {
    /// Reads the options from the command line (see `USAGE`).
    ///
    /// # Errors
    /// An unknown argument or a missing value.
    pub fn from_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut options = Options::default();
        while let Some(arg) = args.next() {
            let mut path =
                |what: &str| args.next().map(std::path::PathBuf::from).with_context(|| format!("{arg} needs {what}"));
            match arg.as_str() {
                "--prelude" => options.prelude = Some(path("the path of the flywheel-ml crate")?),
                "--sandbox" => {
                    options.sandbox.get_or_insert_default();
                }
                "--allow-read" => {
                    let p = path("a path")?;
                    options.sandbox.get_or_insert_default().read.push(p);
                }
                "--allow-write" => {
                    let p = path("a path")?;
                    options.sandbox.get_or_insert_default().write.push(p);
                }
                "--evcxr-display" => options.evcxr_display = true,
                "--require-sandbox" => options.sandbox.get_or_insert_default().require = true,
                other => anyhow::bail!("unknown argument `{other}` ({USAGE})"),
            }
        }
        Ok(options)
    }
}

/// The cells that load the library: run by the worker itself, before
/// `ready`, so they are not subject to the participant's command rules.
fn prelude_cells(path: &std::path::Path) -> [String; 2] {
    let path = path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    [format!(":dep flywheel-ml = {{ path = \"{path}\" }}"), "use flywheel_ml::prelude::*;".to_owned()]
}

/// Runs the worker until `shutdown` or end of input.
///
/// # Errors
/// When evcxr cannot start (no Rust toolchain, no temp dir), or the prelude
/// does not build.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let sink = EventSink(Arc::new(Mutex::new(std::io::stdout())));
    let bound = processes::ProcessBound::from_env()?;
    let processes = match &bound {
        Some(b) => format!("processes and threads ≤ {} (pids cgroup)", b.max()),
        None => "processes not bounded".to_owned(),
    };
    let sandbox = enter_sandbox(options, bound.as_ref(), &processes)?;
    let (mut context, outputs) = CommandContext::new().map_err(|e| anyhow::anyhow!("{e}")).context("starting evcxr")?;
    if let Some(path) = &options.prelude {
        for cell in prelude_cells(path) {
            context
                .execute(&cell)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("loading the prelude: {cell}"))?;
        }
        // The build's chatter is not any cell's output.
        outputs.stdout.try_iter().for_each(drop);
        outputs.stderr.try_iter().for_each(drop);
    }
    let current = Arc::new(AtomicU64::new(0));
    let watch = Arc::new(Mutex::new(CellWatch::default()));
    let (drain_tx, drain_rx) = crossbeam_channel::unbounded::<Sender<()>>();
    {
        let (sink, current, watch) = (sink.clone(), current.clone(), watch.clone());
        std::thread::spawn(move || forward(&outputs.stdout, &outputs.stderr, &drain_rx, &sink, &current, &watch));
    }

    let interrupted = Arc::new(AtomicBool::new(false));
    let request_rx = read_requests(context.process_handle(), interrupted.clone());

    let over_bound = Arc::new(AtomicBool::new(false));
    if let Some(bound) = bound.clone() {
        watch_process_bound(bound, context.process_handle(), over_bound.clone());
    }

    // With the library loaded, final expressions are shown by its `show!`
    // (one compile), until a cell brings its own `evcxr_display`.
    let mut show_with_library = options.prelude.is_some() && !options.evcxr_display;

    sink.send(&Event::Ready { protocol: PROTOCOL_VERSION, sandbox });
    while let Ok(request) = request_rx.recv() {
        let Request::Execute { id, code } = request else { break };
        current.store(id, Ordering::SeqCst);
        interrupted.store(false, Ordering::SeqCst);
        let started = Instant::now();
        let status = match commands::refusal(&code) {
            Some(why) => {
                sink.output(id, error_output("Refused", &why, vec![why.clone()], vec![]));
                Status::Error
            }
            None => {
                if let Ok(mut w) = watch.lock() {
                    *w = CellWatch::default();
                }
                let failed_forks = bound.as_ref().map(processes::ProcessBound::failed_forks);
                show_with_library &= !code.contains("evcxr_display");
                let rewritten = if show_with_library { display::rewrite(&code) } else { None };
                let result = context.execute(rewritten.as_ref().map_or(&code, |r| &r.code));
                let drain = || {
                    let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
                    if drain_tx.send(ack_tx).is_ok() {
                        let _ = ack_rx.recv();
                    }
                };
                drain();
                if bound.as_ref().map(processes::ProcessBound::failed_forks) > failed_forks {
                    over_bound.store(true, Ordering::SeqCst);
                }
                let seen = watch.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
                let refused = seen.refused
                    || match &result {
                        Ok(outputs) => outputs.content_by_mime_type.values().any(|t| mentions_refusal(t)),
                        Err(e) => mentions_refusal(&e.to_string()),
                    };
                let status = match (seen, result) {
                    _ if over_bound.load(Ordering::SeqCst) => {
                        let max = bound.as_ref().map_or("its bound", processes::ProcessBound::max);
                        let why = format!(
                            "The cell started more processes or threads than a kernel may have ({max}). The kernel was stopped with everything it started; the next cell starts a new one (variables from earlier cells are lost)."
                        );
                        sink.output(id, error_output("ProcessLimit", &why, vec![why.clone()], vec![]));
                        Status::Error
                    }
                    // evcxr keeps the variables after a panic and answers Ok;
                    // the cell still failed, and says how.
                    (CellWatch { panic: Some(message), .. }, Ok(_)) => {
                        let why = format!("{message} (variables from earlier cells are kept)");
                        sink.output(id, error_output("Panic", &message, vec![why], vec![]));
                        Status::Error
                    }
                    // A `?` returned an error: evcxr printed it to stderr,
                    // dropped the cell's new variables and answered Ok.
                    (CellWatch { returned_error: true, stderr, .. }, Ok(_)) => {
                        let stderr = if stderr.is_empty() {
                            // evcxr reads the child's stderr on its own
                            // thread: give the message a moment to arrive.
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            drain();
                            watch.lock().map(|mut w| std::mem::take(&mut w.stderr)).unwrap_or_default()
                        } else {
                            stderr
                        };
                        let message = stderr.trim_end();
                        let evalue =
                            if message.is_empty() { "the cell returned an error through `?`" } else { message };
                        let why = "The cell returned an error through `?`. Variables it defined were not kept; those from earlier cells are.";
                        sink.output(id, error_output("Error", evalue, vec![evalue.to_owned(), why.to_owned()], vec![]));
                        Status::Error
                    }
                    (_, result) => report(&sink, id, result, interrupted.load(Ordering::SeqCst), rewritten.as_ref()),
                };
                if refused {
                    sink.output(id, Output::Stream { name: StreamName::Stderr, text: SANDBOX_NOTE.to_owned() });
                }
                status
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let kernel_ends = over_bound.load(Ordering::SeqCst);
        sink.send(&Event::Done { id, status, elapsed_ms, kernel_ends });
        if kernel_ends {
            // Processes the cell started may still fill the bound; Flywheel
            // stops all of them (the process group, the cgroup) when this
            // worker exits.
            return Ok(());
        }
    }
    Ok(())
}

/// evcxr's child (the relay in front of user code), as evcxr shares it.
type ProcessHandle = Arc<Mutex<std::process::Child>>;

/// Enters the sandbox when `options` ask for it (with the pids cgroup's
/// files allowed); what is enforced, for the `ready` event.
fn enter_sandbox(
    options: &Options,
    bound: Option<&processes::ProcessBound>,
    processes: &str,
) -> anyhow::Result<Option<String>> {
    let Some(rules) = &options.sandbox else { return Ok(None) };
    let mut rules = rules.clone();
    if let Some(b) = bound {
        rules.read.push(b.dir().to_path_buf());
        rules.write.push(b.procs());
    }
    Ok(Some(format!("{}; {processes}", sandbox::apply(&rules).context("entering the sandbox")?)))
}

/// Reads requests from stdin on a thread of its own, so that an interrupt
/// arrives while a cell runs: it stops user code at once (and sets
/// `interrupted`); other requests come out of the returned channel. When
/// stdin closes (Flywheel has gone) it stops user code and exits the
/// process, so a running cell never outlives the server.
fn read_requests(process: ProcessHandle, interrupted: Arc<AtomicBool>) -> crossbeam_channel::Receiver<Request> {
    let (request_tx, request_rx) = crossbeam_channel::unbounded::<Request>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match from_line::<Request>(&line) {
                Ok(Request::Interrupt) => {
                    interrupted.store(true, Ordering::SeqCst);
                    if let Ok(mut child) = process.lock() {
                        runtime::stop_user_code(&mut child);
                    }
                }
                Ok(request) => {
                    if request_tx.send(request).is_err() {
                        break;
                    }
                }
                Err(e) => eprintln!("flywheel-kernel: ignoring a malformed request: {e}"),
            }
        }
        if let Ok(mut child) = process.lock() {
            runtime::stop_user_code(&mut child);
        }
        std::process::exit(0);
    });
    request_rx
}

/// Watches the pids cgroup every 100 ms on a thread of its own: forks
/// failing at the bound mean a cell is flooding the kernel with processes,
/// so user code is stopped at once, as an interrupt would, and
/// `over_bound` set.
fn watch_process_bound(bound: processes::ProcessBound, process: ProcessHandle, over_bound: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut failed = bound.failed_forks();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let now = bound.failed_forks();
            if now > failed {
                failed = now;
                over_bound.store(true, Ordering::SeqCst);
                if let Ok(mut child) = process.lock() {
                    runtime::stop_user_code(&mut child);
                }
            }
        }
    });
}

/// Said after a cell whose output shows the sandbox refusing something, so
/// that "Operation not permitted" is not a riddle.
const SANDBOX_NOTE: &str = "[Flywheel] The kernel's sandbox refused an operation of this cell. Cells may read \
the algorithm library and the files of their session, and write only there; they cannot start programs, open \
network or Unix sockets, signal processes outside their kernel, or read the server's or other sessions' files.\n";

/// Whether a text shows the operating system refusing an operation, as the
/// sandbox's layers do (`EPERM`, `EACCES`; Rust's `io::Error` wording).
fn mentions_refusal(text: &str) -> bool {
    text.contains("Operation not permitted") || text.contains("Permission denied")
}

/// What the current cell's output said about how it ended: a panic (Rust
/// prints `thread '…' (ID) panicked at FILE:LINE:COL:` and the message on the
/// next line), or a `?` error (the relay's [`runtime::CELL_ERROR_MARKER`]).
#[derive(Default)]
struct CellWatch {
    /// Seen the `panicked at` line; the next line is the message.
    expecting_message: bool,
    /// The panic's message.
    panic: Option<String>,
    /// The cell returned an error through `?`.
    returned_error: bool,
    /// The cell's stderr, up to [`CellWatch::STDERR_KEPT`] bytes: the
    /// message of a `?` error.
    stderr: String,
    /// A line showed the sandbox refusing an operation ([`mentions_refusal`]).
    refused: bool,
}

impl CellWatch {
    const STDERR_KEPT: usize = 2000;

    fn see_stderr(&mut self, line: &str) {
        if self.stderr.len() < Self::STDERR_KEPT {
            let room = Self::STDERR_KEPT - self.stderr.len();
            let end = (0..=line.len().min(room)).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
            self.stderr.push_str(&line[..end]);
            self.stderr.push('\n');
        }
        if self.expecting_message {
            self.expecting_message = false;
            self.panic.get_or_insert_with(|| format!("the cell panicked: {line}"));
        } else if line.starts_with("thread '") && line.contains(" panicked at ") {
            self.expecting_message = true;
        }
    }
}

/// Forwards printed lines as `stream` outputs of the current execution; on
/// a drain request, forwards whatever is queued and acknowledges.
fn forward(
    stdout: &Receiver<String>,
    stderr: &Receiver<String>,
    drain: &Receiver<Sender<()>>,
    sink: &EventSink,
    current: &AtomicU64,
    watch: &Mutex<CellWatch>,
) {
    let emit = |name, line: String| {
        if let Ok(mut w) = watch.lock() {
            w.refused |= mentions_refusal(&line);
            if name == StreamName::Stdout && line == runtime::CELL_ERROR_MARKER {
                w.returned_error = true;
                return;
            }
            if name == StreamName::Stderr {
                w.see_stderr(&line);
            }
        }
        sink.output(current.load(Ordering::SeqCst), Output::Stream { name, text: format!("{line}\n") });
    };
    loop {
        select! {
            recv(stdout) -> line => match line { Ok(l) => emit(StreamName::Stdout, l), Err(_) => return },
            recv(stderr) -> line => match line { Ok(l) => emit(StreamName::Stderr, l), Err(_) => return },
            recv(drain) -> ack => {
                let Ok(ack) = ack else { return };
                for l in stdout.try_iter() { emit(StreamName::Stdout, l); }
                for l in stderr.try_iter() { emit(StreamName::Stderr, l); }
                let _ = ack.send(());
            }
        }
    }
}

fn error_output(ename: &str, evalue: &str, traceback: Vec<String>, locations: Vec<Location>) -> Output {
    Output::Error { ename: ename.to_owned(), evalue: evalue.to_owned(), traceback, locations }
}

/// `Took 312 ms: Final compile 250 ms, Execution 5 ms` — evcxr's phases: a
/// compile that failed and was retried is named by what evcxr changed
/// (`Fallback` for its second compile of a final expression); the
/// rust-analyzer pass that types new variables counts in the first.
fn timing_text<'a>(took: std::time::Duration, phases: impl Iterator<Item = (&'a str, std::time::Duration)>) -> String {
    let phases: Vec<String> = phases.map(|(name, d)| format!("{name} {} ms", d.as_millis())).collect();
    format!("Took {} ms: {}", took.as_millis(), phases.join(", "))
}

/// Turns evcxr's answer into outputs and a status; compile errors point
/// into the participant's cell even where the worker rewrote it.
fn report(
    sink: &EventSink,
    id: u64,
    result: Result<EvalOutputs, EvcxrError>,
    interrupted: bool,
    rewritten: Option<&display::Rewritten>,
) -> Status {
    match result {
        Ok(outputs) => {
            let data: BTreeMap<String, String> = outputs.content_by_mime_type.into_iter().collect();
            if !data.is_empty() {
                sink.output(id, Output::ExecuteResult { execution_count: id, data, metadata: BTreeMap::new() });
            }
            // After `:timing`: where the cell's time went (evcxr's phases).
            if let Some(took) = outputs.timing {
                let text = timing_text(took, outputs.phases.iter().map(|p| (p.name.as_str(), p.duration)));
                let data = BTreeMap::from([("text/plain".to_owned(), text)]);
                sink.output(id, Output::DisplayData { data, metadata: BTreeMap::new() });
            }
            Status::Ok
        }
        Err(EvcxrError::CompilationErrors(errors)) => {
            for e in errors {
                let locations: Vec<Location> = e
                    .primary_spanned_message()
                    .and_then(|m| m.span.as_ref())
                    .map(|s| Location {
                        line: s.start_line,
                        column: rewritten.map_or(s.start_column, |r| r.original_column(s.start_line, s.start_column)),
                    })
                    .into_iter()
                    .collect();
                let traceback = e.rendered().lines().map(str::to_owned).collect();
                sink.output(id, error_output("CompilationError", &e.message(), traceback, locations));
            }
            Status::Error
        }
        Err(EvcxrError::SubprocessTerminated(message)) if interrupted => {
            let why = "The cell was interrupted. The kernel restarted: variables from earlier cells were lost.";
            sink.output(id, error_output("Interrupted", why, vec![why.to_owned(), message], vec![]));
            Status::Interrupted
        }
        Err(EvcxrError::SubprocessTerminated(message)) => {
            let why = "The kernel's process ended (a crash, or a memory or time limit). Variables from earlier cells were lost.";
            sink.output(id, error_output("KernelError", why, vec![why.to_owned(), message], vec![]));
            Status::Error
        }
        Err(EvcxrError::TypeRedefinedVariablesLost(names)) => {
            let why = format!("A type was redefined; these variables were lost: {}", names.join(", "));
            sink.output(id, error_output("VariablesLost", &why, vec![why.clone()], vec![]));
            Status::Ok
        }
        Err(other) => {
            let text = other.to_string();
            let first = text.lines().next().unwrap_or("error").to_owned();
            let ename = if text.contains("panicked") { "Panic" } else { "Error" };
            sink.output(id, error_output(ename, &first, text.lines().map(str::to_owned).collect(), vec![]));
            Status::Error
        }
    }
}
