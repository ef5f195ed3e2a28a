#!/usr/bin/env bash
# Flywheel ML benchmark: the one command.
#
#   bash crates/flywheel-ml/bench/run.sh [--quick] [--only TASK,TASK,…]
#
# Environment: FLYWHEEL_BENCH_PYTHON=/path/to/python3 picks the interpreter.
# Generates the seeded datasets (Rust), times flywheel-ml on them (Rust),
# times scikit-learn / XGBoost / LightGBM on the same bytes (Python, in a
# venv this script creates), and prints a markdown table, also written to
# target/flywheel-bench/<full|quick>/report.md. See bench/README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

quick=""
only=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick="--quick" ;;
        --only) only=(--only "$2"); shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (expected --quick or --only TASK,…)" >&2; exit 2 ;;
    esac
    shift
done

target_dir="${CARGO_TARGET_DIR:-$root/target}"
bench_dir="$target_dir/flywheel-bench"
out="$bench_dir/$([[ -n "$quick" ]] && echo quick || echo full)"
venv="$bench_dir/venv"

# --- Python ≥ 3.12 (XGBoost 3.4 needs it) ------------------------------------
# FLYWHEEL_BENCH_PYTHON picks the interpreter; otherwise the first that runs of
# python3.12, python3.13, python3.14, ~/.pyenv/versions/3.12+ (pyenv shims exist
# for versions that are not active and then fail, so each is asked to run).
is_py312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
python=""
if [[ -n "${FLYWHEEL_BENCH_PYTHON:-}" ]]; then
    is_py312 "$FLYWHEEL_BENCH_PYTHON" && python="$FLYWHEEL_BENCH_PYTHON"
else
    for c in python3.12 python3.13 python3.14 ~/.pyenv/versions/3.1[2-9]*/bin/python3; do
        if is_py312 "$c"; then python="$c"; break; fi
    done
fi
pins=("scikit-learn==1.9.*" "xgboost==3.4.*" "lightgbm==4.7.*" "numpy")
deviation=""
if [[ -z "$python" ]]; then
    python="${FLYWHEEL_BENCH_PYTHON:-python3}"
    pins=("scikit-learn==1.9.*" "xgboost==3.2.*" "lightgbm==4.7.*" "numpy")
    venv="$bench_dir/venv-fallback"
    deviation="no Python >= 3.12: using $("$python" --version 2>&1) with xgboost==3.2.* instead of 3.4.*"
    echo "!!!!!!!! DEVIATION: $deviation !!!!!!!!" >&2
fi
echo "python: $python ($("$python" --version 2>&1)), venv $venv" >&2

# --- venv under target/, reused while the interpreter and pins are the same --
stamp="$("$python" --version 2>&1) ${pins[*]}"
if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$venv/.pins" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "${pins[@]}"
    echo "$stamp" > "$venv/.pins"
fi
vpy="$venv/bin/python"

# --- data, Rust side, Python side, table --------------------------------------
mkdir -p "$out"
printf '%s' "$deviation" > "$out/deviation.txt"
cargo build --release -p flywheel-ml --example benchmark
bench="$target_dir/release/examples/benchmark"
"$bench" generate "$out" $quick
"$bench" run "$out" "${only[@]}"
"$vpy" "$here/baselines.py" "$out" "${only[@]}"
"$vpy" "$here/report.py" "$out"
