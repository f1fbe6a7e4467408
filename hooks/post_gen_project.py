"""Keep only the files the chosen options need; safe to run again on the same folder.

Cookiecutter renders this file before running it, in the new project's folder.
"""

import json
import shutil
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")


def remove(path):
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def place_license(project, license_name):
    """Move the chosen licence text to LICENSE and drop the others."""
    texts = project / "_licenses"
    if texts.is_dir() and license_name != "none":
        (texts / license_name).replace(project / "LICENSE")
    remove(texts)


def place_command_line(project, cli):
    """Keep train.py and its tests for the chosen command line, and what only it uses."""
    variants = project / "_train"
    if variants.is_dir():
        (variants / cli / "train.py").replace(project / "train.py")
        (variants / cli / "test_train.py").replace(project / "tests" / "test_train.py")
        remove(variants)
    if cli == "lightningcli":
        remove(project / ANSWERS["package_name"] / "trainer_args.py")
        remove(project / "tests" / "test_trainer_args.py")
        remove(project / "tests" / "test_reproducibility.py")
    else:
        remove(project / "configs")


def is_yes(answer):
    # A JSON boolean from cookiecutter.json, or text typed at a prompt or passed by a tool.
    return str(answer).strip().lower() in ("true", "yes", "y", "1")


def main():
    project = Path.cwd()
    place_license(project, ANSWERS["license"])
    place_command_line(project, ANSWERS["cli"])
    if not is_yes(ANSWERS["github_actions"]):
        remove(project / ".github")
    if not is_yes(ANSWERS["pre_commit"]):
        remove(project / ".pre-commit-config.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
