"""The data: a Dataset over two .npy files, and the LightningDataModule that splits and reports it.

Bring your own as `inputs.npy` and `labels.npy` in a folder (README.md, "Use your own data").
"""

import math
from functools import cached_property
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .machinery.augmentation import AugmentedSubset, EpochTaggedSampler
from .machinery.data_report import describe, read_inputs, read_labels
from .machinery.errors import DataError, SettingsError
from .machinery.files import atomic_file
from .machinery.settings import Allowed, check_settings
from .machinery.workers import default_num_workers, loader_options

INPUTS_FILE = "inputs.npy"
LABELS_FILE = "labels.npy"
# Where the bundled digits go when no folder is named; a folder the user names is never filled.
DEFAULT_DATA_DIR = "data"
# The values each setting allows: the DataModule checks them, and so do the command lines.
ALLOWED = {
    "batch_size": Allowed(int, 1),
    # Each worker is a process holding a copy of the loader: more than this only costs memory.
    "num_workers": Allowed(int, 0, 32),
    "val_fraction": Allowed(float, 0, 1, low_excluded=True, high_excluded=True),
    "test_fraction": Allowed(float, 0, 1, low_excluded=True, high_excluded=True),
    "split_seed": Allowed(int, 0, 2**32 - 1),
    "seed": Allowed(int, 0, 2**32 - 1),
}
# What labels.npy may hold, and the task each means (README.md, "Use your own data"); a
# DataModule given `task` reads labels that could mean two tasks as that one.
TASKS = ("classification", "regression", "multilabel")


class {{ cookiecutter.dataset_class }}(Dataset):
    """The examples in `data_dir`: inputs.npy, and labels.npy when the folder has one.

    The arrays are memory-mapped, not loaded: memory stays flat however large the files grow.
    """

    def __init__(self, data_dir: str | Path, require_labels: bool = True):
        self.data_dir = Path(data_dir)
        self.inputs_path = self.data_dir / INPUTS_FILE
        self.labels_path = self.data_dir / LABELS_FILE
        self.require_labels = require_labels
        self.inputs, self.labels = self.open_arrays()

    def open_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The inputs and the labels (None where they are optional and absent), checked."""
        inputs = read_inputs(self.inputs_path)
        if not self.require_labels and not self.labels_path.exists():
            return inputs, None
        return inputs, read_labels(self.labels_path, self.inputs_path, len(inputs))

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        if self.inputs is None:
            self.inputs, self.labels = self.open_arrays()
        inputs = torch.from_numpy(np.array(self.inputs[index], dtype=np.float32))
        if inputs.dim() == 2:
            inputs = inputs.unsqueeze(0)  # (H, W) images are single-channel: (1, H, W)
        if self.labels is None:
            return (inputs,)
        # As stored: a class, a target or a row of targets, or a row of 0/1 labels.
        return inputs, torch.from_numpy(np.array(self.labels[index]))

    def __getstate__(self) -> dict:
        # DataLoader workers reopen the memory maps instead of receiving a copy of the data.
        return {**self.__dict__, "inputs": None, "labels": None}


def write_digits(data_dir: str | Path) -> None:
    """Write scikit-learn's bundled handwritten digits (1,797 images, 8x8 pixels) to `data_dir`."""
    # Imported here: scikit-learn is needed only the first time.
    from sklearn.datasets import load_digits

    data_dir = Path(data_dir)
    digits = load_digits()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Labels first: a folder holding inputs.npy is then always complete.
        with atomic_file(data_dir / LABELS_FILE) as file:
            np.save(file, digits.target)
        with atomic_file(data_dir / INPUTS_FILE) as file:
            np.save(file, digits.images.astype(np.uint8))
    except OSError as err:
        # numpy reports a write cut short by a full disk without an error number.
        reason = err.strerror or f"{err}: is the disk full?"
        raise DataError(f"data_dir {data_dir}: cannot write the data ({reason})") from None


def augment_image(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A small random shift, turn and zoom of a (C, H, W) image; a table's row is left as it is.

    No flips: they change digits. Every draw comes from `generator`, this example's own.
    """
    # The generator is seeded by (seed, epoch, example index): the augmentation then repeats
    # exactly with any number of workers, and in a resumed run.
    if inputs.dim() != 3:
        return inputs
    shift = 0.25 * (2 * torch.rand(2, generator=generator) - 1)  # up to 1/8 of the size
    angle = math.radians(10) * (2 * torch.rand((), generator=generator) - 1)
    zoom = 1 + 0.1 * (2 * torch.rand((), generator=generator) - 1)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    transform = torch.stack(
        [torch.stack([cos, -sin, shift[0]]), torch.stack([sin, cos, shift[1]])]
    ).unsqueeze(0)
    grid = F.affine_grid(transform, [1, *inputs.shape], align_corners=False)
    # Pixels moved in from outside repeat the edge: for the digits, the blank background.
    return F.grid_sample(inputs[None], grid, padding_mode="border", align_corners=False)[0]


def split_indices(
    num_examples: int, val_fraction: float, test_fraction: float, split_seed: int
) -> tuple[list[int], list[int], list[int]]:
    """The same train, validation and test indices on every run and every process."""
    generator = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(num_examples, generator=generator).tolist()
    num_test = round(num_examples * test_fraction)
    num_val = round(num_examples * val_fraction)
    return order[num_test + num_val :], order[num_test : num_test + num_val], order[:num_test]


class {{ cookiecutter.datamodule_class }}(pl.LightningDataModule):
    """Splits the data in `data_dir`, serves its DataLoaders, and reports what the model needs.

    Its `report` holds the model's data arguments: inputs' shape and statistics, task and size.
    """

    def __init__(
        self,
        data_dir: str = DEFAULT_DATA_DIR,
        batch_size: int = 128,
        num_workers: int | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        seed: int = 42,
        task: str | None = None,
        augment: bool = False,
    ):
        super().__init__()
        # `task` is kept apart: the model's hyperparameters record the task it learns, and
        # Lightning logs both sets under one name each, refusing two values for one name.
        self.save_hyperparameters(ignore="task")
        check_settings(ALLOWED, self.hparams)
        if task is not None and task not in TASKS:
            raise SettingsError(f"task {task!r} is not allowed: give one of {', '.join(TASKS)}")
        self.task = task
        if val_fraction + test_fraction >= 1:
            raise SettingsError(
                f"val_fraction {val_fraction} and test_fraction {test_fraction} are not allowed:"
                " give fractions that leave some examples to train on"
            )
        self.train_set = self.val_set = self.test_set = None

    def prepare_data(self) -> None:
        """Write the bundled digits when `data_dir` is the default folder and holds no data yet.

        A folder the user names is only ever read, by the Dataset, which says what is missing.
        """
        # Lightning calls this once per machine, before `setup`.
        data_dir = Path(self.hparams.data_dir)
        if data_dir == Path(DEFAULT_DATA_DIR) and not (data_dir / INPUTS_FILE).exists():
            write_digits(data_dir)

    def setup(self, stage: str | None = None) -> None:
        """Split the data the same way on every run and every process."""
        if stage == "predict":
            return  # prediction reads every example, labelled or not
        dataset = {{ cookiecutter.dataset_class }}(self.hparams.data_dir)
        train, val, test = split_indices(len(dataset), *self._split_settings())
        self.train_set = Subset(dataset, train)
        self.val_set = Subset(dataset, val)
        self.test_set = Subset(dataset, test)

    @cached_property
    def report(self) -> dict:
        """What the model is built from, read once from the training split; it writes nothing."""
        dataset = {{ cookiecutter.dataset_class }}(self.hparams.data_dir)
        splits = split_indices(len(dataset), *self._split_settings())
        return describe(dataset, splits, Path(self.hparams.data_dir), self.task)

    def _split_settings(self) -> tuple[float, float, int]:
        return self.hparams.val_fraction, self.hparams.test_fraction, self.hparams.split_seed

    def train_dataloader(self) -> DataLoader:
        train_set = self.train_set
        sampler_class = DistributedSampler
        if self.hparams.augment:
            # Each example's draws come from (seed, epoch, its index), never from a worker's
            # generator: the sampler hands the epoch to the workers with each index.
            train_set = AugmentedSubset(self.train_set, augment_image, self.hparams.seed)
            sampler_class = EpochTaggedSampler
        # A permutation of (seed, epoch) only, each process taking its share under DDP.
        sampler = sampler_class(
            train_set,
            num_replicas=self.trainer.world_size if self.trainer else 1,
            rank=self.trainer.global_rank if self.trainer else 0,
            shuffle=True,
            seed=self.hparams.seed,
        )
        # A resumed run builds its first iterator before Lightning sets the sampler's epoch,
        # and workers fetch their first indices at once: give it the epoch Lightning will.
        if self.trainer is not None:
            sampler.set_epoch(self.trainer.fit_loop.epoch_progress.current.processed)
        return self._loader(train_set, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, sampler=self._test_sampler())

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_dataset())

    def predict_dataset(self) -> {{ cookiecutter.dataset_class }}:
        """Every example in `data_dir`, in order; labels are optional here."""
        return {{ cookiecutter.dataset_class }}(self.hparams.data_dir, require_labels=False)

    def _test_sampler(self) -> UnrepeatedDistributedSampler | None:
        """Under DDP, give each process a disjoint share, unpadded, so each example counts once."""
        # Lightning's default DistributedSampler pads the shares to equal length by repeating
        # examples, which would skew the test metrics.
        if self.trainer is None or self.trainer.world_size == 1:
            return None
        return UnrepeatedDistributedSampler(
            self.test_set,
            num_replicas=self.trainer.world_size,
            rank=self.trainer.global_rank,
            shuffle=False,
        )

    def _loader(self, dataset: Dataset, sampler=None) -> DataLoader:
        num_workers = self.hparams.num_workers
        if num_workers is None:
            num_workers = default_num_workers(self.trainer.num_devices if self.trainer else 1)
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            sampler=sampler,
            **loader_options(num_workers, self.hparams.seed),
        )
