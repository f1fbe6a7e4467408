"""Real training runs of baked projects: accuracy, a quiet log, the logger's files, the plot."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Lightning prints its advice as "file.py:N: message"; Python warnings name their category.
WARNING_LINE = re.compile(r"\w+\.py:\d+: |Warning\b|\bWARNING\b")

# What each logger must leave under outputs/, and a file that must hold the hyperparameters.
LOGGER_FILES = {
    "tensorboard": ("version_0/events.out.tfevents.*", "version_0/hparams.yaml"),
    "csv": ("version_0/metrics.csv", "version_0/hparams.yaml"),
    "wandb": ("wandb/offline-run-*/run-*.wandb", "wandb/offline-run-*/run-*.wandb"),
    "mlflow": ("mlruns/*/*/metrics/val_acc", "mlruns/*/*/params/learning_rate"),
}


SHORT_RUN = {
    "max_epochs": "2",
    "limit_train_batches": "3",
    "limit_val_batches": "2",
    "limit_test_batches": "2",
}


def train(project, *flags):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("WANDB_MODE", None)
    command = [sys.executable, "train.py", *flags]
    finished = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished.stdout + finished.stderr


def printed_path(output, label):
    (line,) = [line for line in output.splitlines() if line.startswith(f"{label}: ")]
    return Path(line.split(": ", 1)[1])


def test_default_run_learns_quietly_and_draws_its_curves(baked_copy):
    project = baked_copy()
    output = train(project)
    test_accuracy = float(re.search(r"test_acc\W+([0-9.]+)", output).group(1))
    assert test_accuracy >= 0.98
    assert [line for line in output.splitlines() if WARNING_LINE.search(line)] == []
    # Output to a pipe, as in CI or a cluster job: a line per epoch, no bar redrawn in place.
    epochs = [line.split()[1] for line in output.splitlines() if line.startswith("Epoch ")]
    assert epochs == [f"{epoch}/10" for epoch in range(1, 11)]
    assert "\r" not in output
    curves = project / printed_path(output, "Learning curves")
    assert curves.read_bytes().startswith(b"\x89PNG")
    assert curves.parent == project / "outputs" / "version_0"
    assert (project / printed_path(output, "Best checkpoint")).is_file()


@pytest.mark.parametrize("cli", ["argparse", "lightningcli"])
@pytest.mark.parametrize("logger", ["tensorboard", "csv", "wandb", "mlflow", "none"])
def test_logger_writes_metrics_and_hyperparameters(baked_copy, cli, logger):
    project = baked_copy(cli=cli, logger=logger)
    # Two short epochs: the logger writes at each, and last.ckpt is replaced, not added to.
    trainer = "--" if cli == "argparse" else "--trainer."
    flags = [] if cli == "argparse" else ["fit"]
    for name, value in SHORT_RUN.items():
        flags += [f"{trainer}{name}", value]
    output = train(project, *flags)
    outputs = project / "outputs"
    if logger == "none":
        expected = {"version_0"}
        if cli == "lightningcli":
            expected.add("config.yaml")  # LightningCLI saves the resolved config of each run
        assert {path.name for path in outputs.iterdir()} == expected
        run_files = {path.name for path in (outputs / "version_0").iterdir()}
        assert run_files == {"checkpoints", "learning_curves.png"}
    else:
        metrics_pattern, hparams_pattern = LOGGER_FILES[logger]
        assert list(outputs.glob(metrics_pattern)), f"no {metrics_pattern}"
        (hparams_file,) = outputs.glob(hparams_pattern)
        assert b"learning_rate" in hparams_file.read_bytes() or hparams_file.name == "learning_rate"
    (curves,) = outputs.rglob("learning_curves.png")
    assert curves == project / printed_path(output, "Learning curves")
    assert len(list(outputs.rglob("last.ckpt"))) == 1
