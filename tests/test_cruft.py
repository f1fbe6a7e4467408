"""Projects stay in step with the template through cruft: create, check, update."""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, project_files

BIN = Path(sys.executable).parent
GIT_IDENTITY = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]


def run(cwd, *command):
    finished = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def commit_all(repo, message):
    run(repo, "git", "add", "-A")
    run(repo, "git", *GIT_IDENTITY, "commit", "-q", "-m", message)


def make_template_repo(folder):
    """A git copy of this template: cruft reads templates from git."""
    repo = folder / "template"
    ignored = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache")
    shutil.copytree(TEMPLATE, repo, ignore=ignored)
    run(repo, "git", "init", "-q")
    commit_all(repo, "template")
    return repo


def cruft_create(template_repo, folder):
    """The project cruft creates, and what it printed."""
    out = folder / "cruft"
    command = ["create", str(template_repo), "--no-input", "--output-dir", str(out)]
    printed = run(folder, BIN / "cruft", *command)
    return out / "digits-classifier", printed


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A template repository, a project cruft created from it and what cruft printed."""
    folder = tmp_path_factory.mktemp("cruft")
    template_repo = make_template_repo(folder)
    return template_repo, *cruft_create(template_repo, folder)


@pytest.fixture
def template_repo(fresh):
    return fresh[0]


@pytest.fixture
def cruft_project(fresh):
    return fresh[1]


def test_cruft_create_prints_the_next_steps(fresh):
    printed = fresh[2]
    assert "Next steps:" in printed
    assert '  pip install -e ".[dev]"' in printed
    # No repository under cruft, so no line about one.
    assert "git repository" not in printed


def test_cruft_create_matches_cookiecutter(template_repo, cruft_project, tmp_path):
    out = tmp_path / "cookiecutter"
    run(tmp_path, BIN / "cookiecutter", str(template_repo), "--no-input", "--output-dir", str(out))
    baked = out / "digits-classifier"
    # cruft re-renders in temporary folders and diffs them, so the hook makes no repository
    # under cruft; cookiecutter's bake has one, which project_files leaves out.
    assert (baked / ".git").is_dir()
    assert not (cruft_project / ".git").exists()
    cruft_files = [name for name in project_files(cruft_project) if name != ".cruft.json"]
    assert cruft_files == project_files(baked)
    _, mismatched, errors = filecmp.cmpfiles(cruft_project, baked, cruft_files, shallow=False)
    assert mismatched == errors == []


def test_cruft_check_passes_on_a_fresh_project(cruft_project):
    assert "up to date" in run(cruft_project, BIN / "cruft", "check")


def test_cruft_update_applies_a_template_change(tmp_path):
    # Its own repository and project: the update changes both.
    template_repo = make_template_repo(tmp_path)
    cruft_project, _ = cruft_create(template_repo, tmp_path)
    run(cruft_project, "git", "init", "-q")
    commit_all(cruft_project, "generated")
    readme = template_repo / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA line the template added later.\n")
    commit_all(template_repo, "template: add a line")
    printed = run(cruft_project, BIN / "cruft", "update", "--skip-apply-ask")
    # The renders cruft diffs print nothing of their own.
    assert "Next steps:" not in printed
    assert "A line the template added later." in (cruft_project / "README.md").read_text()
    assert "up to date" in run(cruft_project, BIN / "cruft", "check")
