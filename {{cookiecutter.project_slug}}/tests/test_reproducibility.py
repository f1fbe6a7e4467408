"""Same seed, same weights, bit for bit; and a resumed run ends where an unbroken one does."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from train import main

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def train(data_dir, root, *flags):
    """Train a few short epochs and return the contents of the run's last.ckpt."""
    metrics = main(
        [
            *("--data_dir", str(data_dir), "--default_root_dir", str(root)),
            *("--max_epochs", "3", "--limit_train_batches", "6", "--enable_progress_bar", "false"),
            *("--log_every_n_steps", "1"),
            *flags,
        ]
    )
    newest = max(Path(root).rglob("last*.ckpt"), key=lambda path: path.stat().st_mtime)
    checkpoint = torch.load(newest, weights_only=True)
    return checkpoint, metrics


def assert_same_weights(first, second):
    assert first["state_dict"].keys() == second["state_dict"].keys()
    for name, tensor in first["state_dict"].items():
        assert torch.equal(tensor, second["state_dict"][name]), name


def logged_history(checkpoint):
    states = checkpoint["callbacks"].values()
    return next(state["history"] for state in states if "history" in state)


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_same_seed_gives_identical_weights_and_metrics(data_dir, tmp_path, num_workers):
    first, first_metrics = train(data_dir, tmp_path / "a", "--num_workers", num_workers)
    second, second_metrics = train(data_dir, tmp_path / "b", "--num_workers", num_workers)
    assert_same_weights(first, second)
    assert logged_history(first) == logged_history(second)
    assert first_metrics == second_metrics


def test_different_seed_gives_different_weights(data_dir, tmp_path):
    first, _ = train(data_dir, tmp_path / "a", "--seed", "1")
    second, _ = train(data_dir, tmp_path / "b", "--seed", "2")
    weights = first["state_dict"]["network.0.weight"], second["state_dict"]["network.0.weight"]
    assert not torch.equal(*weights)


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_resume_at_epoch_boundary_matches_an_unbroken_run(data_dir, tmp_path, num_workers):
    workers = ("--num_workers", num_workers)
    unbroken, unbroken_metrics = train(data_dir, tmp_path / "unbroken", *workers)
    train(data_dir, tmp_path / "broken", "--max_epochs", "2", *workers)
    resumed, resumed_metrics = train(data_dir, tmp_path / "broken", "--ckpt_path", "last", *workers)
    assert resumed["epoch"] == unbroken["epoch"] == 2
    assert_same_weights(unbroken, resumed)
    assert logged_history(resumed) == logged_history(unbroken)
    assert resumed_metrics == unbroken_metrics


def test_run_killed_mid_epoch_resumes_from_last(data_dir, tmp_path):
    command = [sys.executable, "train.py", "--data_dir", str(data_dir)]
    command += ["--default_root_dir", str(tmp_path), "--batch_size", "8", "--max_epochs", "50"]
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
    command = [sys.executable, "train.py", "--data_dir", str(data_dir), "--default_root_dir"]
    command += [
        str(tmp_path),
        "--ckpt_path",
        "last",
        "--max_epochs",
        "3",
        "--limit_train_batches",
        "4",
    ]
    finished = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    output = finished.stdout + finished.stderr
    assert "Resuming from" in output
    assert "training continues at epoch" in output
    assert "test_acc" in output
