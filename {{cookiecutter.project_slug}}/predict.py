"""Predict with a trained checkpoint: one CSV row per example in a data folder.

Loading a checkpoint can run code stored in it; only load checkpoints you trust.
"""

import argparse
import csv
from collections.abc import Sequence
from typing import IO

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.machinery.data_report import data_mismatch
from {{ cookiecutter.package_name }}.machinery.errors import (
    ArgumentParser,
    DataError,
    OneLineError,
)
from {{ cookiecutter.package_name }}.machinery.files import atomic_file
from {{ cookiecutter.package_name }}.machinery.launcher import script_run
from {{ cookiecutter.package_name }}.machinery.loading import load_model
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        description="Predict a label for every example in a data folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--ckpt_path", required=True, help="checkpoint written by train.py")
    parser.add_argument(
        "--data_dir",
        required=True,
        help="folder with inputs.npy; with labels.npy too, the accuracy (or error) is reported",
    )
    parser.add_argument("--output", default="predictions.csv", help="CSV file to write")
    parser.add_argument("--batch_size", type=int, default=256, help="examples per batch")
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu, mps or auto")
    return parser


class CSVPredictionWriter(BasePredictionWriter):
    """Write each batch's predictions as CSV rows as they come, and score the labelled ones."""

    def __init__(self, csv_file: IO[str], task: str = "classification") -> None:
        super().__init__(write_interval="batch")
        self.writer = csv.writer(csv_file)
        self.task = task
        self.num_rows = 0
        # Per pair of label and prediction columns: right answers, or for regression the
        # absolute errors, summed.
        self.total_score = 0.0
        self.num_scored = 0

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: dict[str, torch.Tensor],
        batch_indices: Sequence[int] | None,
        batch: object,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        columns = {name: values.tolist() for name, values in prediction.items()}
        if self.num_rows == 0:
            self.writer.writerow(["index", *columns])
        for offset, row in enumerate(zip(*columns.values(), strict=True)):
            self.writer.writerow([self.num_rows + offset, *row])
        self.num_rows += len(next(iter(prediction.values())))
        regression = self.task == "regression"
        for name, labels in prediction.items():
            if name.startswith("label"):
                predicted = prediction[name.replace("label", "prediction", 1)]
                errors = (labels.double() - predicted.double()).abs()
                self.total_score += float(errors.sum() if regression else (errors == 0).sum())
                self.num_scored += len(labels)

    def summary(self) -> str | None:
        """The line that scores the labelled examples, if the data had labels."""
        if not self.num_scored:
            return None
        score = self.total_score / self.num_scored
        name = {
            "regression": "Mean absolute error",
            "multilabel": "Accuracy over every label",
        }.get(self.task, "Accuracy")
        return f"{name} on {self.num_rows} labelled examples: {score:.4f}"


def check_data_fits(datamodule: pl.LightningDataModule, model: pl.LightningModule) -> None:
    """Refuse, in one line, data of another shape or with labels the model never learned."""
    datamodule.prepare_data()
    reason = data_mismatch(model.hparams, datamodule.predict_dataset())
    if reason:
        raise DataError(reason)


def predict(args: argparse.Namespace) -> None:
    datamodule = {{ cookiecutter.datamodule_class }}(
        data_dir=args.data_dir,
        batch_size=args.batch_size,
    )
    model = load_model({{ cookiecutter.model_class }}, args.ckpt_path)
    check_data_fits(datamodule, model)
    try:
        with atomic_file(args.output, "w", newline="") as csv_file:
            # Checkpoints written before tasks were read from the labels are classifiers.
            writer = CSVPredictionWriter(csv_file, model.hparams.get("task", "classification"))
            trainer = pl.Trainer(
                accelerator=args.accelerator,
                devices=1,
                logger=False,
                enable_checkpointing=False,
                enable_model_summary=False,
                callbacks=[writer],
            )
            # The writer keeps nothing: memory stays flat however many examples there are.
            trainer.predict(model, datamodule=datamodule, return_predictions=False)
    except OSError as err:
        raise OneLineError(f"--output {args.output}: cannot write ({err.strerror})") from None
    print(f"Wrote {writer.num_rows} predictions to {args.output}")
    summary = writer.summary()
    if summary:
        print(summary)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    with script_run():
        predict(args)


if __name__ == "__main__":
    main()
