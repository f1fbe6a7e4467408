"""The data: a Dataset over two .npy files, and the LightningDataModule that splits and reports it.

Bring your own as `inputs.npy` and `labels.npy` in a folder (README.md, "Use your own data").
"""

from functools import cached_property
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

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
        return inputs, int(self.labels[index])

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

    Its `input_shape`, `num_classes`, `input_mean` and `input_std` are the model's data arguments.
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
    ):
        super().__init__()
        self.save_hyperparameters()
        check_settings(ALLOWED, self.hparams)
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
        return describe(dataset, splits, Path(self.hparams.data_dir))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape: (C, H, W) for images, (F,) for a table of features."""
        return self.report["input_shape"]

    @property
    def num_classes(self) -> int:
        """How many classes the labels hold: the largest label plus one."""
        return self.report["num_classes"]

    @property
    def input_mean(self) -> list[float]:
        """Per channel (or feature) mean of the training inputs, for the model to normalise."""
        return self.report["input_mean"]

    @property
    def input_std(self) -> list[float]:
        """Per channel (or feature) standard deviation of the training inputs."""
        return self.report["input_std"]

    def _split_settings(self) -> tuple[float, float, int]:
        return self.hparams.val_fraction, self.hparams.test_fraction, self.hparams.split_seed

    def train_dataloader(self) -> DataLoader:
        # A permutation of (seed, epoch) only, each process taking its share under DDP.
        sampler = DistributedSampler(
            self.train_set,
            num_replicas=self.trainer.world_size if self.trainer else 1,
            rank=self.trainer.global_rank if self.trainer else 0,
            shuffle=True,
            seed=self.hparams.seed,
        )
        # A resumed run builds its first iterator before Lightning sets the sampler's epoch,
        # and workers fetch their first indices at once: give it the epoch Lightning will.
        if self.trainer is not None:
            sampler.set_epoch(self.trainer.fit_loop.epoch_progress.current.processed)
        return self._loader(self.train_set, sampler=sampler)

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
