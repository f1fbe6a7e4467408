"""A real training run of the default bake: accuracy, a quiet log, the plot, the checkpoint.

What each logger writes is checked in tests/test_readme_commands.py, on the first training
run of each README: the same command, so each cli and logger trains once for both.
"""

import os
import re
import sys

from conftest import printed_path, run_within

# Lightning prints its advice as "file.py:N: message"; Python warnings name their category.
WARNING_LINE = re.compile(r"\w+\.py:\d+: |Warning\b|\bWARNING\b")


def users_environment():
    """This process's environment as a user's shell would have it, to run train.py in."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("WANDB_MODE", None)
    env.pop("OMP_NUM_THREADS", None)  # torch's own thread count, as users run it (conftest.py)
    return env


def train(project, *flags):
    env = users_environment()
    command = [sys.executable, "train.py", *flags]
    finished = run_within(command, 600, cwd=project, env=env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished.stdout + finished.stderr


def test_default_run_learns_quietly_and_draws_its_curves(baked_copy):
    project = baked_copy()
    output = train(project)
    test_accuracy = float(re.search(r"test_acc\W+([0-9.]+)", output).group(1))
    assert test_accuracy >= 0.98
    assert [line for line in output.splitlines() if WARNING_LINE.search(line)] == []
    # Output to a pipe, as in CI or a cluster job: a line per epoch, no bar redrawn in place.
    epochs = [line.split()[1] for line in output.splitlines() if line.startswith("Epoch ")]
    assert epochs == [f"{epoch}/8" for epoch in range(1, 9)]
    assert "\r" not in output
    curves = project / printed_path(output, "Learning curves")
    assert curves.read_bytes().startswith(b"\x89PNG")
    assert curves.parent == project / "outputs" / "version_0"
    assert (project / printed_path(output, "Best checkpoint")).is_file()


def test_workers_train_with_one_thread_and_the_default_run_with_torchs_own():
    # scripts/test.sh always runs pytest-xdist; README.md, "Develop the template".
    assert os.environ.get("PYTEST_XDIST_WORKER"), "run the suite with -n, as scripts/test.sh does"
    assert os.environ.get("OMP_NUM_THREADS")
    assert "OMP_NUM_THREADS" not in users_environment()
