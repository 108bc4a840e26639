"""Straightforward implementations that the fast paths of `ner` must equal, kept as their specification.

Tests check the fast paths against these (identical outputs), and benchmarks/ time them as "today's path".
Nothing else imports this module.
"""

from __future__ import annotations

import numpy as np

from .grid import NNW_ID, THW_OFFSET, Entity, RelationSchema


def decode_grid_loop(probs: np.ndarray, schema: RelationSchema) -> list[Entity]:
    """`ner.grid.decode_grid` written as its definition reads: a loop over candidate cells, then the
    greedy overlap resolution (see there for the rules)."""
    if probs.ndim != 3 or probs.shape[0] != probs.shape[1]:
        raise ValueError(f"expected probabilities of shape [n, n, C], got {probs.shape}")
    if probs.shape[2] != schema.num_labels:
        raise ValueError(f"expected {schema.num_labels} labels, got {probs.shape[2]}")
    n = probs.shape[0]
    if n == 0:
        return []
    pred = probs.argmax(-1)
    sup = np.arange(n - 1)
    # broken[k] = number of super-diagonal cells among the first k that are not NNW.
    broken = np.concatenate([[0], np.cumsum(pred[sup, sup + 1] != NNW_ID)])
    nnw_mass = np.concatenate([[0.0], np.cumsum(probs[sup, sup + 1, NNW_ID], dtype=np.float64)])
    ends, starts = np.nonzero(np.tril(pred >= THW_OFFSET))
    candidates: list[Entity] = []
    for e, s in zip(ends.tolist(), starts.tolist(), strict=True):
        if broken[e] - broken[s] != 0:
            continue
        label = int(pred[e, s])
        score = (float(probs[e, s, label]) + float(nnw_mass[e] - nnw_mass[s])) / (e - s + 1)
        candidates.append(Entity(s, e, schema.entity_types[label - THW_OFFSET], score))
    candidates.sort(key=lambda c: (-c.score, c.start, c.last))
    taken = np.zeros(n, dtype=bool)
    kept: list[Entity] = []
    for cand in candidates:
        if not taken[cand.start : cand.last + 1].any():
            taken[cand.start : cand.last + 1] = True
            kept.append(cand)
    kept.sort(key=lambda c: c.start)
    return kept
