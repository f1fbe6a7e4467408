"""Every generated variant's code passes the project's own tests, each suite run once.

The default bake runs its whole suite; the lightningcli bake and a bake with custom names
(and the csv logger) run the quick one (`-m "not slow"`). A logger variant differs from the
bake of its command line in the logger's code alone, so it runs the quick tests that reach
that code; a check below proves the tests it leaves out run only code identical to the
reference's. Variants whose Python files and test settings equal the defaults' byte for byte
(licences, no CI) are covered by the default's suite, which a check below proves.

Each suite runs in a fresh process (a project must import as its users will import it);
pytest-xdist spreads the suites across cores.
"""

import ast
import os
import sys
import tomllib

import pytest
from conftest import project_files, run_within
from test_bake import OPTION_MATRIX

# The quick tests that reach the logger's code: they train through train.py or tune.py.
LOGGER_TESTS = [
    "test_checkpoints.py",
    "test_export.py",
    "test_faults.py",
    "test_flags.py",
    "test_predict.py",
    "test_serve.py",
    "test_tasks.py",
    "test_train.py",
    "test_tune.py",
]
CUSTOM_NAMES = {
    "project_name": "딥러닝 숫자",
    "package_name": "digits_kr",
    "dataset_class": "Scans",
    "datamodule_class": "ScanData",
    "model_class": "ScanNet",
}
# id: (answers, the bake it differs from by its logger alone, or None for the quick suite)
SUITES = {
    "cli-lightningcli": ({"cli": "lightningcli"}, None),
    "custom-names-csv": ({**CUSTOM_NAMES, "logger": "csv"}, None),
    "logger-wandb": ({"logger": "wandb"}, {}),
    "logger-mlflow": ({"logger": "mlflow"}, {}),
    "logger-none": ({"logger": "none"}, {}),
    "cli-bare": (
        {"cli": "lightningcli", "logger": "none", "license": "none"},
        {"cli": "lightningcli"},
    ),
    "cli-mlflow": ({"cli": "lightningcli", "logger": "mlflow"}, {"cli": "lightningcli"}),
}
# OPTION_MATRIX ids whose code is the defaults' code: the default's whole suite covers them.
SAME_CODE_AS_DEFAULTS = ["license-bsd", "license-apache", "license-none", "no-ci-no-precommit"]
# OPTION_MATRIX ids covered by a suite of SUITES under another id.
COVERED_BY = {"logger-csv": "custom-names-csv"}


def run_project_tests(project, *pytest_args):
    # PYTHONDONTWRITEBYTECODE keeps the baked tree free of __pycache__ for later checks.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "WANDB_SILENT": "true"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    return run_within(command, 900, cwd=project, env=env)


def python_files(project):
    return {
        name: (project / name).read_bytes()
        for name in project_files(project)
        if name.endswith(".py")
    }


def run_settings(project):
    """What decides how the project's tests run and what they import, from pyproject.toml."""
    table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    keys = ("dependencies", "optional-dependencies", "requires-python")
    return table["tool"], {key: table["project"].get(key) for key in keys}


def project_imports(project, name):
    """The project's own files that the file `name` imports, directly or through others."""
    own = set(python_files(project))
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        tree = ast.parse((project / current).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.ImportFrom):  # relative: `.` is the file's own package
                package = current.split("/")[: -node.level]
                base = ".".join([*package, node.module] if node.module else package)
                modules = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
            parts = [module.split(".") for module in modules]
            for path in {"/".join(p[:end]) for p in parts for end in range(1, len(p) + 1)}:
                for candidate in (f"{path}.py", f"{path}/__init__.py", f"tests/{path}.py"):
                    if candidate in own and candidate not in found:
                        found.add(candidate)
                        todo.append(candidate)
    return found


def assert_suite_passed(finished):
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert " passed" in finished.stdout


def test_default_project_passes_its_whole_suite(baked_copy):
    finished = run_project_tests(baked_copy())
    assert_suite_passed(finished)
    assert "skipped" not in finished.stdout


@pytest.mark.parametrize("variant", SUITES)
def test_every_variant_passes_the_quick_tests_of_what_it_changes(baked, baked_copy, variant):
    answers, reference = SUITES[variant]
    project = baked_copy(**answers)
    if reference is None:
        finished = run_project_tests(project, "-m", "not slow")
    else:
        differing = logger_only_difference(baked(**reference), project)
        finished = run_project_tests(project, "-m", "not slow", *differing)
    assert_suite_passed(finished)


def logger_only_difference(reference, project):
    """Check that the tests outside LOGGER_TESTS run the reference's code; return LOGGER_TESTS.

    The variant must differ from the reference in its package's machinery/logger.py, the
    conftest and LOGGER_TESTS alone; the other test files, and every project file they or
    the conftest import, must be the reference's own, byte for byte, with logger.py in none.
    """
    ours, theirs = python_files(project), python_files(reference)
    assert ours.keys() == theirs.keys()
    changed = {name for name in ours if ours[name] != theirs[name]}
    tests = {f"tests/{name}" for name in LOGGER_TESTS}
    assert {name for name in changed if not name.endswith("/machinery/logger.py")} <= tests | {
        "tests/conftest.py"
    }
    # Files marked slow as a whole stay out of a quick suite anyway.
    left_out = [
        name
        for name in ours
        if name.startswith("tests/test_")
        and name not in tests
        and b"pytestmark = pytest.mark.slow" not in ours[name]
    ]
    assert left_out, "every test file reaches the logger: run the quick suite instead"
    for name in [*left_out, "tests/conftest.py"]:
        imported = project_imports(project, name)
        assert not imported & changed, f"{name} runs code the variant changed"
        assert not any(path.endswith("/machinery/logger.py") for path in imported), name
    assert run_settings(project)[0] == run_settings(reference)[0]
    return [str(project / name) for name in sorted(tests)]


@pytest.mark.parametrize("variant", SAME_CODE_AS_DEFAULTS)
def test_variant_runs_the_defaults_code_so_the_default_suite_covers_it(baked, variant):
    (answers,) = [param.values[0] for param in OPTION_MATRIX if param.id == variant]
    project, default = baked(**answers), baked()
    assert python_files(project) == python_files(default)
    assert run_settings(project) == run_settings(default)


def test_every_option_variant_is_covered_by_a_suite():
    ids = {param.id for param in OPTION_MATRIX}
    covered = {"defaults", *SAME_CODE_AS_DEFAULTS, *COVERED_BY, *SUITES}
    assert ids <= covered
    for variant, suite in COVERED_BY.items():
        (answers,) = [param.values[0] for param in OPTION_MATRIX if param.id == variant]
        assert answers.items() <= SUITES[suite][0].items()
    for variant, (answers, _) in SUITES.items():
        if variant in ids:
            (matrix_answers,) = [param.values[0] for param in OPTION_MATRIX if param.id == variant]
            assert answers == matrix_answers
