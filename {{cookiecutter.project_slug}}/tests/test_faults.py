"""Runs off the happy path: signals, a full disk, a diverging loss, and runs started together."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import DEFAULT_DATA_DIR
from {{ cookiecutter.package_name }}.machinery.files import owner
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

from command_line import FLAG
from conftest import assert_no_workers_left, mount, run_flags
from train import main
from train_in_process import train_then_test_command

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def start_training(data_dir, root, *flags, env=None):
    """train.py in a process group of its own, as a batch scheduler or a terminal runs it."""
    command = [sys.executable, "train.py", *run_flags(data_dir, root, *flags)]
    # A script's background job starts with Ctrl-C ignored, which a child inherits; a handler
    # here is reset to the default in the child instead, so train.py gets Ctrl-C as usual.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for(pattern, root, timeout=120):
    deadline = time.monotonic() + timeout
    while not list(Path(root).rglob(pattern)):
        assert time.monotonic() < deadline, f"no {pattern} under {root}"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("signum", "status", "name"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")],
    ids=["sigterm", "sigint"],
)
def test_a_signal_stops_the_run_resumably_with_the_shell_status(
    data_dir, tmp_path, signum, status, name
):
    process = start_training(data_dir, tmp_path, FLAG["max_epochs"], "50", FLAG["num_workers"], "2")
    try:
        wait_for("last.ckpt", tmp_path)
        os.killpg(process.pid, signum)  # the whole group: the workers get it too
        output, errors = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == status, errors[-3000:]
    assert "Traceback" not in errors
    (line,) = [line for line in (output + errors).splitlines() if line.startswith("Stopped by")]
    assert name in line and "--ckpt_path last" in line
    (last,) = tmp_path.rglob("last.ckpt")
    assert "optimizer_states" in torch.load(last, weights_only=True)


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_a_signal_during_validation_stops_the_run_and_every_worker(
    data_dir, tmp_path, monkeypatch, num_workers
):
    # Lightning stops only the workers of the loop it was running; training's would live on
    # until the process exits (tune.py runs many trials in one).
    model_class = {{ cookiecutter.model_class }}
    validation_step = model_class.validation_step

    def signal_in_the_second_validation(model, batch, batch_idx):
        if model.current_epoch == 1 and batch_idx == 0:
            os.kill(os.getpid(), signal.SIGTERM)  # Lightning's handler, while fit runs
        return validation_step(model, batch, batch_idx)

    monkeypatch.setattr(model_class, "validation_step", signal_in_the_second_validation)
    hooks = signal.getsignal(signal.SIGTERM), threading.excepthook
    with pytest.raises(SystemExit) as exit_info:
        main(run_flags(data_dir, tmp_path, FLAG["num_workers"], num_workers))
    assert exit_info.value.code == 143
    assert_no_workers_left()
    # The run put back the process-wide hooks it replaced while it ran.
    assert (signal.getsignal(signal.SIGTERM), threading.excepthook) == hooks


# What SLURM sets for a one-task batch job, as much as Lightning's SLURMEnvironment reads.
SLURM_JOB = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "train",
    "SLURM_NTASKS": "1",
    "SLURM_NNODES": "1",
    "SLURM_NODEID": "0",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
}


@pytest.mark.slow
def test_under_slurm_the_warning_signal_saves_requeues_and_the_rerun_resumes(data_dir, tmp_path):
    # A stand-in scontrol that records how it was called.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text('#!/bin/sh\necho "$@" >> "$SCONTROL_LOG"\n')
    (bin_dir / "scontrol").chmod(0o755)
    calls = tmp_path / "scontrol.log"
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, **SLURM_JOB, "PATH": path, "SCONTROL_LOG": str(calls)}
    root = tmp_path / "runs"
    flags = (FLAG["max_epochs"], "5", FLAG["num_workers"], "0")
    process = start_training(data_dir, root, *flags, env=env)
    try:
        wait_for("last.ckpt", root)
        process.send_signal(signal.SIGUSR1)  # #SBATCH --signal=SIGUSR1@90: the time is nearly up
        wait_for("scontrol.log", tmp_path)
        os.killpg(process.pid, signal.SIGTERM)  # the time limit
        _, errors = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 143, errors[-3000:]
    assert calls.read_text() == "requeue 4242\n"
    # In the root folder, where Lightning looks when the job starts again.
    (requeue_checkpoint,) = root.glob("hpc_ckpt_*.ckpt")
    assert torch.load(requeue_checkpoint, weights_only=True)["global_step"] >= 6  # epoch 0 done

    # The requeued job runs the same command in the same environment.
    again = start_training(data_dir, root, *flags, env=env)
    output, errors = again.communicate(timeout=300)
    assert again.returncode == 0, errors[-3000:]
    assert f"Restoring states from the checkpoint path at {requeue_checkpoint}" in output + errors
    latest = max(root.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)
    finished = torch.load(latest, weights_only=True)
    assert (finished["epoch"], finished["global_step"]) == (4, 5 * 6)


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 3 MiB (tmpfs): room for one checkpoint of the default model."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder))
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_a_full_disk_keeps_the_last_good_checkpoint_and_says_so_in_one_line(
    data_dir, small_disk, capfd, num_workers
):
    flags = (FLAG["max_epochs"], "30", FLAG["num_workers"], num_workers)
    with pytest.raises(SystemExit) as exit_info:
        main(run_flags(data_dir, small_disk, *flags))
    assert_no_workers_left()
    # torch.save fails inside its zip writer: an OSError, then a RuntimeError while closing.
    message = str(exit_info.value.code)
    assert message.startswith("error: no space left on device while writing ")
    assert "Traceback" not in capfd.readouterr().err
    (last,) = small_disk.rglob("last.ckpt")
    assert "optimizer_states" in torch.load(last, weights_only=True)
    assert list(small_disk.rglob("*.tmp")) == []


def test_a_read_only_root_folder_is_one_line_and_writes_nothing(data_dir, read_only_folder):
    with pytest.raises(SystemExit) as exit_info:
        main(run_flags(data_dir, read_only_folder / "runs", FLAG["num_workers"], "0"))
    message = str(exit_info.value.code)
    assert message == (
        f"error: {FLAG['default_root_dir']} {read_only_folder / 'runs'}: cannot write there"
        " (Read-only file system)"
    )
    assert list(read_only_folder.iterdir()) == []


KILLED_WHILE_WRITING = """
import os, signal, sys
from {{ cookiecutter.package_name }}.machinery.files import atomic_file
with atomic_file(sys.argv[1]) as file:
    file.write(b"half of a checkpoint")
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_next_run_removes_what_a_killed_run_left_half_written(data_dir, tmp_path):
    checkpoints = tmp_path / "runs" / "version_0" / "checkpoints"
    checkpoints.mkdir(parents=True)
    project = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), *sys.path])}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_WRITING, str(checkpoints / "last.ckpt")],
        env=project,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    (left,) = checkpoints.glob(".last.ckpt.*.tmp")
    # A file another process is writing right now is its own, and stays.
    writing = checkpoints / f".best.ckpt.{owner()}.abcd1234.tmp"
    writing.write_bytes(b"in progress")
    main(run_flags(data_dir, tmp_path / "runs", FLAG["max_epochs"], "1", FLAG["num_workers"], "0"))
    assert not left.exists()
    assert writing.exists()


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_sigterm_while_testing_names_the_last_checkpoint(
    data_dir, tmp_path, monkeypatch, lightning_log, num_workers
):
    test_step = {{ cookiecutter.model_class }}.test_step

    def terminated_while_testing(model, batch, batch_idx):
        os.kill(os.getpid(), signal.SIGTERM)
        return test_step(model, batch, batch_idx)

    model_class = {{ cookiecutter.model_class }}
    monkeypatch.setattr(model_class, "test_step", terminated_while_testing)
    flags = run_flags(data_dir, tmp_path, FLAG["max_epochs"], "1", FLAG["num_workers"], num_workers)
    with pytest.raises(SystemExit) as exit_info:
        main(train_then_test_command(flags))
    assert exit_info.value.code == 143
    assert_no_workers_left()
    (last,) = tmp_path.rglob("last.ckpt")
    (line,) = [line for line in lightning_log.messages if line.startswith("Stopped by SIGTERM")]
    assert line.startswith("Stopped by SIGTERM while testing: ")
    assert str(last) in line


def test_sigterm_while_preparing_data_stops_cleanly_and_writes_no_half_file(tmp_path, monkeypatch):
    save = np.save

    def terminated_while_saving(file, array):
        if array.ndim > 1:  # inputs.npy, after labels.npy
            file.write(b"\x93NUMPY half a file")
            os.kill(os.getpid(), signal.SIGTERM)
        save(file, array)

    monkeypatch.setattr(np, "save", terminated_while_saving)
    hook = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_info:
        main(run_flags(DEFAULT_DATA_DIR, tmp_path / "runs", FLAG["num_workers"], "0"))
    assert exit_info.value.code == 143
    assert signal.getsignal(signal.SIGTERM) == hook
    assert not (tmp_path / DEFAULT_DATA_DIR / "inputs.npy").exists()
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "runs").exists()


# Data a run would train on for hours and learn nothing from.
SILENTLY_RUINOUS = {
    "a-nan-input": lambda rng: np.where(rng.random((60, 5)) < 0.01, np.nan, rng.random((60, 5))),
    "constant-inputs": lambda rng: np.full((60, 5), 7.0),
    "too-few-to-split": lambda rng: rng.random((4, 5)),
}


@pytest.mark.npy
@pytest.mark.parametrize("make_inputs", SILENTLY_RUINOUS.values(), ids=SILENTLY_RUINOUS)
def test_data_that_would_ruin_training_stops_it_in_one_line(tmp_path, make_inputs):
    folder = tmp_path / "mine"
    folder.mkdir()
    inputs = make_inputs(np.random.default_rng(1))
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", np.arange(len(inputs)) % 2)
    with pytest.raises(SystemExit) as exit_info:
        main(run_flags(folder, tmp_path / "runs", FLAG["num_workers"], "0"))
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message
    assert str(folder) in message
    assert not (tmp_path / "runs").exists()


def test_a_diverging_loss_fails_in_one_line(data_dir, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(run_flags(data_dir, tmp_path, FLAG["learning_rate"], "1e12", FLAG["num_workers"], "0"))
    message = str(exit_info.value.code)
    assert message.startswith("error: epoch ")
    assert "val_loss is nan" in message and "lower learning rate" in message


def test_runs_started_together_get_a_folder_each(data_dir, tmp_path):
    flags = (FLAG["max_epochs"], "1", FLAG["num_workers"], "0")
    runs = [start_training(data_dir, tmp_path, *flags) for _ in range(2)]
    for run in runs:
        _, errors = run.communicate(timeout=300)
        assert run.returncode == 0, errors[-3000:]
    checkpoints = list(tmp_path.rglob("*.ckpt"))
    assert len({path.parent.parent for path in checkpoints}) == 2  # a run folder each
    assert sorted(path.name for path in checkpoints) == ["best.ckpt"] * 2 + ["last.ckpt"] * 2
{%- if cookiecutter.logger == "mlflow" %}


def test_runs_starting_together_share_their_mlflow_experiment(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from {{ cookiecutter.package_name }}.machinery.logger import create_experiment

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    tracking_uri = f"file:{tmp_path}"
    MlflowClient(tracking_uri).create_experiment("shared")
    real_lookup = MlflowClient.get_experiment_by_name
    lookups = []

    def lookup_before_the_other_run_created_it(client, name):
        lookups.append(name)
        return None if len(lookups) == 1 else real_lookup(client, name)

    monkeypatch.setattr(
        MlflowClient, "get_experiment_by_name", lookup_before_the_other_run_created_it
    )
    create_experiment(tracking_uri, "shared")
    names = [experiment.name for experiment in MlflowClient(tracking_uri).search_experiments()]
    assert names.count("shared") == 1
{%- endif %}
