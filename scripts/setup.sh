#!/usr/bin/env bash
# Make .venv with torch's CPU build first, then the pinned dev requirements. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
# torch first and alone: anything that pulls it in unpinned would fetch a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
