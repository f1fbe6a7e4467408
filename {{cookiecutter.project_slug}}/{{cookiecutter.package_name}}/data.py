"""The data: a Dataset over two .npy files, and the LightningDataModule that splits and reports it.

Bring your own as `inputs.npy` and `labels.npy` in a folder (README.md, "Use your own data").
"""

import atexit
import multiprocessing
import signal
import sys
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from types import TracebackType

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.seed import pl_worker_init_function
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from pytorch_lightning.utilities import suggested_max_num_workers
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .errors import DataError, SettingsError
from .files import atomic_file

INPUTS_FILE = "inputs.npy"
LABELS_FILE = "labels.npy"
# Where the bundled digits go when no folder is named; a folder the user names is never filled.
DEFAULT_DATA_DIR = "data"
# Enough training examples for steady input statistics, few enough to read in a moment.
STATISTICS_SAMPLE = 1000


class {{ cookiecutter.dataset_class }}(Dataset):
    """The examples in `data_dir`: inputs.npy, and labels.npy when the folder has one.

    The arrays are memory-mapped, not loaded: memory stays flat however large the files grow.
    """

    def __init__(self, data_dir: str | Path, require_labels: bool = True):
        self.data_dir = Path(data_dir)
        self.require_labels = require_labels
        self.inputs, self.labels = open_arrays(self.data_dir, require_labels)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        if self.inputs is None:
            self.inputs, self.labels = open_arrays(self.data_dir, self.require_labels)
        inputs = torch.from_numpy(np.array(self.inputs[index], dtype=np.float32))
        if inputs.dim() == 2:
            inputs = inputs.unsqueeze(0)  # (H, W) images are single-channel: (1, H, W)
        if self.labels is None:
            return (inputs,)
        return inputs, int(self.labels[index])

    def __getstate__(self) -> dict:
        # DataLoader workers reopen the memory maps instead of receiving a copy of the data.
        return {**self.__dict__, "inputs": None, "labels": None}


def open_arrays(
    data_dir: Path, require_labels: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Memory-map inputs.npy and labels.npy, checked, or raise DataError naming the bad file."""
    if not (data_dir / INPUTS_FILE).exists():
        raise DataError(f"data_dir {data_dir}: no {INPUTS_FILE} there (see README.md)")
    inputs = load_array(data_dir / INPUTS_FILE)
    numbers = np.issubdtype(inputs.dtype, np.integer) or np.issubdtype(inputs.dtype, np.floating)
    if inputs.ndim not in (2, 3, 4) or not numbers:
        raise DataError(
            f"{data_dir / INPUTS_FILE}: expected numbers shaped (N, H, W) or (N, C, H, W) for"
            f" images, or (N, F) for a table of features; got {inputs.dtype} {inputs.shape}"
        )
    labels_path = data_dir / LABELS_FILE
    if not labels_path.exists() and not require_labels:
        return inputs, None
    labels = load_array(labels_path)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{labels_path}: expected integer class labels shaped (N,);"
            f" got {labels.dtype} {labels.shape}"
        )
    if len(labels) != len(inputs):
        raise DataError(
            f"{data_dir / INPUTS_FILE} holds {len(inputs)} examples but {labels_path}"
            f" {len(labels)} labels: give one label per example"
        )
    if labels.min() < 0:
        raise DataError(f"{labels_path}: labels must be 0 to K-1; found {labels.min()}")
    return inputs, labels


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
        raise DataError(f"data_dir {data_dir}: cannot write the data ({err.strerror})") from None


def check_settings(
    batch_size: int, num_workers: int | None, val_fraction: float, test_fraction: float, seed: int
) -> None:
    """Raise SettingsError, in one line naming the setting, for a value it does not allow."""
    if batch_size < 1:
        raise SettingsError(f"batch_size {batch_size} is not allowed: give 1 or more")
    if num_workers is not None and num_workers < 0:
        raise SettingsError(f"num_workers {num_workers} is not allowed: give 0 or more")
    if not 0 <= seed < 2**32:
        raise SettingsError(f"seed {seed} is not allowed: give 0 to {2**32 - 1}")
    if not (val_fraction >= 0 and test_fraction >= 0 and val_fraction + test_fraction < 1):
        raise SettingsError(
            f"val_fraction {val_fraction} and test_fraction {test_fraction} are not allowed:"
            " give fractions from 0 that leave some examples to train on"
        )


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
        check_settings(batch_size, num_workers, val_fraction, test_fraction, seed)
        self.save_hyperparameters()
        self.train_set = self.val_set = self.test_set = None

    def prepare_data(self) -> None:
        """Write the bundled digits when `data_dir` is the default folder and holds no data yet.

        A folder the user names is only ever read, by the Dataset, which says what is missing.
        """
        # Lightning calls this once per machine, before `setup`.
        data_dir = Path(self.hparams.data_dir)
        if data_dir == Path(DEFAULT_DATA_DIR) and not (data_dir / INPUTS_FILE).exists():
            write_digits(data_dir)

    @cached_property
    def _description(self) -> dict:
        """What the model is built from, read once through the Dataset: its labels and a sample.

        Only `__len__`, `__getitem__` and `labels` are used: a Dataset of any format serves.
        """
        self.prepare_data()
        dataset = {{ cookiecutter.dataset_class }}(self.hparams.data_dir)
        train_indices, _, _ = split_indices(len(dataset), *self._split_settings())
        if not train_indices:
            raise DataError(f"data_dir {self.hparams.data_dir}: too few examples to split")
        sample = (dataset[index][0] for index in sorted(train_indices[:STATISTICS_SAMPLE]))
        mean, std = channel_statistics(sample)
        num_classes = int(dataset.labels.max()) + 1
        if num_classes < 2:
            raise DataError(
                f"{Path(self.hparams.data_dir) / LABELS_FILE}: expected at least 2 classes;"
                " all labels are 0"
            )
        return {
            "input_shape": tuple(dataset[train_indices[0]][0].shape),
            "num_classes": num_classes,
            "input_mean": mean,
            "input_std": std,
        }

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape: (C, H, W) for images, (F,) for a table of features."""
        return self._description["input_shape"]

    @property
    def num_classes(self) -> int:
        """How many classes the labels hold: the largest label plus one."""
        return self._description["num_classes"]

    @property
    def input_mean(self) -> list[float]:
        """Per channel (or feature) mean of the training inputs, for the model to normalise."""
        return self._description["input_mean"]

    @property
    def input_std(self) -> list[float]:
        """Per channel (or feature) standard deviation of the training inputs."""
        return self._description["input_std"]

    def _split_settings(self) -> tuple[float, float, int]:
        return self.hparams.val_fraction, self.hparams.test_fraction, self.hparams.split_seed

    def setup(self, stage: str | None = None) -> None:
        """Split the data the same way on every run and every process."""
        if stage == "predict":
            return  # prediction reads every example, labelled or not
        dataset = {{ cookiecutter.dataset_class }}(self.hparams.data_dir)
        train, val, test = split_indices(len(dataset), *self._split_settings())
        self.train_set = Subset(dataset, train)
        self.val_set = Subset(dataset, val)
        self.test_set = Subset(dataset, test)

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

    def on_exception(self, exception: BaseException) -> None:
        """Stop every DataLoader worker of the interrupted fit, not only the running loop's."""
        # An error, a signal or a pruned trial during validation would otherwise leave the
        # training workers running until the process exits: in tune.py, a set per such trial.
        if self.trainer is not None:
            self.trainer.fit_loop.teardown()

    def _num_workers(self) -> int:
        """The chosen number of workers, or by default two where the machine has cores to spare.

        Lightning advises workers whenever it sees idle cores; two keep up with this data.
        """
        if self.hparams.num_workers is not None:
            return self.hparams.num_workers
        num_devices = self.trainer.num_devices if self.trainer else 1
        return 2 if suggested_max_num_workers(num_devices) > 1 else 0

    def _loader(self, dataset: Dataset, sampler=None) -> DataLoader:
        num_workers = self._num_workers()
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            sampler=sampler,
            num_workers=num_workers,
            # Workers take their seeds from this generator, not the global one, so a resumed
            # run's workers start as an unbroken run's did.
            generator=torch.Generator().manual_seed(self.hparams.seed),
            worker_init_fn=init_worker,
            # Workers live across epochs rather than start again in each, which is slower.
            persistent_workers=num_workers > 0,
        )


def init_worker(worker_id: int) -> None:
    """Seed a DataLoader worker as Lightning does, and leave stopping to the main process."""
    # SIGTERM or Ctrl-C sent to the whole process group would otherwise end the workers
    # mid-batch, and the main process with a DataLoader traceback instead of a clean stop.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A main process stopping mid-way through receiving a batch hangs up on the worker's
    # thread handing it over, which would print that expected hang-up as a traceback.
    sys.excepthook = report_unless_hung_up
    pl_worker_init_function(worker_id)


def report_unless_hung_up(
    exc_type: type[BaseException], exc: BaseException, traceback: TracebackType | None
) -> None:
    """Print an uncaught exception as usual, unless it is a dropped connection."""
    if not issubclass(exc_type, ConnectionError):
        sys.__excepthook__(exc_type, exc, traceback)


def stop_leftover_workers() -> None:
    """Kill the daemon processes, such as DataLoader workers, still running as Python exits."""
    # A loader stops its workers when its run ends, but an error can skip that. Python itself
    # sends daemons SIGTERM and waits for them to end: forever, as ours ignore it (init_worker).
    leftovers = [child for child in multiprocessing.active_children() if child.daemon]
    if not leftovers:
        return
    if hasattr(signal, "SIGCHLD"):  # not on Windows
        # torch reports a worker that dies of a signal as an error; here it is the plan.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for worker in leftovers:
        worker.kill()
        worker.join()


# atexit calls the last registered first: this, then torch's and multiprocessing's own.
atexit.register(stop_leftover_workers)


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
