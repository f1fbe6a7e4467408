"""The LightningModule: a small CNN for images, or a small MLP for a table of features."""

import argparse
import inspect
from typing import TYPE_CHECKING

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from .machinery.settings import Allowed, check_settings

if TYPE_CHECKING:
    # For the type hint only: training and predicting never import Optuna.
    import optuna


# The values each hyperparameter allows, beside its default in __init__: the model checks them,
# and so do the flags of train.py and tune.py.
ALLOWED = {
    "learning_rate": Allowed(float, 0, low_excluded=True),
    "lr_decay": Allowed(float, 0, 1, low_excluded=True),
    "weight_decay": Allowed(float, 0),
    "channels": Allowed(int, 1),
    "hidden_units": Allowed(int, 1),
    "dropout": Allowed(float, 0, 1, high_excluded=True),
}


class {{ cookiecutter.model_class }}(pl.LightningModule):
    """Classifies inputs of `input_shape` into `num_classes` classes, trained with AdamW.

    The first four describe the data, as the DataModule reports them; the rest are hyperparameters.
    """

    # Every argument has a default, so the class builds the digits network with no arguments,
    # and `save_hyperparameters()` records them all in the checkpoint, so
    # `load_from_checkpoint` rebuilds the same network with no flags.

    def __init__(
        self,
        input_shape: tuple[int, ...] = (1, 8, 8),
        num_classes: int = 10,
        input_mean: list[float] | None = None,
        input_std: list[float] | None = None,
        learning_rate: float = 3e-3,
        lr_decay: float = 0.7,
        weight_decay: float = 1e-4,
        channels: int = 32,
        hidden_units: int = 128,
        dropout: float = 0.25,
    ):
        super().__init__()
        self.save_hyperparameters()
        check_settings(ALLOWED, self.hparams)
        if len(input_shape) == 3:
            self.network = image_network(
                input_shape[0], channels, hidden_units, dropout, num_classes
            )
        elif len(input_shape) == 1:
            self.network = table_network(input_shape[0], hidden_units, dropout, num_classes)
        else:
            raise ValueError(f"input_shape {input_shape}: expected (C, H, W) or (F,)")
        # Inputs arrive as stored (pixels 0..255, 0..16, features in their own units); the
        # network sees each channel or feature centred and scaled by the training data's own.
        per_channel = (-1,) + (1,) * (len(input_shape) - 1)
        mean = torch.tensor(input_mean or [0.0], dtype=torch.float32).reshape(per_channel)
        std = torch.tensor(input_std or [1.0], dtype=torch.float32).reshape(per_channel)
        # Not saved in the state dict: the hyperparameters already hold them.
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        # Metric objects keep an epoch's running totals, one set per stage, and add up every
        # process's share under DDP. "micro" accuracy counts correct examples; torchmetrics'
        # default, "macro", averages per-class scores.
        self.train_loss = epoch_mean()
        self.val_loss = epoch_mean()
        self.test_loss = epoch_mean()
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_accuracy = MulticlassAccuracy(num_classes, average="micro")

    @staticmethod
    def add_model_specific_args(parent_parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Add this model's hyperparameters to the command line, as their own group.

        The data's shape and statistics are not flags: they are read from the data.
        """
        group = parent_parser.add_argument_group(
            "{{ cookiecutter.model_class }}",
            "model hyperparameters",
        )
        # Each flag's type checks the range ALLOWED gives it.
        for name, help_text in (
            ("learning_rate", "AdamW learning rate"),
            ("lr_decay", "learning-rate factor per epoch"),
            ("weight_decay", "AdamW weight decay"),
            ("channels", "channels of the first convolution"),
            ("hidden_units", "units of the hidden layer"),
            ("dropout", "dropout before the hidden layer"),
        ):
            group.add_argument(f"--{name}", type=ALLOWED[name].parse, help=help_text)
        # The defaults are written once, in __init__.
        parent_parser.set_defaults(**hyperparameter_defaults())
        return parent_parser

    @staticmethod
    def suggest_hyperparameters(trial: "optuna.Trial") -> dict:
        """tune.py's search space: a value for each hyperparameter it searches, from `trial`.

        Edit the ranges here; a hyperparameter left out keeps its flag or default.
        """
        return {
            # Log scales: a step from 1e-4 to 2e-4 matters as much as one from 1e-2 to 2e-2.
            "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "channels": trial.suggest_int("channels", 8, 64, log=True),
            "hidden_units": trial.suggest_int("hidden_units", 32, 256, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return class scores (logits) for a batch of inputs shaped (N, *input_shape)."""
        return self.network((inputs - self.mean) / self.std)

    # Each stage logs its metric objects once, as its epoch starts: Lightning computes them
    # when the epoch ends, after every step has added to them. A self.log call costs more
    # than a whole step's bookkeeping, and Lightning runs the module's on_train_epoch_end
    # only after the callbacks that print and plot the epoch's metrics.

    def on_train_epoch_start(self) -> None:
        self.log("train_loss", self.train_loss, prog_bar=True)

    def on_validation_epoch_start(self) -> None:
        self.log("val_loss", self.val_loss, prog_bar=True)
        self.log("val_acc", self.val_accuracy, prog_bar=True)

    def on_test_epoch_start(self) -> None:
        self.log("test_loss", self.test_loss, prog_bar=True)
        self.log("test_acc", self.test_accuracy, prog_bar=True)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        inputs, labels = batch
        loss = F.cross_entropy(self(inputs), labels)
        self.train_loss.update(loss.detach(), weight=len(labels))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.val_loss, self.val_accuracy)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.test_loss, self.test_accuracy)

    def _evaluate(self, batch, loss: MeanMetric, accuracy: MulticlassAccuracy) -> None:
        inputs, labels = batch
        logits = self(inputs)
        loss.update(F.cross_entropy(logits, labels), weight=len(labels))
        accuracy.update(logits, labels)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict:
        """The predicted class and its probability; the true label too, where the data has one."""
        inputs, *labels = batch
        confidence, prediction = self(inputs).softmax(dim=1).max(dim=1)
        label_column = {"label": labels[0]} if labels else {}
        return {**label_column, "prediction": prediction, "confidence": confidence}

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.learning_rate,
            weight_decay=self.hparams.weight_decay,
        )
        # Decay per epoch, not over a planned total, so resuming with a larger
        # --max_epochs continues the same schedule.
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.hparams.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


# What the DataModule reports about the data; everything else is a hyperparameter.
DATA_ARGUMENTS = ("input_shape", "num_classes", "input_mean", "input_std")


def epoch_mean() -> MeanMetric:
    """A loss's mean over an epoch's examples, each batch weighted by its size."""
    # A NaN loss stays NaN, so early stopping sees the run diverge: by default torchmetrics
    # would leave it out of the mean, with a warning.
    return MeanMetric(nan_strategy=float("nan"))


def hyperparameter_defaults() -> dict:
    """The model's hyperparameters and their defaults, from the constructor's signature."""
    parameters = inspect.signature({{ cookiecutter.model_class }}).parameters
    return {name: p.default for name, p in parameters.items() if name not in DATA_ARGUMENTS}


def image_network(
    in_channels: int, channels: int, hidden_units: int, dropout: float, num_classes: int
) -> nn.Sequential:
    """Two convolution blocks, then a head that sees a 4x4 grid whatever the image size."""
    # No bias in the convolutions: the BatchNorm after each adds its own shift.
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        # Pooling before the wider convolution quarters its cost, with no loss of accuracy.
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(2 * channels),
        nn.ReLU(),
        # 8x8 digits are 4x4 here already; larger images are averaged down to 4x4.
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(2 * channels * 4 * 4, hidden_units),
        nn.ReLU(),
        nn.Linear(hidden_units, num_classes),
    )


def table_network(
    num_features: int, hidden_units: int, dropout: float, num_classes: int
) -> nn.Sequential:
    """Two hidden layers over standardised features."""
    return nn.Sequential(
        nn.Linear(num_features, hidden_units),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_units, hidden_units),
        nn.ReLU(),
        nn.Linear(hidden_units, num_classes),
    )
