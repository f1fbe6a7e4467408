"""Helpers shared by the template's tests: baking with checked answers, reading a bake."""

import json
import re
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
ANSWER_KEYS = set(json.loads((TEMPLATE / "cookiecutter.json").read_text()))
UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%-?\s|cookiecutter\.")


@pytest.fixture
def bake(cookies):
    """Bake with the given answers and return the project folder; fail on any error."""

    def bake_with(**answers):
        # pytest-cookies ignores unknown keys, so a typo would bake the defaults silently.
        unknown = set(answers) - ANSWER_KEYS
        assert not unknown, f"not in cookiecutter.json: {unknown}"
        result = cookies.bake(extra_context=answers)
        assert result.exception is None, result.exception
        assert result.exit_code == 0
        return Path(result.project_path)

    return bake_with


def project_files(project):
    """Every file in a baked project, as sorted paths relative to it."""
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
