"""The data's checks and report: arrays that fit the project, and what the model is built from."""

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DataError

# Enough training examples for steady input statistics, few enough to read in a moment.
STATISTICS_SAMPLE = 1000
SPLITS = ("training", "validation", "test")


def read_inputs(path: Path) -> np.ndarray:
    """Memory-map the inputs: images (N, H, W) or (N, C, H, W), or features (N, F)."""
    if not path.exists():
        raise DataError(f"data_dir {path.parent}: no {path.name} there (see README.md)")
    inputs = load_array(path)
    numbers = np.issubdtype(inputs.dtype, np.integer) or np.issubdtype(inputs.dtype, np.floating)
    if inputs.ndim not in (2, 3, 4) or not numbers:
        raise DataError(
            f"{path}: expected numbers shaped (N, H, W) or (N, C, H, W) for"
            f" images, or (N, F) for a table of features; got {inputs.dtype} {inputs.shape}"
        )
    # (N, 32, 32, 3) would otherwise train as 32 channels of 32x3 images.
    if inputs.ndim == 4 and inputs.shape[3] in (1, 3, 4) and min(inputs.shape[1:3]) > 4:
        raise DataError(
            f"{path}: shaped {inputs.shape}, channels last; the project takes (N, C, H, W):"
            " save np.moveaxis(inputs, 3, 1)"
        )
    return inputs


def read_labels(path: Path, inputs_path: Path, num_inputs: int) -> np.ndarray:
    """Memory-map the labels, one row per input, in a form some task takes, or raise DataError.

    Integers (N,) are classes; floats (N,) or (N, T) targets; 0/1 or booleans (N, K) labels.
    """
    labels = load_array(path)
    numbers = labels.dtype == np.bool_ or np.issubdtype(labels.dtype, np.number)
    if labels.ndim > 2 or not numbers or np.issubdtype(labels.dtype, np.complexfloating):
        raise DataError(
            f"{path}: expected integer classes (N,), float targets (N,) or (N, T), or 0/1"
            f" labels (N, K); got {labels.dtype} {labels.shape}"
        )
    if len(labels) != num_inputs:
        raise DataError(
            f"{inputs_path} holds {num_inputs} examples but {path} {len(labels)} labels:"
            " give one label per example"
        )
    if np.issubdtype(labels.dtype, np.floating) and not np.isfinite(labels).all():
        bad = int(np.argwhere(~np.isfinite(labels.reshape(len(labels), -1)))[0][0])
        raise DataError(f"{path}: example {bad}'s target is a NaN or infinite")
    multilabel = labels.ndim == 2 and np.issubdtype(labels.dtype, np.integer)
    if multilabel and (labels.min() < 0 or labels.max() > 1):
        raise DataError(
            f"{path}: integer labels shaped (N, K) are multi-label and must be 0 or 1;"
            f" found {labels.min() if labels.min() < 0 else labels.max()}"
        )
    if labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer) and labels.min() < 0:
        raise DataError(f"{path}: labels must be 0 to K-1; found {labels.min()}")
    return labels


def label_task(labels: np.ndarray) -> str:
    """The task stored labels describe: "classification", "regression" or "multilabel"."""
    if labels.ndim == 2 and not np.issubdtype(labels.dtype, np.floating):
        return "multilabel"
    if labels.ndim == 1 and not np.issubdtype(labels.dtype, np.floating):
        return "classification"
    return "regression"


def checked_task(task: str | None, labels: np.ndarray, path: Path | str) -> str:
    """The task: the one the labels describe, or `task` where the labels allow it."""
    found = label_task(labels)
    if task is None or task == found:
        return found
    whole = np.issubdtype(labels.dtype, np.integer) or bool((labels == np.round(labels)).all())
    allowed = {
        # Integer labels may be numbers to predict: an age, a count.
        "regression": labels.dtype != np.bool_,
        "classification": labels.ndim == 1 and whole and labels.min() >= 0,
        "multilabel": labels.ndim == 2 and bool(np.isin(labels, (0, 1)).all()),
    }
    if not allowed[task]:
        raise DataError(
            f"task {task}: {path} holds {labels.dtype} labels shaped {labels.shape}, which"
            f" describe {found}; {TASK_NEEDS[task]}"
        )
    return task


# What each task needs of labels.npy, for the message that refuses a --task.
TASK_NEEDS = {
    "classification": "classification needs whole numbers from 0, shaped (N,)",
    "regression": "regression needs numbers, shaped (N,) or (N, T)",
    "multilabel": "multilabel needs 0s and 1s shaped (N, K)",
}


def load_array(path: Path) -> np.ndarray:
    """Memory-map one non-empty .npy file, or raise DataError naming it."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npy file ({err})") from None
    if array.ndim == 0 or len(array) == 0:
        raise DataError(f"{path}: expected a non-empty array, got shape {array.shape}")
    # A plain array over the same mapping, faster to index than the np.memmap itself.
    return array.view(np.ndarray)


def describe(
    dataset: Dataset, splits: Sequence[Sequence[int]], source: Path, task: str | None = None
) -> dict:
    """What the model is built from: the input shape and statistics, the task and its size.

    `splits` (train, validation, test) must each hold an example; `task` overrides the labels'.
    """
    # Only `__len__`, `__getitem__`, `labels` and `labels_path` are used, so a Dataset of any
    # format serves; the .npy one's whole arrays are checked too.
    # A Dataset of the user's own may keep its labels elsewhere than a labels_path.
    task = checked_task(task, dataset.labels, getattr(dataset, "labels_path", "the labels"))
    num_classes = class_count(dataset) if task == "classification" else None
    empty = [name for name, split in zip(SPLITS, splits, strict=True) if not split]
    if empty:
        raise DataError(
            f"data_dir {source}: {len(dataset)} examples are too few to split: none is left for"
            f" {' or '.join(empty)}; bring more, or give val_fraction and test_fraction that"
            " leave each at least one"
        )
    if isinstance(getattr(dataset, "inputs", None), np.ndarray):
        check_values(dataset.inputs, dataset.inputs_path)
    train_indices = splits[0]
    sample = (dataset[index][0] for index in sorted(train_indices[:STATISTICS_SAMPLE]))
    mean, std = channel_statistics(sample)
    report = {
        "input_shape": tuple(dataset[train_indices[0]][0].shape),
        "task": task,
        "num_classes": num_classes,
        "num_targets": None,
        "input_mean": mean,
        "input_std": std,
        "target_mean": None,
        "target_std": None,
    }
    if task == "regression":
        targets = np.asarray(dataset.labels[np.sort(train_indices)], dtype=np.float64)
        targets = targets.reshape(len(targets), -1)
        std = targets.std(axis=0)
        # A constant target leaves nothing to scale; dividing by 1 leaves it centred.
        std[std < 1e-12] = 1.0
        report["num_targets"] = targets.shape[1]
        report["target_mean"] = targets.mean(axis=0).tolist()
        report["target_std"] = std.tolist()
    elif task == "multilabel":
        report["num_classes"] = dataset.labels.shape[1]
    return report


def class_count(dataset: Dataset) -> int:
    """How many classes the labels number: the largest label plus one, checked."""
    num_classes = int(dataset.labels.max()) + 1
    if num_classes < 2:
        raise DataError(f"{dataset.labels_path}: expected at least 2 classes; all labels are 0")
    if num_classes > len(dataset):
        raise DataError(
            f"{dataset.labels_path}: label {num_classes - 1} would make {num_classes} classes for"
            f" {len(dataset)} examples; labels must number the classes from 0"
        )
    return num_classes


def check_values(inputs: np.ndarray, path: Path, chunk: int = 4096) -> None:
    """Refuse inputs that hold a NaN or an infinity, or that are all one value."""
    # Read in chunks: memory stays flat however large the memory-mapped file is.
    low, high = math.inf, -math.inf
    for start in range(0, len(inputs), chunk):
        block = np.asarray(inputs[start : start + chunk])
        if np.issubdtype(block.dtype, np.floating) and not np.isfinite(block).all():
            bad = start + int(np.argwhere(~np.isfinite(block))[0][0])
            raise DataError(f"{path}: example {bad} holds a NaN or an infinite value")
        low, high = min(low, block.min()), max(high, block.max())
    if low == high:
        raise DataError(f"{path}: every value is {low}: there is nothing to learn from")


def checked_num_classes(num_classes: int, report: dict, source: str | Path) -> int:
    """--num_classes may leave room for classes the labels lack, never drop one they hold."""
    if report["task"] != "classification":
        raise DataError(
            f"--num_classes {num_classes}: {source} holds labels for {report['task']}, whose"
            " size the labels give; --num_classes is for classification"
        )
    found = report["num_classes"]
    if num_classes < found:
        raise DataError(
            f"--num_classes {num_classes} contradicts the data: {source} holds labels"
            f" 0 to {found - 1}"
        )
    return num_classes


def channel_statistics(examples: Iterable[torch.Tensor]) -> tuple[list[float], list[float]]:
    """Mean and standard deviation per channel of (C, H, W) examples, or per feature of (F,)."""
    total = squares = count = 0
    for example in examples:
        values = example.double().reshape(example.shape[0], -1)
        total = total + values.sum(dim=1)
        squares = squares + values.square().sum(dim=1)
        count += values.shape[1]
    mean = total / count
    std = (squares / count - mean.square()).clamp(min=0).sqrt()
    # A constant channel carries nothing to scale; dividing by 1 leaves it centred.
    std[std < 1e-12] = 1.0
    return mean.tolist(), std.tolist()


def data_mismatch(hyper_parameters: dict, dataset: Dataset) -> str | None:
    """Why a model saved with these hyperparameters cannot take this dataset, if so."""
    # The data may hold fewer classes than the model knows, and no labels at all (to predict);
    # the labels it does hold must be of the task and size the model was trained on.
    input_shape = tuple(dataset[0][0].shape)
    expected = tuple(hyper_parameters["input_shape"])
    if input_shape != expected:
        return (
            f"{dataset.inputs_path} holds inputs shaped {input_shape};"
            f" the checkpoint was trained on {expected}"
        )
    if dataset.labels is None:
        return None
    # Checkpoints written before tasks were read from the labels are classifiers.
    task = hyper_parameters.get("task", "classification")
    labels = dataset.labels
    row = labels.shape[1:]
    if task == "classification":
        num_classes = hyper_parameters["num_classes"]
        if labels.ndim != 1:
            return (
                f"{dataset.labels_path} holds labels shaped {labels.shape}; the checkpoint is"
                " a classifier: give one class per example"
            )
        if labels.max() >= num_classes:
            return (
                f"{dataset.labels_path} holds label {labels.max()};"
                f" the checkpoint was trained on {num_classes} classes, 0 to {num_classes - 1}"
            )
    elif task == "regression":
        if int(np.prod(row)) != hyper_parameters["num_targets"]:
            return (
                f"{dataset.labels_path} holds targets shaped {row or '()'} per example;"
                f" the checkpoint was trained on {hyper_parameters['num_targets']} targets"
            )
    elif labels.ndim != 2 or row[0] != hyper_parameters["num_classes"]:
        return (
            f"{dataset.labels_path} holds labels shaped {labels.shape};"
            f" the checkpoint was trained on {hyper_parameters['num_classes']} labels per example"
        )
    return None
