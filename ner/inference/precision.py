"""Device and numeric precision for training and inference: which device, which autocast dtype."""

from __future__ import annotations

import contextlib
import logging
import os

import torch

from ner.errors import NerError

log = logging.getLogger(__name__)


AMP_MODES = ("auto", "bf16", "fp16", "off")


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
