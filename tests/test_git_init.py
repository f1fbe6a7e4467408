"""The git_init option: one commit of the whole bake, harmless to repeat, never a failed bake."""

import subprocess
from pathlib import Path

import pytest
from conftest import TEMPLATE
from cookiecutter.main import cookiecutter

IDENTITY_VARIABLES = ("NAME", "EMAIL")


def git(project, *arguments):
    finished = subprocess.run(
        ["git", *arguments], cwd=project, capture_output=True, text=True, check=True
    )
    return finished.stdout


@pytest.fixture
def git_config(tmp_path, monkeypatch):
    """Point git at a global config of the test's own, with no identity unless one is written."""
    config = tmp_path / "gitconfig"
    config.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        for variable in IDENTITY_VARIABLES:
            monkeypatch.delenv(f"GIT_{role}_{variable}", raising=False)
    return config


def bake_into(output_dir, **answers):
    """Bake with cookiecutter itself, so a second bake can run the hooks on the same folder."""
    replay_dir = output_dir.parent / "replay"
    path = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        overwrite_if_exists=True,
        default_config={"replay_dir": str(replay_dir)},
    )
    return Path(path)


def assert_one_clean_commit(project):
    assert git(project, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


def test_git_init_commits_the_bake_as_the_author_when_git_has_no_identity(bake, git_config, capfd):
    project = bake(git_init=True, author_name="Ada Lovelace", author_email="ada@example.com")
    assert_one_clean_commit(project)
    assert git(project, "log", "--format=%an <%ae>").strip() == "Ada Lovelace <ada@example.com>"
    assert "Created a git repository" in capfd.readouterr().out


def test_git_init_commits_as_the_configured_identity(bake, git_config):
    git_config.write_text("[user]\n\tname = Grace\n\temail = grace@example.com\n")
    project = bake(git_init=True)
    assert_one_clean_commit(project)
    assert git(project, "log", "--format=%an <%ae>").strip() == "Grace <grace@example.com>"


def test_a_second_run_on_the_same_folder_leaves_the_repository_alone(tmp_path, git_config, capfd):
    project = bake_into(tmp_path / "out", git_init=True)
    first = git(project, "rev-parse", "HEAD")
    assert bake_into(tmp_path / "out", git_init=True) == project
    assert git(project, "rev-parse", "HEAD") == first
    assert_one_clean_commit(project)
    assert "Left git alone" in capfd.readouterr().out


def test_git_init_off_gives_no_repository(bake):
    assert not (bake(git_init=False) / ".git").exists()


def test_a_bake_inside_a_repository_makes_no_nested_one(tmp_path, git_config):
    git(tmp_path, "init", "--quiet")
    project = bake_into(tmp_path / "out", git_init=True)
    assert not (project / ".git").exists()


def test_a_failing_git_leaves_a_complete_project_and_no_repository(
    bake, tmp_path, monkeypatch, capfd
):
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'fatal: broken git' >&2\nexit 128\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    project = bake(git_init=True)
    assert (project / "train.py").is_file()
    assert not (project / ".git").exists()
    assert "No git repository was created (fatal: broken git)" in capfd.readouterr().out


@pytest.mark.parametrize(
    ("cli", "train"), [("argparse", "python train.py"), ("lightningcli", "python train.py fit")]
)
def test_the_bake_ends_with_next_steps(bake, capfd, cli, train):
    bake(cli=cli)
    out = capfd.readouterr().out
    steps = out[out.index("Next steps:") :].splitlines()
    assert "  cd " in steps[1]
    assert any("download.pytorch.org/whl/cpu" in step for step in steps)
    assert steps[-3:] == ['  pip install -e ".[dev]"', f"  {train}", "  pytest"]
