"""The trained model, rebuilt from a checkpoint alone, for predict.py, export.py and serve.py."""

import argparse
import inspect
from pathlib import Path

import pytorch_lightning as pl

from .checkpoints import find_checkpoint, read_checkpoint
from .errors import CheckpointError


def add_checkpoint_args(parser: argparse.ArgumentParser) -> None:
    """The flags that name the checkpoint: --ckpt_path, and where "best" and "last" are sought."""
    parser.add_argument(
        "--ckpt_path",
        required=True,
        help="checkpoint written by train.py, or 'best' or 'last': the newest such file under"
        " --default_root_dir",
    )
    parser.add_argument(
        "--default_root_dir", default="outputs", help="where train.py wrote its runs"
    )


def load_model(model_class: type[pl.LightningModule], ckpt_path: str | Path) -> pl.LightningModule:
    """The `model_class` saved in the checkpoint file at `ckpt_path`, or CheckpointError."""
    return model_from_checkpoint(model_class, read_checkpoint(ckpt_path), ckpt_path)


def find_model(
    model_class: type[pl.LightningModule],
    ckpt_path: str,
    root_dir: str | Path,
    script: str,
) -> tuple[Path, pl.LightningModule]:
    """The checkpoint --ckpt_path names (a file, or "best" or "last" under root_dir), and its model.

    Only the weights are needed: a best.ckpt written without the training state serves too.
    """
    path, checkpoint = find_checkpoint(ckpt_path, root_dir, script, refuse=not_a_model_checkpoint)
    return path, model_from_checkpoint(model_class, checkpoint, path)


def not_a_model_checkpoint(checkpoint: dict) -> str | None:
    """Why `checkpoint` cannot hold a model of this project, if it cannot."""
    needed = {"hyper_parameters", "state_dict", "epoch"}
    if not (isinstance(checkpoint, dict) and needed <= checkpoint.keys()):
        return "not a LightningModule's checkpoint (it lacks hyper_parameters, state_dict or epoch)"
    return None


def model_from_checkpoint(
    model_class: type[pl.LightningModule], checkpoint: dict, path: str | Path
) -> pl.LightningModule:
    """The model the checkpoint's hyperparameters describe, with its weights, in eval mode."""
    problem = not_a_model_checkpoint(checkpoint)
    if problem:
        raise CheckpointError(f"--ckpt_path {path}: {problem}")
    # Only the constructor's arguments: LightningCLI also records how it built the model.
    parameters = inspect.signature(model_class).parameters
    saved = checkpoint["hyper_parameters"]
    arguments = {name: saved[name] for name in parameters if name in saved}
    try:
        model = model_class(**arguments)
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, ValueError, RuntimeError):
        # Another model's checkpoint: its settings or its weights do not fit this class.
        raise CheckpointError(
            f"--ckpt_path {path}: its hyperparameters and weights are not those of a"
            f" {model_class.__name__}"
        ) from None
    return model.eval()
