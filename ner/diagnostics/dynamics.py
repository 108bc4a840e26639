"""Training dynamics from a run's `metrics.jsonl`: which loss term moves the encoder?

The trainer logs, every `grad_norm_every` steps, each active loss term's gradient norm on the
encoder's trainable parameters taken alone (`gn_<term>`, weights applied), the total norm before
clipping (`grad_norm`) and, at every log line, the share of steps whose update the global clip shrank
(`clipped`). AdamW scales each parameter's step by its own gradient history, so the term with the
largest gradient on a parameter decides the direction that parameter moves: a ratio of 100 between
an auxiliary term and the task's cross entropy means the encoder is trained for the auxiliary term.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SUPERVISED = ("ce_src", "ce_cs", "ce_pseudo")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per term: median gradient norm on the encoder and its median ratio to the supervised terms'
    combined norm; the loss trajectory (first and last logged value); the share of clipped steps."""
    probes = [r for r in records if any(k.startswith("gn_") for k in r)]
    terms = sorted({k[3:] for r in probes for k in r if k.startswith("gn_")} - {"supervised"})
    out: dict[str, Any] = {"probes": len(probes), "terms": {}}
    for term in terms:
        norms = [r[f"gn_{term}"] for r in probes if f"gn_{term}" in r]
        ratios = []
        for r in probes:
            sup = [r[f"gn_{t}"] for t in SUPERVISED if f"gn_{t}" in r]
            if f"gn_{term}" in r and sup and sum(sup) > 0:
                ratios.append(r[f"gn_{term}"] / float(np.sqrt(sum(s * s for s in sup))))
        losses = [r[term] for r in records if term in r and "type" not in r]
        cosines = [r[f"gcos_{term}"] for r in probes if f"gcos_{term}" in r]
        out["terms"][term] = {
            "grad_norm_median": float(np.median(norms)) if norms else None,
            "ratio_to_supervised_median": float(np.median(ratios)) if ratios else None,
            "cosine_with_supervised_median": float(np.median(cosines)) if cosines else None,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
        }
    steps = [r for r in records if "clipped" in r and "type" not in r]
    if steps:
        out["clipped_share"] = float(np.average([r["clipped"] for r in steps],
                                                weights=[r.get("n_steps", 1) for r in steps]))
    norms = [r["grad_norm"] for r in records if "grad_norm" in r]
    if norms:
        out["grad_norm_median"] = float(np.median(norms))
    return out


def plot(records: list[dict[str, Any]], path: Path, title: str) -> bool:
    """Gradient norm per term over steps (log scale) and the logged losses; False if nothing to plot."""
    probes = [r for r in records if any(k.startswith("gn_") for k in r)]
    logged = [r for r in records if "loss" in r and "type" not in r]
    if not probes and not logged:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    terms = sorted({k[3:] for r in probes for k in r if k.startswith("gn_")})
    for term in terms:
        pts = [(r["step"], r[f"gn_{term}"]) for r in probes if f"gn_{term}" in r]
        axes[0].plot(*zip(*pts, strict=True), marker="o", ms=3, label=term)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_title("gradient norm on the encoder, per term")
    if terms:
        axes[0].legend(fontsize=8)
    loss_terms = sorted({k for r in logged for k in r
                         if k in (*SUPERVISED, "semantic", "relation", "semantic_target", "loss")})
    for term in loss_terms:
        pts = [(r["step"], r[term]) for r in logged if term in r]
        axes[1].plot(*zip(*pts, strict=True), label=term)
    axes[1].set_xlabel("step")
    axes[1].set_title("loss terms (weighted)")
    if loss_terms:
        axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
