#!/usr/bin/env bash
# The ConvNet benchmark: the same CNN trained on Fashion-MNIST by flywheel-ml
# (candle, CPU) and by PyTorch (CPU), same layers, batch size, optimiser and
# threads, in the same run; prints a table with the ratios.
#
#   bash crates/flywheel-ml/bench/convnet.sh [--epochs N] [--train N]
#
# Needs Debian's dataset-fashion-mnist (`bash tests/tools.sh` installs it);
# installs torch and numpy from PyPI into target/flywheel-bench/torch-venv.
# Results: target/flywheel-bench/convnet/{flywheel,torch}.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"
args=("$@")
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/flywheel-bench/convnet"
venv="$target_dir/flywheel-bench/torch-venv"
mkdir -p "$out"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch numpy
fi
threads="$(nproc)"
cargo build --release -p flywheel-ml --example convnet_benchmark
"$target_dir/release/examples/convnet_benchmark" "${args[@]}" --json "$out/flywheel.json" > /dev/null
"$venv/bin/python" "$here/convnet_torch.py" "${args[@]}" --threads "$threads" --json "$out/torch.json" > /dev/null
"$venv/bin/python" - "$out" <<'PY'
import json, sys
d = sys.argv[1]
f, t = (json.load(open(f"{d}/{n}.json")) for n in ("flywheel", "torch"))
print(f"Same CNN, {f['train_images']} Fashion-MNIST training images, {f['epochs']} epoch(s), {f['threads']} threads, batch 64\n")
print("| | flywheel-ml (candle) | PyTorch | ratio |")
print("| --- | ---: | ---: | ---: |")
print(f"| training s/epoch | {f['seconds_per_epoch']:.1f} | {t['seconds_per_epoch']:.1f} | {f['seconds_per_epoch'] / t['seconds_per_epoch']:.2f}× |")
print(f"| inference images/s | {f['inference_images_per_second']:.0f} | {t['inference_images_per_second']:.0f} | {f['inference_images_per_second'] / t['inference_images_per_second']:.2f}× |")
print(f"| test accuracy | {f['test_accuracy']:.4f} | {t['test_accuracy']:.4f} | {100 * (f['test_accuracy'] - t['test_accuracy']):+.1f} points |")
print(f"| weights | {f['weights']} | {t['weights']} | |")
print(f"\n{t['library']}; goal: training ≤ 1.5× PyTorch at equal accuracy (±1 point)")
PY
