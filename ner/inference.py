"""Running a trained model: device, precision, loading (run, model or export directory), batched prediction.

Everything that tags sentences goes through here -- evaluation, dev scoring during training,
self-training's teacher, `ner predict`, `ner mine-entities`, `ner export` -- so a model is found,
loaded and batched the same way everywhere. Scoring lives in `ner.evaluate`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from .errors import NerError
from .export_format import is_export, load_export
from .grid import Entity, entities_to_tags
from .model import CONFIG_FILE, NerModel

log = logging.getLogger(__name__)
AMP_MODES = ("auto", "bf16", "fp16", "off")


# --- devices, precision ------------------------------------------------------------------------


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` = the local GPU under torchrun (LOCAL_RANK), else cuda:0 when available, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NerError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NerError(f"device {name!r} requested but CUDA is not available")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX-BF16).

    Elsewhere oneDNN emulates bfloat16 and autocast is slower than fp32, so `auto` keeps fp32 there.
    """
    caps = getattr(torch.cpu, "get_capabilities", None)
    if caps is not None:
        found = caps()
        return bool(found.get("avx512_bf16") or found.get("amx_bf16"))
    return bool(torch.cpu._is_avx512_bf16_supported())  # torch < 2.13


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for training and inference (None = fp32).

    `auto`: bf16 where the GPU has it, else fp16; bf16 on CPUs with native bfloat16 (`cpu_has_bf16`),
    fp32 on other CPUs. `bf16` is honoured on any device (slow where emulated); `fp16` is CUDA-only.
    Weights and optimizer state stay fp32 either way (autocast casts per operation).
    """
    if mode not in AMP_MODES:
        raise NerError(f"unknown amp mode {mode!r} (use {', '.join(AMP_MODES)})")
    if mode == "off":
        return None
    if device.type == "cuda":
        if mode == "fp16":
            return torch.float16
        if mode == "bf16" or torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    if device.type != "cpu":
        if mode != "auto":
            log.warning("amp=%s ignored on %s (mixed precision on CUDA and CPU only)", mode, device)
        return None
    if mode == "fp16":
        log.warning("amp=fp16 ignored on cpu (CPU mixed precision is bf16; use --amp bf16 or auto)")
        return None
    native = cpu_has_bf16()
    if mode == "bf16" and not native:
        log.warning("amp=bf16 on a CPU without native bfloat16 (no AVX512-BF16/AMX): emulated, likely slower than fp32")
    return torch.bfloat16 if mode == "bf16" or native else None


def inference_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for inference: the same rule as training (`amp_dtype`), kept as its own name for callers."""
    return amp_dtype(mode, device)


def precision_name(dtype: torch.dtype | None) -> str:
    """`bf16`, `fp16` or `fp32`: what logs, metrics.json and dev_metrics.json record."""
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32") if dtype is not None else "fp32"


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """`torch.autocast` for `dtype`, or nothing when it is None (full precision)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# --- finding and loading models ----------------------------------------------------------------


def resolve_model_dir(path: str | os.PathLike[str]) -> Path:
    """Accept a run directory (uses its `model/`, the best checkpoint) or a model directory."""
    p = Path(path)
    if (p / "model" / CONFIG_FILE).is_file():
        return p / "model"
    if (p / CONFIG_FILE).is_file():
        return p
    if not p.exists():
        raise NerError(f"{p}: model or run directory not found")
    if (p / "last").is_dir():
        raise NerError(f"{p}: run has no model/ yet (training did not reach its first evaluation); rerun to resume")
    raise NerError(f"{p}: not a run directory (no model/{CONFIG_FILE}) nor a model directory (no {CONFIG_FILE})")


def load_model_dir(directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> NerModel:
    """A model directory (`NerModel.save`) or a `ner export` directory, in eval mode; loader errors
    (ValueError, KeyError, OSError) propagate."""
    if is_export(directory):
        return load_export(directory, map_location)
    return NerModel.load(directory, map_location=map_location)


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> NerModel:
    """Load the model of a run, model or export directory, in eval mode, on `device`."""
    mdir = resolve_model_dir(path)
    try:
        return load_model_dir(mdir, device)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise NerError(f"{mdir}: cannot load model ({exc})") from None


# --- batched prediction ------------------------------------------------------------------------


def _length_batches(lengths: Sequence[int], batch_size: int, max_cells: int,
                   subwords: Sequence[int] | None = None, max_subwords: int = 4096) -> Iterator[list[int]]:
    """Indices grouped by similar length, at most `batch_size` sentences, about `max_cells` padded
    word pairs (batch x longest^2) and, when `subwords` are given, about `max_subwords` padded
    sub-words (batch x longest row) per batch.

    Sorting by sub-word count is what makes inference fast: a padded encoder batch costs its longest
    row times its size, and PAN-X mixes 3-word titles with 60-word sentences. The word-pair cap keeps
    the relation head's quadratic grid in check (zh/ja are tokenized into characters), so one
    250-character sentence never pads a whole batch.
    """
    key = subwords if subwords is not None else lengths
    order = sorted(range(len(lengths)), key=lambda i: (key[i], lengths[i]))
    batch: list[int] = []
    longest_w = longest_s = 0
    for i in order:
        w = max(longest_w, lengths[i])
        sw = max(longest_s, key[i] + 2)
        full = len(batch) >= batch_size or (len(batch) + 1) * w ** 2 > max_cells
        if subwords is not None:
            full = full or (len(batch) + 1) * sw > max_subwords
        if batch and full:
            yield batch
            batch, w, sw = [], lengths[i], key[i] + 2
        batch.append(i)
        longest_w, longest_s = w, sw
    if batch:
        yield batch


@torch.inference_mode()
def predict_entities(
    model: NerModel,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 64,
    amp: torch.dtype | None = None,
    max_cells: int = 2**18,
    max_subwords: int = 4096,
) -> list[list[Entity]]:
    """Scored entities for pre-tokenized sentences, in input order (model left in eval mode)."""
    model.eval()
    device = model.device
    result: list[list[Entity]] = [[] for _ in sentences]
    todo = [i for i, s in enumerate(sentences) if len(s)]
    subwords = model.encoder.subword_lengths([list(sentences[i]) for i in todo]) if todo else []
    for chunk in _length_batches([len(sentences[i]) for i in todo], batch_size, max_cells, subwords, max_subwords):
        idx = [todo[k] for k in chunk]
        batch = model.collate([list(sentences[i]) for i in idx])
        with autocast(device, amp):
            out = model(batch)
        for i, ents in zip(idx, model.decode(out), strict=True):
            result[i] = ents
    return result


def predict_tags(
    model: NerModel, sentences: Sequence[Sequence[str]], batch_size: int = 64, amp: torch.dtype | None = None
) -> list[list[str]]:
    """IOB2 tags, one per input token (words lost to truncation are tagged O)."""
    ents = predict_entities(model, sentences, batch_size, amp)
    return [entities_to_tags(e, len(s)) for e, s in zip(ents, sentences, strict=True)]


__all__ = ["AMP_MODES", "amp_dtype", "autocast", "cpu_has_bf16", "inference_amp", "load_model", "load_model_dir",
           "precision_name", "predict_entities", "predict_tags", "resolve_device", "resolve_model_dir"]
