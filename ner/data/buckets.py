"""Length-bucketed training batches: the same epoch with less padding.

A padded batch costs what its longest sentence costs: the encoder pays per padded sub-word row and
the relation head's convolutions per padded word pair (W^2). Uniformly drawn batches mix 3-word
titles with 60-word sentences, so most of their word pairs are padding; pools of batches sorted by
length remove most of it (docs/benchmarks.md has the figures).

An epoch, a pure function of (seed, epoch, world size) and the examples' lengths:

1. shuffle all indices with the generator `DistributedSampler` uses (seed + epoch) and pad them to a
   multiple of the world size as it does;
2. split them into pools of `pool` global batches (batch size x world size indices each);
3. sort each pool by length (longest view, then both views together) and cut it into global batches,
   keeping two examples with the same source sentence (a sentence code-switched into several targets,
   a repeated pseudo-label) out of one global batch where the pool allows;
4. shuffle the order of all global batches;
5. rank r takes positions r, r + world, ... of every global batch: disjoint, equally many, similar
   lengths on every rank, and one process at batch 2B sees the same global batches as two at B.

Effect on randomness: every example is still seen exactly once per epoch, the pool an example falls
in and the place of a batch in the epoch are uniform, but batchmates are no longer a uniform draw:
they are examples of similar length from the same pool of `pool x batch x world` examples. Languages
whose code-switched views are longer (ja, zh: one token per character) therefore share batches more
often, which changes the in-batch negatives of the contrastive losses; repeated source sentences,
which sorting would put side by side, are kept apart
(step 3). `pool` 0 turns bucketing off: exactly `DistributedSampler`'s batches.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import torch


def bucket_keys(views: Sequence[tuple[Sequence[str], Sequence[str] | None]]) -> tuple[list[tuple[int, int]], list[int]]:
    """(sort key, source group) per (source tokens, code-switched tokens or None) example.

    The key is (longest view, both views' total) in words; examples with the same source tokens share a group.
    """
    keys, groups = [], []
    seen: dict[tuple[Hashable, ...], int] = {}
    for src, cs in views:
        n_src, n_cs = len(src), len(cs or ())
        keys.append((max(n_src, n_cs), n_src + n_cs))
        groups.append(seen.setdefault(tuple(src), len(seen)))
    return keys, groups


def bucketed_batches(keys: Sequence[tuple[int, int]], groups: Sequence[int], batch_size: int, epoch: int, seed: int,
                     pool: int, rank: int = 0, world_size: int = 1) -> list[list[int]]:
    """This rank's index batches of `epoch` (see the module docstring); `pool` >= 1 global batches per pool."""
    n = len(keys)
    if pool < 1 or n == 0:
        raise ValueError(f"need pool >= 1 and at least one example, got pool {pool}, {n} examples")
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    idx = torch.randperm(n, generator=g).tolist()
    total = math.ceil(n / world_size) * world_size
    if total > n:  # DistributedSampler's padding: repeat the start of the permutation
        idx += (idx * math.ceil((total - n) / n))[: total - n]
    width = batch_size * world_size
    global_batches: list[list[int]] = []
    for start in range(0, total, width * pool):
        chunk = sorted(idx[start : start + width * pool], key=keys.__getitem__)  # stable: ties keep the shuffle
        global_batches += _cut(chunk, width, groups)
    order = torch.randperm(len(global_batches), generator=g).tolist()
    return [global_batches[o][rank::world_size] for o in order]


def _cut(chunk: list[int], width: int, groups: Sequence[int]) -> list[list[int]]:
    """Consecutive batches of `width` from a sorted pool; an example whose group is already in the batch
    waits for the next one (so the length order barely moves); only a pool that has nothing else left
    puts two of a group together."""
    batches = []
    pending = chunk
    while pending:
        batch: list[int] = []
        seen: set[int] = set()
        rest: list[int] = []
        for i in pending:
            if len(batch) < width and groups[i] not in seen:
                batch.append(i)
                seen.add(groups[i])
            else:
                rest.append(i)
        take = width - len(batch)
        batch += rest[:take]
        batches.append(batch)
        pending = rest[take:]
    return batches
