"""The mCL-NER objective: every loss term of one training step, switchable for ablations.

    CE(src) + CE(cs) + semantic_weight * L_sem(proj(s_src), proj(s_cs))
                     + relation_weight * L_rel(proj(pairs_src), gold_src, proj(pairs_cs), gold_cs)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ner.data.records import Example
from ner.errors import NerError
from ner.model.losses import relation_contrastive, semantic_contrastive
from ner.model.ner_model import NerModel, NerOutput
from ner.training.config import TrainConfig


@dataclass
class LossWeights:
    use_src: bool = True
    use_cs: bool = True
    semantic: float = 0.0
    relation: float = 0.0
    tau_semantic: float = 0.1
    tau_relation: float = 0.1
    max_none_pairs: int = 32
    balanced_none: bool = False  # one NONE anchor per relation cell (ner.model.losses.sample_pairs)
    grid_loss: str = "cell"  # how the grid cross entropy weighs cells (ner.model.losses.grid_cross_entropy)
    semantic_target: float = 0.0  # target-language view of the semantic contrast

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> LossWeights:
        return cls(cfg.use_src, cfg.use_cs, cfg.semantic_weight, cfg.effective_relation_weight(),
                   cfg.tau_semantic, cfg.tau_relation, cfg.max_none_pairs, cfg.none_anchors == "balanced",
                   cfg.grid_loss, cfg.semantic_target_weight)

    @property
    def needs_cs(self) -> bool:
        return self.use_cs or self.semantic > 0 or self.relation > 0


def _rows(out: NerOutput, rows: slice) -> NerOutput:
    pair = out.pair_repr.rows(rows) if out.pair_repr is not None else None
    return NerOutput(out.logits[rows], out.word_mask[rows], out.sentence[rows], pair)


class MclLoss(nn.Module):
    """The whole mCL-NER objective in one `forward`.

    Why a module: DDP expects exactly one forward of the wrapped module per backward; running the
    encoder on both views and the projection heads inside that one forward keeps gradient
    synchronisation correct (and is also the shape `torch.compile` handles best).
    """

    def __init__(self, model: NerModel, weights: LossWeights, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.model = model
        self.w = weights
        self.generator = generator
        # Per-step multipliers of the contrastive terms (warm-up ramp x gradient balance), set by the
        # trainer before each forward; the configured weights stay the ceiling.
        self.aux_scale: dict[str, float] = {}

    def forward(self, src: dict[str, Tensor], cs: dict[str, Tensor] | None, n_pairs: int,
                target: tuple[dict[str, Tensor], dict[str, Tensor]] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """`src` holds the n_pairs paired source views first, then single-view (pseudo-labeled) rows;
        `cs` holds the n_pairs code-switched partners (None when no term needs them). Returns the
        total and each (weighted) term, still in the graph (the gradient probe differentiates them).
        `target`: encoder batches of target-language sentences and their code-switched versions."""
        model, w = self.model, self.w
        out_src = model(src)
        n_rows = out_src.logits.shape[0]
        parts: dict[str, Tensor] = {}
        reduction = w.grid_loss
        if w.use_src:
            parts["ce_src"] = model.supervised_loss(out_src, src, reduction)
        elif n_pairs < n_rows:  # pseudo-labeled rows are always supervised
            tail = slice(n_pairs, None)
            parts["ce_pseudo"] = model.supervised_loss(_rows(out_src, tail), {"gold": src["gold"][tail]}, reduction)
        if cs is not None and n_pairs > 0:
            out_cs = model(cs)
            if w.use_cs:
                parts["ce_cs"] = model.supervised_loss(out_cs, cs, reduction)
            head = slice(0, n_pairs)
            scale = self.aux_scale
            if w.semantic > 0 and scale.get("semantic", 1.0) > 0:
                parts["semantic"] = w.semantic * scale.get("semantic", 1.0) * semantic_contrastive(
                    model.project_sentence(out_src.sentence[head]), model.project_sentence(out_cs.sentence),
                    w.tau_semantic,
                )
            if w.relation > 0 and scale.get("relation", 1.0) > 0:
                if out_src.pair_repr is None or out_cs.pair_repr is None:
                    raise NerError("the relation contrastive loss needs --head relation")
                parts["relation"] = w.relation * scale.get("relation", 1.0) * relation_contrastive(
                    out_src.pair_repr.rows(head), src["gold"][head].to(out_src.logits.device), out_cs.pair_repr,
                    cs["gold"].to(out_cs.logits.device), w.tau_relation, w.max_none_pairs, self.generator,
                    project=model.project_pairs, balanced=w.balanced_none,
                )
        scale_t = self.aux_scale.get("semantic_target", 1.0)
        if target is not None and w.semantic_target > 0 and scale_t > 0:
            parts["semantic_target"] = w.semantic_target * scale_t * semantic_contrastive(
                model.project_sentence(model.sentence_vectors(target[0])),
                model.project_sentence(model.sentence_vectors(target[1])), w.tau_semantic,
            )
        if not parts:
            raise RuntimeError("no loss term active for this batch")
        total = torch.stack([p.float() for p in parts.values()]).sum()
        return total, parts


def collate_step(model: NerModel, items: list[Example], needs_cs: bool) -> tuple[dict, dict | None, int]:
    """Collate one batch of examples into (src batch, cs batch or None, number of pairs)."""
    paired = [e for e in items if e.paired]
    single = [e for e in items if not e.paired]
    rows = paired + single
    ignore = [e.ignore for e in rows] if any(e.ignore for e in rows) else None
    src = model.collate([e.src_tokens for e in rows], [e.src_tags for e in rows], ignore)
    cs = None
    if needs_cs and paired:
        cs = model.collate([e.cs_tokens or [] for e in paired], [e.cs_tags or [] for e in paired])
    return src, cs, len(paired)

