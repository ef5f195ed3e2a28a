//! The worker's sandbox, applied to itself before evcxr starts, and so
//! inherited by everything it runs (cargo, rustc, evcxr's child with the
//! participant's code):
//!
//! - **Landlock** (filesystem): read and execute only the system's
//!   libraries and programs, the toolchain, cargo's registry and the paths
//!   Flywheel names (`--allow-read`); write only the session directory
//!   (`--allow-write`). The database, other sessions, the server's files
//!   and `/proc` (other processes' environments) are out of reach.
//! - **seccomp**: `socket()` for IPv4, IPv6, packet and netlink sockets
//!   fails with `EACCES`, so user code cannot open network connections.
//! - **rlimits**: no core dumps, bounded file size and open files here;
//!   the address space of evcxr's child (user code) is bounded in `main`.
//!
//! Landlock is best-effort by the crate's design; what was enforced is
//! reported (and the worker refuses to start when `--require-sandbox` is
//! given and Landlock is not fully enforced).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use landlock::{ABI, Access, AccessFs, RulesetAttr, RulesetCreatedAttr, RulesetStatus, path_beneath_rules};
use rustix::process::{Resource, Rlimit, setrlimit};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// What the sandbox allows.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    /// Read and execute, besides the system's defaults.
    pub read: Vec<PathBuf>,
    /// Read, write, create and delete: the session directory.
    pub write: Vec<PathBuf>,
    /// Refuse to start unless Landlock is fully enforced.
    pub require: bool,
}

/// The system paths every compile needs, read-only.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/sys/devices/system/cpu",
];

/// Written by everyone.
const SYSTEM_WRITE: &[&str] = &["/dev/null"];

/// Largest file user code or the compiler may write (rlibs are large).
const MAX_FILE_BYTES: u64 = 4 << 30;
/// Open files per process.
const MAX_OPEN_FILES: u64 = 4096;

/// Applies the sandbox to this process; returns a line saying what is enforced.
///
/// # Errors
/// When a limit cannot be set, or `require` is set and Landlock is not fully enforced.
pub fn apply(sandbox: &Sandbox) -> anyhow::Result<String> {
    setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) }).context("RLIMIT_CORE")?;
    setrlimit(Resource::Fsize, Rlimit { current: Some(MAX_FILE_BYTES), maximum: Some(MAX_FILE_BYTES) })
        .context("RLIMIT_FSIZE")?;
    setrlimit(Resource::Nofile, Rlimit { current: Some(MAX_OPEN_FILES), maximum: Some(MAX_OPEN_FILES) })
        .context("RLIMIT_NOFILE")?;

    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let status = landlock::Ruleset::default()
        .handle_access(all)
        .context("Landlock ruleset")?
        .create()
        .context("Landlock ruleset")?
        .add_rules(path_beneath_rules(SYSTEM_READ.iter().map(PathBuf::from).chain(sandbox.read.iter().cloned()), read))
        .context("Landlock read rules")?
        .add_rules(path_beneath_rules(SYSTEM_WRITE.iter().map(PathBuf::from).chain(sandbox.write.iter().cloned()), all))
        .context("Landlock write rules")?
        .restrict_self()
        .context("Landlock restrict_self")?;
    let landlock = match status.ruleset {
        RulesetStatus::FullyEnforced => "Landlock fully enforced".to_owned(),
        RulesetStatus::PartiallyEnforced => "Landlock partially enforced (an older kernel ABI)".to_owned(),
        RulesetStatus::NotEnforced => "Landlock NOT enforced (the kernel does not offer it)".to_owned(),
    };
    if sandbox.require && status.ruleset != RulesetStatus::FullyEnforced {
        anyhow::bail!("the sandbox is required but {landlock}");
    }
    deny_network().context("seccomp filter")?;
    Ok(format!("{landlock}; network sockets denied (seccomp); core dumps off, files ≤ 4 GiB"))
}

/// Address families user code may not open sockets of.
const DENIED_FAMILIES: &[u64] =
    &[libc::AF_INET as u64, libc::AF_INET6 as u64, libc::AF_PACKET as u64, libc::AF_NETLINK as u64];

fn deny_network() -> anyhow::Result<()> {
    let rules = DENIED_FAMILIES
        .iter()
        .map(|&family| {
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, family)
                .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut map = BTreeMap::new();
    map.insert(libc::SYS_socket, rules);
    let filter = SeccompFilter::new(
        map,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        std::env::consts::ARCH.try_into()?,
    )?;
    let program: BpfProgram = filter.try_into()?;
    seccompiler::apply_filter_all_threads(&program)?;
    Ok(())
}

/// Bounds this process's address space (called in evcxr's child, which
/// runs user code): an allocation past it fails, and the cell's process
/// ends with a clear message instead of taking the machine's memory.
///
/// # Errors
/// When the limit cannot be set.
pub fn limit_memory(bytes: u64) -> std::io::Result<()> {
    setrlimit(Resource::As, Rlimit { current: Some(bytes), maximum: Some(bytes) }).map_err(Into::into)
}
