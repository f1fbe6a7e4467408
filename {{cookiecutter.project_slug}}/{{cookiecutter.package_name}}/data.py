"""The data: a Dataset that reads images from disk, and the LightningDataModule around it.

To train on your own data, change `prepare_data` (fetch or write the files) and the
Dataset (read one example); the rest of the project stays as it is.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from pytorch_lightning.utilities import suggested_max_num_workers
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from .errors import DataError

IMAGES_FILE = "images.npy"
LABELS_FILE = "labels.npy"


class {{ cookiecutter.dataset_class }}(Dataset):
    """Images and labels stored as two .npy files in `data_dir`.

    The arrays are memory-mapped, not loaded: each process reads only the examples it
    is asked for, so memory stays flat however large the files grow.
    """

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.images, self.labels = open_arrays(self.data_dir)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        if self.images is None:
            self.images, self.labels = open_arrays(self.data_dir)
        # Pixels are 0..16 in the digits data; scale them to 0..1 for the network.
        image = torch.from_numpy(self.images[index].astype(np.float32) / 16.0)
        return image.unsqueeze(0), int(self.labels[index])

    def __getstate__(self):
        # DataLoader workers reopen the memory maps instead of receiving a copy of the data.
        return {**self.__dict__, "images": None, "labels": None}


def open_arrays(data_dir):
    """Memory-map the images and labels, or raise DataError naming the bad file."""
    images = load_array(data_dir / IMAGES_FILE, ndim=3)
    labels = load_array(data_dir / LABELS_FILE, ndim=1)
    if len(images) != len(labels):
        raise DataError(f"{data_dir}: {len(images)} images but {len(labels)} labels")
    return images, labels


def load_array(path, ndim):
    """Memory-map one .npy file, or raise DataError naming it."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npy file ({err})") from None
    if array.ndim != ndim or len(array) == 0:
        raise DataError(f"{path}: expected a non-empty {ndim}-d array, got shape {array.shape}")
    return array


def write_array_atomically(path, array):
    """Write a .npy file under a temporary name first, so a crash never leaves half a file."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            np.save(temp_file, array)
        os.replace(temp_name, path)
    except BaseException:
        os.unlink(temp_name)
        raise


class SeededShuffleSampler(Sampler):
    """Shuffles with a permutation that depends only on the seed and the epoch.

    A run resumed from a checkpoint therefore sees the same order as one that never
    stopped. Lightning calls `set_epoch` before every training epoch.
    """

    def __init__(self, num_samples, seed):
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.num_samples, generator=generator).tolist())

    def __len__(self):
        return self.num_samples


def global_seed():
    """The seed given to pl.seed_everything, which stores it in PL_GLOBAL_SEED."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


class {{ cookiecutter.datamodule_class }}(pl.LightningDataModule):
    """Writes the data to `data_dir` once, splits it, and serves the DataLoaders."""

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 128,
        num_workers: int | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.train_set = self.val_set = self.test_set = self.predict_set = None

    def prepare_data(self):
        """Write the bundled handwritten digits to `data_dir`, unless data is already there.

        Lightning calls this once per machine, before `setup`. Replace the body with
        code that downloads or converts your own data into the same two files.
        """
        data_dir = Path(self.hparams.data_dir)
        # Never overwrite: existing files are the user's data, even if setup finds them broken.
        if (data_dir / IMAGES_FILE).exists() or (data_dir / LABELS_FILE).exists():
            return
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            # Imported here: scikit-learn is only needed the first time.
            from sklearn.datasets import load_digits

            digits = load_digits()
            write_array_atomically(data_dir / IMAGES_FILE, digits.images.astype(np.uint8))
            write_array_atomically(data_dir / LABELS_FILE, digits.target.astype(np.int64))
        except OSError as err:
            raise DataError(
                f"data_dir {data_dir}: cannot create or write the data ({err.strerror})"
            ) from None

    def setup(self, stage=None):
        """Split the data the same way on every run and every process."""
        dataset = {{ cookiecutter.dataset_class }}(self.hparams.data_dir)
        generator = torch.Generator().manual_seed(self.hparams.split_seed)
        order = torch.randperm(len(dataset), generator=generator).tolist()
        num_test = round(len(dataset) * self.hparams.test_fraction)
        num_val = round(len(dataset) * self.hparams.val_fraction)
        self.test_set = Subset(dataset, order[:num_test])
        self.val_set = Subset(dataset, order[num_test : num_test + num_val])
        self.train_set = Subset(dataset, order[num_test + num_val :])
        self.predict_set = dataset

    def train_dataloader(self):
        sampler = SeededShuffleSampler(len(self.train_set), seed=global_seed())
        return self._loader(self.train_set, sampler=sampler)

    def val_dataloader(self):
        return self._loader(self.val_set)

    def test_dataloader(self):
        return self._loader(self.test_set, sampler=self._test_sampler())

    def predict_dataloader(self):
        return self._loader(self.predict_set)

    def _test_sampler(self):
        """Under DDP, give each process a disjoint share, unpadded, so each example counts once.

        Lightning's default DistributedSampler pads the shares to equal length by repeating
        examples, which would skew the test metrics.
        """
        if self.trainer is None or self.trainer.world_size == 1:
            return None
        return UnrepeatedDistributedSampler(
            self.test_set,
            num_replicas=self.trainer.world_size,
            rank=self.trainer.global_rank,
            shuffle=False,
        )

    def _num_workers(self):
        """The chosen number of workers, or by default two where the machine has cores to spare.

        Lightning advises workers whenever it sees idle cores; two keep up with this data.
        """
        if self.hparams.num_workers is not None:
            return self.hparams.num_workers
        num_devices = self.trainer.num_devices if self.trainer else 1
        return 2 if suggested_max_num_workers(num_devices) > 1 else 0

    def _loader(self, dataset, sampler=None):
        num_workers = self._num_workers()
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            sampler=sampler,
            num_workers=num_workers,
            # Starting an iterator draws the workers' seeds from this generator, not from
            # the global one, so dropout in a resumed run draws what an unbroken run draws.
            generator=torch.Generator().manual_seed(global_seed()),
            # Workers live across epochs: starting them again each epoch costs more
            # than an epoch of this small data set.
            persistent_workers=num_workers > 0,
        )
