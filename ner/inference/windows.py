"""Long sentences tagged in overlapping windows of words, their entities merged (`ner predict`).

A sentence of more than `max_words` words is cut into windows of `max_words` words that overlap by
`overlap` words (the last window ends at the sentence's end); every window is tagged on its own, in the
same length-sorted batches as other sentences (`ner.inference.tagging`). Merging keeps, of entities that
overlap, the one farthest from an edge of its window (a sentence's own ends are no window edge), so an
entity cut by one window's edge is taken whole from the window that sees it in context; the result has
no duplicate and no crossing spans. A sentence within the limit is one window, tagged as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ner.inference.tagging import predict_entities
from ner.model.grid import Entity
from ner.model.ner_model import NerModel

MAX_WORDS = 128  # longest sentence tagged whole, in words (tokens: characters in zh and ja)
WINDOW_OVERLAP = 32  # words shared by consecutive windows


def check_window(max_words: int, overlap: int) -> None:
    """Raise ValueError unless `max_words` >= 0 (0: no windows) and 0 <= `overlap` < `max_words`."""
    if max_words < 0:
        raise ValueError(f"max_words must be >= 0 (0 = no limit), got {max_words}")
    if max_words and not 0 <= overlap < max_words:
        raise ValueError(f"the window overlap ({overlap}) must be >= 0 and smaller than max_words ({max_words})")


def windows(n: int, max_words: int = MAX_WORDS, overlap: int = WINDOW_OVERLAP) -> list[tuple[int, int]]:
    """Word spans `(start, end)`, end-exclusive, of the windows of an `n`-word sentence."""
    check_window(max_words, overlap)
    if not max_words or n <= max_words:
        return [(0, n)]
    out, start = [], 0
    while start + max_words < n:
        out.append((start, start + max_words))
        start += max_words - overlap
    out.append((n - max_words, n))
    return out


def merge_windows(found: Sequence[tuple[int, int, Sequence[Entity]]], n: int) -> list[Entity]:
    """One sentence's entities from its windows' `(start, end, entities)` (entity positions relative to
    the window): of overlapping entities the one farthest from its window's edges, ties to the earlier
    window; sorted by position. A single window's entities are returned as they are."""
    if len(found) == 1:
        return list(found[0][2])
    ranked = []
    for k, (start, end, ents) in enumerate(found):
        for e in ents:
            first, last = e.start + start, e.last + start
            left = first - start if start > 0 else math.inf
            right = end - 1 - last if end < n else math.inf
            ranked.append((-min(left, right), k, first, Entity(first, last, e.type, e.score)))
    kept: list[Entity] = []
    for *_, e in sorted(ranked, key=lambda r: r[:3]):
        if not any(e.overlaps(other) for other in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)


def predict_windowed(model: NerModel, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                     amp: torch.dtype | None = None, max_words: int = MAX_WORDS,
                     overlap: int = WINDOW_OVERLAP) -> list[list[Entity]]:
    """`predict_entities` with sentences longer than `max_words` tagged in windows (0: none), in input order."""
    pieces: list[list[str]] = []
    owner: list[tuple[int, int, int]] = []
    for i, sent in enumerate(sentences):
        for start, end in windows(len(sent), max_words, overlap):
            pieces.append(list(sent[start:end]))
            owner.append((i, start, end))
    found = predict_entities(model, pieces, batch_size, amp)
    per: list[list[tuple[int, int, list[Entity]]]] = [[] for _ in sentences]
    for (i, start, end), ents in zip(owner, found, strict=True):
        per[i].append((start, end, ents))
    return [merge_windows(p, len(s)) for p, s in zip(per, sentences, strict=True)]


__all__ = ["MAX_WORDS", "WINDOW_OVERLAP", "check_window", "merge_windows", "predict_windowed", "windows"]
