#!/usr/bin/env bash
# The kernel benchmark: Flywheel's sessions (prebuilt template, warm pool,
# sandbox) against plain evcxr (the same worker loading the library with
# `:dep` on a fresh directory) on the same cells, in one run. Prints a table.
#
#   bash crates/flywheel-kernel-manager/bench/run.sh           # 30 warm cells, 8 sessions at once
#   bash crates/flywheel-kernel-manager/bench/run.sh --quick   # 5 warm cells, 2 sessions
#
# Builds the release worker first (≈ 10 minutes the first time: evcxr is
# large); the cold plain-evcxr start compiles the library (minutes). Run it
# on a quiet machine. Session directories go to $TMPDIR/flywheel-kernel-bench
# (outside the repository: cargo would take them for stray workspace members).
set -euo pipefail
cd "$(dirname "$0")/../../.."
runs=30
sessions=8
if [[ "${1:-}" == "--quick" ]]; then
    runs=5
    sessions=2
fi
target_dir=$(realpath "${CARGO_TARGET_DIR:-target}")
cargo build --release --locked -p flywheel-kernel
cargo build --release --locked -p flywheel-kernel-manager --example kernel_bench
"$target_dir/release/examples/kernel_bench" \
    "$target_dir/release/flywheel-kernel" \
    "$PWD/crates/flywheel-ml" \
    "$(rustc --print sysroot)" \
    "${CARGO_HOME:-$HOME/.cargo}" \
    "${TMPDIR:-/tmp}/flywheel-kernel-bench" \
    "$runs" "$sessions"
