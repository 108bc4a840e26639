"""The token head: IOB2 tagging over words as a `Head`, with a decoder that repairs its output.

A softmax tagger can emit ``I-T`` without a preceding ``B-T``/``I-T``.  seqeval's strict
(IOB2) mode would drop such spans entirely while its default mode would keep them, so the
baseline is repaired once here (stray ``I-T`` -> ``B-T``) and then scored strictly like the
relation head, whose output is valid IOB2 by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from transformers import AutoModelForTokenClassification

from ner.errors import NerError
from ner.model.grid import Entity, RelationSchema, tags_to_entities
from ner.model.heads.base import Head
from ner.model.losses import IGNORE_INDEX, token_cross_entropy
from ner.model.pair_features import PairFeatures


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
    analogue of :func:`ner.model.grid.decode_grid`'s mean over the span's defining cells.
    """
    if probs.ndim != 2 or probs.shape[1] != schema.num_tags:
        raise ValueError(f"expected probabilities of shape [n, {schema.num_tags}], got {probs.shape}")
    tags = schema.decode(probs.argmax(-1).tolist())
    top = probs.max(-1)
    entities = tags_to_entities(tags, strict=True)
    for ent in entities:
        ent.score = float(top[ent.start : ent.last + 1].mean())
    return tags, entities


class TokenHead(Head):
    """Dropout + linear layer from word vectors ``[B, W, H]`` to IOB2 tag logits ``[B, W, T]``."""

    name = "token"
    hf_task: ClassVar[str | None] = "token-classification"

    def __init__(self, hidden: int, entity_types: Sequence[str], *, dropout: float = 0.2) -> None:
        super().__init__()
        self.schema = TagSchema(tuple(entity_types))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, self.schema.num_tags)

    def forward(self, words: Tensor, word_mask: Tensor | None = None) -> Tensor:
        logits = self.classifier(self.dropout(words))
        if word_mask is not None:
            logits = logits.masked_fill(~word_mask.bool().unsqueeze(-1), 0.0)
        return logits

    @property
    def labels(self) -> tuple[str, ...]:
        return self.schema.tags

    @property
    def output_layer(self) -> nn.Linear:
        return self.classifier

    def run(self, words: Tensor, word_mask: Tensor, decode_only: bool,
            max_entity_words: int) -> tuple[Tensor, PairFeatures | None]:
        return self(words, word_mask), None

    def encode_gold(self, tags: Sequence[Sequence[str]], kept: Sequence[int], width: int,
                    ignore: Sequence[Sequence[tuple[int, int]] | None] | None = None) -> Tensor:
        """``[B, W]`` tag ids."""
        gold = torch.full((len(tags), width), IGNORE_INDEX, dtype=torch.long)
        for b, (seq, n) in enumerate(zip(tags, kept, strict=True)):
            gold[b, :n] = torch.tensor(self.schema.encode(seq[:n]), dtype=torch.long)
        return gold

    def label_ids(self, tags: Sequence[str]) -> np.ndarray:
        return np.asarray(self.schema.encode(tags), dtype=np.int64)

    def loss(self, logits: Tensor, gold: Tensor, reduction: str = "cell") -> Tensor:
        return token_cross_entropy(logits, gold)

    def sentence_probs(self, probs: np.ndarray, kept: slice | np.ndarray) -> np.ndarray:
        return probs[kept]

    def decode(self, probs: np.ndarray, max_entity_words: int) -> list[Entity]:
        return decode_tag_probs(probs, self.schema)[1]

    def write_hf_model(self, encoder: nn.Module, out: Path) -> None:
        """`AutoModelForTokenClassification`: the same encoder, classifier = this head's linear layer,
        labels = the IOB2 tags. With `pooling: first` its logits on the first sub-word of each word are
        exactly the toolkit's."""
        tags = list(self.schema.tags)
        config = encoder.model.config.__class__.from_dict(encoder.model.config.to_dict())
        config.num_labels = len(tags)
        config.id2label = dict(enumerate(tags))
        config.label2id = {t: i for i, t in enumerate(tags)}
        config.architectures = None
        hf = AutoModelForTokenClassification.from_config(config)
        missing, unexpected = hf.base_model.load_state_dict(encoder.model.state_dict(), strict=False)
        if unexpected or [k for k in missing if "pooler" not in k]:
            raise NerError(f"cannot map the encoder onto {type(hf).__name__} (missing {missing}, unexpected {unexpected})")
        classifier = getattr(hf, "classifier", None)
        if not isinstance(classifier, nn.Linear):
            raise NerError(f"{type(hf).__name__} has no linear `classifier`; cannot export the token head")
        with torch.no_grad():
            classifier.weight.copy_(self.classifier.weight)
            classifier.bias.copy_(self.classifier.bias)
        hf.save_pretrained(out, safe_serialization=True)
        encoder.tokenizer.save_pretrained(out)


__all__ = ["TagSchema", "TokenHead", "decode_tag_probs", "repair_iob2"]
