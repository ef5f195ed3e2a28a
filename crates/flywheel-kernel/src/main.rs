//! `flywheel-kernel`: one notebook session's kernel. Started by Flywheel with
//! piped stdin/stdout; see `flywheel_kernel_protocol` for the messages.

fn main() {
    // evcxr runs user code in a child process that is this same binary;
    // in that child, bound its memory first (Flywheel passes the limit).
    if std::env::var_os("EVCXR_IS_RUNTIME").is_some()
        && let Some(bytes) = std::env::var("FLYWHEEL_KERNEL_MEMORY_BYTES").ok().and_then(|b| b.parse().ok())
        && let Err(e) = flywheel_kernel::sandbox::limit_memory(bytes)
    {
        eprintln!("flywheel-kernel: cannot limit memory: {e}");
    }
    // In that child, this call takes over and never returns.
    evcxr::runtime_hook();
    let result = flywheel_kernel::Options::from_args(std::env::args().skip(1)).and_then(|o| flywheel_kernel::run(&o));
    if let Err(e) = result {
        eprintln!("flywheel-kernel: {e:#}");
        std::process::exit(1);
    }
}
