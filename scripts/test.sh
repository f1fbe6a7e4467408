#!/usr/bin/env bash
# The whole test suite: hooks, bakes, and every generated project's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -n auto "$@"
