"""Exact conversion between IOB2 tag sequences and W2NER word-pair relation grids.

W2NER casts NER as classifying every ordered word pair ``(i, j)`` of a sentence:

* ``NNW`` (next-neighbouring-word) at ``grid[i, i + 1]`` links consecutive words of one entity
  (upper triangle, first super-diagonal only, because PAN-X entities are flat and contiguous);
* ``THW-T`` (tail-head-word) at ``grid[end, start]`` closes an entity of type ``T`` (lower
  triangle, or the diagonal for a one-word entity);
* ``NONE`` everywhere else.

Adjacent entities of the same type stay distinct because the NNW link is only drawn *inside*
an entity, which is exactly the information IOB2 carries in its ``B-`` prefix.  The encoding
is therefore lossless for valid IOB2 and :func:`decode_grid` inverts it exactly on one-hot
input (checked by a property test).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

NONE = "NONE"
NNW = "NNW"
THW_PREFIX = "THW-"
NONE_ID = 0
NNW_ID = 1
THW_OFFSET = 2  # id of the first THW-<type> label
DECODED_OFFSET = 1  # decode_grid reads only cells (i, j) with j - i <= 1: THW on/below the diagonal, NNW just above
# The longest entity inference decodes, in words (0 or None: no limit). Decoding then reads only cells with
# j - i >= 1 - MAX_ENTITY_WORDS, which lets long sentences run the head on a band (ner.model.heads.relation_band) instead
# of their W x W grid. No PAN-X entity comes near it (longest in 1,000 dev sentences per language: 22
# characters in ja, 18 in zh, 15 words in de); `ner evaluate/predict --max-entity-words 0` lifts it.
MAX_ENTITY_WORDS = 32


@dataclass
class Entity:
    """A flat entity span over words ``start..last``, **both inclusive** (``last`` is the entity's last
    word, as the relation grid stores it), with a confidence score. Not to be confused with
    ``cslib.iob.Span``, whose ``end`` is exclusive; output formats convert with ``last + 1``."""

    start: int
    last: int
    type: str
    score: float = 1.0

    def overlaps(self, other: Entity) -> bool:
        return self.start <= other.last and other.start <= self.last


def _split_tag(tag: str, position: int) -> tuple[str, str]:
    """Return ``(prefix, type)`` of an IOB2 tag; ``("O", "")`` for outside."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BI":
        return tag[0], tag[2:]
    raise ValueError(f"invalid IOB2 tag {tag!r} at position {position}")


def tags_to_entities(tags: Sequence[str], *, strict: bool = True) -> list[Entity]:
    """Spans of an IOB2 sequence (score 1.0), in order.

    With ``strict`` an ``I-T`` that does not continue a ``B-T``/``I-T`` raises ``ValueError``;
    without it such a tag opens a new entity (the usual IOB1-style repair of model output).
    """
    entities: list[Entity] = []
    current: Entity | None = None
    for pos, tag in enumerate(tags):
        prefix, etype = _split_tag(tag, pos)
        if prefix == "I" and current is not None and current.type == etype:
            current.last = pos
            continue
        if prefix == "I" and strict:
            prev = tags[pos - 1] if pos else "<start>"
            raise ValueError(f"invalid IOB2: {tag!r} at position {pos} follows {prev!r}")
        if current is not None:
            entities.append(current)
            current = None
        if prefix != "O":
            current = Entity(pos, pos, etype, 1.0)
    if current is not None:
        entities.append(current)
    return entities


def entities_to_tags(entities: Iterable[Entity], n: int) -> list[str]:
    """IOB2 tags of length ``n`` for flat, non-overlapping, in-range entities (else ``ValueError``)."""
    tags = ["O"] * n
    for ent in sorted(entities, key=lambda e: (e.start, e.last)):
        if not 0 <= ent.start <= ent.last < n:
            raise ValueError(f"entity {ent.start}..{ent.last} out of range for {n} words")
        if any(t != "O" for t in tags[ent.start : ent.last + 1]):
            raise ValueError(f"entity {ent.start}..{ent.last} ({ent.type}) overlaps another entity")
        tags[ent.start] = f"B-{ent.type}"
        for i in range(ent.start + 1, ent.last + 1):
            tags[i] = f"I-{ent.type}"
    return tags


@dataclass(frozen=True)
class RelationSchema:
    """Label inventory of the grid: ``NONE``, ``NNW`` and one ``THW-<type>`` per entity type.

    Types are stored sorted and de-duplicated so that two schemas built from the same data in a
    different order produce the same label ids (weights stay compatible).
    """

    entity_types: tuple[str, ...]

    def __post_init__(self) -> None:
        types = tuple(sorted(set(self.entity_types)))
        for t in types:
            if not isinstance(t, str) or not t or t != t.strip() or " " in t:
                raise ValueError(f"invalid entity type {t!r}")
        object.__setattr__(self, "entity_types", types)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        return (NONE, NNW, *(THW_PREFIX + t for t in self.entity_types))

    @cached_property
    def label_to_id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def thw_id(self, entity_type: str) -> int:
        try:
            return self.label_to_id[THW_PREFIX + entity_type]
        except KeyError:
            raise ValueError(
                f"unknown entity type {entity_type!r} (schema has {list(self.entity_types)})"
            ) from None

    @classmethod
    def from_tags(cls, tag_sequences: Iterable[Sequence[str]]) -> RelationSchema:
        """Schema with every entity type that occurs in ``tag_sequences`` (IOB2)."""
        types: set[str] = set()
        for tags in tag_sequences:
            for pos, tag in enumerate(tags):
                prefix, etype = _split_tag(tag, pos)
                if prefix != "O":
                    types.add(etype)
        return cls(tuple(types))

    def to_dict(self) -> dict[str, Any]:
        return {"entity_types": list(self.entity_types), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelationSchema:
        schema = cls(tuple(data["entity_types"]))
        if "labels" in data and tuple(data["labels"]) != schema.labels:
            raise ValueError(
                f"label list {list(data['labels'])} does not match types {list(schema.entity_types)}"
            )
        return schema


def tags_to_grid(tags: Sequence[str], schema: RelationSchema) -> np.ndarray:
    """Encode one IOB2 sequence as an ``int64 [n, n]`` grid of label ids (see module docstring)."""
    n = len(tags)
    grid = np.full((n, n), NONE_ID, dtype=np.int64)
    for ent in tags_to_entities(tags, strict=True):
        label = schema.thw_id(ent.type)
        for i in range(ent.start, ent.last):
            grid[i, i + 1] = NNW_ID
        grid[ent.last, ent.start] = label
    return grid


def thw_cells(probs: np.ndarray, schema: RelationSchema, max_words: int | None = None) -> tuple[np.ndarray, ...]:
    """What decoding a grid starts from (shared with `tests.reference.decode_grid_loop`): the argmax of
    every cell; `broken[k]`, the number of super-diagonal cells among the first k whose argmax is not
    NNW (a chain s -> e is whole iff `broken[e] == broken[s]`); `nnw_mass[k]`, the prefix sum of p(NNW)
    along the super-diagonal (float64); and the lower-triangle cells `(ends, starts)` whose argmax is
    a THW label, spans of at most `max_words` words when it is set (0 or None: any length)."""
    if probs.ndim != 3 or probs.shape[0] != probs.shape[1]:
        raise ValueError(f"expected probabilities of shape [n, n, C], got {probs.shape}")
    if probs.shape[2] != schema.num_labels:
        raise ValueError(f"expected {schema.num_labels} labels, got {probs.shape[2]}")
    n = probs.shape[0]
    pred = probs.argmax(-1)
    sup = np.arange(max(n - 1, 0))
    broken = np.concatenate([[0], np.cumsum(pred[sup, sup + 1] != NNW_ID)])
    nnw_mass = np.concatenate([[0.0], np.cumsum(probs[sup, sup + 1, NNW_ID], dtype=np.float64)])
    ends, starts = np.nonzero(np.tril(pred >= THW_OFFSET))
    if max_words:
        short = ends - starts < max_words
        ends, starts = ends[short], starts[short]
    return pred, broken, nnw_mass, ends, starts


def decode_grid(probs: np.ndarray, schema: RelationSchema, max_words: int | None = None) -> list[Entity]:
    """Flat entities from per-cell label probabilities ``[n, n, C]``.

    1. Candidates: every lower-triangle/diagonal cell ``(e, s)`` (``e >= s``) whose argmax is a
       ``THW-T`` label and whose whole chain ``s -> s+1 -> ... -> e`` on the super-diagonal has
       argmax ``NNW``, and (with ``max_words``) spans at most ``max_words`` words.  THW predictions
       in the upper triangle and NNW off the super-diagonal are ignored: they cannot describe a flat
       contiguous entity.
    2. Score = mean of ``p(THW-T)`` at ``(e, s)`` and ``p(NNW)`` at each of the ``e - s`` chain
       cells, i.e. the average confidence of the ``e - s + 1`` decisions that define the span, so
       long and short spans are comparable.
    3. Overlaps are resolved greedily: highest score first (ties: earlier, then shorter span), a
       candidate is kept iff it overlaps nothing kept so far.  Output is sorted by position.
    """
    pred, broken, nnw_mass, ends, starts = thw_cells(probs, schema, max_words)
    n = probs.shape[0]
    chained = broken[ends] == broken[starts]
    ends, starts = ends[chained], starts[chained]
    if not len(ends):
        return []
    labels = pred[ends, starts]
    # float64 throughout, in the order the definition sums: the scores (and ties) of a scalar loop
    scores = (probs[ends, starts, labels].astype(np.float64) + (nnw_mass[ends] - nnw_mass[starts])) / (ends - starts + 1)
    by_start = np.lexsort((ends, starts))
    if np.all(starts[by_start][1:] > ends[by_start][:-1]):  # no two candidates overlap: all are kept
        kept = by_start
    else:  # greedy: highest score first (ties: earlier, then shorter), skip what overlaps a kept span
        taken = np.zeros(n, dtype=bool)
        chosen = []
        for k in np.lexsort((ends, starts, -scores)).tolist():
            if not taken[starts[k] : ends[k] + 1].any():
                taken[starts[k] : ends[k] + 1] = True
                chosen.append(k)
        kept = np.array(sorted(chosen, key=lambda k: starts[k]), dtype=np.int64)
    types = schema.entity_types
    return [Entity(s, e, types[lab - THW_OFFSET], sc) for s, e, lab, sc in
            zip(starts[kept].tolist(), ends[kept].tolist(), labels[kept].tolist(), scores[kept].tolist(), strict=True)]
