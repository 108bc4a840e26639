"""Per-term gradients on the encoder: the training-dynamics diagnostic and the auxiliary-term balance.

The objective is a sum of terms (the supervised cross entropies, the semantic and relation
contrastive losses). AdamW normalises each parameter's step by its own gradient history, so on a
parameter that several terms share (every encoder weight) the term with the largest gradient
decides where the parameter moves, whatever the loss values say. `term_gradients` takes each
term's gradient alone on the encoder's trainable parameters, which shows that balance directly:
its norm (``gn_<term>``), and the cosine with the supervised terms' summed gradient
(``gcos_<term>``; negative = the term pulls against the task).

`AuxBalance` uses the same measurement to keep every auxiliary term's encoder gradient at most
``ratio`` times the supervised one: a term that would dominate the update is scaled down (never
up), so the task keeps driving the encoder and the auxiliary term can only steer it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

SUPERVISED = ("ce_src", "ce_cs", "ce_pseudo")


def term_gradients(parts: dict[str, Tensor], params: Sequence[Tensor]) -> dict[str, float]:
    """Norm of each term's gradient on `params`, the supervised terms' joint norm and each other
    term's cosine with it. The graph is kept (``retain_graph``) for the real backward that follows."""
    grads: dict[str, Tensor] = {}
    for name, value in parts.items():
        if not value.requires_grad:
            continue
        g = torch.autograd.grad(value.float(), list(params), retain_graph=True, allow_unused=True)
        grads[name] = torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1).float()
                                 for x, p in zip(g, params, strict=True)])
    out = {f"gn_{k}": float(v.norm()) for k, v in grads.items()}
    sup = [grads[k] for k in SUPERVISED if k in grads]
    if sup:
        total = torch.stack(sup).sum(0)
        sup_norm = float(total.norm())
        out["gn_supervised"] = sup_norm
        for k, v in grads.items():
            if k not in SUPERVISED:
                denom = float(v.norm()) * sup_norm
                out[f"gcos_{k}"] = float(v @ total) / denom if denom > 0 else 0.0
    return out


@dataclass
class AuxBalance:
    """Multipliers of the auxiliary terms so that `gn_<term> <= ratio * gn_supervised` on the encoder.

    Updated at every gradient probe from that probe's norms and held until the next one; a
    multiplier never exceeds 1 (the configured weight is the ceiling). `ratio` None disables it.
    """

    ratio: float | None = None
    scale: dict[str, float] = field(default_factory=dict)

    def get(self, term: str) -> float:
        return self.scale.get(term, 1.0)

    def update(self, probe: dict[str, float], applied: dict[str, float]) -> None:
        """`probe`: norms measured with the multipliers `applied` (warm-up x balance) in the loss."""
        if self.ratio is None or not probe.get("gn_supervised"):
            return
        target = self.ratio * probe["gn_supervised"]
        for key, norm in probe.items():
            term = key[3:]
            if not key.startswith("gn_") or term in SUPERVISED or term == "supervised":
                continue
            unscaled = norm / max(applied.get(term, 1.0), 1e-12)  # the norm at the configured weight
            self.scale[term] = 1.0 if unscaled <= target or unscaled == 0 else max(target / unscaled, 1e-4)

    def state(self) -> dict[str, float]:
        return dict(self.scale)


def ramp(step: int, total: int, warmup: float) -> float:
    """Factor of the auxiliary terms at `step` (0-based): 0 -> 1 linearly over the first `warmup`
    of the run (a fraction when < 1, else a number of steps); 1 when `warmup` is 0."""
    span = warmup * total if warmup < 1 else warmup
    if span <= 0:
        return 1.0
    return min(1.0, (step + 1) / math.ceil(span))
