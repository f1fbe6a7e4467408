"""The Dataset reads the files prepare_data writes, and the DataModule splits them."""

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.errors import DataError


def test_dataset_reads_every_digit(data_dir):
    dataset = data.{{ cookiecutter.dataset_class }}(data_dir)
    image, label = dataset[0]
    assert len(dataset) == 1797
    assert image.shape == (1, 8, 8)
    assert image.dtype == torch.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert isinstance(label, int) and 0 <= label <= 9


def test_splits_are_disjoint_complete_and_repeatable(data_dir):
    first = data.{{ cookiecutter.datamodule_class }}(data_dir=data_dir)
    first.setup("fit")
    second = data.{{ cookiecutter.datamodule_class }}(data_dir=data_dir)
    second.setup("fit")
    sizes = [len(first.train_set), len(first.val_set), len(first.test_set)]
    assert sizes == [1258, 180, 359]
    indices = [set(split.indices) for split in (first.train_set, first.val_set, first.test_set)]
    assert set().union(*indices) == set(range(1797))
    assert sum(len(split) for split in indices) == 1797
    assert first.test_set.indices == second.test_set.indices


def test_dataloaders_give_batches_of_images_and_labels(data_dir):
    datamodule = data.{{ cookiecutter.datamodule_class }}(data_dir=data_dir, batch_size=32)
    datamodule.setup("fit")
    images, labels = next(iter(datamodule.train_dataloader()))
    assert images.shape == (32, 1, 8, 8)
    assert labels.shape == (32,)
    assert len(datamodule.val_dataloader()) == 6  # 180 examples in batches of 32


def test_shuffle_order_depends_only_on_seed_and_epoch():
    sampler = data.SeededShuffleSampler(100, seed=7)
    sampler.set_epoch(3)
    again = data.SeededShuffleSampler(100, seed=7)
    again.set_epoch(3)
    assert list(sampler) == list(again)
    assert sorted(sampler) == list(range(100))
    again.set_epoch(4)
    assert list(sampler) != list(again)


def test_prepare_data_keeps_existing_files(tmp_path):
    np.save(tmp_path / "labels.npy", np.arange(3))
    data.{{ cookiecutter.datamodule_class }}(data_dir=tmp_path).prepare_data()
    assert np.load(tmp_path / "labels.npy").tolist() == [0, 1, 2]


def test_unwritable_data_dir_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match="cannot create or write"):
        data.{{ cookiecutter.datamodule_class }}(data_dir=blocker / "data").prepare_data()
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("content", [b"", b"this is not numpy"], ids=["empty", "malformed"])
def test_broken_data_file_is_reported_by_name(data_dir, tmp_path, content):
    (tmp_path / "images.npy").write_bytes((data_dir / "images.npy").read_bytes())
    (tmp_path / "labels.npy").write_bytes(content)
    with pytest.raises(DataError, match="labels.npy"):
        data.{{ cookiecutter.dataset_class }}(tmp_path)
    assert (tmp_path / "labels.npy").read_bytes() == content


def test_mismatched_files_are_reported(tmp_path):
    np.save(tmp_path / "images.npy", np.zeros((4, 8, 8), dtype=np.uint8))
    np.save(tmp_path / "labels.npy", np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError, match="4 images but 3 labels"):
        data.{{ cookiecutter.dataset_class }}(tmp_path)
