"""The interface every NER head implements, so `NerModel` never asks which head it has.

A head turns word vectors ``[B, W, H]`` into logits over its own output classes (relation-grid labels,
IOB2 tags, ...) and owns everything that depends on those classes: encoding gold tags as targets, the
supervised loss, decoding probabilities into entities, the output layer whose bias starts at the label
prior, and whether it has a standard Hugging Face form. A new head is one module with one subclass,
listed in `ner.model.heads.HEADS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor, nn

from ner.model.grid import Entity
from ner.model.pair_features import PairFeatures


class Head(nn.Module):
    """Word vectors -> logits over :attr:`labels`, and the label-side work around them."""

    #: The `--head` / `ModelConfig.head` name.
    name: ClassVar[str]
    #: ModelConfig fields the head is built from (keyword arguments of its constructor besides dropout).
    config_fields: ClassVar[tuple[str, ...]] = ()
    #: Whether the forward pass returns word-pair features (for the relation contrastive loss).
    has_pair_features: ClassVar[bool] = False
    #: Whether gold targets can leave out single positions (`encode_gold`'s ``ignore``).
    ignores_cells: ClassVar[bool] = False
    #: The `transformers.pipeline` task an exported head serves without this toolkit, or None.
    hf_task: ClassVar[str | None] = None

    #: Size of the word-pair features (None without them).
    pair_dim: int | None = None

    @classmethod
    def from_config(cls, hidden: int, entity_types: Sequence[str], cfg: Any) -> Head:
        """Build the head for encoder width ``hidden`` from a `ner.model.config.ModelConfig`."""
        return cls(hidden, entity_types, dropout=cfg.dropout, **{f: getattr(cfg, f) for f in cls.config_fields})

    @property
    def labels(self) -> tuple[str, ...]:
        """Output classes, in logit order."""
        raise NotImplementedError

    @property
    def output_layer(self) -> nn.Linear:
        """The last linear layer; its bias is initialised to the log label prior."""
        raise NotImplementedError

    def run(self, words: Tensor, word_mask: Tensor, decode_only: bool,
            max_entity_words: int) -> tuple[Tensor, PairFeatures | None]:
        """Logits (and pair features, if any) for word vectors ``[B, W, H]``; ``decode_only``: only what
        :meth:`decode` reads is needed, for spans of at most ``max_entity_words`` words (0 = any)."""
        raise NotImplementedError

    def encode_gold(self, tags: Sequence[Sequence[str]], kept: Sequence[int], width: int,
                    ignore: Sequence[Sequence[tuple[int, int]] | None] | None = None) -> Tensor:
        """Targets for a padded batch: sentence ``b``'s first ``kept[b]`` tags, ``-100`` elsewhere."""
        raise NotImplementedError

    def label_ids(self, tags: Sequence[str]) -> np.ndarray:
        """The gold class ids one sentence's tags give (every grid cell, or every word)."""
        raise NotImplementedError

    def loss(self, logits: Tensor, gold: Tensor, reduction: str = "cell") -> Tensor:
        """Supervised cross entropy; ``reduction`` (``ner.model.losses.GRID_REDUCTIONS``) says how positions
        of sentences of different lengths are weighed, for heads whose positions per sentence differ widely."""
        raise NotImplementedError

    def sentence_probs(self, probs: np.ndarray, kept: slice | np.ndarray) -> np.ndarray:
        """One sentence's class probabilities at its kept words ``kept`` (a batch row in, a view out)."""
        raise NotImplementedError

    def decode(self, probs: np.ndarray, max_entity_words: int) -> list[Entity]:
        """Scored, flat entities from one sentence's probabilities (:meth:`sentence_probs`)."""
        raise NotImplementedError

    def doubtful_cells(self, logits: Tensor, gold: Tensor, threshold: float) -> list[list[tuple[int, int]]]:
        """Per sentence, the positions gold makes 'no entity' although the logits give an entity class
        at least ``threshold`` probability (only for heads that :attr:`ignores_cells`)."""
        return [[] for _ in range(logits.shape[0])]

    def write_hf_model(self, encoder: nn.Module, out: Path) -> None:
        """Write the head with ``encoder`` as a standard Hugging Face model for :attr:`hf_task`."""
        raise NotImplementedError(f"the {self.name} head has no standard Hugging Face form")
