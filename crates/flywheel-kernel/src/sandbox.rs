//! The worker's sandbox, applied to itself before evcxr starts, and so
//! inherited by everything it runs (cargo, rustc, evcxr's child with the
//! participant's code):
//!
//! - **Landlock** (filesystem): read and execute only the system's
//!   libraries and programs, the toolchain, cargo's registry and the paths
//!   Flywheel names (`--allow-read`); write only the session directory
//!   (`--allow-write`). The database, other sessions, the server's files
//!   and `/proc` (other processes' environments) are out of reach.
//!   Landlock also scopes **signals** and **abstract Unix sockets** to the
//!   kernel (ABI 6, Linux ≥ 6.12): nothing in it can signal the server,
//!   another session or any process outside it.
//! - **capabilities**: when the server runs as root, the kernel keeps root's
//!   user id (the toolchain usually lives in root's home, which no other
//!   user may read) but none of root's capabilities, and cannot regain them
//!   by running a program ([`drop_capabilities`]).
//! - **seccomp**: `socket()` for IPv4, IPv6, packet and netlink sockets
//!   fails with `EACCES`, so user code cannot open network connections.
//! - **rlimits**: no core dumps, bounded file size and open files here;
//!   the address space of evcxr's child (user code) is bounded in `main`.
//!
//! The process that runs the participant's code adds a layer of its own
//! ([`confine_user_code`], a second seccomp filter): it may not start
//! programs, open Unix sockets, signal anything outside its process group,
//! trace or read other processes, or make namespaces. The compiler, which
//! runs in the worker, is not bound by it.
//!
//! Landlock is best-effort by the crate's design; what was enforced is
//! reported (and the worker refuses to start when `--require-sandbox` is
//! given and Landlock is not fully enforced).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use landlock::{
    ABI, Access, AccessFs, LandlockStatus, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use rustix::io::Errno;
use rustix::process::{Resource, Rlimit, setrlimit};
use rustix::thread::{CapabilitiesSecureBits, CapabilitySet, CapabilitySets};
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

    let capabilities = drop_capabilities().context("dropping root's capabilities")?;
    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let status = landlock::Ruleset::default()
        .handle_access(all)
        .context("Landlock ruleset")?
        .scope(Scope::from_all(abi))
        .context("Landlock scopes")?
        .create()
        .context("Landlock ruleset")?
        .add_rules(path_beneath_rules(SYSTEM_READ.iter().map(PathBuf::from).chain(sandbox.read.iter().cloned()), read))
        .context("Landlock read rules")?
        .add_rules(path_beneath_rules(SYSTEM_WRITE.iter().map(PathBuf::from).chain(sandbox.write.iter().cloned()), all))
        .context("Landlock write rules")?
        .restrict_self()
        .context("Landlock restrict_self")?;
    // Before ABI 6 (Linux 6.12) the file rules hold and only the scopes are
    // missing: the files are still fully guarded.
    let files_only = matches!(
        status.landlock,
        LandlockStatus::Available { effective_abi, .. } if effective_abi >= ABI::V5 && effective_abi < ABI::V6
    );
    let (landlock, files_guarded) = match status.ruleset {
        RulesetStatus::FullyEnforced => {
            ("Landlock fully enforced (files; signals and abstract Unix sockets scoped to the kernel)", true)
        }
        RulesetStatus::PartiallyEnforced if files_only => (
            "Landlock fully enforced for files (Linux < 6.12: signals are not scoped by Landlock; the seccomp \
             rule on signals holds)",
            true,
        ),
        RulesetStatus::PartiallyEnforced => ("Landlock partially enforced (an older kernel ABI)", false),
        RulesetStatus::NotEnforced => ("Landlock NOT enforced (the kernel does not offer it)", false),
    };
    if sandbox.require && !files_guarded {
        anyhow::bail!("the sandbox is required but {landlock}");
    }
    deny_network().context("seccomp filter")?;
    Ok(format!(
        "{landlock}; {capabilities}; network sockets denied (seccomp); user code may not start programs, open \
         Unix sockets or signal outside its kernel (seccomp); core dumps off, files ≤ 4 GiB"
    ))
}

/// Drops every capability this process has (it has them when the server
/// runs as root): the bounding set, so that no program it starts gets them
/// back, the effective, permitted, inheritable and ambient sets, and locks
/// the `NO_ROOT` secure bits, so that running a program as root grants
/// nothing. Root's user id stays: files stay readable as the server reads
/// them, but the kernel cannot override file permissions, signal other
/// users' processes, change owners, load modules or trace processes.
/// Returns what it did, for the sandbox line.
///
/// # Errors
/// When the capabilities cannot be cleared (the bounding set and the
/// secure bits are best effort: they need `CAP_SETPCAP`, and without it
/// `no_new_privs` alone keeps programs from gaining capabilities).
pub fn drop_capabilities() -> anyhow::Result<&'static str> {
    let held = rustix::thread::capabilities(None).context("reading capabilities")?;
    if held.permitted.is_empty() && held.effective.is_empty() {
        return Ok("no capabilities");
    }
    for capability in CapabilitySet::all().iter() {
        match rustix::thread::remove_capability_from_bounding_set(capability) {
            // INVAL: a capability this Linux does not have; PERM: no CAP_SETPCAP.
            Ok(()) | Err(Errno::INVAL | Errno::PERM) => {}
            Err(e) => return Err(e).context("dropping the capability bounding set"),
        }
    }
    let locked = CapabilitiesSecureBits::NO_ROOT
        | CapabilitiesSecureBits::NO_ROOT_LOCKED
        | CapabilitiesSecureBits::NO_SETUID_FIXUP
        | CapabilitiesSecureBits::NO_SETUID_FIXUP_LOCKED
        | CapabilitiesSecureBits::NO_CAP_AMBIENT_RAISE
        | CapabilitiesSecureBits::NO_CAP_AMBIENT_RAISE_LOCKED;
    let _ = rustix::thread::set_capabilities_secure_bits(locked);
    rustix::thread::clear_ambient_capability_set().context("clearing the ambient capabilities")?;
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, none).context("clearing the capabilities")?;
    Ok("root's capabilities dropped")
}

/// Address families user code may not open sockets of.
const DENIED_FAMILIES: &[u64] =
    &[libc::AF_INET as u64, libc::AF_INET6 as u64, libc::AF_PACKET as u64, libc::AF_NETLINK as u64];

fn deny_network() -> anyhow::Result<()> {
    let rules = DENIED_FAMILIES
        .iter()
        .map(|&family| arg0_rule(&[(SeccompCmpOp::Eq, family)]))
        .collect::<Result<Vec<_>, _>>()?;
    install(BTreeMap::from([(libc::SYS_socket, rules)]), libc::EACCES)
}

/// A rule that matches when every `(op, value)` holds of the first argument
/// (compared as a 32-bit int: a pid, an address family).
fn arg0_rule(conditions: &[(SeccompCmpOp, u64)]) -> Result<SeccompRule, seccompiler::BackendError> {
    let conditions = conditions
        .iter()
        .map(|(op, value)| SeccompCondition::new(0, SeccompCmpArgLen::Dword, op.clone(), *value))
        .collect::<Result<Vec<_>, _>>()?;
    SeccompRule::new(conditions)
}

/// A pid as the 32-bit value seccomp compares.
fn pid_arg(pid: i32) -> u64 {
    u64::from(pid.cast_unsigned())
}

/// Installs a seccomp filter on every thread: each listed system call fails
/// with `errno` when any of its rules matches (or always, with no rules).
fn install(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> anyhow::Result<()> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno.cast_unsigned()),
        std::env::consts::ARCH.try_into()?,
    )?;
    let program: BpfProgram = filter.try_into()?;
    seccompiler::apply_filter_all_threads(&program)?;
    Ok(())
}

/// System calls user code may never make: start programs, make Unix socket
/// pairs, trace or read other processes, take their file descriptors, make
/// or enter namespaces, mount, or reach the kernel's key rings, BPF and
/// performance counters.
const USER_CODE_DENIED: &[i64] = &[
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_socketpair,
    libc::SYS_tkill,
    libc::SYS_pidfd_send_signal,
    libc::SYS_pidfd_getfd,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_userfaultfd,
];

/// `clone` flags that make new namespaces.
const NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

/// The user-code layer, installed by the process that runs the
/// participant's code before the first cell: a seccomp filter under which
///
/// - starting a program (`execve`, `execveat`) fails with `EPERM`: cells
///   compute, they do not run programs (the worker refuses `!` shell lines
///   for the same reason);
/// - `socket(AF_UNIX, …)` and `socketpair` fail with `EPERM`: no Unix
///   socket of the machine (a database's, a container runtime's) is
///   reachable, on top of the network families the worker denies;
/// - `kill` and `rt_sigqueueinfo` succeed only for this process, its
///   process group (`process_group`, the relay's) or 0, and `tgkill` and
///   `rt_tgsigqueueinfo` only within this process; `tkill` and
///   `pidfd_send_signal` always fail. This holds where Landlock's signal
///   scoping is missing (Linux < 6.12);
/// - tracing, other processes' memory and descriptors, namespaces, mounts,
///   key rings, BPF and performance counters fail with `EPERM`; `clone3`
///   fails with `ENOSYS` (its flags are out of seccomp's sight), so the C
///   library falls back to `clone`, whose namespace flags are checked.
///
/// Filters stack and are inherited, so nothing the cell starts (a thread,
/// a raw `fork`) leaves it.
///
/// # Errors
/// When a filter cannot be installed (the caller stops the process: user
/// code never runs without it).
pub fn confine_user_code(process_group: i32) -> anyhow::Result<()> {
    let own = i32::try_from(std::process::id()).context("process id")?;
    let outside_group = [
        (SeccompCmpOp::Ne, 0),
        (SeccompCmpOp::Ne, pid_arg(own)),
        (SeccompCmpOp::Ne, pid_arg(process_group.saturating_neg())),
    ];
    let outside_process = [(SeccompCmpOp::Ne, pid_arg(own))];
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = USER_CODE_DENIED.iter().map(|&call| (call, vec![])).collect();
    rules.insert(libc::SYS_socket, vec![arg0_rule(&[(SeccompCmpOp::Eq, libc::AF_UNIX as u64)])?]);
    rules.insert(libc::SYS_kill, vec![arg0_rule(&outside_group)?]);
    rules.insert(libc::SYS_rt_sigqueueinfo, vec![arg0_rule(&outside_group)?]);
    rules.insert(libc::SYS_tgkill, vec![arg0_rule(&outside_process)?]);
    rules.insert(libc::SYS_rt_tgsigqueueinfo, vec![arg0_rule(&outside_process)?]);
    let namespaces = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            let flag = u64::from(flag.cast_unsigned());
            SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(flag), flag)
                .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, namespaces);
    install(rules, libc::EPERM).context("the user-code seccomp filter")?;
    install(BTreeMap::from([(libc::SYS_clone3, vec![])]), libc::ENOSYS).context("the clone3 seccomp filter")
}

/// Whether this process runs inside the worker's sandbox: its seccomp
/// filter is inherited by evcxr's child, which then adds the user-code
/// layer ([`confine_user_code`]).
pub fn inside_sandbox() -> bool {
    matches!(rustix::thread::secure_computing_mode(), Ok(rustix::thread::SecureComputingMode::Filter))
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
