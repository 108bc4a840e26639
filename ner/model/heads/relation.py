"""The relation head: the W2NER word-pair grid as a `Head` (gold grids, grid loss, grid decoding).

The network itself is :class:`ner.model.heads.relation_layers.RelationNetwork`; inference on long
sentences runs it on a diagonal band (:mod:`ner.model.heads.relation_band`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ner.model.grid import DECODED_OFFSET, NONE_ID, Entity, RelationSchema, decode_grid, tags_to_grid
from ner.model.heads.base import Head
from ner.model.heads.relation_band import band_forward, band_pays
from ner.model.heads.relation_layers import RelationNetwork
from ner.model.losses import IGNORE_INDEX, grid_cross_entropy
from ner.model.pair_features import PairFeatures


class RelationHead(RelationNetwork, Head):
    """Word vectors ``[B, W, H]`` -> grid logits ``[B, W, W, C]`` over NONE / NNW / THW-<type>."""

    name = "relation"
    config_fields = ("dist_emb", "region_emb", "conv_hidden", "dilations", "biaffine_size", "ffn_size")
    has_pair_features: ClassVar[bool] = True
    ignores_cells: ClassVar[bool] = True

    def __init__(self, hidden: int, entity_types: Sequence[str], *, dropout: float = 0.2, **network: Any) -> None:
        schema = RelationSchema(tuple(entity_types))
        super().__init__(hidden, schema.num_labels, dropout=dropout, **network)
        self.schema = schema

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.schema.labels)

    @property
    def output_layer(self) -> nn.Linear:
        return self.pair_out

    def run(self, words: Tensor, word_mask: Tensor, decode_only: bool,
            max_entity_words: int) -> tuple[Tensor, PairFeatures | None]:
        """``decode_only``: only the cells decoding reads (``j - i <= DECODED_OFFSET``; the others' logits
        are zero). Batches much wider than ``max_entity_words`` then run on the band of cells spans that
        long can use (equal up to rounding), not on the W x W grid."""
        lowest = 1 - max_entity_words
        if (decode_only and max_entity_words and not self.training and not torch.is_grad_enabled()
                and band_pays(self, words.shape[1], lowest, DECODED_OFFSET)):
            return band_forward(self, words, word_mask, lowest, DECODED_OFFSET)
        return self(words, word_mask, DECODED_OFFSET if decode_only else None)

    def encode_gold(self, tags: Sequence[Sequence[str]], kept: Sequence[int], width: int,
                    ignore: Sequence[Sequence[tuple[int, int]] | None] | None = None) -> Tensor:
        """``[B, W, W]`` relation ids; ``ignore``: per sentence, cells ``(i, j)`` set to ``-100`` so the
        loss skips them (uncertain pseudo-label cells)."""
        gold = torch.full((len(tags), width, width), IGNORE_INDEX, dtype=torch.long)
        for b, (seq, n) in enumerate(zip(tags, kept, strict=True)):
            gold[b, :n, :n] = torch.from_numpy(tags_to_grid(seq[:n], self.schema))
            cells = [(i, j) for i, j in (ignore[b] or []) if i < n and j < n] if ignore is not None else []
            if cells:
                rows, cols = zip(*cells, strict=True)
                gold[b, list(rows), list(cols)] = IGNORE_INDEX
        return gold

    def label_ids(self, tags: Sequence[str]) -> np.ndarray:
        return tags_to_grid(tags, self.schema).ravel()

    def loss(self, logits: Tensor, gold: Tensor, reduction: str = "cell") -> Tensor:
        return grid_cross_entropy(logits, gold, reduction)

    def sentence_probs(self, probs: np.ndarray, kept: slice | np.ndarray) -> np.ndarray:
        return probs[kept][:, kept]

    def decode(self, probs: np.ndarray, max_entity_words: int) -> list[Entity]:
        return decode_grid(probs, self.schema, max_entity_words)

    def doubtful_cells(self, logits: Tensor, gold: Tensor, threshold: float) -> list[list[tuple[int, int]]]:
        """Cells gold makes NONE although the logits give a relation at least ``threshold`` probability."""
        relation_mass = 1.0 - logits.float().softmax(-1)[..., NONE_ID].cpu()
        doubtful = (gold == NONE_ID) & (relation_mass >= threshold)
        return [[(int(i), int(j)) for i, j in row.nonzero().tolist()] for row in doubtful]


__all__ = ["RelationHead"]
