"""Two callbacks Lightning does not ship: per-epoch reseeding and a learning-curve plot."""

import random
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from .data import global_seed


class ReseedEveryEpoch(pl.Callback):
    """Reseed every random generator from (seed, epoch) when an epoch starts.

    Dropout and any augmentation then draw the same numbers in epoch N whether the run
    started at epoch 0 or resumed from a checkpoint saved after epoch N - 1. The seed is
    the one given to pl.seed_everything.
    """

    def setup(self, trainer, pl_module, stage):
        self.seed = global_seed()

    def on_train_epoch_start(self, trainer, pl_module):
        # Seeded directly: pl.seed_everything would also overwrite the stored global seed.
        seed = self.seed + trainer.current_epoch
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)  # also seeds every GPU


class LearningCurves(pl.Callback):
    """Collect the epoch metrics and draw them to learning_curves.png in the run directory.

    The history is stored in checkpoints, so a resumed run draws every epoch.
    """

    def __init__(self, filename="learning_curves.png"):
        self.filename = filename
        self.history = []

    def on_train_epoch_end(self, trainer, pl_module):
        # Validation has already run in this epoch, so its metrics are here too.
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch}
        for name in ("train_loss", "val_loss", "val_acc"):
            if name in metrics:
                row[name] = float(metrics[name])
        self.history.append(row)

    def on_fit_end(self, trainer, pl_module):
        if self.history:
            draw_curves(self.history, run_directory(trainer) / self.filename)

    def state_dict(self):
        return {"history": self.history}

    def load_state_dict(self, state_dict):
        self.history = list(state_dict["history"])


def run_directory(trainer):
    """This run's folder: where its checkpoints go, else where its logger writes."""
    checkpoint = trainer.checkpoint_callback
    if checkpoint and checkpoint.dirpath:
        return Path(checkpoint.dirpath).parent
    return Path(trainer.log_dir or trainer.default_root_dir)


@rank_zero_only
def draw_curves(history, path):
    # Imported here: matplotlib is needed once, after training. Figure, not pyplot:
    # no display, no global state, and a faster import.
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(10, 4))
    # Fixed margins that fit these labels: an automatic layout measures every text first.
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for name, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [row.get(name, float("nan")) for row in history]
        loss_axes.plot(epochs, values, marker="o", label=label)
    loss_axes.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
    loss_axes.legend()
    accuracy_axes.plot(epochs, [row.get("val_acc", float("nan")) for row in history], marker="o")
    accuracy_axes.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    print(f"Learning curves: {path}")
