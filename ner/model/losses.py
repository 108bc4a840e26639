"""Supervised and contrastive losses of mCL-NER.

* :func:`grid_cross_entropy` / :func:`token_cross_entropy`: supervised losses of the two heads.
* :func:`semantic_contrastive`: sentence-level view -- a source sentence and its code-switched
  version must be closer to each other than to the other sentences of the batch.
* :func:`relation_contrastive`: relation-level view -- word-pair representations carrying the
  same grid label (``NNW``, ``THW-PER``, ``NONE``...) are pulled together across source and
  code-switched sentences (supervised contrastive loss, Khosla et al. 2020).

Every loss is computed in fp32, also inside a bf16/fp16 autocast region (its inputs are cast up and
autocast is off for the softmax, logsumexp and the similarity products): low-precision logits cost
the cross entropy and the temperature-scaled contrasts their resolution.

All loss functions are parameter-free; projection heads (:class:`PairProjector`) belong to the
model and are applied by the caller (or passed to :func:`relation_contrastive` as
``project`` so that only the sampled pairs are projected).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ner.model.pair_features import PairFeatures

IGNORE_INDEX = -100
NONE_LABEL = 0  # id of the NONE relation (ner.model.grid.NONE_ID)


def full_precision(x: Tensor) -> contextlib.AbstractContextManager:
    """Autocast off on `x`'s device for the block (callers cast their inputs with `.float()`)."""
    return torch.autocast(x.device.type, enabled=False)


def _masked_cross_entropy(logits: Tensor, gold: Tensor) -> Tensor:
    """Mean cross entropy over non-ignored positions, in fp32; an all-padding batch gives a connected 0."""
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()
    flat_gold = gold.reshape(-1).to(device=logits.device, dtype=torch.long)
    if not bool((flat_gold != IGNORE_INDEX).any()):
        return flat_logits.sum() * 0.0
    return F.cross_entropy(flat_logits, flat_gold, ignore_index=IGNORE_INDEX)


#: How `grid_cross_entropy` weighs cells: over the batch's cells, per sentence, or every cell the same.
GRID_REDUCTIONS = ("cell", "sentence", "equal")
#: `equal`'s divisor per sentence: the cells of an 8-word grid (PAN-X's mean sentence length), so a batch of
#: 8-word sentences weighs its cells as `cell` does.
EQUAL_CELLS = 64


def grid_cross_entropy(logits: Tensor, gold: Tensor, reduction: str = "cell") -> Tensor:
    """Cross entropy of grid logits ``[B, W, W, C]`` against ids ``[B, W, W]`` (-100 = padding).

    Every valid cell counts, ``NONE`` included, exactly as W2NER trains. ``reduction``:

    * ``cell`` (default): the mean over all cells of the batch, so a sentence weighs as its number of
      cells (``W^2``) and a cell weighs 1 / (cells of its batch): one 60-character Chinese row outweighs
      thirty 10-word German ones, and a cell of a batch of long sentences counts less than one of a
      batch of short ones.
    * ``sentence``: each sentence's mean first, then the mean over sentences: every sentence weighs the
      same, so a cell of a long sentence counts less than one of a short sentence.
    * ``equal``: the sum over cells / (``EQUAL_CELLS`` x sentences in the batch): every cell of every
      sentence weighs the same whatever the lengths, and a batch of 8-word sentences trains as with
      ``cell``; a batch of long inputs gives a larger loss (docs/results.md, "Long inputs").

    Sentences without a valid cell do not count; an all-padding batch gives a connected 0.
    """
    if logits.shape[:-1] != gold.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match gold {tuple(gold.shape)}")
    if reduction not in GRID_REDUCTIONS:
        raise ValueError(f"unknown grid reduction {reduction!r} (use {', '.join(GRID_REDUCTIONS)})")
    if reduction == "cell":
        return _masked_cross_entropy(logits, gold)
    batch = gold.shape[0]
    gold = gold.to(device=logits.device, dtype=torch.long).reshape(batch, -1)
    valid = gold != IGNORE_INDEX
    counts = valid.sum(1)
    if not bool(counts.any()):
        return logits.sum() * 0.0
    cells = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), gold.reshape(-1),
                            ignore_index=IGNORE_INDEX, reduction="none").view(batch, -1)
    if reduction == "equal":
        return cells.sum() / (EQUAL_CELLS * int((counts > 0).sum()))
    per = cells.sum(1) / counts.clamp_min(1)
    return per[counts > 0].mean()


def token_cross_entropy(logits: Tensor, gold: Tensor) -> Tensor:
    """Cross entropy of tag logits ``[B, W, T]`` against ids ``[B, W]`` (-100 = padding)."""
    if logits.shape[:-1] != gold.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match gold {tuple(gold.shape)}")
    return _masked_cross_entropy(logits, gold)


def semantic_contrastive(z_a: Tensor, z_b: Tensor, tau: float) -> Tensor:
    """Symmetric InfoNCE between two views ``[B, H]``: ``(a_i, b_i)`` positive, other rows negative.

    Vectors are L2-normalised, so ``tau`` scales cosine similarities.  The loss is the mean of
    the a->b and b->a directions, making it invariant to which view is called ``a``.
    """
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise ValueError(
            f"expected two [B, H] tensors of equal shape, got {tuple(z_a.shape)}, {tuple(z_b.shape)}"
        )
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau}")
    with full_precision(z_a):
        a = F.normalize(z_a.float(), dim=-1)
        b = F.normalize(z_b.float(), dim=-1)
        sim = a @ b.T / tau
        target = torch.arange(sim.shape[0], device=sim.device)
        return 0.5 * (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target))


def sample_pairs(
    gold: Tensor, max_none_per_sentence: int, generator: torch.Generator | None = None, balanced: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Choose the word pairs a relation-level contrastive loss looks at.

    Returns ``(batch_idx, i, j, labels)`` (1-D ``long`` tensors on ``gold``'s device, ordered by
    sentence then cell): **every** valid non-``NONE`` cell of ``gold`` ``[B, W, W]`` plus, per
    sentence, at most ``max_none_per_sentence`` ``NONE`` cells drawn uniformly without
    replacement.  Padding cells (``-100``) are never returned.

    Why: a sentence of ``W`` words has ``W^2`` cells but only ``O(#entity words)`` of them carry
    a relation.  Contrasting all of them would cost ``O((B W^2)^2)`` similarities and swamp the
    informative labels with ``NONE``; keeping all relation cells and a capped ``NONE`` sample
    bounds the anchor count by ``#relation cells + B * cap`` while still showing ``NONE`` as a
    class to separate from.  ``generator`` (CPU) makes the draw reproducible.

    ``balanced``: a sentence gets as many ``NONE`` cells as it has relation cells (at least one,
    at most the cap). With the plain cap a batch holds ~10x more ``NONE`` anchors than relation
    ones, and the loss is mostly about pulling ``NONE`` cells together.
    """
    if gold.ndim != 3 or gold.shape[1] != gold.shape[2]:
        raise ValueError(f"expected gold of shape [B, W, W], got {tuple(gold.shape)}")
    if max_none_per_sentence < 0:
        raise ValueError(f"max_none_per_sentence must be >= 0, got {max_none_per_sentence}")
    batch, num_words, _ = gold.shape
    flat = gold.reshape(batch, -1)
    keep = (flat != IGNORE_INDEX) & (flat != NONE_LABEL)
    k = min(max_none_per_sentence, flat.shape[1])
    if k > 0:
        none = flat == NONE_LABEL
        # Random keys with non-NONE cells pushed past every NONE cell: the k smallest keys of a
        # row are a uniform sample of its NONE cells (or all of them if there are fewer than k).
        rng_device = generator.device if generator is not None else gold.device
        keys = torch.rand(flat.shape, generator=generator, device=rng_device).to(gold.device)
        keys = keys.masked_fill(~none, 2.0)
        chosen = keys.topk(k, dim=1, largest=False).indices
        if balanced:  # keep the first k_b of each row's draw: k_b = its relation cells, in [1, k]
            k_b = keep.sum(1).clamp(1, k)
            chosen = chosen.masked_fill(torch.arange(k, device=gold.device)[None] >= k_b[:, None], -1)
            chosen = torch.where(chosen < 0, chosen.gather(1, torch.zeros_like(chosen[:, :1])), chosen)
        sampled = torch.zeros_like(keep).scatter_(1, chosen, True) & none
        keep |= sampled
    b_idx, cell = keep.nonzero(as_tuple=True)
    return b_idx, cell // num_words, cell % num_words, flat[b_idx, cell].long()


def supervised_contrastive(features: Tensor, labels: Tensor, tau: float) -> Tensor:
    """SupCon loss (Khosla et al. 2020, "L_out") over ``features`` ``[N, D]`` with ``labels`` ``[N]``.

    Each anchor is contrasted with all other samples; its positives are the other samples with
    its label.  Anchors without a positive are skipped; if none remains the result is a zero that
    is still connected to ``features`` (so ``backward`` works unconditionally).
    """
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau}")
    n = features.shape[0]
    if n < 2:
        return features.float().sum() * 0.0
    with full_precision(features):
        return _supcon(features.float(), labels, tau)


def _supcon(features: Tensor, labels: Tensor, tau: float) -> Tensor:
    n = features.shape[0]
    z = F.normalize(features, dim=-1)
    sim = z @ z.T / tau
    self_mask = torch.eye(n, dtype=torch.bool, device=sim.device)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    num_pos = positives.sum(1)
    anchors = num_pos > 0
    if not bool(anchors.any()):
        return features.sum() * 0.0
    # mean over positives of log p = (sum of positive similarities) / |P| - logsumexp over others;
    # written this way the [N, N] log-probability matrix is never formed.
    log_norm = torch.logsumexp(sim.masked_fill(self_mask, float("-inf")), dim=1)
    pos_sim = (sim * positives.to(sim.dtype)).sum(1)
    mean_log_prob_pos = pos_sim[anchors] / num_pos[anchors] - log_norm[anchors]
    return -mean_log_prob_pos.mean()


def relation_contrastive(
    pair_src: Tensor | PairFeatures,
    gold_src: Tensor,
    pair_cs: Tensor | PairFeatures,
    gold_cs: Tensor,
    tau: float,
    max_none_per_sentence: int = 32,
    generator: torch.Generator | None = None,
    project: Callable[[Tensor], Tensor] | None = None,
    balanced: bool = False,
) -> Tensor:
    """Supervised contrastive loss over word-pair representations of both languages.

    Pairs are drawn from the source grid ``pair_src`` ``[B, W, W, D]`` and the code-switched grid
    ``pair_cs`` ``[B', W', W', D]`` (dense tensors, or the packed :class:`PairFeatures` the
    relation head returns) with :func:`sample_pairs` (all relation cells, capped
    ``NONE`` cells), pooled, and fed to :func:`supervised_contrastive` with their gold relation
    labels: a ``THW-PER`` pair of an English sentence is a positive for a ``THW-PER`` pair of a
    code-switched one, which is how label semantics are shared across languages.

    ``project`` (e.g. the model's :class:`PairProjector`) is applied to the gathered ``[N, D]``
    features only, so projection memory is ``O(N)`` rather than ``O(B W^2)``.
    """
    if pair_src.shape[-1] != pair_cs.shape[-1]:
        raise ValueError(f"pair dims differ: {pair_src.shape[-1]} vs {pair_cs.shape[-1]}")
    feats, labels = [], []
    views = [p if isinstance(p, PairFeatures) else PairFeatures.from_dense(p) for p in (pair_src, pair_cs)]
    for pair, gold in zip(views, (gold_src, gold_cs), strict=True):
        if pair.shape[:3] != gold.shape:
            raise ValueError(f"pair repr {tuple(pair.shape)} does not match gold {tuple(gold.shape)}")
        b, i, j, lab = sample_pairs(gold.to(pair.index.device), max_none_per_sentence, generator, balanced)
        feats.append(pair.at(b, i, j))
        labels.append(lab)
    features = torch.cat(feats)
    if project is not None:
        features = project(features)
    if features.shape[0] < 2:
        # Keep both inputs in the graph so callers can always call backward().
        connected = sum(t.sum() for view in views for t in view.parts)
        return connected * 0.0 + features.sum() * 0.0
    return supervised_contrastive(features, torch.cat(labels), tau)


class PairProjector(nn.Module):
    """Two-layer MLP projection head for contrastive losses (SimCLR-style), on the last dim.

    Contrasting in a separate projected space keeps the contrastive geometry from distorting the
    features the classifiers read.  Works on ``[..., in_dim]`` tensors (pairs or sentences).
    """

    def __init__(self, in_dim: int, out_dim: int = 128, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
