"""Predict with a trained checkpoint, writing one CSV row per input example.

Loading a checkpoint can run code stored in it; only load checkpoints you trust.
"""

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

import pytorch_lightning as pl
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.errors import CheckpointError, DataError
from {{ cookiecutter.package_name }}.experiment import read_checkpoint
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # One line, instead of argparse's usage block.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser():
    parser = ArgumentParser(
        description="Predict a label for every example in the data folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--ckpt_path", required=True, help="checkpoint written by train.py")
    parser.add_argument("--data_dir", help="data folder (default: the one the model trained on)")
    parser.add_argument("--output", default="predictions.csv", help="CSV file to write")
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu, mps or auto")
    return parser


def predict(args):
    # Fails with a clear message on a missing or damaged file, before Lightning loads it.
    read_checkpoint(args.ckpt_path)
    # Hyperparameters come back from the checkpoint; weights_only refuses pickled code.
    model = {{ cookiecutter.model_class }}.load_from_checkpoint(
        args.ckpt_path,
        map_location="cpu",
        weights_only=True,
    )
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    datamodule = {{ cookiecutter.datamodule_class }}.load_from_checkpoint(
        args.ckpt_path,
        map_location="cpu",
        weights_only=True,
        **overrides,
    )
    trainer = pl.Trainer(
        accelerator=args.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    batches = trainer.predict(model, datamodule=datamodule)
    columns = {name: torch.cat([batch[name] for batch in batches]) for name in batches[0]}
    write_csv(Path(args.output), columns)
    print(f"Wrote {len(columns['prediction'])} predictions to {args.output}")


def write_csv(path, columns):
    """Write the CSV under a temporary name first, so a failure leaves no half-written file."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as temp_file:
            writer = csv.writer(temp_file)
            writer.writerow(["index", *columns])
            rows = zip(*(values.tolist() for values in columns.values()), strict=True)
            for index, row in enumerate(rows):
                writer.writerow([index, *row])
        os.replace(temp_name, path)
    except BaseException:
        os.unlink(temp_name)
        raise


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        predict(args)
    except (DataError, CheckpointError) as err:
        sys.exit(f"error: {err}")
    except OSError as err:
        sys.exit(f"error: --output {args.output}: cannot write ({err.strerror})")


if __name__ == "__main__":
    main()
