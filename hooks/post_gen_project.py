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


def place_train_script(project, cli):
    """Keep the train.py of the chosen command line, and the modules only it uses."""
    variants = project / "_train"
    if variants.is_dir():
        (variants / f"{cli}.py").replace(project / "train.py")
        remove(variants)
    if cli == "lightningcli":
        package = project / ANSWERS["package_name"]
        remove(package / "trainer_args.py")
        remove(project / "tests" / "test_trainer_args.py")
        remove(project / "tests" / "test_reproducibility.py")
    else:
        remove(project / "configs")


def main():
    project = Path.cwd()
    place_license(project, ANSWERS["license"])
    place_train_script(project, ANSWERS["cli"])
    # Answers arrive as JSON booleans from the CLI and as strings from some tools.
    if str(ANSWERS["github_actions"]).lower() not in ("true", "yes", "1"):
        remove(project / ".github")
    if str(ANSWERS["pre_commit"]).lower() not in ("true", "yes", "1"):
        remove(project / ".pre-commit-config.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
