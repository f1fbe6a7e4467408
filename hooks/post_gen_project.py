"""Keep only the files the chosen options need, make a first commit, say what to run next.

Cookiecutter renders this file before running it, in the new project's folder. Running it
again on the same folder, as cruft does, changes nothing.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

COMMIT_MESSAGE = "Generate the project from lightning-template"
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"

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
    """Keep train.py, tune.py and their tests for the chosen command line, and what only it uses."""
    variants = project / "_train"
    machinery = project / ANSWERS["package_name"] / "machinery"
    if variants.is_dir():
        for script in ("train", "tune"):
            (variants / cli / f"{script}.py").replace(project / f"{script}.py")
        (variants / cli / "test_train.py").replace(project / "tests" / "test_train.py")
        # How the tests run this command line (its flags' names, a run in the test's process).
        (variants / cli / "command_line.py").replace(project / "tests" / "command_line.py")
        (variants / cli / "train_in_process.py").replace(project / "tests" / "train_in_process.py")
        remove(variants)
    if cli == "lightningcli":
        remove(machinery / "trainer_args.py")
        remove(project / "tests" / "test_trainer_args.py")
    else:
        remove(machinery / "cli_parser.py")
        remove(project / "configs")


def place_logger(project, logger):
    """Keep the chosen experiment logger's file, as the package's machinery/logger.py."""
    loggers = project / "_loggers"
    if loggers.is_dir():
        machinery = project / ANSWERS["package_name"] / "machinery"
        (loggers / f"{logger}.py").replace(machinery / "logger.py")
        remove(loggers)


def is_yes(answer):
    # A JSON boolean from cookiecutter.json, or text typed at a prompt or passed by a tool.
    return str(answer).strip().lower() in ("true", "yes", "y", "1")


def git(project, *arguments):
    """Run git quietly in the project; raise on failure."""
    return subprocess.run(
        ["git", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def has_identity(project):
    """Whether git knows who commits, from its configuration."""
    for key in ("user.name", "user.email"):
        if subprocess.run(["git", "config", key], cwd=project, capture_output=True).returncode:
            return False
    return True


def commit_all(project):
    """Commit every file as the first commit; return who it was committed as."""
    options = ["-c", "commit.gpgsign=false"]
    identity = "your git identity"
    if not has_identity(project):
        name = ANSWERS["author_name"].strip() or "Author"
        options += ["-c", f"user.name={name}", "-c", f"user.email={ANSWERS['author_email']}"]
        identity = f"{name} <{ANSWERS['author_email']}> (git has no user identity configured)"
    git(project, "add", "-A")
    # No hooks or signing: nothing is installed yet, and a passphrase prompt would hang.
    git(project, *options, "commit", "--quiet", "--no-verify", "--message", COMMIT_MESSAGE)
    return identity


def make_repository(project):
    """Make the project a git repository with one commit, for pre-commit; say what happened."""
    if shutil.which("git") is None:
        return "git was not found, so no repository was created."
    if (project / ".git").exists():
        return "Left git alone: the project already has a .git."
    toplevel = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=project, capture_output=True, text=True
    )
    if toplevel.returncode == 0:
        return f"Left git alone: the project is inside the repository {toplevel.stdout.strip()}"
    try:
        git(project, "init", "--quiet")
        identity = commit_all(project)
    except (OSError, subprocess.SubprocessError) as error:
        # A half-made repository would stop a second run from trying again.
        remove(project / ".git")
        return f"No git repository was created ({reason(error)}); the project is complete."
    return f"Created a git repository with a first commit, as {identity}."


def reason(error):
    """The last line git wrote about a failure, or the error itself."""
    lines = (getattr(error, "stderr", None) or str(error)).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


def next_steps(project):
    """The commands that take a new project to its first trained model."""
    train = "python train.py fit" if ANSWERS["cli"] == "lightningcli" else "python train.py"
    return [
        "Next steps:",
        f"  cd {shlex.quote(folder_to_show(project))}",
        "  python -m venv .venv && source .venv/bin/activate",
        f"  {CPU_TORCH}   # without a GPU: first, the CPU build",
        '  pip install -e ".[dev]"',
        f"  {train}",
        "  pytest",
    ]


def folder_to_show(project):
    """The project's path from where the user ran cookiecutter, if that is known and above it."""
    relative = os.path.relpath(project, os.environ.get("PWD", project.parent))
    return relative if not relative.startswith("..") else str(project)


def main():
    project = Path.cwd()
    place_license(project, ANSWERS["license"])
    place_command_line(project, ANSWERS["cli"])
    place_logger(project, ANSWERS["logger"])
    if not is_yes(ANSWERS["github_actions"]):
        remove(project / ".github")
    if not is_yes(ANSWERS["pre_commit"]):
        remove(project / ".pre-commit-config.yaml")
    # cruft renders into temporary folders and diffs them: a .git there would join the diff.
    if "_commit" not in ANSWERS and is_yes(ANSWERS["git_init"]):
        print(make_repository(project))
    if not rendered_for_a_diff(project):
        print("\n".join(next_steps(project)))
    return 0


def rendered_for_a_diff(project):
    """Whether cruft renders this project only to diff it (update, diff), not to create it."""
    # cruft renders those into a fresh tempfile.TemporaryDirectory(), named tmp*; its create
    # and cookiecutter render where the user asked.
    temp_root = Path(tempfile.gettempdir()).resolve()
    parent = project.resolve().parent
    return "_commit" in ANSWERS and parent.parent == temp_root and parent.name.startswith("tmp")


if __name__ == "__main__":
    sys.exit(main())
