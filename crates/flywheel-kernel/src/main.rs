//! `flywheel-kernel`: one notebook session's kernel. Started by Flywheel with
//! piped stdin/stdout; see `flywheel_kernel_protocol` for the messages.

fn main() {
    // evcxr runs user code in a child process that is this same binary. In
    // that child, split off the relay that lets the worker see `?` errors,
    // and bound the memory of the part that runs user code (Flywheel passes
    // the limit); see `flywheel_kernel::runtime`.
    if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
        let memory = std::env::var("FLYWHEEL_KERNEL_MEMORY_BYTES").ok().and_then(|b| b.parse().ok());
        if let Err(e) = flywheel_kernel::runtime::enter(memory) {
            eprintln!("flywheel-kernel: {e}");
        }
    }
    // In that child, this call takes over and never returns.
    evcxr::runtime_hook();
    let result = flywheel_kernel::Options::from_args(std::env::args().skip(1)).and_then(|o| flywheel_kernel::run(&o));
    if let Err(e) = result {
        eprintln!("flywheel-kernel: {e:#}");
        std::process::exit(1);
    }
}
