"""What a bake produces: the exact files, the user's names in use, nothing left unrendered."""

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import UNRENDERED, project_files

DEFAULT_CLASSES = ("DigitsDataset", "DigitsDataModule", "DigitsClassifier")

# Each option value appears at least once; ids say which.
OPTION_MATRIX = [
    pytest.param({}, id="defaults"),
    pytest.param({"license": "BSD-3-Clause"}, id="license-bsd"),
    pytest.param({"license": "Apache-2.0"}, id="license-apache"),
    pytest.param({"license": "none"}, id="license-none"),
    pytest.param({"cli": "lightningcli"}, id="cli-lightningcli"),
    pytest.param({"logger": "csv"}, id="logger-csv"),
    pytest.param({"logger": "wandb"}, id="logger-wandb"),
    pytest.param({"logger": "mlflow"}, id="logger-mlflow"),
    pytest.param({"logger": "none"}, id="logger-none"),
    pytest.param({"github_actions": False, "pre_commit": False}, id="no-ci-no-precommit"),
    pytest.param({"cli": "lightningcli", "logger": "none", "license": "none"}, id="cli-bare"),
    pytest.param({"cli": "lightningcli", "logger": "mlflow"}, id="cli-mlflow"),
]


# Names at both ends of what the hook allows: generated code must lay out the same way.
LONGEST_NAMES = {
    "project_slug": "s" * 40,
    "package_name": "p" * 40,
    "dataset_class": "D" + "x" * 39,
    "datamodule_class": "M" + "x" * 39,
    "model_class": "N" + "x" * 39,
}
SHORTEST_NAMES = {
    "project_slug": "s",
    "package_name": "p",
    "dataset_class": "D",
    "datamodule_class": "M",
    "model_class": "N",
}
RUFF_MATRIX = [
    *OPTION_MATRIX,
    pytest.param({**LONGEST_NAMES, "logger": "wandb"}, id="longest-names-wandb"),
    pytest.param({**LONGEST_NAMES, "cli": "lightningcli"}, id="longest-names-lightningcli"),
    pytest.param({**SHORTEST_NAMES, "logger": "mlflow"}, id="shortest-names-mlflow"),
    pytest.param({**SHORTEST_NAMES, "cli": "lightningcli"}, id="shortest-names-lightningcli"),
    # The scripts (train, tune) are imported beside the package: names on either side of
    # "train" must sort the same way ("trial" differs from it only at the third letter).
    pytest.param({"package_name": "vision"}, id="package-after-train"),
    pytest.param({"package_name": "trial", "cli": "lightningcli"}, id="package-trial-cli"),
    pytest.param({"package_name": "u_net", "logger": "mlflow"}, id="package-u-net-mlflow"),
    pytest.param({"package_name": "a_net", "cli": "lightningcli"}, id="package-before-train"),
]


def expected_files(package="digits_classifier", **answers):
    """The exact file set a bake with these answers must produce."""
    files = {
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "predict.py",
        "export.py",
        "serve.py",
        "train.py",
        "tune.py",
        f"{package}/__init__.py",
        f"{package}/data.py",
        f"{package}/model.py",
        f"{package}/machinery/__init__.py",
        f"{package}/machinery/augmentation.py",
        f"{package}/machinery/callbacks.py",
        f"{package}/machinery/checkpoints.py",
        f"{package}/machinery/data_report.py",
        f"{package}/machinery/errors.py",
        f"{package}/machinery/extras.py",
        f"{package}/machinery/files.py",
        f"{package}/machinery/launcher.py",
        f"{package}/machinery/loading.py",
        f"{package}/machinery/logger.py",
        f"{package}/machinery/onnx_export.py",
        f"{package}/machinery/runs.py",
        f"{package}/machinery/serving.py",
        f"{package}/machinery/settings.py",
        f"{package}/machinery/tuning.py",
        f"{package}/machinery/workers.py",
        "tests/command_line.py",
        "tests/train_in_process.py",
        "tests/conftest.py",
        "tests/test_augmentation.py",
        "tests/test_checkpoints.py",
        "tests/test_data.py",
        "tests/test_export.py",
        "tests/test_faults.py",
        "tests/test_flags.py",
        "tests/test_model.py",
        "tests/test_predict.py",
        "tests/test_progress.py",
        "tests/test_reproducibility.py",
        "tests/test_serve.py",
        "tests/test_tasks.py",
        "tests/test_train.py",
        "tests/test_tune.py",
        "tests/test_tuning.py",
    }
    if answers.get("cli", "argparse") == "argparse":
        files |= {f"{package}/machinery/trainer_args.py", "tests/test_trainer_args.py"}
    else:
        files |= {"configs/default.yaml", f"{package}/machinery/cli_parser.py"}
    if answers.get("license", "MIT") != "none":
        files.add("LICENSE")
    if answers.get("github_actions", True):
        files.add(".github/workflows/ci.yml")
    if answers.get("pre_commit", True):
        files.add(".pre-commit-config.yaml")
    return sorted(files)


def read_texts(project):
    return {name: (project / name).read_text(encoding="utf-8") for name in project_files(project)}


@pytest.mark.parametrize("answers", OPTION_MATRIX)
def test_bake_gives_exactly_the_expected_files(baked, answers):
    project = baked(**answers)
    assert project.name == "digits-classifier"
    assert project_files(project) == expected_files(**answers)


@pytest.mark.parametrize("answers", OPTION_MATRIX)
def test_bake_is_fully_rendered_and_compiles(baked, answers):
    project = baked(**answers)
    for name, text in read_texts(project).items():
        assert not UNRENDERED.search(text), f"unrendered Jinja in {name}"
        if name.endswith(".py"):
            compile(text, name, "exec")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == "digits-classifier"


@pytest.mark.parametrize("answers", OPTION_MATRIX)
def test_readme_has_no_stray_blank_lines(baked, answers):
    readme = (baked(**answers) / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Digits Classifier\n\n")
    lines = readme.splitlines()
    doubled = [
        number for number in range(1, len(lines)) if lines[number - 1] == lines[number] == ""
    ]
    assert not doubled, f"doubled blank lines before README lines {doubled}"
    assert readme.endswith("\n") and not readme.endswith("\n\n")


@pytest.mark.parametrize("logger", ["tensorboard", "csv", "wandb", "mlflow", "none"])
@pytest.mark.parametrize("cli", ["argparse", "lightningcli"])
def test_readme_prose_lines_fit_100_characters(baked, cli, logger):
    """With the default names, no substitution pushes a prose line past 100 characters."""
    readme = (baked(cli=cli, logger=logger) / "README.md").read_text(encoding="utf-8")
    long_lines, in_code = [], False
    for number, line in enumerate(readme.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        # Code, table rows and lines with a URL may run longer.
        elif not in_code and not line.startswith("|") and "://" not in line and len(line) > 100:
            long_lines.append(f"{number}: {line}")
    assert not long_lines, "\n".join(long_lines)


def test_mixed_case_slug_gives_a_lowercase_package(baked):
    project = baked(project_slug="Digits.Net-V2")
    assert project.name == "Digits.Net-V2"
    assert (project / "digits_net_v2" / "model.py").is_file()


def test_custom_names_are_defined_and_used(baked):
    names = {"dataset_class": "Scans", "datamodule_class": "ScanData", "model_class": "TumourNet"}
    project = baked(project_name="Tumour Finder", package_name="tumour", **names)
    assert project.name == "tumour-finder"
    assert project_files(project) == expected_files(package="tumour")
    texts = read_texts(project)
    defined = {
        node.name
        for node in ast.walk(ast.parse(texts["tumour/data.py"] + texts["tumour/model.py"]))
        if isinstance(node, ast.ClassDef)
    }
    assert set(names.values()) <= defined
    for old_name in DEFAULT_CLASSES:
        assert not any(old_name in text for text in texts.values()), old_name
    assert "    TumourNet,\n" in texts["train.py"].split("from tumour.model import (", 1)[1]
    assert "ScanData(" in texts["train.py"]
    assert "Scans(" in texts["tumour/data.py"]


def test_a_project_name_starting_with_a_digit_gets_a_package_name_python_allows(baked):
    project = baked(project_name="2024 model")
    assert project.name == "2024-model"
    assert (project / "project_2024_model" / "model.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["setuptools"]["packages"][0] == "project_2024_model"


def test_licence_names_the_author(baked):
    project = baked(author_name="Ada Lovelace", license="MIT")
    licence = (project / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    assert "Ada Lovelace" in licence


@pytest.mark.parametrize(
    "project_name",
    [
        'My "quoted" \\ project\\',
        "딥러닝 숫자 인식",
        'x"""; import os; os.system(\'touch pwned\'); """',
        "!!!",
    ],
    ids=["quotes-backslashes", "korean", "injection", "no-letters"],
)
def test_awkward_project_names_give_valid_projects(bake, tmp_path, monkeypatch, project_name):
    monkeypatch.chdir(tmp_path)
    description = "Says \"hi\" \\ and 안녕 'twice'"
    project = bake(project_name=project_name, description=description, author_name='O\'Brien "Bob"')
    package = project.name.replace("-", "_").replace(".", "_")
    assert package.isascii() and package.isidentifier()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == description
    assert pyproject["project"]["authors"][0]["name"] == 'O\'Brien "Bob"'
    for name, text in read_texts(project).items():
        if name.endswith(".py"):
            compile(text, name, "exec")
    assert project_name in (project / "README.md").read_text(encoding="utf-8")
    assert not list(tmp_path.rglob("pwned"))


def public_functions(tree):
    """Each function or method a module offers, Lightning hook overrides included."""
    found = []

    def visit(node, private):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, private or child.name.startswith("_"))
            # Nested functions are the enclosing one's business, not a public signature.
            elif (
                isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                and not private
                and (not child.name.startswith("_") or child.name == "__init__")
            ):
                found.append(child)

    visit(tree, private=False)
    return found


def missing_hints(function):
    """The parameters, and "return", that a function leaves without a type hint."""
    args = function.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    missing = [
        param.arg
        for param in params
        if param and param.annotation is None and param.arg not in ("self", "cls")
    ]
    if function.returns is None and function.name != "__init__":
        missing.append("return")
    return missing


def long_docstrings(tree):
    """Docstrings of more than two lines, with the line of what they describe."""
    kinds = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
    long = []
    for node in ast.walk(tree):
        docstring = ast.get_docstring(node) if isinstance(node, kinds) else None
        if docstring and len([line for line in docstring.splitlines() if line.strip()]) > 2:
            long.append(getattr(node, "lineno", 1))
    return long


@pytest.mark.parametrize("answers", OPTION_MATRIX)
def test_generated_code_has_typed_signatures_and_short_docstrings(baked, answers):
    project = baked(**answers)
    unhinted, wordy = [], []
    for name, text in read_texts(project).items():
        if not name.endswith(".py"):
            continue
        tree = ast.parse(text, name)
        wordy += [f"{name}:{line}" for line in long_docstrings(tree)]
        if not name.startswith("tests/"):
            unhinted += [
                f"{name}:{function.lineno} {function.name} {missing}"
                for function in public_functions(tree)
                if (missing := missing_hints(function))
            ]
    assert unhinted == [], "public signatures need type hints"
    # The issue asks for one or two lines; a longer why goes in a comment.
    assert wordy == [], "docstrings longer than two lines"


def own_imports(tree, package):
    """The project modules a parsed module imports, as dotted names (relative ones resolved)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative to `package`, one level up per further dot
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{module}" if module else base
            names += [module, *(f"{module}.{alias.name}" for alias in node.names)]
    return names


# What the files a user edits may not hold: process machinery lives in machinery/.
MACHINERY_MODULES = {"signal", "atexit", "multiprocessing", "threading", "concurrent", "sys"}


@pytest.mark.parametrize("answers", OPTION_MATRIX)
def test_the_users_files_hold_no_machinery_and_dependencies_point_one_way(baked, answers):
    project = baked(**answers)
    texts = read_texts(project)
    package = "digits_classifier"
    # The seed travels as a parameter, never through Lightning's environment variable.
    assert [name for name, text in texts.items() if "PL_GLOBAL_SEED" in text] == []
    for name in ("data.py", "model.py"):
        tree = ast.parse(texts[f"{package}/{name}"])
        imported = {module.split(".")[0] for module in own_imports(tree, package)}
        assert not imported & MACHINERY_MODULES, name
        # No process-wide hook is replaced there either.
        assert "excepthook" not in texts[f"{package}/{name}"], name
    # Reading a checkpoint, and the callbacks, need nothing of the user's data.py.
    for name in ("callbacks.py", "checkpoints.py"):
        tree = ast.parse(texts[f"{package}/machinery/{name}"])
        assert f"{package}.machinery.errors" in own_imports(tree, f"{package}.machinery"), name
        modules = own_imports(tree, f"{package}.machinery")
        assert not [m for m in modules if m.startswith(f"{package}.data")], name
    # The machinery needs nothing of data.py or model.py at all: they import it, not it them.
    for name, text in texts.items():
        if name.startswith(f"{package}/machinery/"):
            modules = own_imports(ast.parse(text), f"{package}.machinery")
            users = (f"{package}.data", f"{package}.model")
            assert not [module for module in modules if module.startswith(users)], name


def test_no_jinja_logic_is_left_in_the_package_or_the_scripts():
    """Variants are whole files; the package and scripts take the user's names as plain values."""
    template = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}"
    python = [path for path in template.rglob("*.py") if "tests" not in path.parts]
    tagged = [str(path.relative_to(template)) for path in python if "{%" in path.read_text()]
    assert tagged == []


@pytest.mark.parametrize("answers", RUFF_MATRIX)
def test_bake_passes_ruff_check_and_format(baked, answers):
    project = baked(**answers)
    ruff = [sys.executable, "-m", "ruff"]
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        finished = subprocess.run([*ruff, *command], cwd=project, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stdout + finished.stderr


def test_template_hooks_and_tests_pass_ruff():
    template = Path(__file__).resolve().parents[1]
    ruff = [sys.executable, "-m", "ruff"]
    for command in (
        ["check", "--no-cache", "hooks", "tests", "benchmarks"],
        ["format", "--no-cache", "--check", "hooks", "tests", "benchmarks"],
    ):
        finished = subprocess.run([*ruff, *command], cwd=template, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stdout + finished.stderr


@pytest.mark.parametrize("license_name", ["MIT", "none"])
def test_project_builds_a_wheel_with_its_metadata(baked_copy, tmp_path, license_name):
    email = "o'brien+ml@example.co.uk"
    project = baked_copy(license=license_name, description='A "quoted" 설명', author_email=email)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--quiet", "--wheel-dir", str(tmp_path / "wheels"), str(project)]
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    (wheel,) = (tmp_path / "wheels").glob("digits_classifier-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("digits_classifier-0.1.0.dist-info/METADATA").decode()
        assert "digits_classifier/model.py" in archive.namelist()
        assert "digits_classifier/machinery/serving.py" in archive.namelist()
    assert 'Summary: A "quoted" 설명' in metadata
    assert email in metadata
    assert ("License-Expression: MIT" in metadata) == (license_name == "MIT")
