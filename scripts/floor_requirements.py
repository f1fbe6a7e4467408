"""Print the oldest versions that baked projects allow, as exact pins for pip.

    python scripts/floor_requirements.py --pin torch==2.13.0 PROJECT [PROJECT ...]

Every `name>=X` in each project's dependencies and `dev` extra becomes `name==X`, one a line,
the union over all the projects. A dependency without a floor is an error: a floor that is
never installed is never tested. `--pin` replaces a declared floor with a given version;
scripts/floor.sh pins torch to the CPU build it installed first, which the list then keeps.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

# name, optional [extras], the floor, and an optional upper bound: "numpy>=1.24", "a[b]>=1,<3".
FLOORED = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?"
    r">=(?P<floor>[^,;<>=!\s]+)(?:,<[^,;<>=!\s]+)?"
)


def canonical(name):
    """The name pip compares: case, '-', '_' and '.' do not matter (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(project):
    """The project's dependencies and its `dev` extra, as written in its pyproject.toml."""
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    return [*table["dependencies"], *table.get("optional-dependencies", {}).get("dev", [])]


def floor_pin(requirement):
    """`name[extras]>=X,<Y` as (canonical name, `name[extras]==X`)."""
    match = FLOORED.fullmatch(requirement.replace(" ", ""))
    if match is None:
        raise ValueError(f"{requirement!r} declares no floor (name>=X, optionally ,<Y)")
    pin = f"{match['name']}{match['extras'] or ''}=={match['floor']}"
    return canonical(match["name"]), pin


def floor_requirements(projects, pins=()):
    """The union of the projects' floors as exact pins, sorted; `pins` replace floors."""
    chosen = {}
    for project in projects:
        for requirement in declared(project):
            name, pin = floor_pin(requirement)
            if chosen.setdefault(name, pin) != pin:
                raise ValueError(f"variants disagree on {name}'s floor: {chosen[name]}, {pin}")
    for pin in pins:
        name = canonical(re.split(r"[\[=]", pin, maxsplit=1)[0])
        # Pinning a name no project declares would hide a typo, or a dependency dropped.
        if name not in chosen:
            raise ValueError(f"--pin {pin}: no project declares {name}")
        chosen[name] = pin
    return sorted(chosen.values(), key=str.lower)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+", type=Path, help="baked project folders")
    parser.add_argument(
        "--pin", action="append", default=[], help="NAME==VERSION to install instead of a floor"
    )
    args = parser.parse_args(argv)
    try:
        print("\n".join(floor_requirements(args.projects, args.pin)))
    except ValueError as error:
        sys.exit(f"floor_requirements.py: {error}")


if __name__ == "__main__":
    main()
