"""Length-bucketed batches: every example once per epoch, disjoint equal rank slices, reproducible, less padding."""

from __future__ import annotations

import random

import pytest

from ner.data.buckets import bucket_keys, bucketed_batches
from ner.data.sampling import batches_per_epoch, epoch_batches


def _views(n: int, seed: int = 0, sources: int | None = None) -> list[tuple[list[str], list[str] | None]]:
    """n (source, code-switched) token lists of mixed lengths; `sources` distinct source sentences (repeats)."""
    rng = random.Random(seed)
    srcs = [[f"w{k}-{i}" for i in range(rng.choice([2, 3, 5, 8, 13, 30, 60]))] for k in range(sources or n)]
    out: list[tuple[list[str], list[str] | None]] = []
    for k in range(n):
        src = srcs[k % len(srcs)]
        cs = None if k % 7 == 0 else ["c"] * max(1, int(len(src) * rng.choice([0.5, 1, 2, 3])))
        out.append((src, cs))
    return out


def _padded_cells(views, batches) -> int:
    return sum(len(b) * (max(len(views[i][0]) for i in b) ** 2 + max(len(views[i][1] or ()) for i in b) ** 2)
               for b in batches)


@pytest.mark.parametrize(("n", "batch", "world"), [(100, 8, 1), (101, 8, 2), (37, 4, 3), (5, 8, 2)])
def test_every_example_once_disjoint_equal_rank_slices(n: int, batch: int, world: int) -> None:
    keys, groups = bucket_keys(_views(n))
    ranks = [bucketed_batches(keys, groups, batch, epoch=3, seed=13, pool=4, rank=r, world_size=world)
             for r in range(world)]
    per_rank = [sum(len(b) for b in r) for r in ranks]
    assert len({*per_rank}) == 1 and per_rank[0] * world >= n  # equal slices (padded like DistributedSampler)
    assert all(len(r) == batches_per_epoch(n, batch, world) for r in ranks)  # same step count as before
    seen = [i for r in ranks for b in r for i in b]
    assert set(seen) == set(range(n)) and len(seen) - n == per_rank[0] * world - n  # only the padding repeats
    if per_rank[0] * world == n:
        assert len(set(seen)) == len(seen)  # disjoint
    assert all(sum(len(b) != batch for b in r) <= 1 for r in ranks)  # at most one short batch, anywhere


def test_reproducible_by_seed_and_epoch_and_one_process_sees_the_global_batches() -> None:
    keys, groups = bucket_keys(_views(96))
    a = bucketed_batches(keys, groups, 8, epoch=0, seed=1, pool=4)
    assert a == bucketed_batches(keys, groups, 8, epoch=0, seed=1, pool=4)
    assert a != bucketed_batches(keys, groups, 8, epoch=1, seed=1, pool=4)
    assert a != bucketed_batches(keys, groups, 8, epoch=0, seed=2, pool=4)
    # two ranks at batch 4 = one process at batch 8, global batch by global batch (what DDP's comparison needs)
    r0, r1 = (bucketed_batches(keys, groups, 4, epoch=0, seed=1, pool=4, rank=r, world_size=2) for r in (0, 1))
    assert [sorted(x + y) for x, y in zip(r0, r1, strict=True)] == [sorted(b) for b in a]


def test_bucketing_cuts_padding_and_keeps_repeated_sources_apart() -> None:
    views = _views(2000, sources=400)  # every source sentence in 5 examples, as 10 targets share one English pool
    keys, groups = bucket_keys(views)
    plain = epoch_batches(len(views), 8, 0, 13)
    bucketed = bucketed_batches(keys, groups, 8, 0, 13, pool=32)
    assert _padded_cells(views, bucketed) < 0.6 * _padded_cells(views, plain)
    repeats = sum(len({groups[i] for i in b}) < len(b) for b in bucketed)
    assert repeats <= 0.02 * len(bucketed), repeats


def test_pool_zero_is_the_plain_sampler() -> None:
    keys, groups = bucket_keys(_views(50))
    assert epoch_batches(50, 16, 0, 1, buckets=(keys, groups), pool=0) == epoch_batches(50, 16, 0, 1)
    assert epoch_batches(50, 16, 0, 1, buckets=(keys, groups), pool=2) == bucketed_batches(keys, groups, 16, 0, 1, 2)
