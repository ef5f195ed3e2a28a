//! The bound on the processes and threads of a kernel's user code: Flywheel
//! makes a pids cgroup for each worker (`flywheel_kernel_manager::pids`)
//! and names it in `PIDS_CGROUP_VAR`. The relay (see [`crate::runtime`])
//! moves itself in before it starts the runtime, so the participant's code
//! and everything it starts are counted, but not the worker or its
//! compilers (a full cgroup must not stop the worker from starting threads).
//! A fork past `pids.max` fails, and `pids.events` counts the failures: the
//! worker watches that count and ends its kernel when it grows (a fork bomb).

use std::path::{Path, PathBuf};

use anyhow::Context;
use flywheel_kernel_protocol::PIDS_CGROUP_VAR;
/// This kernel's pids cgroup.
#[derive(Debug, Clone)]
pub struct ProcessBound {
    dir: PathBuf,
    max: String,
}

impl ProcessBound {
    /// The cgroup named in [`PIDS_CGROUP_VAR`], if any.
    ///
    /// # Errors
    /// When the variable names a directory that is not a pids cgroup.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        let Some(dir) = std::env::var_os(PIDS_CGROUP_VAR).map(PathBuf::from) else { return Ok(None) };
        let max = std::fs::read_to_string(dir.join("pids.max"))
            .with_context(|| format!("reading {}/pids.max", dir.display()))?
            .trim()
            .to_owned();
        Ok(Some(ProcessBound { dir, max }))
    }

    /// Moves this process into the cgroup.
    ///
    /// # Errors
    /// When the cgroup cannot be joined.
    pub fn join(&self) -> anyhow::Result<()> {
        std::fs::write(self.procs(), std::process::id().to_string())
            .with_context(|| format!("joining the pids cgroup {}", self.dir.display()))
    }

    /// The cgroup's directory (the sandbox lets the worker read it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a process writes its id into to join (the sandbox lets the
    /// relay write it).
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// The bound, as the cgroup has it (a number, or `max`).
    pub fn max(&self) -> &str {
        &self.max
    }

    /// How many forks (or thread starts) have failed at the bound so far.
    pub fn failed_forks(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|events| events.lines().find_map(|l| l.strip_prefix("max ").and_then(|n| n.trim().parse().ok())))
            .unwrap_or(0)
    }
}
