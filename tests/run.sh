#!/usr/bin/env bash
# The project's test command: bash tests/run.sh
#
# 1. starts a throwaway PostgreSQL server (tests/postgres.sh) and a one-node
#    Slurm cluster (tests/slurm.sh, for the training pool's Slurm backend), installs the
#    test tools (Jupyter's nbformat validator from PyPI, Debian's Chromium,
#    Playwright from npm for the browser test, Debian's Fashion-MNIST), and
#    checks formatting and lints,
# 2. runs every workspace test on SQLite (the default: a fresh file per test),
# 3. runs the database-backed suites again on PostgreSQL: the HTTP
#    integration suites (flywheel-tests) and the command-line tests (flywheel),
#    reusing the SQLite stage's build.
set -euo pipefail

cd "$(dirname "$0")/.."

stage=""
summary=()

header() {
    stage="$1"
    echo
    echo "==> $stage"
}

on_exit() {
    local rc=$?
    flywheel_stop_postgres
    if declare -F flywheel_stop_slurm > /dev/null; then flywheel_stop_slurm; fi
    if [[ $rc -ne 0 ]]; then
        echo
        echo "FAILED during stage: $stage (exit code $rc)"
    fi
}

header "PostgreSQL server"
# shellcheck source=postgres.sh source-path=SCRIPTDIR
source tests/postgres.sh
trap on_exit EXIT

header "Slurm cluster"
# shellcheck source=slurm.sh source-path=SCRIPTDIR
if ! source tests/slurm.sh; then
    echo "warning: no Slurm cluster (it needs root); the Slurm backend's test is skipped"
fi

header "Test tools"
start=$SECONDS
# shellcheck source=tools.sh source-path=SCRIPTDIR
source tests/tools.sh
flywheel_install_test_tools
summary+=("Tools:      nbformat, chromium, playwright-core, fashion-mnist ok ($((SECONDS - start))s)")

header "Lint"
start=$SECONDS
if cargo fmt --version > /dev/null 2>&1 && cargo clippy --version > /dev/null 2>&1; then
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
else
    echo "warning: rustfmt/clippy are not installed with this toolchain; lint skipped"
fi
# The committed notebook bundle must be what its sources and lock file build.
bash static/notebook/build.sh > /dev/null
if ! git diff --quiet -- static/notebook/dist || [[ -n "$(git status --porcelain -- static/notebook/dist)" ]]; then
    git status --short -- static/notebook/dist
    echo "error: static/notebook/dist is not what static/notebook/src builds; run bash static/notebook/build.sh and commit dist/" >&2
    exit 1
fi
summary+=("Lint:       fmt, clippy -D warnings, notebook bundle fresh   ok ($((SECONDS - start))s)")

header "SQLite"
start=$SECONDS
unset FLYWHEEL_TEST_DATABASE
cargo test --workspace --locked
summary+=("SQLite:     cargo test --workspace --locked                  ok ($((SECONDS - start))s)")

header "PostgreSQL"
start=$SECONDS
# The database-backed test targets, selected so that cargo resolves the
# same features as the SQLite stage and rebuilds nothing: --workspace (with
# -p, features unify over fewer packages) and --lib (every package's unit
# tests, so that every package's dev-dependency features, e.g. tokio's
# test-util, stay on; without it tokio and all above it were rebuilt).
FLYWHEEL_TEST_DATABASE=postgres cargo test --workspace --locked --lib --test integration --test cli
summary+=("PostgreSQL: cargo test --workspace --lib --test integration --test cli ok ($((SECONDS - start))s)")

stage="summary"
echo
echo "==> Summary"
printf '%s\n' "${summary[@]}"
echo "All stages passed."
