"""Training order: epochs of index batches, a second seeded stream, the pseudo-label share, the DataLoader.

Every order is a pure function of (seed, epoch or step, rank, world size), which is what exact resumption
and torchrun need; callers pass their rank and world size (`ner.training.distributed.world`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ner.data.buckets import bucketed_batches
from ner.data.records import Example


def pair_batch(n: int, batch_size: int, step: int, seed: int, rank: int = 0, size: int = 1) -> list[int]:
    """Rank `rank` of `size`'s indices of a second data stream (the target pairs) at `step`: consecutive
    slices of a fresh seeded permutation per pass, a pure function of (seed, step, rank, size), so a
    resumed run draws exactly what an uninterrupted one would."""
    out = []
    for k in range(batch_size):
        epoch, pos = divmod((step * size + rank) * batch_size + k, n)
        out.append(int(_permutation(n, seed, epoch)[pos]))
    return out


@functools.lru_cache(maxsize=4)
def _permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))


class PairDataset(Dataset[Example]):
    """Code-switched pairs (and single-view pseudo-labeled examples) for training."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]


def batches_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Optimizer steps in one epoch: DistributedSampler pads every rank to ceil(n / world)."""
    return max(1, math.ceil(math.ceil(n / world_size) / batch_size))


def epoch_batches(n: int, batch_size: int, epoch: int, seed: int, shuffle: bool = True,
                  buckets: tuple[Sequence[tuple[int, int]], Sequence[int]] | None = None,
                  pool: int = 0, rank: int = 0, size: int = 1) -> list[list[int]]:
    """Rank `rank` of `size`'s index batches for `epoch`, a pure function of (seed, epoch, rank, size).

    Using `DistributedSampler` (with world size 1 outside torchrun) gives every rank a disjoint,
    equally long slice and makes the order reproducible, which is what exact resumption needs:
    a resumed run recomputes the epoch's batches and skips the ones already done. With `buckets`
    (`ner.data.buckets.bucket_keys` of the n examples) and `pool` >= 1 the batches are length-bucketed
    (`ner.data.buckets.bucketed_batches`): the same guarantees, as many batches, less padding.
    """
    if buckets is not None and pool > 0 and shuffle:
        keys, groups = buckets
        if len(keys) != n or len(groups) != n:
            raise ValueError(f"bucket keys for {len(keys)} examples, expected {n}")
        return bucketed_batches(keys, groups, batch_size, epoch, seed, pool, rank, size)
    sampler = DistributedSampler(range(n), num_replicas=size, rank=rank, shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    idx = list(sampler)
    return [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]


def make_loader(dataset: Dataset, batches: Sequence[list[int]]) -> DataLoader:
    """A DataLoader over precomputed index batches; items stay Python lists (the model collates).

    It gets its own generator: by default every new DataLoader iterator draws its worker base
    seed from the global torch RNG, which would shift dropout masks after a mid-epoch resume.
    """
    return DataLoader(dataset, batch_sampler=list(batches), collate_fn=list, num_workers=0,
                      generator=torch.Generator().manual_seed(0))


def pseudo_repeat(n_pairs: int, n_pseudo: int, fraction: float | None, cap: int = 20) -> int:
    """Copies of each pseudo-labeled row so that they make up about `fraction` of the pool."""
    if not n_pseudo or not fraction:
        return 1
    return max(1, min(cap, round(fraction * n_pairs / ((1.0 - fraction) * n_pseudo))))
