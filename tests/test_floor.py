"""The floor job's inputs, checked without installing anything.

scripts/floor.sh installs what scripts/floor_requirements.py prints for the variants it bakes;
these tests check that every variant's every dependency has a floor it turns into a pin (the
`dev` extra holding every other extra), that those variants declare everything any variant
does, that torch stays at the pinned build, and that every third-party module the generated
code imports comes from a declared dependency.
"""

import ast
import importlib.metadata
import importlib.util
import itertools
import json
import re
import sys
import tomllib

import pytest
from conftest import TEMPLATE, imported_modules, own_modules, project_files

SPEC = importlib.util.spec_from_file_location(
    "floor_requirements", TEMPLATE / "scripts" / "floor_requirements.py"
)
floor_requirements = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(floor_requirements)

CHOICES = json.loads((TEMPLATE / "cookiecutter.json").read_text())
EVERY_VARIANT = [
    {"cli": cli, "logger": logger}
    for cli, logger in itertools.product(CHOICES["cli"], CHOICES["logger"])
]
FLOOR_SH = (TEMPLATE / "scripts" / "floor.sh").read_text()


def shell_value(script, name):
    """The value of `name="..."` in a shell script."""
    return re.search(rf'^{name}="([^"]*)"', script, re.MULTILINE).group(1)


def floor_sh_variants():
    """The answers floor.sh bakes, one dict per quoted line of its `variants` array."""
    array = re.search(r"^variants=\((.*?)^\)", FLOOR_SH, re.MULTILINE | re.DOTALL).group(1)
    return [dict(word.split("=") for word in line.split()) for line in re.findall(r'"(.*)"', array)]


TORCH_PIN = shell_value(FLOOR_SH, "torch_pin")


@pytest.mark.parametrize("answers", EVERY_VARIANT, ids=lambda a: f"{a['cli']}-{a['logger']}")
def test_every_dependency_has_a_floor_that_becomes_a_pin(baked, answers):
    project = baked(**answers)
    declared = floor_requirements.declared(project)
    pins = floor_requirements.floor_requirements([project], [TORCH_PIN])
    assert len(pins) == len(declared)
    for requirement in declared:
        name, floor = re.fullmatch(r"([\w\[\]-]+)>=([\w.]+)(,<\w+)?", requirement).group(1, 2)
        expected = TORCH_PIN if name == "torch" else f"{name}=={floor}"
        assert expected in pins, requirement


@pytest.mark.parametrize("answers", EVERY_VARIANT, ids=lambda a: f"{a['cli']}-{a['logger']}")
def test_dev_holds_every_other_extra_so_the_job_pins_its_floors(baked, answers):
    # floor_requirements.py pins the dependencies and `dev`: an extra `dev` lacked, or held
    # with another floor, would never be installed at its own floor.
    project = baked(**answers)
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    extras = table["optional-dependencies"]
    assert {"export", "serve"} <= set(extras)
    for name, requirements in extras.items():
        assert set(requirements) <= set(extras["dev"]), name


def test_floor_sh_bakes_variants_that_declare_every_dependency(baked):
    def union(variants):
        projects = [baked(**answers) for answers in variants]
        return floor_requirements.floor_requirements(projects, [TORCH_PIN])

    assert union(floor_sh_variants()) == union(EVERY_VARIANT)
    assert {a["cli"] for a in floor_sh_variants()} == set(CHOICES["cli"])


@pytest.mark.parametrize("answers", EVERY_VARIANT, ids=lambda a: f"{a['cli']}-{a['logger']}")
def test_every_third_party_import_comes_from_a_declared_dependency(baked, answers):
    # A module that arrives only through another dependency has no floor of its own: the
    # floor job would install whatever version that dependency happens to pull in.
    project = baked(**answers)
    declared = {
        floor_requirements.floor_pin(requirement)[0]
        for requirement in floor_requirements.declared(project)
    }
    providers = importlib.metadata.packages_distributions()
    imported = set().union(
        *(
            imported_modules(ast.parse((project / name).read_text(encoding="utf-8")))
            for name in project_files(project)
            if name.endswith(".py")
        )
    )
    third_party = imported - sys.stdlib_module_names - own_modules(project)
    undeclared = {
        module: providers.get(module, ["(not installed here)"])
        for module in sorted(third_party)
        if not {floor_requirements.canonical(d) for d in providers.get(module, [])} & declared
    }
    assert not undeclared, f"imported, but no declared dependency provides them: {undeclared}"


def test_torch_stays_at_the_build_setup_sh_installs():
    setup_sh = (TEMPLATE / "scripts" / "setup.sh").read_text()
    assert TORCH_PIN.startswith("torch==")
    assert f"install --quiet {TORCH_PIN}" in setup_sh
    # floor.sh installs the pin alone, before the floors, as setup.sh does.
    assert FLOOR_SH.index('install --quiet "$torch_pin"') < FLOOR_SH.index('-r "$work/floors.txt"')


def test_generated_ci_tests_the_oldest_and_the_newest_declared_python(baked):
    project = baked()
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    versions = [c.removeprefix(prefix) for c in table["classifiers"] if c.startswith(prefix)]
    versions.sort(key=lambda version: tuple(map(int, version.split("."))))
    assert table["requires-python"] == f">={versions[0]}"
    workflow = (project / ".github" / "workflows" / "ci.yml").read_text()
    matrix = re.search(r"python-version: (\[.*\])", workflow).group(1)
    assert json.loads(matrix) == [versions[0], versions[-1]]


def write_pyproject(folder, dependencies, dev=()):
    folder.mkdir()
    lines = ["[project]", f"dependencies = {json.dumps(dependencies)}"]
    lines += ["[project.optional-dependencies]", f"dev = {json.dumps(list(dev))}"]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def test_floors_become_pins_and_pins_replace_floors(tmp_path):
    project = write_pyproject(
        tmp_path / "a", ["torch>=2.2", "Py_Thing[extra] >= 1.5, <3"], dev=["pytest>=8"]
    )
    pins = floor_requirements.floor_requirements([project], ["torch==2.13.0"])
    assert pins == ["Py_Thing[extra]==1.5", "pytest==8", "torch==2.13.0"]


@pytest.mark.parametrize("requirement", ["numpy", "numpy==1.24", "numpy<3", "numpy>1.24"])
def test_a_dependency_without_a_floor_is_refused(tmp_path, requirement):
    project = write_pyproject(tmp_path / "a", [requirement])
    with pytest.raises(ValueError, match="declares no floor"):
        floor_requirements.floor_requirements([project])


def test_variants_with_different_floors_are_refused(tmp_path):
    first = write_pyproject(tmp_path / "a", ["numpy>=1.24"])
    second = write_pyproject(tmp_path / "b", ["NumPy>=1.26"])
    with pytest.raises(ValueError, match="disagree on numpy"):
        floor_requirements.floor_requirements([first, second])


def test_a_pin_for_an_undeclared_name_is_refused(tmp_path):
    project = write_pyproject(tmp_path / "a", ["numpy>=1.24"])
    with pytest.raises(ValueError, match="no project declares torch"):
        floor_requirements.floor_requirements([project], ["torch==2.13.0"])
