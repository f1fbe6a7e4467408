"""Every refusal rule of hooks/pre_gen_project.py: non-zero exit, one clear line, no folder."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEFAULT_ANSWERS, TEMPLATE, load_hook
from cookiecutter.exceptions import FailedHookException

# (test id, answers, the field named in the error, words the error must hold)
REFUSALS = [
    ("class-not-camelcase", {"dataset_class": "digitsDataset"}, "dataset_class", "CamelCase"),
    ("class-not-identifier", {"model_class": "My-Model"}, "model_class", "CamelCase"),
    ("class-not-ascii", {"model_class": "Model€"}, "model_class", "CamelCase"),
    ("class-keyword", {"datamodule_class": "None"}, "datamodule_class", "keyword"),
    ("class-shadows-path", {"model_class": "Path"}, "model_class", "shadow"),
    ("class-shadows-dataset", {"dataset_class": "Dataset"}, "dataset_class", "shadow"),
    ("class-shadows-dataloader", {"datamodule_class": "DataLoader"}, "datamodule_class", "shadow"),
    (
        "class-shadows-sampler",
        {"datamodule_class": "DistributedSampler"},
        "datamodule_class",
        "shadow",
    ),
    ("class-shadows-builtin", {"model_class": "ValueError"}, "model_class", "shadow"),
    ("class-shadows-functional", {"model_class": "F"}, "model_class", "shadow"),
    ("class-shadows-subset", {"dataset_class": "Subset"}, "dataset_class", "shadow"),
    ("class-shadows-error", {"model_class": "CheckpointError"}, "model_class", "shadow"),
    (
        "classes-same",
        {"dataset_class": "Same", "datamodule_class": "Same"},
        "datamodule_class",
        "already",
    ),
    ("class-too-long", {"model_class": "M" * 41}, "model_class", "at most 40"),
    ("package-too-long", {"package_name": "p" * 41}, "package_name", "at most 40"),
    ("slug-too-long", {"project_slug": "s" * 41}, "project_slug", "at most 40"),
    ("name-too-long-for-slug", {"project_name": "n" * 200}, "project_name", "shorten project_name"),
    ("name-empty", {"project_name": ""}, "project_name", "README's title"),
    ("name-blank", {"project_name": "  "}, "project_name", "README's title"),
    ("package-digit", {"package_name": "3d_vision"}, "package_name", "not starting with a digit"),
    ("package-not-identifier", {"package_name": "my-package"}, "package_name", "lowercase"),
    ("package-uppercase", {"package_name": "Digits"}, "package_name", "lowercase"),
    ("package-keyword", {"package_name": "class"}, "package_name", "keyword"),
    ("package-shadows-torch", {"package_name": "torch"}, "package_name", "shadow"),
    ("package-shadows-stdlib", {"package_name": "json"}, "package_name", "shadow"),
    ("package-shadows-train-py", {"package_name": "train"}, "package_name", "shadow"),
    ("package-shadows-stdlib-test", {"package_name": "test"}, "package_name", "shadow"),
    ("package-shadows-conftest", {"package_name": "conftest"}, "package_name", "shadow"),
    ("package-gitignored-data", {"package_name": "data"}, "package_name", "ignored folder"),
    ("package-gitignored-logs", {"package_name": "lightning_logs"}, "package_name", "ignored"),
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
    ("email-quote", {"author_email": 'a"b@example.com'}, "author_email", "quotes"),
    ("email-comma", {"author_email": "a,b@example.com"}, "author_email", "commas"),
    ("email-angle", {"author_email": "<a@example.com>"}, "author_email", "brackets"),
    ("email-space", {"author_email": "a b@example.com"}, "author_email", "spaces"),
    ("email-no-domain", {"author_email": "a@"}, "author_email", "name@example.com"),
]

# Names the issue found accepted and then breaking the project, each for its own reason.
BREAKING_NAMES = {
    "package_name": ["test", "conftest", "data", "outputs", "build", "dist", "mlruns"],
    "model_class": ["F", "Subset", "CheckpointError", "LightningCLI"],
}


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
    assert "cookiecutter --replay-file " in error_lines[0]
    assert not pwned.exists()


@pytest.mark.parametrize(
    ("field", "name"), [(field, name) for field, names in BREAKING_NAMES.items() for name in names]
)
def test_names_that_break_a_project_are_refused(field, name):
    hook = load_hook("pre_gen_project")
    answers = dict(DEFAULT_ANSWERS, **{field: name})
    assert [problem[0] for problem in hook.problems(answers)] == [field]


def test_default_answers_are_accepted():
    assert list(load_hook("pre_gen_project").problems(DEFAULT_ANSWERS)) == []


def test_retry_hint_names_the_replay_file_cookiecutter_wrote(tmp_path, monkeypatch):
    config = tmp_path / "cookiecutterrc.yaml"
    config.write_text(f"replay_dir: {tmp_path / 'replay'}\n")
    monkeypatch.setenv("COOKIECUTTER_CONFIG", str(config))
    hook = load_hook("pre_gen_project")
    answers = {"_repo_dir": "/cache/lightning-template", "_template": "gh:org/lightning-template"}
    replay_file = tmp_path / "replay" / "lightning-template.json"
    command = f"cookiecutter --replay-file {replay_file} gh:org/lightning-template"
    assert hook.retry_hint(answers).endswith(command)
    # cruft keeps no replay file.
    assert "replay" not in hook.retry_hint({**answers, "_commit": "abc"})


def test_refused_bake_can_be_retried_from_the_replay_file(tmp_path):
    """The retry the error line prints works: cookiecutter saved the answers before the hook ran."""
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("COOKIECUTTER_CONFIG", None)
    cookiecutter = [str(Path(sys.executable).parent / "cookiecutter"), "--output-dir", "out"]
    refused = subprocess.run(
        [*cookiecutter, "--no-input", str(TEMPLATE), "package_name=test", "git_init=no"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    error = next(line for line in refused.stderr.splitlines() if line.startswith("error: "))
    replay_file = Path(re.search(r"--replay-file (\S+)", error).group(1))
    replay = json.loads(replay_file.read_text())
    replay["cookiecutter"]["package_name"] = "fixed"
    replay_file.write_text(json.dumps(replay))
    retried = subprocess.run(
        [*cookiecutter, "--replay-file", str(replay_file), str(TEMPLATE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert retried.returncode == 0, retried.stderr
    assert (tmp_path / "out" / "digits-classifier" / "fixed" / "model.py").is_file()
