//! Which evcxr `:` commands a cell may use, and its `!` shell lines (never).
//! Everything that reaches the host or changes how code is built is
//! refused with a reason; the rest are harmless inspection commands.

/// Commands a participant may use.
/// Not `:clear`: it also drops the prelude's `use flywheel_ml::prelude::*;`
/// (restart the kernel to start clean).
const ALLOWED: &[&str] = &[":vars", ":types", ":help", ":timing", ":last_error_json", ":explain"];

/// Why a `!` shell line is refused; cells may not start programs either
/// (`std::process::Command` fails with "Operation not permitted").
const SHELL_REFUSED: &str = "Shell commands (`!…`) are not available: cells cannot start programs in Flywheel's \
                             sandbox. Use Rust in the cell instead (e.g. `std::fs::read_dir(\"data\")` to list \
                             your files).";

/// Why a cell is refused, if it is.
pub(crate) fn refusal(code: &str) -> Option<String> {
    // evcxr runs a line that starts with `!` with `sh -c` in the worker
    // itself, outside the layer that keeps cells from starting programs.
    if code.lines().any(|line| line.starts_with('!')) {
        return Some(SHELL_REFUSED.to_owned());
    }
    for line in code.lines().map(str::trim_start) {
        if let Some(rest) = line.strip_prefix(':') {
            let name = format!(":{}", rest.split_whitespace().next().unwrap_or(""));
            if name == ":dep" {
                return Some(
                    "`:dep` is not available: this kernel works offline. The Flywheel library comes preloaded \
                     (`use flywheel_ml::prelude::*;`)."
                        .to_owned(),
                );
            }
            if name == ":clear" {
                return Some(
                    "`:clear` is not available: it would also unload the Flywheel library. Restart the kernel \
                     to start from a clean state."
                        .to_owned(),
                );
            }
            if !ALLOWED.contains(&name.as_str()) {
                return Some(format!(
                    "`{name}` is not available in Flywheel notebooks. Allowed commands: {}.",
                    ALLOWED.join(", ")
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn host_reaching_commands_are_refused_and_inspection_is_allowed() {
        assert!(refusal("let x = 1;\nx").is_none());
        assert!(refusal(":vars").is_none());
        assert!(refusal("  :dep rand = \"0.8\"").unwrap().contains("offline"));
        assert!(refusal(":clear").unwrap().contains("Restart the kernel"));
        for cmd in [":sccache 1", ":linker mold", ":opt 3", ":env FOO=1", ":quit", ":allow_static_linking 1"] {
            assert!(refusal(cmd).unwrap().contains("is not available"), "{cmd}");
        }
        assert!(refusal("let s = \"a:b\";").is_none(), "a colon inside code is not a command");
        assert!(refusal("!ls").unwrap().contains("cannot start programs"));
        assert!(refusal("let x = 1;\n!kill -TERM 1").unwrap().contains("Shell commands"));
        assert!(refusal("let t = !true;\n  !t").is_none(), "a `!` inside code is not a shell line");
    }
}
