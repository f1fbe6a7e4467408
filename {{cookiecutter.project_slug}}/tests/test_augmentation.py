"""The augmentation changes training images and repeats exactly: its draws are its own."""

import itertools
import random

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import (
    {{ cookiecutter.datamodule_class }},
    augment_image,
)
from {{ cookiecutter.package_name }}.machinery.augmentation import example_generator

from conftest import assert_no_workers_left


def training_batches(data_dir, num_workers, epoch, global_seed, augment=True):
    """The first training batches of `epoch`, after every global generator got `global_seed`."""
    # An augmentation drawing from torch's, numpy's or Python's own generator, or from a
    # worker's, would give other images here for another global seed or worker count.
    torch.manual_seed(global_seed)
    np.random.seed(global_seed)
    random.seed(global_seed)
    datamodule = {{ cookiecutter.datamodule_class }}(
        data_dir=str(data_dir),
        batch_size=64,
        num_workers=num_workers,
        augment=augment,
    )
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    loader.sampler.set_epoch(epoch)
    batches = [inputs for inputs, _ in itertools.islice(loader, 3)]
    del loader  # its persistent workers stop with it
    return torch.cat(batches)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_augmented_batches_repeat_with_any_workers_and_global_state(data_dir, num_workers):
    reference = training_batches(data_dir, 0, epoch=1, global_seed=1)
    assert torch.equal(training_batches(data_dir, num_workers, epoch=1, global_seed=2), reference)
    assert_no_workers_left()


def test_each_epoch_draws_anew_and_changes_the_images(data_dir):
    plain = training_batches(data_dir, 0, epoch=0, global_seed=0, augment=False)
    first = training_batches(data_dir, 0, epoch=0, global_seed=0)
    second = training_batches(data_dir, 0, epoch=1, global_seed=0)
    # The same order each epoch would mean the same examples: the sampler shuffles by epoch,
    # so compare epoch 0's augmented batch with its plain one, example for example.
    changed = (first - plain).abs().flatten(1).amax(dim=1) > 1e-3
    assert changed.float().mean() > 0.9
    assert not torch.equal(first, second)


def test_an_example_draws_the_same_in_the_same_epoch_only():
    image = torch.arange(64, dtype=torch.float32).reshape(1, 8, 8)
    same = [augment_image(image, example_generator(42, 3, 7)) for _ in range(2)]
    assert torch.equal(*same)
    for seed, epoch, index in [(43, 3, 7), (42, 4, 7), (42, 3, 8)]:
        assert not torch.equal(augment_image(image, example_generator(seed, epoch, index)), same[0])


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 20)])
def test_images_keep_their_shape_and_range(shape):
    image = torch.rand(shape) * 16
    augmented = augment_image(image, example_generator(0, 0, 0))
    assert augmented.shape == image.shape and augmented.dtype == torch.float32
    assert image.min() - 1e-5 <= augmented.min() and augmented.max() <= image.max() + 1e-5


def test_a_table_row_is_left_as_it_is():
    row = torch.rand(6)
    assert torch.equal(augment_image(row, example_generator(0, 0, 0)), row)
