"""Random augmentation that repeats exactly: each example's draws come from (seed, epoch, index)."""

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Subset


class EpochTaggedSampler(DistributedSampler):
    """A DistributedSampler whose items are (epoch, position): the workers learn the epoch."""

    # DataLoader workers live across epochs with their own copy of the dataset; the epoch has
    # to travel with each index, as Lightning sets it on the sampler in the main process only.

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        return ((epoch, position) for position in super().__iter__())


class AugmentedSubset(Dataset):
    """A Subset whose inputs pass through `augment(inputs, generator)`; keys are (epoch, position).

    The generator is the example's own for that epoch, the same in any process and any run.
    """

    def __init__(
        self,
        subset: Subset,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
        seed: int,
    ):
        self.subset = subset
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.subset)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        epoch, position = key
        index = self.subset.indices[position]
        inputs, *labels = self.subset.dataset[index]
        return (self.augment(inputs, example_generator(self.seed, epoch, index)), *labels)


def example_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator of its own for one example in one epoch, independent of every other."""
    # SeedSequence mixes the three numbers well: nearby seeds, epochs and indices give
    # unrelated streams, which seed + epoch + index would not.
    (state,) = np.random.SeedSequence([seed, epoch, int(index)]).generate_state(1, np.uint64)
    return torch.Generator().manual_seed(int(state))
