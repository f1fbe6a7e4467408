"""Every refusal rule of hooks/pre_gen_project.py: non-zero exit, one clear line, no folder."""

import pytest
from cookiecutter.exceptions import FailedHookException

# (test id, answers, the field named in the error, words the error must hold)
REFUSALS = [
    ("class-not-camelcase", {"dataset_class": "digitsDataset"}, "dataset_class", "CamelCase"),
    ("class-not-identifier", {"model_class": "My-Model"}, "model_class", "CamelCase"),
    ("class-not-ascii", {"model_class": "Model€"}, "model_class", "CamelCase"),
    ("class-keyword", {"datamodule_class": "None"}, "datamodule_class", "keyword"),
    ("class-shadows-trainer", {"model_class": "Trainer"}, "model_class", "shadow"),
    ("class-shadows-dataset", {"dataset_class": "Dataset"}, "dataset_class", "shadow"),
    ("class-shadows-dataloader", {"datamodule_class": "DataLoader"}, "datamodule_class", "shadow"),
    ("class-shadows-module", {"model_class": "LightningModule"}, "model_class", "shadow"),
    ("class-shadows-builtin", {"model_class": "ValueError"}, "model_class", "shadow"),
    (
        "classes-same",
        {"dataset_class": "Same", "datamodule_class": "Same"},
        "datamodule_class",
        "already",
    ),
    ("class-too-long", {"model_class": "M" * 41}, "model_class", "at most 40"),
    ("package-too-long", {"package_name": "p" * 41}, "package_name", "at most 40"),
    ("slug-too-long", {"project_slug": "s" * 41}, "project_slug", "at most 40"),
    ("package-digit", {"package_name": "3d_vision"}, "package_name", "not starting with a digit"),
    ("package-not-identifier", {"package_name": "my-package"}, "package_name", "lowercase"),
    ("package-uppercase", {"package_name": "Digits"}, "package_name", "lowercase"),
    ("package-keyword", {"package_name": "class"}, "package_name", "keyword"),
    ("package-shadows-torch", {"package_name": "torch"}, "package_name", "shadow"),
    ("package-shadows-stdlib", {"package_name": "json"}, "package_name", "shadow"),
    ("package-shadows-train-py", {"package_name": "train"}, "package_name", "shadow"),
    ("slug-space", {"project_slug": "my project"}, "project_slug", "ASCII letters"),
    ("slug-leading-dash", {"project_slug": "-digits"}, "project_slug", "starting and ending"),
    ("slug-path", {"project_slug": "../escape"}, "project_slug", "ASCII letters"),
    (
        # Code if the hook pasted answers into quotes; chr(47) spells "/" so no folders appear.
        "slug-injection",
        {"project_slug": 'abc"; open(chr(47).join({pwned_parts}), "w").write("x"); SLUG="abc'},
        "project_slug",
        "ASCII letters",
    ),
    ("text-emoji", {"description": "Digits 🚀"}, "description", "U+FFFF"),
    ("text-newline", {"author_name": "Ada\nLovelace"}, "author_name", "single line"),
    ("email", {"author_email": "not an email"}, "author_email", "name@example.com"),
]


@pytest.mark.parametrize(
    ("answers", "field", "allowed"), [pytest.param(*row[1:], id=row[0]) for row in REFUSALS]
)
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
