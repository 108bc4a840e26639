"""The `ner export` directory: what marks one and how a `NerModel` is rebuilt from it.

Reading lives apart from writing (`ner.inference.export`) because loading sits below inference: any
command that loads a model (`ner.inference.loading.load_model`) accepts an export, while writing one
needs a loaded model.

    DIR/config.json        {"format": "xner-export", ...}: model config (encoder = "encoder"), labels
    DIR/head.safetensors   every non-encoder weight (head, projections)
    DIR/encoder/           the (fine-tuned) encoder + tokenizer, Hugging Face format
    DIR/model.onnx         (`--onnx`) encoder + head as one ONNX graph (`ner.inference.onnx_export`)
    DIR/model.int8.onnx    (`--onnx --int8`) the same, dynamically quantised to int8
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from ner.model.config import ModelConfig
from ner.model.ner_model import CONFIG_FILE, NerModel

EXPORT_FORMAT = "xner-export"
EXPORT_VERSION = 1
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"
HF_DIR = "token-classification"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
ENCODER_PREFIX = "encoder.model."  # state_dict keys of the encoder weights, which live in ENCODER_DIR


def is_export(directory: str | os.PathLike[str]) -> bool:
    """True when `directory` holds a `ner export` (its config.json says so)."""
    p = Path(directory)
    try:
        return json.loads((p / CONFIG_FILE).read_text(encoding="utf-8")).get("format") == EXPORT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load_export(directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> NerModel:
    """Rebuild a `NerModel` from an export directory (no run directory, no encoder cache)."""
    d = Path(directory)
    meta = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
    if meta.get("format") != EXPORT_FORMAT or meta.get("export_version") != EXPORT_VERSION:
        raise ValueError(f"{d / CONFIG_FILE}: not an {EXPORT_FORMAT} v{EXPORT_VERSION} directory")
    cfg = ModelConfig.from_dict({**meta["model_config"], "encoder": str((d / ENCODER_DIR).absolute())})
    model = NerModel(cfg, list(meta["entity_types"]))
    if list(meta.get("labels", [])) != list(model.head.labels):
        raise ValueError(f"{d / CONFIG_FILE}: labels {meta.get('labels')} do not match {list(model.head.labels)}")
    missing, unexpected = model.load_state_dict(load_file(str(d / HEAD_FILE)), strict=False)
    missing = [k for k in missing if not k.startswith(ENCODER_PREFIX)]
    if missing or unexpected:
        raise ValueError(f"{d / HEAD_FILE}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.cfg.encoder = meta.get("trained_from_encoder", cfg.encoder)
    return model.to(map_location).eval()
