"""The hook's reserved names are exactly what the generated code binds, imports and lays out.

Every variant is baked with sentinel names, then read: a class name must not be any name
bound or used in a file where the user's classes appear; a package name must not be a
module the project imports or depends on (directly or not), one of its own files or folders,
or a folder its .gitignore ignores. The hook keeps these sets as data; this test says what to
add or remove whenever the generated code or its dependencies change.
"""

import ast
import builtins
import importlib.metadata
import itertools
import keyword
import re
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import TEMPLATE, imported_modules, load_hook, own_modules, project_files
from cookiecutter.main import cookiecutter
from packaging.requirements import Requirement

SENTINELS = {
    "package_name": "zz_sentinel_pkg",
    "dataset_class": "ZzSentinelDataset",
    "datamodule_class": "ZzSentinelDataModule",
    "model_class": "ZzSentinelModel",
}
CLASS_SENTINELS = {
    SENTINELS[field] for field in ("dataset_class", "datamodule_class", "model_class")
}
CLI_OPTIONS = ("argparse", "lightningcli")
LOGGER_OPTIONS = ("tensorboard", "csv", "wandb", "mlflow", "none")
GLOB_CHARACTERS = re.compile(r"[*?\[\]!]")


HOOK = load_hook("pre_gen_project")


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """One bake per cli and logger option, all with the sentinel names."""
    # A config of its own keeps cookiecutter's replay files out of the user's home.
    config = {"replay_dir": str(tmp_path_factory.mktemp("replay"))}
    projects = []
    for cli, logger in itertools.product(CLI_OPTIONS, LOGGER_OPTIONS):
        output = tmp_path_factory.mktemp(f"{cli}-{logger}")
        answers = {**SENTINELS, "cli": cli, "logger": logger, "git_init": False}
        path = cookiecutter(
            str(TEMPLATE),
            no_input=True,
            extra_context=answers,
            output_dir=output,
            default_config=config,
        )
        projects.append(Path(path))
    return projects


def python_files(project):
    """Each generated .py file, parsed."""
    return {
        name: ast.parse((project / name).read_text(encoding="utf-8"), name)
        for name in project_files(project)
        if name.endswith(".py")
    }


def names_in(tree):
    """Every name a module binds or reads, at any depth: imports, defs, arguments, variables."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def dependency_modules(project):
    """The top-level modules of every distribution the project's requirements pull in, at any depth.

    The closure of the declared requirements (and the dev extra), walked through each installed
    distribution's metadata, with its markers and extras evaluated here; each distribution's
    modules come from its top_level.txt or RECORD (packages_distributions). A package named
    like any of them would shadow it, or be shadowed, once installed beside it: `tqdm` breaks
    Lightning at start-up. The closure, not the modules imported at start-up (sys.modules
    after an import), because dependencies import some modules only on some paths.
    This runs in the template's venv, whose requirements-dev.txt pins every version, so the
    set is the same on every run; the floor venv has no cookiecutter and never runs it.
    """
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = list(pyproject["project"]["dependencies"])
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        requirements += extra
    modules_by_distribution = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            modules_by_distribution.setdefault(normalize(distribution), set()).add(module)
    modules = set()
    for distribution in requirement_closure(map(Requirement, requirements)):
        modules |= modules_by_distribution.get(distribution, set())
    return modules


def requirement_closure(requirements):
    """The normalized names of the distributions these requirements need, recursively."""
    seen, todo, names = set(), list(requirements), set()
    while todo:
        requirement = todo.pop()
        name = normalize(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        try:
            needs = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement.name} is not installed; install requirements-dev.txt")
        names.add(name)
        extras = requirement.extras or {""}
        for need in map(Requirement, needs):
            if need.marker is None or any(need.marker.evaluate({"extra": e}) for e in extras):
                todo.append(need)
    return names


def normalize(distribution):
    return re.sub(r"[-_.]+", "-", distribution).lower()


def ignored_folders(project):
    """Plain names in .gitignore: a package folder of that name would not be committed."""
    lines = (project / ".gitignore").read_text(encoding="utf-8").splitlines()
    names = {line.strip().strip("/") for line in lines if not line.startswith("#")}
    return {name for name in names if name and not GLOB_CHARACTERS.search(name)}


def class_clashes(projects):
    """Names a user's class would shadow or be shadowed by, in any variant."""
    names = set()
    for project in projects:
        for tree in python_files(project).values():
            bound = names_in(tree)
            if bound & CLASS_SENTINELS:
                names |= bound
    return {
        name
        for name in names - CLASS_SENTINELS
        if HOOK.CLASS_PATTERN.fullmatch(name)
        and not keyword.iskeyword(name)
        and not hasattr(builtins, name)
    }


def package_clashes(projects):
    """Names a user's package would shadow or be shadowed by, in any variant."""
    names = {"test"}  # the stdlib's regression tests, missing from sys.stdlib_module_names
    for project in projects:
        for tree in python_files(project).values():
            names |= imported_modules(tree)
        names |= dependency_modules(project)
        names |= own_modules(project)
        names |= ignored_folders(project)
    return {
        name
        for name in names - {SENTINELS["package_name"]} - sys.stdlib_module_names
        if HOOK.PACKAGE_PATTERN.fullmatch(name)
    }


def difference(hook_set, derived, set_name):
    """An assertion message naming exactly what the hook's set lacks and holds in excess."""
    lines = [f"hooks/pre_gen_project.py {set_name} is out of date with the generated code:"]
    if derived - hook_set:
        lines.append(f"  add:    {sorted(derived - hook_set)}")
    if hook_set - derived:
        lines.append(f"  remove: {sorted(hook_set - derived)}")
    return "\n".join(lines)


def test_class_names_the_hook_reserves_are_exactly_the_clashes(variants):
    derived = class_clashes(variants)
    assert derived == HOOK.RESERVED_CLASS_NAMES, difference(
        HOOK.RESERVED_CLASS_NAMES, derived, "RESERVED_CLASS_NAMES"
    )


def test_package_names_the_hook_reserves_are_exactly_the_clashes(variants):
    derived = package_clashes(variants)
    assert derived == HOOK.RESERVED_PACKAGE_NAMES, difference(
        HOOK.RESERVED_PACKAGE_NAMES, derived, "RESERVED_PACKAGE_NAMES"
    )


def test_sentinels_pass_the_hook_and_appear_in_every_variant(variants):
    for field, name in SENTINELS.items():
        check = HOOK.check_package_name if field == "package_name" else HOOK.check_class_name
        assert check(name) is None, field
    for project in variants:
        assert (project / SENTINELS["package_name"] / "model.py").is_file()
        trees = python_files(project).values()
        assert set().union(*map(names_in, trees)) >= CLASS_SENTINELS, project


def test_the_hook_writes_its_package_names_sorted_and_once():
    words = HOOK.RESERVED_PACKAGE_NAMES_TEXT.split()
    assert words == sorted(set(words))
