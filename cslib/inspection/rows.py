"""Rows of a finished shard set for people: the one loop that picks rows, and entity marking.

`cslib inspect`, `cslib.examples`, the task reports and the notebook view all pick rows here,
so the filters and `offset` mean the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

from .. import shards
from ..iob import spans


def pick_rows(directory: str | Path, n: int, offset: int = 0, switched_only: bool = False,
              method: str | None = None, entity_type: str | None = None) -> list[dict]:
    """The first `n` rows, after skipping `offset` of them, that pass the filters: something
    switched, a switch method, a source entity of `entity_type` (IOB2 tags); none for n <= 0."""
    out: list[dict] = []
    if n <= 0:
        return out
    for row in shards.iter_rows(directory):
        if switched_only and not row["n_switched"]:
            continue
        if method is not None and row["method"] != method:
            continue
        if entity_type is not None and f"B-{entity_type}" not in row["src_tags"]:
            continue
        if offset:
            offset -= 1
            continue
        out.append(row)
        if len(out) >= n:
            break
    return out


def mark_entities(tokens: list[str], tags: list[str], joiner: str = " ") -> str:
    """`[Tokyo]LOC is big`: entities bracketed with their type."""
    out = list(tokens)
    for s in reversed(spans(tags)):
        out[s.start:s.end] = [f"[{joiner.join(tokens[s.start:s.end])}]{s.type}"]
    return joiner.join(out)
