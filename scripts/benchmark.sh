#!/usr/bin/env bash
# Bake the default project and print its performance figures (see benchmarks/run.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python benchmarks/run.py "$@"
