#!/usr/bin/env bash
# Rebuilds static/notebook/dist/ (the notebook page's script, stylesheet, KaTeX fonts and
# LICENSES.txt) from src/ with the exact package versions in package-lock.json.
# Needs Node.js (20 or later) and npm with access to the npm registry. Commit dist/ afterwards.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node build.mjs
