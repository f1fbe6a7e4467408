"""Helpers shared by the template's tests: baking with checked answers, reading a bake."""

import ast
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter
from filelock import FileLock

TEMPLATE = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE / "cookiecutter.json").read_text())
ANSWER_KEYS = set(COOKIECUTTER_JSON)
# The default of each choice and yes/no question.
CHOICE_DEFAULTS = {
    key: value[0] if isinstance(value, list) else value
    for key, value in COOKIECUTTER_JSON.items()
    if isinstance(value, list | bool)
}
# The answers a bake with the defaults gives: what the hooks receive.
DEFAULT_ANSWERS = {
    "project_name": "Digits Classifier",
    "project_slug": "digits-classifier",
    "package_name": "digits_classifier",
    "description": "A PyTorch Lightning project that learns to read handwritten digits.",
    "author_name": "Your Name",
    "author_email": "you@example.com",
    "dataset_class": "DigitsDataset",
    "datamodule_class": "DigitsDataModule",
    "model_class": "DigitsClassifier",
}
UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%-?\s|cookiecutter\.")

# pytest-xdist runs a worker per core (-n auto), and each worker trains in processes of its own.
# torch would give every one of those processes a thread per core too, and on a machine the
# workers already fill, the threads spin waiting for each other: that nearly doubled the CPU time
# of two generated suites run side by side. One thread each, unless the caller chose.
# tests/test_runs.py trains with torch's own default, as users run train.py. scripts/floor.sh
# runs a suite per core side by side, and sets one thread for the same reason.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# The longest tests, longest first: started first, they leave the short ones to fill in, so
# pytest-xdist's workers (worksteal, see pyproject.toml) finish together. The rest keep order.
LONGEST_FIRST = (
    "test_generated_projects.py::test_default_project_passes_its_whole_suite",
    "test_readme_commands.py::test_readme_commands_run_in_order",
    "test_readme_commands.py::test_readme_commands_of_each_logger_run",
    "test_benchmarks.py::test_processes_time_each_loop_in_processes_of_its_own",
    "test_benchmarks.py::test_serve_benchmark_reports_every_setting",
    "test_generated_projects.py::test_every_variant_passes",
    "test_own_data.py::",
    "test_runs.py::",
    "test_benchmarks.py::test_measure_times_each_loop_on_each_data_folder",
    "test_distributed.py::",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.nodeid.removeprefix("tests/")
        starts = [n for n, prefix in enumerate(LONGEST_FIRST) if name.startswith(prefix)]
        return starts[0] if starts else len(LONGEST_FIRST)

    items.sort(key=rank)


def run_within(command, timeout, **kwargs):
    """subprocess.run, capturing text; a run past `timeout` fails the test with its last output.

    A hung run (a deadlocked worker) then shows what it printed, its stacks among it where the
    generated suite's faulthandler_timeout fired, instead of holding CI until CI's own limit.
    """
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as stopped:
        printed = "".join(
            text.decode(errors="replace") if isinstance(text, bytes) else text
            for text in (stopped.stdout, stopped.stderr)
            if text
        )
        pytest.fail(f"{command} ran past {timeout} s; its last output:\n{printed[-6000:]}")


@pytest.fixture
def bake(cookies):
    """Bake with the given answers and return the project folder; fail on any error."""

    def bake_with(**answers):
        # pytest-cookies ignores unknown keys, so a typo would bake the defaults silently.
        unknown = set(answers) - ANSWER_KEYS
        assert not unknown, f"not in cookiecutter.json: {unknown}"
        # Most tests need no repository; tests of git_init ask for one.
        result = cookies.bake(extra_context={"git_init": False, **answers})
        assert result.exception is None, result.exception
        assert result.exit_code == 0
        return Path(result.project_path)

    return bake_with


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id):
    """A folder all pytest-xdist workers of this run share (the run's own basetemp without)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base if worker_id == "master" else base.parent) / "shared"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def baked(shared_dir):
    """A bake with the given answers, made once per test run and shared: only to be read.

    Workers share it through a lock, so each set of answers is baked once in all. Tests that
    write into the project (training, building) take `baked_copy`; tests of what a bake
    does (its output, git_init, refusals) take `bake`, which bakes afresh.
    """

    def bake_once(**answers):
        unknown = set(answers) - ANSWER_KEYS
        assert not unknown, f"not in cookiecutter.json: {unknown}"
        answers = {"git_init": False, **answers}
        # Answers that repeat a default of cookiecutter.json make the same bake.
        same = {key: value for key, value in answers.items() if value == CHOICE_DEFAULTS.get(key)}
        key = json.dumps({k: v for k, v in answers.items() if k not in same}, sort_keys=True)
        folder = shared_dir / f"bake-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        done = folder / "project.txt"
        with FileLock(f"{folder}.lock"):
            if not done.is_file():
                shutil.rmtree(folder, ignore_errors=True)  # what a failed bake left
                path = cookiecutter(
                    str(TEMPLATE),
                    no_input=True,
                    extra_context=answers,
                    output_dir=str(folder / "out"),
                    default_config={"replay_dir": str(folder / "replay")},
                )
                done.write_text(str(path))
        return Path(done.read_text())

    return bake_once


@pytest.fixture
def baked_copy(baked, tmp_path):
    """A copy of the shared bake with the given answers, the test's own to write into."""

    def copy(**answers):
        project = baked(**answers)
        return Path(shutil.copytree(project, tmp_path / "copy" / project.name, symlinks=True))

    return copy


def project_files(project):
    """Every file in a baked project, as sorted paths relative to it."""
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and not {"__pycache__", ".git"} & set(path.relative_to(project).parts)
    )


def load_hook(name):
    """A hook of this template as a module, unrendered: its answers are parsed only by main()."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE / "hooks" / f"{name}.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def imported_modules(tree: ast.AST) -> set[str]:
    """The top-level module of every absolute import in a parsed module, at any depth."""
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def own_modules(project: Path) -> set[str]:
    """The project's top-level folders, and the modules on its tests' import path."""
    names = {path.name for path in project.iterdir() if path.is_dir()}
    # pytest puts the project root (pythonpath) and tests/ (rootdir imports) on sys.path.
    for folder in (project, project / "tests"):
        names |= {path.stem for path in folder.glob("*.py")}
    return names


def printed_path(output: str, label: str) -> Path:
    """The path on the one line of `output` that starts with `label: `."""
    (line,) = [line for line in output.splitlines() if line.startswith(f"{label}: ")]
    return Path(line.split(": ", 1)[1])
