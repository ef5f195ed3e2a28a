#!/usr/bin/env bash
# The endpoint benchmark: one command, one table.
#
#     bash tests/bench/endpoints.sh            # RATE=1000 SECONDS_PER_RUN=10 ROWS=50000
#
# Flywheel's boosted-trees fraud model behind an endpoint (release build,
# SQLite, capture 100 %) against Seldon's MLServer (PyPI `mlserver` with
# `mlserver-lightgbm`) serving LightGBM trained with the same settings on
# the same rows, both driven by the same load tool, oha (crates.io), at a
# fixed rate and at saturation; then the shadow's cost and the traffic
# split over 10,000 requests. Installs oha and MLServer under
# target/flywheel-bench/ the first time (from crates.io and PyPI).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=target/flywheel-bench
work=$root/endpoints
oha=$root/oha/bin/oha
venv=$root/mlserver-venv
if [[ ! -x $oha ]]; then
    cargo install oha --locked --root "$root/oha"
fi
if [[ ! -x $venv/bin/mlserver ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q mlserver mlserver-lightgbm lightgbm pandas
fi
cargo build --release -q -p flywheel
rm -rf "$work" && mkdir -p "$work/data"
cargo run --release -q -p flywheel-ml --example dataset_csv -- credit_card_fraud "${ROWS:-50000}" 7 > "$work/fraud.csv"
python3 tests/bench/endpoints.py "$work" target/release/flywheel "$oha" "$venv"
