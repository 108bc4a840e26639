"""Optimisation: parameter groups (learning rates, weight decay, frozen parts) and the LR schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ner.errors import NerError
from ner.model.ner_model import NerModel
from ner.training.config import TrainConfig


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a Hugging Face encoder, bottom first (BERT, XLM-R, ELECTRA, DeBERTa:
    `encoder.layer`; DistilBERT: `transformer.layer`)."""
    for path in ("encoder.layer", "transformer.layer", "layers"):
        obj: Any = encoder
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, nn.ModuleList):
            return obj
    raise NerError(f"--freeze-layers: cannot find the transformer layers of {type(encoder).__name__}")


def freeze(model: NerModel, freeze_embeddings: bool, freeze_layers: int) -> None:
    """Turn off gradients of the sub-word embeddings and, with `freeze_layers` K > 0, of the whole
    embedding block and the bottom K transformer layers.

    Why freeze the bottom: lower layers of a multilingual encoder hold the cross-lingually aligned
    representations, and English-only fine-tuning pulls them towards English (Wu & Dredze 2019
    found freezing the bottom layers of mBERT helps zero-shot transfer); it also cuts the backward
    pass, since autograd stops below the first trainable layer.
    """
    enc = model.encoder.model
    enc.get_input_embeddings().requires_grad_(not freeze_embeddings)
    if freeze_layers <= 0:
        return
    layers = encoder_layers(enc)
    if freeze_layers > len(layers):
        raise NerError(f"--freeze-layers {freeze_layers}: the encoder has only {len(layers)} layers")
    embeddings = getattr(enc, "embeddings", None)
    if embeddings is not None:
        embeddings.requires_grad_(False)
    for layer in layers[:freeze_layers]:
        layer.requires_grad_(False)


def param_groups(model: NerModel, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Encoder at `encoder_lr`, head and projections at `lr`; no weight decay on biases and norms.

    Frozen parts (`freeze_embeddings`, `freeze_layers`) get requires_grad off here.
    """
    freeze(model, cfg.freeze_embeddings, cfg.freeze_layers)
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

