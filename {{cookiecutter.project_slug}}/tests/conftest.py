"""Shared by the tests: the project's data prepared once, short runs' flags, runs kept in tmp."""

import logging
import multiprocessing
import os
import shutil
import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }}.data import (
    DEFAULT_DATA_DIR,
    {{ cookiecutter.datamodule_class }},
)

from command_line import FLAG, SUBCOMMAND

# Where the project logs with wandb: pytest swaps sys.stdout for every test, and wandb's
# console capture would go on writing to an earlier test's, closed by then.
os.environ.setdefault("WANDB_CONSOLE", "off")


def settings_flags(**settings):
    """The flags that give each setting its value, as this project's train.py spells them."""
    return [item for name, value in settings.items() for item in (FLAG[name], str(value))]


def run_flags(data_dir, root, *flags):
    """A few short epochs of train.py, with `flags` (named as in FLAG) last."""
    return [
        *SUBCOMMAND,
        *settings_flags(data_dir=data_dir, default_root_dir=root, max_epochs=3),
        *settings_flags(limit_train_batches=6, log_every_n_steps=1),
        *settings_flags(enable_progress_bar="false", enable_model_summary="false"),
        *flags,
    ]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """The data a first run would train on, prepared by the project's own prepare_data."""
    # The tests take their expectations (sizes, shapes, classes) from it, so they follow
    # whatever data the project is changed to bring.
    folder = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        {{ cookiecutter.datamodule_class }}().prepare_data()
    return folder / DEFAULT_DATA_DIR


@pytest.fixture(autouse=True)
def run_in_tmp_path(tmp_path, monkeypatch):
    """Runs write relative paths (outputs/, ...) under tmp_path; pytest's flags stay its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py"])


@pytest.fixture
def lightning_log(caplog):
    """caplog, with what Lightning and train.py log through Lightning's logger."""
    # That logger stops passing records to the root logger, where caplog listens, when the
    # root one had no handler yet as Lightning was imported; it depends on what ran first.
    lightning_logger = logging.getLogger("pytorch_lightning")
    lightning_logger.addHandler(caplog.handler)
    yield caplog
    lightning_logger.removeHandler(caplog.handler)


def assert_no_workers_left():
    """Fail if DataLoader workers outlived their run; kill them, so the next tests start clean."""
    # The workers ignore SIGTERM (init_worker in machinery/workers.py); SIGKILL ends them.
    left = multiprocessing.active_children()
    for worker in left:
        worker.kill()
    assert left == []


def mount(*arguments):
    """Run mount(8), or skip the test where mounting is not permitted (not root, not Linux)."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command here: the real-disk tests need Linux and root")
    finished = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if finished.returncode != 0:
        pytest.skip(f"mounting is not permitted here ({finished.stderr.strip()}): run as root")


@pytest.fixture
def read_only_folder(tmp_path):
    """A real read-only folder: a read-only bind mount, which root cannot write to either."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    mount("--bind", str(folder), str(folder))
    mount("-o", "remount,bind,ro", str(folder))
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)
