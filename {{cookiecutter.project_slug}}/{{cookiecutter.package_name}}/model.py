"""The LightningModule: a small CNN for images, or a small MLP for a table of features.

Its head, loss and metrics follow the task the labels describe (README.md, "Use your own data").
"""

import argparse
import inspect
from typing import TYPE_CHECKING

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanAbsoluteError, MeanMetric, R2Score
from torchmetrics.classification import (
    MulticlassAccuracy,
    MultilabelAccuracy,
    MultilabelF1Score,
)

from .machinery.errors import SettingsError
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
    """Learns the `task` on inputs of `input_shape`, with AdamW.

    The arguments up to `target_std` describe the data, as the DataModule reports them.
    """

    # Classification: `num_classes` classes. Regression: `num_targets` numbers, answered in
    # their own units. Multi-label: `num_classes` labels, each present or not. The arguments
    # after `target_std` are the hyperparameters.

    # Every argument has a default, so the class builds the digits network with no arguments,
    # and `save_hyperparameters()` records them all in the checkpoint, so
    # `load_from_checkpoint` rebuilds the same network with no flags.

    def __init__(
        self,
        input_shape: tuple[int, ...] = (1, 8, 8),
        task: str = "classification",
        num_classes: int | None = 10,
        num_targets: int | None = None,
        input_mean: list[float] | None = None,
        input_std: list[float] | None = None,
        target_mean: list[float] | None = None,
        target_std: list[float] | None = None,
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
        num_outputs = output_size(task, num_classes, num_targets)
        if len(input_shape) == 3:
            self.network = image_network(
                input_shape[0], channels, hidden_units, dropout, num_outputs
            )
        elif len(input_shape) == 1:
            self.network = table_network(input_shape[0], hidden_units, dropout, num_outputs)
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
        # Regression learns targets standardised as inputs are, and answers in their units.
        target_mean = torch.tensor(target_mean or [0.0], dtype=torch.float32)
        self.register_buffer("target_mean", target_mean, persistent=False)
        target_std = torch.tensor(target_std or [1.0], dtype=torch.float32)
        self.register_buffer("target_std", target_std, persistent=False)
        # Metric objects keep an epoch's running totals, one set per stage, and add up every
        # process's share under DDP.
        self.train_loss = epoch_mean()
        self.val_loss = epoch_mean()
        self.test_loss = epoch_mean()
        self.val_metrics = task_metrics(task, num_outputs)
        self.test_metrics = task_metrics(task, num_outputs)

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
        """Logits for inputs shaped (N, *input_shape); for regression, targets in their units."""
        outputs = self.network((inputs - self.mean) / self.std)
        if self.hparams.task == "regression":
            return outputs * self.target_std + self.target_mean
        return outputs

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The task's loss for `forward`'s outputs and the labels as stored."""
        if self.hparams.task == "classification":
            return F.cross_entropy(outputs, labels.long())
        if self.hparams.task == "multilabel":
            return F.binary_cross_entropy_with_logits(outputs, labels.float())
        # Mean squared error of standardised targets: each target weighs the same, whatever
        # its units.
        targets = labels.float().reshape(outputs.shape)
        standardised = (outputs - self.target_mean) / self.target_std
        return F.mse_loss(standardised, (targets - self.target_mean) / self.target_std)

    # Each stage logs its metric objects once, as its epoch starts: Lightning computes them
    # when the epoch ends, after every step has added to them. A self.log call costs more
    # than a whole step's bookkeeping, and Lightning runs the module's on_train_epoch_end
    # only after the callbacks that print and plot the epoch's metrics.

    def on_train_epoch_start(self) -> None:
        self.log("train_loss", self.train_loss, prog_bar=True)

    def on_validation_epoch_start(self) -> None:
        self.log("val_loss", self.val_loss, prog_bar=True)
        for name, metric in self.val_metrics.items():
            self.log(f"val_{name}", metric, prog_bar=True)

    def on_test_epoch_start(self) -> None:
        self.log("test_loss", self.test_loss, prog_bar=True)
        for name, metric in self.test_metrics.items():
            self.log(f"test_{name}", metric, prog_bar=True)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        inputs, labels = batch
        loss = self.loss(self(inputs), labels)
        self.train_loss.update(loss.detach(), weight=len(labels))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.val_loss, self.val_metrics)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.test_loss, self.test_metrics)

    def _evaluate(self, batch, loss: MeanMetric, metrics: nn.ModuleDict) -> None:
        inputs, labels = batch
        outputs = self(inputs)
        loss.update(self.loss(outputs, labels), weight=len(labels))
        task = self.hparams.task
        if task == "classification":
            predicted, expected = outputs, labels.long()
        elif task == "multilabel":
            # Probabilities, not logits: torchmetrics would take logits in [0, 1] as such.
            predicted, expected = outputs.sigmoid(), labels.long()
        else:
            # One target: (N,), as R2Score takes a single output.
            predicted = outputs.squeeze(1) if outputs.shape[1] == 1 else outputs
            expected = labels.float().reshape(predicted.shape)
        for metric in metrics.values():
            metric.update(predicted, expected)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict:
        """predict.py's columns for a batch, by name; the labels too, where the data has them."""
        inputs, *labels = batch
        outputs = self(inputs)
        labels = labels[0] if labels else None
        if self.hparams.task == "classification":
            confidence, prediction = outputs.softmax(dim=1).max(dim=1)
            columns = {"prediction": prediction, "confidence": confidence}
            return {"label": labels, **columns} if labels is not None else columns
        if self.hparams.task == "regression":
            return target_columns(outputs, labels)
        return multilabel_columns(outputs, labels)

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
DATA_ARGUMENTS = (
    "input_shape",
    "task",
    "num_classes",
    "num_targets",
    "input_mean",
    "input_std",
    "target_mean",
    "target_std",
)


def output_size(task: str, num_classes: int | None, num_targets: int | None) -> int:
    """How many numbers the network gives per example: one per class, label or target."""
    size = num_targets if task == "regression" else num_classes
    if task not in ("classification", "regression", "multilabel") or not size:
        raise SettingsError(
            f"task {task!r} with num_classes {num_classes} and num_targets {num_targets}:"
            " classification and multilabel need num_classes, regression num_targets"
        )
    return size


def task_metrics(task: str, size: int) -> nn.ModuleDict:
    """The metrics validation and testing log beside the loss, by the name after "val_"."""
    if task == "regression":
        # In the targets' units; with several targets, the means over them.
        return nn.ModuleDict({"mae": MeanAbsoluteError(), "r2": R2Score()})
    if task == "multilabel":
        # "micro": every label of every example counts once; a label is predicted at 0.5.
        return nn.ModuleDict(
            {
                "f1": MultilabelF1Score(size, average="micro"),
                "acc": MultilabelAccuracy(size, average="micro"),
            }
        )
    # "micro" accuracy counts correct examples; torchmetrics' default, "macro", averages
    # per-class scores.
    return nn.ModuleDict({"acc": MulticlassAccuracy(size, average="micro")})


def target_columns(outputs: torch.Tensor, labels: torch.Tensor | None) -> dict:
    """Regression's columns: label and prediction, or label_t and prediction_t per target."""
    predictions = list(outputs.unbind(dim=1))
    truths = list(labels.reshape(outputs.shape).unbind(dim=1)) if labels is not None else []
    if len(predictions) == 1:
        columns = {"label": truths[0]} if truths else {}
        return {**columns, "prediction": predictions[0]}
    columns = {f"label_{t}": truth for t, truth in enumerate(truths)}
    columns.update({f"prediction_{t}": value for t, value in enumerate(predictions)})
    return columns


def multilabel_columns(outputs: torch.Tensor, labels: torch.Tensor | None) -> dict:
    """Multi-label's columns: label_k (where known), prediction_k and probability_k per label."""
    probabilities = outputs.sigmoid()
    columns = {}
    for k in range(outputs.shape[1]):
        if labels is not None:
            columns[f"label_{k}"] = labels[:, k].long()
        columns[f"prediction_{k}"] = (probabilities[:, k] >= 0.5).long()
        columns[f"probability_{k}"] = probabilities[:, k]
    return columns


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
    in_channels: int, channels: int, hidden_units: int, dropout: float, num_outputs: int
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
        nn.Linear(hidden_units, num_outputs),
    )


def table_network(
    num_features: int, hidden_units: int, dropout: float, num_outputs: int
) -> nn.Sequential:
    """Two hidden layers over standardised features."""
    return nn.Sequential(
        nn.Linear(num_features, hidden_units),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_units, hidden_units),
        nn.ReLU(),
        nn.Linear(hidden_units, num_outputs),
    )
