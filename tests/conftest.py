"""Helpers shared by the template's tests: baking with checked answers, reading a bake."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
ANSWER_KEYS = set(json.loads((TEMPLATE / "cookiecutter.json").read_text()))
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
