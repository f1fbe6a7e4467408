"""Same seed, same weights, bit for bit; and a resumed run ends where an unbroken one does.

Both hold for every task, and with the augmentation on.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from command_line import AUGMENT, FLAG
from conftest import run_flags
from test_tasks import TASKS, write_data
from train_in_process import fit_in_process

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def train(data_dir, root, *flags):
    """Train a few short epochs; return the run's last.ckpt contents and its final metrics."""
    trainer = fit_in_process(run_flags(data_dir, root, *flags))
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    newest = max(Path(root).rglob("last*.ckpt"), key=lambda path: path.stat().st_mtime)
    checkpoint = torch.load(newest, weights_only=True)
    return checkpoint, metrics


def assert_same_weights(first, second):
    assert first["state_dict"].keys() == second["state_dict"].keys()
    for name, tensor in first["state_dict"].items():
        assert torch.equal(tensor, second["state_dict"][name]), name


@pytest.fixture(scope="module")
def folders(data_dir, tmp_path_factory):
    """Data of each kind the tests below train on, and the flags that go with it."""
    base = tmp_path_factory.mktemp("tasks")
    regression = write_data(base / "regression", *TASKS["regression-3-targets"][:2])
    multilabel = write_data(base / "multilabel", *TASKS["multilabel-3-labels"][:2])
    return {
        "digits": (data_dir, []),
        "digits-augmented": (data_dir, AUGMENT),
        "regression": (regression, []),
        "multilabel": (multilabel, []),
    }


# The other tasks are read from labels.npy: a Dataset of another format brings its own labels.
KINDS = [
    "digits",
    "digits-augmented",
    pytest.param("regression", marks=pytest.mark.npy),
    pytest.param("multilabel", marks=pytest.mark.npy),
]


def logged_history(checkpoint):
    states = checkpoint["callbacks"].values()
    return next(state["history"] for state in states if "history" in state)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_same_seed_gives_identical_weights_and_metrics(folders, tmp_path, num_workers, kind):
    folder, flags = folders[kind]
    workers = (FLAG["num_workers"], num_workers, FLAG["max_epochs"], "2", *flags)
    first, first_metrics = train(folder, tmp_path / "a", *workers)
    second, second_metrics = train(folder, tmp_path / "b", *workers)
    assert_same_weights(first, second)
    assert logged_history(first) == logged_history(second)
    assert first_metrics == second_metrics


def test_different_seed_gives_different_weights(data_dir, tmp_path):
    quick = (FLAG["max_epochs"], "1", FLAG["num_workers"], "0")
    first, _ = train(data_dir, tmp_path / "a", FLAG["seed"], "1", *quick)
    second, _ = train(data_dir, tmp_path / "b", FLAG["seed"], "2", *quick)
    weights = first["state_dict"]["network.0.weight"], second["state_dict"]["network.0.weight"]
    assert not torch.equal(*weights)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_resume_at_epoch_boundary_matches_an_unbroken_run(folders, tmp_path, num_workers, kind):
    folder, flags = folders[kind]
    workers = (FLAG["num_workers"], num_workers, FLAG["max_epochs"], "2", *flags)
    unbroken, unbroken_metrics = train(folder, tmp_path / "unbroken", *workers)
    train(folder, tmp_path / "broken", *workers, FLAG["max_epochs"], "1")
    resumed, resumed_metrics = train(
        folder, tmp_path / "broken", FLAG["ckpt_path"], "last", *workers
    )
    assert resumed["epoch"] == unbroken["epoch"] == 1
    assert_same_weights(unbroken, resumed)
    assert logged_history(resumed) == logged_history(unbroken)
    assert resumed_metrics == unbroken_metrics


def test_run_killed_mid_epoch_resumes_from_last(data_dir, tmp_path, lightning_log):
    command = [sys.executable, "train.py", *run_flags(data_dir, tmp_path, FLAG["max_epochs"], "50")]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.rglob("last.ckpt")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # into the next epoch
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    # Resuming needs no fresh process.
    train(data_dir, tmp_path, FLAG["ckpt_path"], "last", FLAG["max_epochs"], "3")
    assert "Restored all states from the checkpoint" in lightning_log.text
    assert len(list(tmp_path.rglob("last.ckpt"))) == 2
