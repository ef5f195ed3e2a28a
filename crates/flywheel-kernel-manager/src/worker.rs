//! The seam between the manager and the place code runs (JupyterHub's
//! `Spawner`): a [`Spawner`] starts a worker and hands back its two channels.
//! [`ProcessSpawner`] starts the real `flywheel-kernel` process; tests put
//! doubles here that hang, crash or flood, to check how the manager copes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use flywheel_kernel_protocol::{Event, PIDS_CGROUP_VAR, Request, from_line, to_line};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// What a worker tells the manager.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// A protocol event.
    Event(Event),
    /// The worker has gone; the text says why (exit status, last lines of its stderr).
    Exited(String),
}

/// A started worker: requests go in, events come out. Dropping it stops
/// the worker (the process is killed).
pub struct WorkerIo {
    /// Requests to the worker.
    pub requests: mpsc::UnboundedSender<Request>,
    /// Events from the worker; ends with [`WorkerEvent::Exited`].
    pub events: mpsc::UnboundedReceiver<WorkerEvent>,
    /// Dropped with the worker: tells its pump to kill the process.
    pub _kill_on_drop: Option<oneshot::Sender<()>>,
}

impl WorkerIo {
    /// Waits for the worker's `ready`; returns what it said of its sandbox.
    ///
    /// # Errors
    /// Why the worker went away first.
    pub async fn ready(&mut self) -> Result<Option<String>, String> {
        loop {
            match self.events.recv().await {
                Some(WorkerEvent::Event(Event::Ready { sandbox, .. })) => return Ok(sandbox),
                Some(WorkerEvent::Exited(why)) => return Err(why),
                Some(_) => {}
                None => return Err("the kernel worker vanished".to_owned()),
            }
        }
    }
}

/// Starts kernel workers.
pub trait Spawner: Send + Sync + 'static {
    /// Starts one worker whose files live in `dir` (which exists and is
    /// empty or holds a copy of the template).
    ///
    /// # Errors
    /// When the worker cannot be started at all (no program, no permission).
    fn spawn(&self, dir: &Path) -> std::io::Result<WorkerIo>;
}

/// Starts the real `flywheel-kernel` binary with an empty environment, a
/// private HOME/TMPDIR inside the session directory, and evcxr's build
/// directory there too (`EVCXR_TMPDIR`), so nothing of the server's
/// environment (database URL, secrets) reaches user code.
#[derive(Debug, Clone)]
pub struct ProcessSpawner {
    /// The `flywheel-kernel` executable.
    pub program: PathBuf,
    /// Extra arguments (e.g. `--prelude PATH`).
    pub args: Vec<String>,
    /// Directories put first on the worker's `PATH`: the toolchain's own
    /// `bin` (so cargo and rustc run without the rustup proxy).
    pub path_dirs: Vec<PathBuf>,
    /// The `CARGO_HOME` of every worker (see [`CARGO_LOCK_FILES`]): one
    /// path for all, because cargo's fingerprints include the path of each
    /// registry crate's source, and a per-session home made every copy of
    /// the template rebuild the whole library (measured: 239 s instead of 7 s).
    pub cargo_home: Option<PathBuf>,
    /// A session directory whose `evcxr/` build directory (the prelude
    /// compiled) is copied into each new session before its worker starts.
    pub template: Option<PathBuf>,
    /// Run the worker in its sandbox (Landlock, seccomp, rlimits) with these
    /// extra read-only paths; it may write only its session directory.
    pub sandbox: Option<SandboxSpec>,
    /// Address-space limit of the process that runs user code, in bytes.
    pub memory_bytes: Option<u64>,
    /// A pids cgroup per worker, bounding its processes and threads.
    pub pids: Option<std::sync::Arc<crate::pids::PidsCgroups>>,
}

/// What a sandboxed worker may read besides the system's libraries.
#[derive(Debug, Clone, Default)]
pub struct SandboxSpec {
    /// Read and execute: the toolchain, cargo's registry, the library's source, the worker itself.
    pub read: Vec<PathBuf>,
    /// Refuse to start a worker whose kernel does not fully enforce Landlock.
    pub require: bool,
}

/// The files in `CARGO_HOME` that cargo writes even offline (locks and its
/// last-use database). A sandboxed worker may write these and nothing else
/// there, so no session can plant a `config.toml` for the others.
pub const CARGO_LOCK_FILES: [&str; 3] = [".package-cache", ".package-cache-mutate", ".global-cache"];

/// Lines of a worker's stderr kept to explain its exit.
const STDERR_TAIL: usize = 20;

impl ProcessSpawner {
    /// The worker's arguments for a session in `dir`.
    pub fn arguments(&self, dir: &Path) -> Vec<String> {
        let mut args = self.args.clone();
        if let Some(sandbox) = &self.sandbox {
            args.push("--sandbox".to_owned());
            for p in &sandbox.read {
                args.extend(["--allow-read".to_owned(), p.display().to_string()]);
            }
            args.extend(["--allow-write".to_owned(), dir.display().to_string()]);
            for file in self.cargo_home.iter().flat_map(|h| CARGO_LOCK_FILES.map(|f| h.join(f))) {
                args.extend(["--allow-write".to_owned(), file.display().to_string()]);
            }
            if sandbox.require {
                args.push("--require-sandbox".to_owned());
            }
        }
        args
    }

    /// The environment a worker gets: only these variables.
    pub fn environment(&self, dir: &Path) -> Vec<(String, String)> {
        let mut path: Vec<String> = self.path_dirs.iter().map(|p| p.display().to_string()).collect();
        path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(str::to_owned));
        let mut env = vec![
            ("PATH".to_owned(), path.join(":")),
            ("HOME".to_owned(), dir.join("home").display().to_string()),
            ("TMPDIR".to_owned(), dir.join("tmp").display().to_string()),
            ("EVCXR_TMPDIR".to_owned(), dir.join("evcxr").display().to_string()),
            ("EVCXR_CONFIG_DIR".to_owned(), dir.join("config").display().to_string()),
            ("CARGO_NET_OFFLINE".to_owned(), "true".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ];
        // rust-analyzer (inside evcxr) looks for `$CARGO_HOME/bin/cargo`, the
        // rustup proxy, unless told which cargo to run.
        if let Some(bin) = self.path_dirs.first() {
            for (var, tool) in [("CARGO", "cargo"), ("RUSTC", "rustc")] {
                if bin.join(tool).is_file() {
                    env.push((var.to_owned(), bin.join(tool).display().to_string()));
                }
            }
        }
        if let Some(home) = &self.cargo_home {
            env.push(("CARGO_HOME".to_owned(), home.display().to_string()));
        }
        if let Some(bytes) = self.memory_bytes {
            env.push(("FLYWHEEL_KERNEL_MEMORY_BYTES".to_owned(), bytes.to_string()));
        }
        env
    }
}

impl Spawner for ProcessSpawner {
    fn spawn(&self, dir: &Path) -> std::io::Result<WorkerIo> {
        if let Some(template) = &self.template {
            // Hundreds of MB (≈ 2 s on a busy disk): tell the runtime this thread blocks.
            let copy = || copy_tree(&template.join("evcxr"), &dir.join("evcxr"));
            match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(copy)?,
                _ => copy()?,
            }
        }
        for sub in ["home", "tmp", "evcxr", "config"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let cgroup = self.pids.as_ref().and_then(|pids| {
            let name = dir.file_name().map_or_else(|| "worker".into(), |n| n.to_string_lossy().into_owned());
            pids.for_worker(&name)
                .inspect_err(
                    |e| tracing::warn!(error = %e, "cannot make a kernel's pids cgroup; its processes are not bounded"),
                )
                .ok()
        });
        let mut env = self.environment(dir);
        if let Some(cgroup) = &cgroup {
            env.push((PIDS_CGROUP_VAR.to_owned(), cgroup.display().to_string()));
        }
        let mut child = Command::new(&self.program)
            .args(self.arguments(dir))
            .env_clear()
            .envs(env)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so that stopping it also stops evcxr's
            // child and any compiler it is running.
            .process_group(0)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {}: {e}", self.program.display())))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("the worker's pipes were not set up"));
        };
        let group = child.id().and_then(|id| rustix::process::Pid::from_raw(id.cast_signed()));
        let (request_tx, mut request_rx) = mpsc::unbounded_channel::<Request>();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let (kill_tx, kill_rx) = oneshot::channel::<()>();

        tokio::spawn(async move {
            while let Some(request) = request_rx.recv().await {
                let Ok(line) = to_line(&request) else { continue };
                if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
        });
        let (tail_tx, tail_rx) = oneshot::channel::<VecDeque<String>>();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut tail = VecDeque::new();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "flywheel_kernel", "{line}");
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            let _ = tail_tx.send(tail);
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut kill_rx = kill_rx;
            loop {
                tokio::select! {
                    line = lines.next_line() => match line {
                        Ok(Some(line)) => match from_line::<Event>(&line) {
                            Ok(event) => { let _ = event_tx.send(WorkerEvent::Event(event)); }
                            Err(e) => tracing::warn!(error = %e, "the kernel worker wrote a line that is not an event"),
                        },
                        _ => break,
                    },
                    _ = &mut kill_rx => break,
                }
            }
            // Whether it ended or is being stopped: nothing of it may stay behind.
            if let Some(group) = group {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.start_kill();
            let status = match child.wait().await {
                Ok(s) => s.to_string(),
                Err(e) => format!("unknown status ({e})"),
            };
            // Processes that left the group (setsid) are still in the cgroup.
            if let Some(cgroup) = cgroup {
                let _ = tokio::task::spawn_blocking(move || crate::pids::remove(&cgroup)).await;
            }
            let tail = tokio::time::timeout(std::time::Duration::from_secs(1), tail_rx)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let mut why = format!("the kernel worker exited ({status})");
            if !tail.is_empty() {
                why.push_str(": ");
                why.push_str(&Vec::from(tail).join("\n"));
            }
            let _ = event_tx.send(WorkerEvent::Exited(why));
        });
        Ok(WorkerIo { requests: request_tx, events: event_rx, _kill_on_drop: Some(kill_tx) })
    }
}

/// Copies a directory tree keeping modification times (cargo's freshness
/// checks compare them), with copy-on-write where the filesystem has it.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let status = std::process::Command::new("cp").arg("-a").arg("--reflink=auto").arg(from).arg(to).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("copying the kernel template {} failed ({status})", from.display())))
    }
}
