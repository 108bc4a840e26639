"""The assembled mCL-NER model: word encoder + a head (`ner.model.heads`) + contrastive projections.

The model owns everything that must travel with a checkpoint -- encoder, head, label schema and
the two contrastive projection heads -- and is saved as ``config.json`` + ``model.pt``
(a plain ``state_dict``), so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cslib import atomic_path, atomic_write_text
from ner.model.config import ModelConfig
from ner.model.encoder import BaseWordEncoder, WordEncoder
from ner.model.grid import MAX_ENTITY_WORDS, Entity, RelationSchema, entities_to_tags
from ner.model.heads import Head, head_class
from ner.model.heads.token import TagSchema
from ner.model.losses import PairProjector
from ner.model.pair_features import PairFeatures

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.pt"
FORMAT_VERSION = 1


@dataclass
class NerOutput:
    """Forward result.  ``logits``: ``[B, W, W, C]`` (relation) or ``[B, W, T]`` (token);
    ``word_mask``: ``[B, W]`` bool; ``sentence``: ``[B, H]``; ``pair_repr``: the relation head's
    packed word-pair features (:class:`PairFeatures`, ``.dense()`` is ``[B, W, W, D]``) or None."""

    logits: Tensor
    word_mask: Tensor
    sentence: Tensor
    pair_repr: PairFeatures | None


class NerInference:
    """The inference half of :class:`NerModel` -- batching, forward, decoding -- for any module with an
    ``encoder`` (:class:`BaseWordEncoder`), a ``head`` (:class:`Head`) and ``max_entity_words``.
    `ner export` ships it, so a model loaded by transformers alone tags exactly as this one does."""

    encoder: BaseWordEncoder
    head: Head
    max_entity_words: int
    _encoder_keys: frozenset[str] | None

    @staticmethod
    def _accepted_keys(fn: Any) -> frozenset[str] | None:
        """Named parameters of the encoder's forward, or None if it takes ``**kwargs``."""
        params = inspect.signature(fn).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return frozenset(p.name for p in params)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ batching
    def collate(self, tokens: list[list[str]], tags: list[list[str]] | None = None,
                ignore: Sequence[Sequence[tuple[int, int]] | None] | None = None) -> dict[str, Tensor]:
        """CPU batch: the encoder's inputs, plus ``gold`` (the head's targets) when ``tags`` are given.

        ``gold`` is ``-100`` on padding. Gold covers the words ``word_mask`` marks (all of them with the
        chunking ``WordEncoder``); were an encoder to keep only a prefix, the prefix of an IOB2 sequence
        is still valid IOB2 and is encoded as is. ``ignore``: per sentence, positions the loss skips
        (uncertain pseudo-label cells), for heads that support it (`Head.ignores_cells`).
        """
        batch = self.encoder.collate(tokens)
        if tags is None:
            return batch
        if len(tags) != len(tokens):
            raise ValueError(f"got {len(tags)} tag sequences for {len(tokens)} sentences")
        for b, (words, seq) in enumerate(zip(tokens, tags, strict=True)):
            if len(words) != len(seq):
                raise ValueError(f"sentence {b}: {len(words)} tokens but {len(seq)} tags")
        word_mask = batch["word_mask"].bool()
        batch["gold"] = self.head.encode_gold(tags, word_mask.sum(1).tolist(), word_mask.shape[1], ignore)
        return batch

    # ------------------------------------------------------------------ forward / losses
    def forward(self, batch: dict[str, Tensor], decode_only: bool = False) -> NerOutput:
        """Run encoder and head; batch tensors are moved to the model's device.

        ``decode_only``: the head may compute only what :meth:`decode` reads (the relation head: the
        cells near the diagonal, on a band of the grid for long sentences): the same entities for less work.
        """
        device = self.device
        inputs = {
            k: v.to(device) if isinstance(v, Tensor) else v
            for k, v in batch.items()
            if k != "gold" and (self._encoder_keys is None or k in self._encoder_keys)
        }
        words, word_mask, sentence = self.encoder(**inputs)
        word_mask = word_mask.bool()
        logits, pair_repr = self.head.run(words, word_mask, decode_only, self.max_entity_words)
        return NerOutput(logits, word_mask, sentence, pair_repr)

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def decode(self, out: NerOutput) -> list[list[Entity]]:
        """Scored, flat entities per sentence, indexed over the sentence's (kept) words."""
        probs = out.logits.float().softmax(-1).cpu().numpy()
        mask = out.word_mask.bool().cpu()
        lengths = mask.sum(1).tolist()
        result: list[list[Entity]] = []
        for b, n in enumerate(lengths):
            # Kept words are a prefix of the row (collate pads at the end): a view, not a gathered copy.
            idx = slice(0, n) if bool(mask[b, :n].all()) else mask[b].nonzero(as_tuple=True)[0].numpy()
            result.append(self.head.decode(self.head.sentence_probs(probs[b], idx), self.max_entity_words))
        return result

    def decode_tags(self, out: NerOutput, lengths: list[int] | None = None) -> list[list[str]]:
        """IOB2 tags per sentence.  Without ``lengths`` one tag per kept word; with them each
        sequence is padded with ``O`` to its original length (words lost to truncation)."""
        kept = out.word_mask.bool().sum(1).tolist()
        tags = [entities_to_tags(ents, n) for ents, n in zip(self.decode(out), kept, strict=True)]
        if lengths is not None:
            if len(lengths) != len(tags):
                raise ValueError(f"got {len(lengths)} lengths for {len(tags)} sentences")
            tags = [t + ["O"] * (n - len(t)) for t, n in zip(tags, lengths, strict=True)]
        return tags


class NerModel(NerInference, nn.Module):
    """Word encoder + NER head, with projection heads for the semantic / relation contrastive views."""

    def __init__(self, cfg: ModelConfig, entity_types: list[str]) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = WordEncoder(cfg.encoder, pooling=cfg.pooling, max_subwords=cfg.max_subwords,
                                   subword_space=cfg.subword_space)
        hidden = int(self.encoder.hidden_size)
        self.relation_schema = RelationSchema(tuple(entity_types))
        self.tag_schema = TagSchema(self.relation_schema.entity_types)
        self.entity_types = list(self.relation_schema.entity_types)
        self.head: Head = head_class(cfg.head).from_config(hidden, self.entity_types, cfg)
        self.pair_projector: PairProjector | None = (
            PairProjector(self.head.pair_dim, cfg.proj_dim) if self.head.pair_dim is not None else None)
        self.sentence_projector = PairProjector(hidden, cfg.proj_dim)
        self._encoder_keys = self._accepted_keys(self.encoder.forward)
        # An inference setting, not part of the saved architecture: the longest span decoding returns
        # (ner.model.grid.MAX_ENTITY_WORDS; 0 = any). Training's losses always see every position.
        self.max_entity_words: int = MAX_ENTITY_WORDS

    def sentence_vectors(self, batch: dict[str, Tensor]) -> Tensor:
        """Encoder only: the sentence vectors ``[B, H]`` of a batch (no head), for the target view."""
        device = self.device
        inputs = {k: v.to(device) for k, v in batch.items()
                  if isinstance(v, Tensor) and (self._encoder_keys is None or k in self._encoder_keys)}
        return self.encoder(**inputs)[2]

    def supervised_loss(self, out: NerOutput, batch: dict[str, Tensor], reduction: str = "cell") -> Tensor:
        """Cross entropy of the head; `reduction` weighs the grid's cells over the batch (`cell`), per sentence
        (`sentence`) or each the same (`equal`; `ner.model.losses.grid_cross_entropy`); the token head
        ignores it."""
        return self.head.loss(out.logits, batch["gold"].to(out.logits.device), reduction)

    def label_counts(self, tags: Sequence[Sequence[str]]) -> np.ndarray:
        """How often each output class is the gold label over the positions (grid cells, words) of these
        tag sequences."""
        counts = np.zeros(len(self.head.labels), dtype=np.float64)
        for seq in tags:
            if seq:
                counts += np.bincount(self.head.label_ids(seq), minlength=len(counts))
        return counts

    @torch.no_grad()
    def init_output_prior(self, counts: np.ndarray, smoothing: float = 1.0) -> None:
        """Set the output layer's bias to the log label prior (Lin et al. 2017, "prior initialisation"),
        so the first steps' loss is about the rare labels instead of re-learning the class balance."""
        prior = torch.as_tensor(counts + smoothing, dtype=torch.float32)
        bias = (prior / prior.sum()).log()
        bias -= bias.mean()
        layer = self.head.output_layer
        layer.bias.copy_(bias.to(layer.bias.device, layer.bias.dtype))

    def project_sentence(self, z: Tensor) -> Tensor:
        """Project sentence vectors ``[B, H]`` for the semantic contrastive loss."""
        return self.sentence_projector(z)

    def project_pairs(self, p: Tensor) -> Tensor:
        """Project pair representations ``[..., D]`` for the relation contrastive loss.

        Cheapest as ``relation_contrastive(..., project=model.project_pairs)``, which projects only
        the sampled pairs.
        """
        if self.pair_projector is None:
            raise ValueError(f"the {self.head.name} head has no pair representations to project")
        return self.pair_projector(p)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write ``config.json`` (config, entity types, head, schema) and ``model.pt`` (state_dict)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "model_config": self.cfg.to_dict(),
            "entity_types": self.entity_types,
            "head": self.cfg.head,
            "labels": list(self.head.labels),
        }
        with atomic_path(directory / WEIGHTS_FILE) as tmp:  # torch names its archive WEIGHTS_FILE (tmp's stem)
            torch.save(self.state_dict(), tmp)
        atomic_write_text(directory / CONFIG_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> NerModel:
        """Rebuild from :meth:`save` output; returned in eval mode.

        The encoder is re-created from ``model_config.encoder`` (which must still resolve) and
        then overwritten by the saved weights, so fine-tuned encoder weights are restored too.
        `ner export` directories are read by ``ner.inference.export_format.load_export``;
        ``ner.inference.loading.load_model_dir`` takes either.
        """
        directory = Path(directory)
        meta = json.loads((directory / CONFIG_FILE).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory / CONFIG_FILE}: unsupported format_version {meta.get('format_version')!r}"
            )
        cfg = ModelConfig.from_dict(meta["model_config"])
        if meta.get("head", cfg.head) != cfg.head:
            raise ValueError(f"{directory / CONFIG_FILE}: head {meta['head']!r} disagrees with model_config")
        model = cls(cfg, list(meta["entity_types"]))
        if "labels" in meta and list(meta["labels"]) != list(model.head.labels):
            raise ValueError(
                f"{directory / CONFIG_FILE}: saved labels {meta['labels']} do not match {list(model.head.labels)}"
            )
        state = torch.load(directory / WEIGHTS_FILE, map_location=map_location, weights_only=True)
        model.load_state_dict(state)
        return model.to(map_location).eval()


__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "ModelConfig", "NerModel", "NerOutput"]
