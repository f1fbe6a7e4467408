#!/usr/bin/env bash
# Bake the default project and print its performance figures: whole processes, output to a
# pipe (see benchmarks/run.py; --diagnostic adds the in-process method, --suite the suites).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python benchmarks/run.py "$@"
