"""The run's callbacks: Lightning's checkpoints, early stopping and progress bar, and ours."""

import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    ProgressBar,
    TQDMProgressBar,
)
from pytorch_lightning.callbacks.early_stopping import EarlyStoppingReason
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

from .errors import TrainingError
from .workers import unless_hung_up


def make_callbacks(
    seed: int,
    enable_checkpointing: bool = True,
    enable_progress_bar: bool = True,
    patience: int = 5,
    validating: bool = True,
    checkpoint_dir: Path | None = None,
) -> list[Callback]:
    """Lightning's checkpoint, early-stopping and progress-bar callbacks, plus our five."""
    callbacks = [
        DataSummary(),
        ReseedEveryEpoch(seed),
        LearningCurves(),
        ResumeHint(),
        StopWorkersOnError(),
    ]
    # Without validation there is no val_loss to stop early on.
    if validating:
        # check_finite stops at once on a NaN or infinite loss instead of waiting out patience.
        callbacks.append(EarlyStopping(monitor="val_loss", patience=patience, check_finite=True))
    if enable_checkpointing:
        callbacks += make_checkpoints(checkpoint_dir, validating)
    if enable_progress_bar:
        callbacks.append(make_progress_bar())
    return callbacks


def make_progress_bar() -> ProgressBar:
    """Lightning's bar in a terminal; one line per epoch where the output goes to a file or pipe.

    A bar redraws itself with carriage returns, which a log file keeps as one endless line.
    """
    if sys.stdout.isatty():
        # Lightning's own bar (tqdm), redrawn every 10 batches rather than every one.
        return TQDMProgressBar(refresh_rate=10)
    return EpochLines()


def make_checkpoints(
    checkpoint_dir: Path | None = None, validating: bool = True
) -> list[ModelCheckpoint]:
    """best.ckpt, the best epoch to test and predict, and last.ckpt, the latest to resume.

    Both hold the whole training state; without a folder, they go where the logger writes.
    """
    # Without validation nothing ranks the epochs: only last.ckpt is written then.
    # In an epoch that improves, whichever of the two is saved second is a hard link to the
    # first (AtomicCheckpointIO), so the order of the list does not matter.
    latest = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="last",
        # No monitor: written after every epoch, improved or not, replacing the one before,
        # so a crash costs at most the epoch it happened in.
    )
    if not validating:
        return [latest]
    best = ModelCheckpoint(
        dirpath=checkpoint_dir,
        # One fixed name, replaced when validation improves: commands can name it.
        filename="best",
        # Validation loss ranks checkpoints more steadily than accuracy on a small
        # validation set, where one example moves accuracy by half a percent.
        monitor="val_loss",
        mode="min",
    )
    return [best, latest]


def saved_checkpoints(trainer: pl.Trainer) -> tuple[str, str]:
    """The paths of the run's best checkpoint and of its last one; "" for one not written.

    Without validation no checkpoint ranks epochs, so there is no best one.
    """
    callbacks = trainer.checkpoint_callbacks
    best = next((callback.best_model_path for callback in callbacks if callback.monitor), "")
    # The checkpoint without a monitor keeps its latest file as its "best".
    last = next((callback.best_model_path for callback in callbacks if not callback.monitor), "")
    return best, last


def check_training_finished(trainer: pl.Trainer) -> None:
    """Raise TrainingError if the loss stopped being a number, rather than test a broken model."""
    stopper = trainer.early_stopping_callback
    if stopper and stopper.stopping_reason == EarlyStoppingReason.NON_FINITE_METRIC:
        value = float(trainer.callback_metrics[stopper.monitor])
        raise TrainingError(
            f"epoch {trainer.current_epoch}: {stopper.monitor} is {value}; training diverged."
            " Try a lower learning rate"
        )


class DataSummary(Callback):
    """Say in one line, as a run starts, what the model learns: the task, inputs and size."""

    def __init__(self) -> None:
        self.said = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        hparams = pl_module.hparams
        if self.said or "task" not in hparams or "input_shape" not in hparams:
            return  # said at the fit already, or a model of the user's own, built otherwise
        self.said = True
        if hparams.task == "regression":
            size = f"{hparams.num_targets} target{'s' if hparams.num_targets > 1 else ''}"
        else:
            noun = "classes" if hparams.task == "classification" else "labels"
            size = f"{hparams.num_classes} {noun}"
        data = trainer.datamodule.hparams if trainer.datamodule is not None else {}
        source = f" from {data['data_dir']}" if "data_dir" in data else ""
        shape = tuple(hparams.input_shape)
        rank_zero_info(f"Task{source}: {hparams.task}, inputs shaped {shape}, {size}")


class ReseedEveryEpoch(Callback):
    """Reseed every random generator from (seed, epoch) when an epoch starts."""

    # Dropout and any augmentation then draw the same numbers in epoch N whether the run
    # started at epoch 0 or resumed from a checkpoint saved after epoch N - 1.

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seed = self.seed + trainer.current_epoch
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)  # also seeds every GPU


# How a message names the stage a run was in, other than training.
STAGE_NAMES = {"test": "testing", "validate": "validating", "predict": "predicting"}


class ResumeHint(Callback):
    """When SIGTERM or Ctrl-C stops a run, say in one line what it leaves and how to go on."""

    def __init__(self) -> None:
        self.trained = ""  # last.ckpt of a fit that finished, before any testing

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Testing restores the callbacks' state from the checkpoint it tests, an older one.
        self.trained = saved_checkpoints(trainer)[1]

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        signal_name = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C (SIGINT)"
        latest = saved_checkpoints(trainer)[1]
        if trainer.state.fn != "fit":
            stage = STAGE_NAMES.get(trainer.state.fn.value, trainer.state.fn.value)
            when = f"while {stage}"
            if self.trained:
                advice = f"training had finished, and {self.trained} holds its last epoch"
            else:
                advice = f"nothing to resume; the checkpoint was {trainer.ckpt_path}"
        elif latest:
            when = f"in epoch {trainer.current_epoch}"
            advice = f"{latest} holds the last finished epoch; add --ckpt_path last to resume"
        else:
            when = f"in epoch {trainer.current_epoch}"
            advice = "no epoch had finished, so there is nothing to resume"
        rank_zero_info(f"Stopped by {signal_name} {when}: {advice}.")
        # As the run shuts down, a DataLoader worker may hang up mid-way through handing a
        # batch over; the thread receiving it would print that expected reset as a traceback.
        # The script's run (launcher.script_run) puts the usual hook back when it ends.
        threading.excepthook = unless_hung_up(threading.__excepthook__)


class StopWorkersOnError(Callback):
    """Stop every DataLoader worker of an interrupted fit, not only the running loop's."""

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # An error, a signal or a pruned trial during validation would otherwise leave the
        # training workers running until the process exits: in tune.py, a set per such trial.
        trainer.fit_loop.teardown()


class EpochLines(ProgressBar):
    """Progress for logs: after each epoch, one line with its metrics and how long it took."""

    def __init__(self) -> None:
        super().__init__()
        self.enabled = True
        self.epoch_started = 0.0

    def disable(self) -> None:
        # Lightning calls this on every process but the first, so only one prints.
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.enabled:
            return
        seconds = time.perf_counter() - self.epoch_started
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        metrics = trainer.progress_bar_metrics
        values = "  ".join(f"{name} {value:.4f}" for name, value in sorted(metrics.items()))
        print(f"Epoch {trainer.current_epoch + 1}{epochs}  {values}  ({seconds:.1f} s)", flush=True)


class LearningCurves(Callback):
    """Collect the epoch metrics and draw them to learning_curves.png in the run's folder.

    The history is stored in checkpoints, so a resumed run draws every epoch.
    """

    def __init__(self, filename: str = "learning_curves.png"):
        self.filename = filename
        self.history = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Validation has already run in this epoch, so its metrics are here too.
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch}
        for name, value in metrics.items():
            if name == "train_loss" or name.startswith("val_"):
                row[name] = float(value)
        self.history.append(row)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.history:
            draw_curves(self.history, run_directory(trainer) / self.filename)

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict["history"])


def run_directory(trainer: pl.Trainer) -> Path:
    """This run's folder: where its checkpoints go, else where its logger writes."""
    checkpoint = trainer.checkpoint_callback
    if checkpoint and checkpoint.dirpath:
        return Path(checkpoint.dirpath).parent
    return Path(trainer.log_dir or trainer.default_root_dir)


# How the learning curves name each validation metric the model may log.
METRIC_TITLES = {
    "val_acc": "accuracy",
    "val_f1": "F1 (micro)",
    "val_mae": "mean absolute error",
    "val_r2": "R²",
}


@rank_zero_only
def draw_curves(history: list[dict], path: Path) -> None:
    """The loss, then each validation metric the task logs, one panel each, by epoch."""
    # Imported here: matplotlib is needed once, after training. Figure, not pyplot:
    # no display and no global state.
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    metrics = sorted({name for row in history for name in row if name.startswith("val_")})
    metrics = [name for name in metrics if name != "val_loss"]
    figure = Figure(figsize=(5 * (1 + len(metrics)), 4))
    # Fixed margins that fit these labels: an automatic layout is slower.
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    loss_axes, *metric_axes = figure.subplots(1, 1 + len(metrics), squeeze=False)[0]
    for name, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [row.get(name, float("nan")) for row in history]
        loss_axes.plot(epochs, values, marker="o", label=label)
    loss_axes.set(title="Loss", xlabel="epoch", ylabel="the task's loss")
    loss_axes.legend()
    for axes, name in zip(metric_axes, metrics, strict=True):
        title = METRIC_TITLES.get(name, name.removeprefix("val_"))
        axes.plot(epochs, [row.get(name, float("nan")) for row in history], marker="o")
        axes.set(title=f"Validation {title}", xlabel="epoch", ylabel=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    rank_zero_info(f"Learning curves: {path}")
