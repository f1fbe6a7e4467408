"""Every refusal rule of hooks/pre_gen_project.py: non-zero exit, one clear line, no folder."""

import pytest
from cookiecutter.exceptions import FailedHookException

REFUSALS = [
    pytest.param({"dataset_class": "digitsDataset"}, "dataset_class", "CamelCase", id="class-not-camelcase"),
    pytest.param({"model_class": "My-Model"}, "model_class", "CamelCase", id="class-not-identifier"),
    pytest.param({"model_class": "Model€"}, "model_class", "CamelCase", id="class-not-ascii"),
    pytest.param({"datamodule_class": "None"}, "datamodule_class", "keyword", id="class-keyword"),
    pytest.param({"model_class": "Trainer"}, "model_class", "shadow", id="class-shadows-trainer"),
    pytest.param({"dataset_class": "Dataset"}, "dataset_class", "shadow", id="class-shadows-dataset"),
    pytest.param({"datamodule_class": "DataLoader"}, "datamodule_class", "shadow", id="class-shadows-dataloader"),
    pytest.param({"model_class": "LightningModule"}, "model_class", "shadow", id="class-shadows-module"),
    pytest.param({"model_class": "ValueError"}, "model_class", "shadow", id="class-shadows-builtin"),
    pytest.param(
        {"dataset_class": "Same", "datamodule_class": "Same"}, "datamodule_class", "already", id="classes-same"
    ),
    pytest.param({"model_class": "M" * 41}, "model_class", "at most 40", id="class-too-long"),
    pytest.param({"package_name": "p" * 41}, "package_name", "at most 40", id="package-too-long"),
    pytest.param({"project_slug": "s" * 41}, "project_slug", "at most 40", id="slug-too-long"),
    pytest.param({"package_name": "3d_vision"}, "package_name", "not starting with a digit", id="package-digit"),
    pytest.param({"package_name": "my-package"}, "package_name", "lowercase", id="package-not-identifier"),
    pytest.param({"package_name": "Digits"}, "package_name", "lowercase", id="package-uppercase"),
    pytest.param({"package_name": "class"}, "package_name", "keyword", id="package-keyword"),
    pytest.param({"package_name": "torch"}, "package_name", "shadow", id="package-shadows-torch"),
    pytest.param({"package_name": "json"}, "package_name", "shadow", id="package-shadows-stdlib"),
    pytest.param({"package_name": "train"}, "package_name", "shadow", id="package-shadows-train-py"),
    pytest.param({"project_slug": "my project"}, "project_slug", "ASCII letters", id="slug-space"),
    pytest.param({"project_slug": "-digits"}, "project_slug", "starting and ending", id="slug-leading-dash"),
    pytest.param({"project_slug": "../escape"}, "project_slug", "ASCII letters", id="slug-path"),
    pytest.param(
        # No "/" in it: the payload spells the path with chr(47), so no folders get made.
        {"project_slug": 'abc"; open(chr(47).join({pwned_parts}), "w").write("x"); SLUG="abc'},
        "project_slug",
        "ASCII letters",
        id="slug-injection",
    ),
    pytest.param({"description": "Digits 🚀"}, "description", "U+FFFF", id="text-emoji"),
    pytest.param({"author_name": "Ada\nLovelace"}, "author_name", "single line", id="text-newline"),
    pytest.param({"author_email": "not an email"}, "author_email", "name@example.com", id="email"),
]


@pytest.mark.parametrize(("answers", "field", "allowed"), REFUSALS)
def test_refused_answer_exits_with_one_line_and_leaves_nothing(
    cookies, capfd, tmp_path, answers, field, allowed
):
    pwned = tmp_path / "pwned"
    pwned_parts = repr(str(pwned).split("/"))
    answers = {key: value.replace("{pwned_parts}", pwned_parts) for key, value in answers.items()}
    result = cookies.bake(extra_context=answers)
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    assert result.project_path is None
    # pytest-cookies bakes into <tmp_path>/cookies/bakeNN; the refused bake left it empty.
    (output_dir,) = (tmp_path / "cookies").iterdir()
    assert not list(output_dir.iterdir())
    error_lines = capfd.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1, error_lines
    assert error_lines[0].startswith(f"error: {field} ")
    assert allowed in error_lines[0]
    assert not pwned.exists()
