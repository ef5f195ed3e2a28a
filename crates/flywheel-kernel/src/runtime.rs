//! evcxr's child: the process that runs the participant's code. evcxr starts
//! it as this same binary (`EVCXR_IS_RUNTIME` set) and talks to it by lines
//! on its stdin and stdout.
//!
//! When a cell returns early through `?`, the code evcxr generates prints the
//! error to stderr and the line `EVCXR_ERROR_OCCURRED` to stdout; evcxr 0.22
//! consumes that line, drops the cell's new variables and answers `Ok`, so
//! the worker could not tell the cell failed. evcxr's child is therefore two
//! processes of this binary:
//!
//! - the **relay** (the process evcxr started, which it waits on and kills
//!   on an interrupt) starts the runtime with its stdout piped and copies
//!   that pipe to evcxr line by line, putting [`CELL_ERROR_MARKER`] before
//!   each `EVCXR_ERROR_OCCURRED`; evcxr passes the unknown line on to the
//!   worker's stdout channel. At end of input it waits for the runtime and
//!   ends the same way (exit code, or signal), so evcxr reports a crash as
//!   before. A pipe keeps what was written after its writer dies, so a
//!   crashing cell's last lines still arrive.
//! - the **runtime** runs evcxr's loop and the user's code, with its memory
//!   bounded and `PR_SET_PDEATHSIG`, so that it dies with the relay; inside
//!   the worker's sandbox it adds the user-code seccomp layer
//!   ([`crate::sandbox::confine_user_code`]) before the first cell.
//!
//! The relay leads its own process group, so that stopping a cell
//! ([`stop_user_code`]) also stops the processes the cell started.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use rustix::process::{Pid, Signal};

/// The line the relay puts before evcxr's own `?`-error line; the worker
/// takes it out of the cell's output and fails the cell.
pub const CELL_ERROR_MARKER: &str = "FLYWHEEL_CELL_RETURNED_ERROR";

/// What evcxr's generated code prints when `?` returns an error
/// (`evcxr_internal_runtime::USER_ERROR_OCCURRED`, not public).
const EVCXR_USER_ERROR: &[u8] = b"EVCXR_ERROR_OCCURRED";

/// Set by the relay for the runtime it starts: the relay's process id.
const RELAY_PID: &str = "FLYWHEEL_KERNEL_RELAY_PID";

/// In evcxr's child (`EVCXR_IS_RUNTIME` set), before `evcxr::runtime_hook()`.
/// In the relay this starts the runtime, relays its output and never
/// returns. In the runtime it ties the process to the relay, bounds its
/// address space to `memory_bytes` and returns; the caller then runs
/// evcxr's loop.
///
/// Without a relay (the runtime cannot be started) the caller runs evcxr's
/// loop itself, and a `?` error is reported as evcxr does: as success.
///
/// # Errors
/// When the memory bound cannot be set, or the runtime cannot be tied to the
/// relay; each is said, and the cell runs all the same.
pub fn enter(memory_bytes: Option<u64>) -> std::io::Result<()> {
    match std::env::var(RELAY_PID).ok().and_then(|p| p.parse::<i32>().ok()) {
        Some(relay) => {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            if rustix::process::getppid().map(Pid::as_raw_nonzero).map(i32::from) != Some(relay) {
                // The relay died before the line above took effect.
                std::process::exit(1);
            }
            if let Some(bytes) = memory_bytes {
                crate::sandbox::limit_memory(bytes)?;
            }
            if crate::sandbox::inside_sandbox() {
                let group = rustix::process::getpgrp().as_raw_nonzero().get();
                if let Err(e) = crate::sandbox::confine_user_code(group) {
                    // User code never runs outside its layer: the cell fails instead.
                    eprintln!("flywheel-kernel: cannot confine the cell's code ({e:#}); the kernel stops");
                    std::process::exit(1);
                }
            }
            Ok(())
        }
        None => {
            // Its own process group, which the runtime and whatever the
            // cell starts inherit: the worker stops them all at once
            // ([`stop_user_code`]). It dies with the worker.
            if let Err(e) = rustix::process::setpgid(None, None) {
                eprintln!("flywheel-kernel: the relay keeps the worker's process group ({e})");
            }
            let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
            if let Err(e) = crate::processes::ProcessBound::from_env().and_then(|b| b.map(|b| b.join()).transpose()) {
                eprintln!("flywheel-kernel: the cell's processes are not bounded: {e:#}");
            }
            let spawned = std::env::current_exe().and_then(|exe| {
                Command::new(exe)
                    .env(RELAY_PID, rustix::process::getpid().as_raw_nonzero().to_string())
                    .stdout(Stdio::piped())
                    .spawn()
            });
            let mut runtime = match spawned {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!(
                        "flywheel-kernel: cannot start the runtime behind the relay ({e}); a `?` error will look like success"
                    );
                    return memory_bytes.map_or(Ok(()), crate::sandbox::limit_memory);
                }
            };
            if let Some(output) = runtime.stdout.take() {
                // If evcxr has gone there is nobody to relay to; the runtime
                // then dies with this process.
                let _ = relay(BufReader::new(output), std::io::stdout().lock());
            }
            std::process::exit(runtime.wait().map_or(1, exit_code_like))
        }
    }
}

/// Stops the code of the running cell: evcxr's child (the relay), and with
/// its process group the runtime and every process the cell started (a
/// background process left running would also keep evcxr waiting for the
/// end of the child's stderr). Processes that left the group (`setsid`) are
/// stopped by Flywheel with the kernel's pids cgroup.
pub fn stop_user_code(child: &mut std::process::Child) {
    if let Some(group) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(group, Signal::KILL);
    }
    let _ = child.kill();
}

/// Copies lines from the runtime to evcxr, marking `?` errors.
fn relay(mut from: impl BufRead, mut to: impl Write) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if from.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.strip_suffix(b"\n").unwrap_or(&line) == EVCXR_USER_ERROR {
            to.write_all(CELL_ERROR_MARKER.as_bytes())?;
            to.write_all(b"\n")?;
        }
        to.write_all(&line)?;
    }
}

/// The exit code that ends the relay as the runtime ended: by the same
/// signal where it can be raised here, else 128 + the signal, as a shell says.
fn exit_code_like(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => {
            if let Some(sig) = Signal::from_named_raw(signal) {
                let _ = rustix::process::kill_process(rustix::process::getpid(), sig);
            }
            128 + signal
        }
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_marks_question_mark_errors_and_passes_everything_else() {
        let input = b"hello\nEVCXR_ERROR_OCCURRED\nnot EVCXR_ERROR_OCCURRED\nEVCXR_EXECUTION_COMPLETE\npartial";
        let mut out = Vec::new();
        relay(&input[..], &mut out).expect("relays");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "hello\nFLYWHEEL_CELL_RETURNED_ERROR\nEVCXR_ERROR_OCCURRED\nnot EVCXR_ERROR_OCCURRED\nEVCXR_EXECUTION_COMPLETE\npartial"
        );
    }
}
