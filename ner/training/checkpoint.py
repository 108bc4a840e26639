"""Checkpoint and resume: what `RUN/last/` holds and how a run continues from it.

Resumption is exact on one process: data order is a pure function of (seed, epoch) (see
ner.data.sampling.epoch_batches and ner.data.buckets) and every RNG (python, numpy, torch, CUDA, the NONE-pair sampler) is
checkpointed, so an interrupted run continued from `last/` ends with the same weights as an
uninterrupted one. `last/` is replaced atomically (built as `last.tmp`, the old one moved aside).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cslib import atomic_directory
from ner.errors import NerError
from ner.model.ner_model import NerModel
from ner.training.config import TrainConfig, from_dict, read_yaml

CHECKPOINT = "last"
TRAINER_STATE = "trainer.pt"
MODEL_STATE = "model.pt"
PROGRESS = "progress.json"  # {"step", "total"}: lets a finished run return without loading anything


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
             "generator": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])



@dataclass
class TrainState:
    step: int = 0
    best_f1: float = -1.0
    best_step: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    aux_scale: dict[str, float] = field(default_factory=dict)  # ner.training.gradients.AuxBalance multipliers


def has_checkpoint(run: Path) -> bool:
    return (run / CHECKPOINT / TRAINER_STATE).is_file() or (run / f"{CHECKPOINT}.old" / TRAINER_STATE).is_file()


def checkpoint_dir(run: Path) -> Path:
    last = run / CHECKPOINT
    return last if (last / TRAINER_STATE).is_file() else run / f"{CHECKPOINT}.old"


def save_checkpoint(run: Path, model: NerModel, trainer: dict[str, Any]) -> None:
    """Write RUN/last atomically: build last.tmp, move the old one to last.old (which `checkpoint_dir`
    falls back to), rename, delete the old."""
    with atomic_directory(run / CHECKPOINT, exclusive=True) as tmp:
        torch.save(model.state_dict(), tmp / MODEL_STATE)
        torch.save(trainer, tmp / TRAINER_STATE)
        (tmp / PROGRESS).write_text(json.dumps({"step": trainer["state"]["step"], "total": trainer["total"]}) + "\n")
        (tmp / "config.json").write_text(json.dumps({"entity_types": model.entity_types,
                                                      "model_config": model.cfg.to_dict()}, indent=2))


def metrics_writer(path: Path, keep_until: int | None) -> Callable[[dict[str, Any]], None]:
    """Append-only JSONL writer; on resume, lines logged after the checkpoint's step are dropped
    (they will be logged again), so the file reads as one uninterrupted run."""
    if keep_until is not None and path.exists():
        kept = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                if ln.strip() and json.loads(ln).get("step", 0) <= keep_until]
        path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")

    def write(record: dict[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    return write



def check_resumable(run: Path, cfg: TrainConfig) -> None:
    """A checkpoint is only reused with the same model and data; other settings may change."""
    saved_path = run / "config.yaml"
    if not saved_path.is_file():
        return
    raw = read_yaml(saved_path)
    saved = from_dict(TrainConfig, raw, str(saved_path))
    if "bucket_batches" not in raw:  # started before length bucketing existed: its batches were uniform
        saved.bucket_batches = 0
    keys = ["init_from" if cfg.init_from else "model", "shards", "pseudo", "pseudo_fraction", "seed", "batch_size",
            "limit", "freeze_embeddings", "freeze_layers", "bucket_batches"]
    for key in keys:
        old, new = getattr(saved, key), getattr(cfg, key)
        if key == "model":
            old, new = old.to_dict(), new.to_dict()
        elif key in ("shards", "pseudo", "init_from"):  # same paths, whatever the working directory
            old, new = _abs(old), _abs(new)
        if old != new:
            raise NerError(
                f"{run}: has a checkpoint trained with a different {key!r} ({old!r}, now {new!r}); "
                f"use another --out or delete {run / CHECKPOINT} to start over"
            )


def _abs(paths: list[str] | str | None) -> list[str] | str | None:
    if paths is None:
        return None
    if isinstance(paths, str):
        return str(Path(paths).absolute())
    return [str(Path(p).absolute()) for p in paths]



def finished_steps(run: Path) -> int:
    """Steps already done according to the checkpoint's progress file (0 when there is none)."""
    progress = checkpoint_dir(run) / PROGRESS
    if not progress.is_file():
        return 0
    return int(json.loads(progress.read_text()).get("step", 0))


def load_checkpoint(run: Path, device: torch.device) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(trainer state, model state dict) of RUN/last (or last.old after an interrupted save)."""
    ck = checkpoint_dir(run)
    trainer = torch.load(ck / TRAINER_STATE, map_location="cpu", weights_only=False)
    return trainer, torch.load(ck / MODEL_STATE, map_location=device, weights_only=True)
