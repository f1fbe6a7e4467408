#!/usr/bin/env bash
# Render the template with its defaults and train the result on the bundled digits.
set -euo pipefail
cd "$(dirname "$0")/.."
template_dir="$PWD"
bash scripts/setup.sh
output_dir="$(mktemp -d)"
.venv/bin/cookiecutter --no-input . --output-dir "$output_dir"
cd "$output_dir/digits-classifier"
echo "Generated $PWD; training it on the bundled digits:"
"$template_dir/.venv/bin/python" train.py "$@"
