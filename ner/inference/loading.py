"""Finding and loading a trained model: a run, model or `ner export` directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ner.errors import NerError
from ner.inference.export_format import is_export, load_export
from ner.model.ner_model import CONFIG_FILE, NerModel


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


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu", backend: str = "torch") -> NerModel:
    """Load the model of a run, model or export directory, in eval mode, on `device`.

    `backend` "onnx" / "onnx-int8": an `ner export --onnx` directory served by ONNX Runtime on the CPU
    (`ner.inference.onnx_runtime.OnnxNerModel`, which tags, batches and decodes as a `NerModel` does)."""
    if backend != "torch":
        from ner.inference.onnx_runtime import BACKENDS, load_onnx_model

        if backend not in BACKENDS:
            raise NerError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
        if torch.device(device).type != "cpu":
            raise NerError(f"--backend {backend} runs on the CPU (ONNX Runtime), not on {device}")
        return load_onnx_model(path, backend)  # type: ignore[return-value]  # duck-typed NerModel for inference
    mdir = resolve_model_dir(path)
    try:
        return load_model_dir(mdir, device)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise NerError(f"{mdir}: cannot load model ({exc})") from None
