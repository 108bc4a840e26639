"""Token-classification baseline head over IOB2 tags, with a decoder that repairs its output.

A softmax tagger can emit ``I-T`` without a preceding ``B-T``/``I-T``.  seqeval's strict
(IOB2) mode would drop such spans entirely while its default mode would keep them, so the
baseline is repaired once here (stray ``I-T`` -> ``B-T``) and then scored strictly like the
relation head, whose output is valid IOB2 by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from torch import Tensor, nn

from ner.model.grid import Entity, RelationSchema, tags_to_entities


@dataclass(frozen=True)
class TagSchema:
    """IOB2 tag inventory: ``O`` then ``B-T``, ``I-T`` for each entity type in sorted order."""

    entity_types: tuple[str, ...]

    def __post_init__(self) -> None:
        # Same normalisation/validation as the relation schema, so both heads agree on types.
        object.__setattr__(self, "entity_types", RelationSchema(tuple(self.entity_types)).entity_types)

    @cached_property
    def tags(self) -> tuple[str, ...]:
        return ("O", *(f"{p}-{t}" for t in self.entity_types for p in "BI"))

    @cached_property
    def tag_to_id(self) -> dict[str, int]:
        return {tag: i for i, tag in enumerate(self.tags)}

    @property
    def num_tags(self) -> int:
        return len(self.tags)

    @classmethod
    def from_tags(cls, tag_sequences: Iterable[Sequence[str]]) -> TagSchema:
        return cls(RelationSchema.from_tags(tag_sequences).entity_types)

    def to_dict(self) -> dict[str, Any]:
        return {"entity_types": list(self.entity_types), "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TagSchema:
        schema = cls(tuple(data["entity_types"]))
        if "tags" in data and tuple(data["tags"]) != schema.tags:
            raise ValueError(
                f"tag list {list(data['tags'])} does not match types {list(schema.entity_types)}"
            )
        return schema

    def encode(self, tags: Sequence[str]) -> list[int]:
        """Tag ids of a valid IOB2 sequence (``ValueError`` on invalid IOB2 or unknown tags)."""
        tags_to_entities(tags, strict=True)
        try:
            return [self.tag_to_id[t] for t in tags]
        except KeyError as exc:
            raise ValueError(f"unknown tag {exc.args[0]!r} (schema has {list(self.tags)})") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tags for predicted ids, repaired into valid IOB2."""
        return repair_iob2([self.tags[int(i)] for i in ids])


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Turn every ``I-T`` that does not continue a ``B-T``/``I-T`` into ``B-T``."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def decode_tag_probs(probs: np.ndarray, schema: TagSchema) -> tuple[list[str], list[Entity]]:
    """Repaired IOB2 tags and scored entities from per-word tag probabilities ``[n, T]``.

    An entity's score is the mean over its words of the max softmax probability, the token
    analogue of :func:`ner.grid.decode_grid`'s mean over the span's defining cells.
    """
    if probs.ndim != 2 or probs.shape[1] != schema.num_tags:
        raise ValueError(f"expected probabilities of shape [n, {schema.num_tags}], got {probs.shape}")
    tags = schema.decode(probs.argmax(-1).tolist())
    top = probs.max(-1)
    entities = tags_to_entities(tags, strict=True)
    for ent in entities:
        ent.score = float(top[ent.start : ent.last + 1].mean())
    return tags, entities


class TokenHead(nn.Module):
    """Dropout + linear layer from word vectors ``[B, W, H]`` to tag logits ``[B, W, T]``."""

    def __init__(self, hidden: int, num_tags: int, *, dropout: float = 0.2) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_tags)

    def forward(self, words: Tensor, word_mask: Tensor | None = None) -> Tensor:
        logits = self.classifier(self.dropout(words))
        if word_mask is not None:
            logits = logits.masked_fill(~word_mask.bool().unsqueeze(-1), 0.0)
        return logits


__all__ = ["TagSchema", "TokenHead", "decode_tag_probs", "repair_iob2"]
