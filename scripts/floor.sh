#!/usr/bin/env bash
# The dependency-floor job: bake variants that between them declare every dependency, install
# in .venv-floor the oldest version of each that their pyproject.toml allows, and run each
# variant's quick tests there. torch stays at the CPU build scripts/setup.sh uses.
set -euo pipefail
cd "$(dirname "$0")/.."

torch_pin="torch==2.13.0"
# Each CLI and each logger at least once, so every optional dependency is installed and used.
variants=(
    "cli=argparse logger=tensorboard"
    "cli=lightningcli logger=csv"
    "cli=argparse logger=wandb"
    "cli=lightningcli logger=mlflow"
)

# The template's .venv bakes; .venv-floor must hold nothing but the floors and what they pull.
bash scripts/setup.sh
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

projects=()
for i in "${!variants[@]}"; do
    # shellcheck disable=SC2086  # each variant is several key=value words
    .venv/bin/cookiecutter --no-input . --output-dir "$work/$i" ${variants[$i]}
    projects+=("$work/$i/digits-classifier")
done
.venv/bin/python scripts/floor_requirements.py --pin "$torch_pin" "${projects[@]}" \
    >"$work/floors.txt"
echo "Floors (the oldest versions pyproject.toml allows):"
sed 's/^/  /' "$work/floors.txt"

# --clear: versions left by an earlier run with other floors must not linger.
python3 -m venv --clear .venv-floor
.venv-floor/bin/python -m pip install --quiet --upgrade pip
# torch first and alone: anything that pulls it in unpinned would fetch a multi-GB CUDA build.
.venv-floor/bin/python -m pip install --quiet "$torch_pin"
# Wheels only: building an old release from source takes long, or fails, on today's Python.
.venv-floor/bin/python -m pip install --quiet --only-binary :all: -r "$work/floors.txt"

venv_bin="$PWD/.venv-floor/bin"

# The oldest ruff must accept the code as the generated CI lints it; then the quick tests.
# One torch thread each: the suites run side by side, one per core (see tests/conftest.py).
check_variant() {
    "$venv_bin/ruff" check --quiet . && "$venv_bin/ruff" format --check --quiet . &&
        OMP_NUM_THREADS=1 WANDB_SILENT=true PYTHONDONTWRITEBYTECODE=1 \
            "$venv_bin/python" -m pytest -q -p no:cacheprovider -m "not slow"
}

cores="$(nproc)"
for i in "${!variants[@]}"; do
    # A variant's exit status goes to a file: `wait` on many jobs keeps only the last one's.
    (
        if (cd "${projects[$i]}" && check_variant >"$work/$i.log" 2>&1); then
            echo 0 >"$work/$i.status"
        else
            echo $? >"$work/$i.status"
        fi
    ) &
    while (($(jobs -rp | wc -l) >= cores)); do
        wait -n
    done
done
wait

failed=0
for i in "${!variants[@]}"; do
    log="$work/$i.log"
    status="$(cat "$work/$i.status")"
    if [ "$status" = 0 ]; then
        echo "floor ok:     ${variants[$i]}: $(tail -n 1 "$log")"
    else
        # A process that dies without a summary line (os._exit, a signal) shows only its status.
        echo "floor FAILED: ${variants[$i]} (exit status $status): $(tail -n 1 "$log")"
        # The errors and the failed tests' names; the warnings summary would crowd them out.
        grep -E '^(E  |FAILED |ERROR |error)' "$log" | head -n 60 || tail -n 40 "$log"
        failed=1
    fi
done
exit "$failed"
