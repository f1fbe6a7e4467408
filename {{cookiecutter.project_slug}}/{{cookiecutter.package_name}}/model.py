"""The LightningModule: a small convolutional network that classifies 8x8 digit images."""

import inspect

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy


class {{ cookiecutter.model_class }}(pl.LightningModule):
    """Two convolution blocks and a small classifier head, trained with AdamW.

    Every hyperparameter is an argument with a default, so the class builds with no
    arguments, and `save_hyperparameters()` records exactly these values in the
    checkpoint and the logger.
    """

    def __init__(
        self,
        learning_rate: float = 3e-3,
        lr_decay: float = 0.7,
        weight_decay: float = 1e-4,
        channels: int = 32,
        hidden_units: int = 128,
        dropout: float = 0.25,
        num_classes: int = 10,
    ):
        super().__init__()
        self.save_hyperparameters()
        # No bias in the convolutions: the BatchNorm after each adds its own shift.
        self.network = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(dropout),
            # Pooling halves the 8x8 input to 4x4.
            nn.Linear(2 * channels * 4 * 4, hidden_units),
            nn.ReLU(),
            nn.Linear(hidden_units, num_classes),
        )
        # One metric object per stage: each keeps its own running totals. "micro" counts
        # correct examples; torchmetrics' default, "macro", averages per-class scores.
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_accuracy = MulticlassAccuracy(num_classes, average="micro")

    @staticmethod
    def add_model_specific_args(parent_parser):
        """Add this model's hyperparameters to the command line, as their own group."""
        group = parent_parser.add_argument_group(
            "{{ cookiecutter.model_class }}",
            "model hyperparameters",
        )
        group.add_argument("--learning_rate", type=float, help="AdamW learning rate")
        group.add_argument("--lr_decay", type=float, help="learning-rate factor per epoch")
        group.add_argument("--weight_decay", type=float, help="AdamW weight decay")
        group.add_argument("--channels", type=int, help="channels of the first convolution")
        group.add_argument("--hidden_units", type=int, help="units of the hidden layer")
        group.add_argument("--dropout", type=float, help="dropout before the hidden layer")
        group.add_argument("--num_classes", type=int, help="number of classes")
        # The defaults are written once, in __init__.
        signature = inspect.signature({{ cookiecutter.model_class }})
        parent_parser.set_defaults(
            **{name: p.default for name, p in signature.parameters.items()},
        )
        return parent_parser

    def forward(self, images):
        """Return class scores (logits) for a batch of images shaped (N, 1, 8, 8)."""
        return self.network(images)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        # sync_dist averages over processes under DDP; on one device it costs nothing.
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val", self.val_accuracy)

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test", self.test_accuracy)

    def _evaluate(self, batch, stage, accuracy):
        images, labels = batch
        logits = self(images)
        accuracy(logits, labels)
        self.log(f"{stage}_loss", F.cross_entropy(logits, labels), prog_bar=True, sync_dist=True)
        self.log(f"{stage}_acc", accuracy, prog_bar=True)

    def predict_step(self, batch, batch_idx):
        images, labels = batch
        probabilities = self(images).softmax(dim=1)
        confidence, prediction = probabilities.max(dim=1)
        return {"label": labels, "prediction": prediction, "confidence": confidence}

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.learning_rate,
            weight_decay=self.hparams.weight_decay,
        )
        # Decay per epoch, not over a planned total, so resuming with a larger
        # --max_epochs continues the same schedule.
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.hparams.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
