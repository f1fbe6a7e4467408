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
    """Memory-map the class labels, one integer from 0 per input, or raise DataError."""
    labels = load_array(path)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path}: expected integer class labels shaped (N,); got {labels.dtype} {labels.shape}"
        )
    if len(labels) != num_inputs:
        raise DataError(
            f"{inputs_path} holds {num_inputs} examples but {path} {len(labels)} labels:"
            " give one label per example"
        )
    if labels.min() < 0:
        raise DataError(f"{path}: labels must be 0 to K-1; found {labels.min()}")
    return labels


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


def describe(dataset: Dataset, splits: Sequence[Sequence[int]], source: Path) -> dict:
    """What the model is built from: one example's shape, the classes, the input statistics.

    `splits` are the train, validation and test indices; each must hold an example.
    """
    # Only `__len__`, `__getitem__` and `labels` are used, so a Dataset of any format serves;
    # the .npy one's whole arrays are checked too.
    num_classes = int(dataset.labels.max()) + 1
    if num_classes < 2:
        raise DataError(f"{dataset.labels_path}: expected at least 2 classes; all labels are 0")
    if num_classes > len(dataset):
        raise DataError(
            f"{dataset.labels_path}: label {num_classes - 1} would make {num_classes} classes for"
            f" {len(dataset)} examples; labels must number the classes from 0"
        )
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
    return {
        "input_shape": tuple(dataset[train_indices[0]][0].shape),
        "num_classes": num_classes,
        "input_mean": mean,
        "input_std": std,
    }


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


def checked_num_classes(num_classes: int, found: int, source: str | Path) -> int:
    """--num_classes may leave room for classes the labels lack, never drop one they hold."""
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
    # the labels it does hold must be classes the model was trained on.
    input_shape = tuple(dataset[0][0].shape)
    expected = tuple(hyper_parameters["input_shape"])
    if input_shape != expected:
        return (
            f"{dataset.inputs_path} holds inputs shaped {input_shape};"
            f" the checkpoint was trained on {expected}"
        )
    num_classes = hyper_parameters["num_classes"]
    if dataset.labels is not None and dataset.labels.max() >= num_classes:
        return (
            f"{dataset.labels_path} holds label {dataset.labels.max()};"
            f" the checkpoint was trained on {num_classes} classes, 0 to {num_classes - 1}"
        )
    return None
