#!/usr/bin/env bash
# Installs what the test suites use besides cargo, when it is missing:
# - Jupyter's own notebook validator (PyPI `nbformat`), which checks the
#   .ipynb files Flywheel exports;
# - Debian's headless Chromium, and Playwright (npm `playwright-core`, pinned
#   in tests/browser/package-lock.json) to drive it in the browser test.
# - Debian's `dataset-fashion-mnist` (the real images the library's image
#   loaders and, later, its convolutional networks are tested on);
# - the Rust toolchain's `rust-src` component: evcxr's type inference
#   (rust-analyzer) reads the standard library's source, and the kernel
#   worker's own tests start kernels directly (the server adds it itself).
# Sourced by tests/run.sh; `bash tests/tools.sh` runs it alone.

flywheel_install_test_tools() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]] && command -v sudo > /dev/null; then
        sudo="sudo"
    fi
    if [[ ! -f "$(rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.toml" ]]; then
        echo "adding the rust-src component (kernels' type inference reads the standard library's source)"
        rustup component add rust-src
    fi
    if ! python3 -c "import nbformat" 2> /dev/null; then
        echo "installing nbformat (Jupyter's validator) from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore nbformat
    fi
    if [[ ! -x /usr/bin/chromium ]]; then
        echo "installing Debian's chromium"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium > /dev/null
    fi
    if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
        echo "installing Debian's dataset-fashion-mnist"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist > /dev/null
    fi
    if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
        echo "installing playwright-core (npm ci in tests/browser)"
        npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
    fi
    echo "nbformat $(python3 -c 'import nbformat; print(nbformat.__version__)'), $(/usr/bin/chromium --version), playwright-core $(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version")"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    cd "$(dirname "$0")/.."
    flywheel_install_test_tools
fi
