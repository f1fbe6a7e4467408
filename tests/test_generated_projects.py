"""Every generated variant runs its own test suite, so each one trains for at least one batch.

Each suite runs in a fresh process (a project must import as its users will import it);
pytest-xdist spreads the variants across cores.
"""

import os
import subprocess
import sys

import pytest
from test_bake import OPTION_MATRIX


def run_project_tests(project, *pytest_args):
    # PYTHONDONTWRITEBYTECODE keeps the baked tree free of __pycache__ for later checks.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "WANDB_SILENT": "true"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=900
    )


def test_default_project_passes_its_whole_suite(bake):
    finished = run_project_tests(bake())
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert " passed" in finished.stdout
    assert "skipped" not in finished.stdout


@pytest.mark.parametrize("answers", OPTION_MATRIX[1:])
def test_every_variant_passes_its_quick_suite(bake, answers):
    finished = run_project_tests(bake(**answers), "-m", "not slow")
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert " passed" in finished.stdout


def test_custom_names_project_passes_its_quick_suite(bake):
    project = bake(
        project_name="딥러닝 숫자",
        package_name="digits_kr",
        dataset_class="Scans",
        datamodule_class="ScanData",
        model_class="ScanNet",
    )
    finished = run_project_tests(project, "-m", "not slow")
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
