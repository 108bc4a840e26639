"""Optimisation: parameter groups (learning rates, weight decay, frozen parts) and the LR schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from .config import TrainConfig
from .model import NerModel


def pseudo_repeat(n_pairs: int, n_pseudo: int, fraction: float | None, cap: int = 20) -> int:
    """Copies of each pseudo-labeled row so that they make up about `fraction` of the pool."""
    if not n_pseudo or not fraction:
        return 1
    return max(1, min(cap, round(fraction * n_pairs / ((1.0 - fraction) * n_pseudo))))


def param_groups(model: NerModel, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Encoder at `encoder_lr`, head and projections at `lr`; no weight decay on biases and norms.

    With `freeze_embeddings` the sub-word embedding matrix is frozen here (requires_grad off).
    """
    model.encoder.model.get_input_embeddings().requires_grad_(not cfg.freeze_embeddings)
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (name.startswith("encoder."), p.ndim <= 1)
        groups.setdefault(key, []).append(p)
    out = []
    for (is_enc, no_decay), params in sorted(groups.items()):
        out.append({"params": params, "lr": cfg.encoder_lr if is_enc else cfg.lr,
                    "weight_decay": 0.0 if no_decay else cfg.weight_decay})
    return out


def linear_schedule(total: int, warmup: float) -> Callable[[int], float]:
    """Linear warm-up then linear decay to 0; `warmup` < 1 is a fraction of `total`."""
    warm = int(round(warmup * total)) if warmup < 1 else int(warmup)
    warm = min(warm, max(total - 1, 0))

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return factor

