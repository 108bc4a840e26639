"""The mCL-NER training loop: `train(cfg) -> run directory`.

Loss per batch of (source, code-switched) pairs, every term switchable for ablations::

    CE(src) + CE(cs) + semantic_weight * L_sem(proj(s_src), proj(s_cs))
                     + relation_weight * L_rel(proj(pairs_src), gold_src, proj(pairs_cs), gold_cs)

Run directory::

    RUN/config.yaml        the TrainConfig used
    RUN/model/             best model on the dev languages (NerModel.save; `ner evaluate --model RUN`)
    RUN/last/              checkpoint: model + optimizer + scheduler + scaler + step + RNG states
    RUN/train.log          log
    RUN/metrics.jsonl      one JSON object per logged step / evaluation
    RUN/dev_metrics.json   dev F1 history and the best step

Resumption is exact on one process: data order is a pure function of (seed, epoch) (see
ner.data.epoch_batches) and every RNG (python, numpy, torch, CUDA, the NONE-pair sampler) is
checkpointed, so an interrupted run continued from `last/` ends with the same weights as an
uninterrupted one. Rerunning the same command resumes automatically; SIGINT/SIGTERM finish the
current step, write `last/` and stop.

`torchrun` works unchanged: the process group is initialised from the environment when
WORLD_SIZE > 1, the loss module is wrapped in DDP, DistributedSampler shards the data, and
only rank 0 logs, evaluates and writes files.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from .config import TrainConfig, dump_yaml, from_dict, read_yaml, to_dict
from .data import (
    Example,
    PairDataset,
    batches_per_epoch,
    epoch_batches,
    load_pairs,
    load_pseudo,
    make_loader,
    world,
)
from .errors import NerError
from .evaluate import amp_dtype, autocast, entity_scores, predict_tags, resolve_device, resolve_model_dir
from .losses import relation_contrastive, semantic_contrastive
from .model import ModelConfig, NerModel, NerOutput

log = logging.getLogger("ner.train")

CHECKPOINT = "last"
TRAINER_STATE = "trainer.pt"
MODEL_STATE = "model.pt"
PROGRESS = "progress.json"  # {"step", "total"}: lets a finished run return without loading anything


# --- the loss -----------------------------------------------------------------------------------


@dataclass
class LossWeights:
    use_src: bool = True
    use_cs: bool = True
    semantic: float = 0.0
    relation: float = 0.0
    tau_semantic: float = 0.1
    tau_relation: float = 0.1
    max_none_pairs: int = 32

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> LossWeights:
        return cls(cfg.use_src, cfg.use_cs, cfg.semantic_weight, cfg.effective_relation_weight(),
                   cfg.tau_semantic, cfg.tau_relation, cfg.max_none_pairs)

    @property
    def needs_cs(self) -> bool:
        return self.use_cs or self.semantic > 0 or self.relation > 0


def _rows(out: NerOutput, rows: slice) -> NerOutput:
    pair = out.pair_repr.rows(rows) if out.pair_repr is not None else None
    return NerOutput(out.logits[rows], out.word_mask[rows], out.sentence[rows], pair)


class MclLoss(nn.Module):
    """The whole mCL-NER objective in one `forward`.

    Why a module: DDP expects exactly one forward of the wrapped module per backward; running the
    encoder on both views and the projection heads inside that one forward keeps gradient
    synchronisation correct (and is also the shape `torch.compile` handles best).
    """

    def __init__(self, model: NerModel, weights: LossWeights, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.model = model
        self.w = weights
        self.generator = generator

    def forward(self, src: dict[str, Tensor], cs: dict[str, Tensor] | None, n_pairs: int) -> tuple[Tensor, dict[str, Tensor]]:
        """`src` holds the n_pairs paired source views first, then single-view (pseudo-labeled) rows;
        `cs` holds the n_pairs code-switched partners (None when no term needs them)."""
        model, w = self.model, self.w
        out_src = model(src)
        n_rows = out_src.logits.shape[0]
        parts: dict[str, Tensor] = {}
        if w.use_src:
            parts["ce_src"] = model.supervised_loss(out_src, src)
        elif n_pairs < n_rows:  # pseudo-labeled rows are always supervised
            tail = slice(n_pairs, None)
            parts["ce_pseudo"] = model.supervised_loss(_rows(out_src, tail), {"gold": src["gold"][tail]})
        if cs is not None and n_pairs > 0:
            out_cs = model(cs)
            if w.use_cs:
                parts["ce_cs"] = model.supervised_loss(out_cs, cs)
            head = slice(0, n_pairs)
            if w.semantic > 0:
                parts["semantic"] = w.semantic * semantic_contrastive(
                    model.project_sentence(out_src.sentence[head]), model.project_sentence(out_cs.sentence),
                    w.tau_semantic,
                )
            if w.relation > 0:
                if out_src.pair_repr is None or out_cs.pair_repr is None:
                    raise NerError("the relation contrastive loss needs --head relation")
                parts["relation"] = w.relation * relation_contrastive(
                    out_src.pair_repr.rows(head), src["gold"][head].to(out_src.logits.device), out_cs.pair_repr,
                    cs["gold"].to(out_cs.logits.device), w.tau_relation, w.max_none_pairs, self.generator,
                    project=model.project_pairs,
                )
        if not parts:
            raise RuntimeError("no loss term active for this batch")
        total = torch.stack([p.float() for p in parts.values()]).sum()
        return total, {k: v.detach() for k, v in parts.items()}


def collate_step(model: NerModel, items: list[Example], needs_cs: bool) -> tuple[dict, dict | None, int]:
    """Collate one batch of examples into (src batch, cs batch or None, number of pairs)."""
    paired = [e for e in items if e.paired]
    single = [e for e in items if not e.paired]
    rows = paired + single
    src = model.collate([e.src_tokens for e in rows], [e.src_tags for e in rows])
    cs = None
    if needs_cs and paired:
        cs = model.collate([e.cs_tokens or [] for e in paired], [e.cs_tags or [] for e in paired])
    return src, cs, len(paired)


# --- optimisation -------------------------------------------------------------------------------


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


# --- RNG, distributed, logging ------------------------------------------------------------------


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


def init_distributed() -> bool:
    """Join the process group torchrun describes in the environment; True if this call created it."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return True


def close_distributed(created: bool) -> None:
    """Destroy the process group `init_distributed` created, after a successful run only.

    Only on success, as torchtitan does: tearing a group down while another rank is still in a
    collective, or under a live DDP reducer, can hang (pytorch/pytorch#75097).
    """
    if created:
        gc.collect()  # a reference cycle could still hold a DDP module
        dist.destroy_process_group()


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class TqdmHandler(logging.Handler):
    """Log records through tqdm.write so they do not break the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)  # stdout is for results (predict)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


@contextmanager
def _log_to(path: Path | None) -> Iterator[None]:
    """Attach a file handler for train.log to the `ner` logger for the duration of a run."""
    if path is None:
        yield
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ner")
    logger.addHandler(handler)
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


class StopRequest:
    """First SIGINT/SIGTERM asks the loop to stop after the current step and checkpoint;
    a second SIGINT aborts at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("signal %d: stopping after this step and saving a checkpoint (Ctrl-C again to abort)", signum)

    def __enter__(self) -> StopRequest:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Interrupted(NerError):
    """Training stopped on request; the checkpoint is saved and rerunning resumes."""


# --- checkpointing ------------------------------------------------------------------------------


@dataclass
class TrainState:
    step: int = 0
    best_f1: float = -1.0
    best_step: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def has_checkpoint(run: Path) -> bool:
    return (run / CHECKPOINT / TRAINER_STATE).is_file() or (run / f"{CHECKPOINT}.old" / TRAINER_STATE).is_file()


def _checkpoint_dir(run: Path) -> Path:
    last = run / CHECKPOINT
    return last if (last / TRAINER_STATE).is_file() else run / f"{CHECKPOINT}.old"


def save_checkpoint(run: Path, model: NerModel, trainer: dict[str, Any]) -> None:
    """Write RUN/last atomically: build last.tmp, move the old one aside, rename, delete the old."""
    tmp, last, old = run / f"{CHECKPOINT}.tmp", run / CHECKPOINT, run / f"{CHECKPOINT}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(model.state_dict(), tmp / MODEL_STATE)
    torch.save(trainer, tmp / TRAINER_STATE)
    (tmp / PROGRESS).write_text(json.dumps({"step": trainer["state"]["step"], "total": trainer["total"]}) + "\n")
    (tmp / "config.json").write_text(json.dumps({"entity_types": model.entity_types,
                                                  "model_config": model.cfg.to_dict()}, indent=2))
    if last.exists():
        shutil.rmtree(old, ignore_errors=True)
        last.rename(old)
    tmp.rename(last)
    shutil.rmtree(old, ignore_errors=True)


def _metrics_writer(path: Path, keep_until: int | None) -> Callable[[dict[str, Any]], None]:
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


# --- setup helpers ------------------------------------------------------------------------------


def _check_resumable(run: Path, cfg: TrainConfig) -> None:
    """A checkpoint is only reused with the same model and data; other settings may change."""
    saved_path = run / "config.yaml"
    if not saved_path.is_file():
        return
    saved = from_dict(TrainConfig, read_yaml(saved_path), str(saved_path))
    keys = ["init_from" if cfg.init_from else "model", "shards", "pseudo", "pseudo_fraction", "seed", "batch_size",
            "limit", "freeze_embeddings"]
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


def _load_dev(cfg: TrainConfig, examples: list[Example]) -> dict[str, list[Any]]:
    from cslib import load_split

    langs = cfg.eval_langs
    if langs is None:
        langs = sorted({e.lang for e in examples if e.paired and e.lang})
    limit = cfg.dev_limit or None  # 0 = all
    return {lang: load_split("panx", lang, "dev", data_root=cfg.data_root, limit=limit) for lang in langs}


def build_model(cfg: TrainConfig, entity_types: list[str]) -> NerModel:
    """A fresh model, or the weights of `init_from` (self-training: student starts as the teacher)."""
    try:
        if cfg.init_from:
            model = NerModel.load(resolve_model_dir(cfg.init_from))
            missing = sorted(set(entity_types) - set(model.entity_types))
            if missing:
                raise NerError(f"{cfg.init_from}: model has no entity type(s) {missing} that the training data uses")
            return model
        return NerModel(cfg.model, entity_types)
    except ValueError as exc:  # bad encoder name, config mismatch
        raise NerError(str(exc).splitlines()[0]) from None
    except OSError as exc:  # encoder directory missing / unreadable
        raise NerError(f"cannot load encoder {cfg.model.encoder!r}: {str(exc).splitlines()[0]}") from None


def evaluate_dev(model: NerModel, dev: dict[str, list[Any]], batch_size: int, amp: torch.dtype | None) -> dict[str, dict]:
    scores = {}
    for lang, sents in dev.items():
        pred = predict_tags(model, [s.tokens for s in sents], batch_size, amp)
        scores[lang] = entity_scores([s.tags for s in sents], pred)
    return scores


# --- the loop -----------------------------------------------------------------------------------


def train(cfg: TrainConfig, on_step: Callable[[int], None] | None = None) -> Path:
    """Train (or resume) the run `cfg.out`; returns the run directory.

    `on_step(step)` is called after every optimizer step (tests use it to simulate a crash).
    Raises `NerError` for user errors and `Interrupted` when stopped by a signal.
    """
    cfg = replace(cfg)
    cfg.validate()
    created_group = init_distributed()
    run = _train(cfg, on_step)  # returns after its DDP module is freed
    close_distributed(created_group)
    return run


def _train(cfg: TrainConfig, on_step: Callable[[int], None] | None) -> Path:
    rank, world_size = world()
    main = rank == 0
    run = Path(cfg.out)
    resuming = has_checkpoint(run)
    if cfg.resume and not resuming:
        raise NerError(f"{run}: --resume given but there is no checkpoint in {run / CHECKPOINT}")
    if resuming:
        _check_resumable(run, cfg)
    if main:
        run.mkdir(parents=True, exist_ok=True)
    _barrier()
    with _log_to(run / "train.log" if main else None):
        if not main:
            logging.getLogger("ner").setLevel(logging.WARNING)
        return _loop(cfg, run, resuming, rank, world_size, on_step)


def _loop(cfg: TrainConfig, run: Path, resuming: bool, rank: int, world_size: int,
          on_step: Callable[[int], None] | None) -> Path:
    main = rank == 0
    t_start = time.perf_counter()
    seed_everything(cfg.seed + rank)
    examples, types = load_pairs(cfg.shards, limit=cfg.limit)
    n_pairs = len(examples)
    pseudo = [ex for path in cfg.pseudo for ex in load_pseudo(path)]
    repeat = pseudo_repeat(n_pairs, len(pseudo), cfg.pseudo_fraction)
    examples += pseudo * repeat
    per_epoch = batches_per_epoch(len(examples), cfg.batch_size, world_size)
    total = cfg.max_steps or cfg.epochs * per_epoch
    progress = _checkpoint_dir(run) / PROGRESS
    if resuming and (run / "model").is_dir() and progress.is_file():
        done = json.loads(progress.read_text()).get("step", 0)
        if done >= total:
            log.info("%s: already trained for %d step(s) (max %d); nothing to do", run, done, total)
            return run
    dev = _load_dev(cfg, examples)
    model = build_model(cfg, types)
    if cfg.init_from:
        cfg.model = model.cfg  # the student inherits the teacher's architecture
    if main:
        dump_yaml(cfg, run / "config.yaml")
    device = resolve_device(cfg.device)
    amp = amp_dtype(cfg.amp, device)
    model.to(device)
    groups = param_groups(model, cfg)  # before DDP: it fixes which parameters need gradients
    weights = LossWeights.from_config(cfg)
    generator = torch.Generator().manual_seed(cfg.seed + rank)
    loss_module = MclLoss(model, weights, generator)
    wrapped: nn.Module = loss_module
    if world_size > 1:
        # Ablations and single-view (pseudo-labeled) batches leave projection heads without gradients.
        unused = (bool(cfg.pseudo) or weights.semantic == 0 or not weights.needs_cs
                  or (model.cfg.head == "relation" and weights.relation == 0))
        wrapped = nn.parallel.DistributedDataParallel(
            loss_module, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused
        )
    optimizer = torch.optim.AdamW(groups)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(total, cfg.warmup))
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    state = TrainState()
    if resuming:
        ck = _checkpoint_dir(run)
        trainer = torch.load(ck / TRAINER_STATE, map_location="cpu", weights_only=False)
        model.load_state_dict(torch.load(ck / MODEL_STATE, map_location=device, weights_only=True))
        optimizer.load_state_dict(trainer["optimizer"])
        scheduler.load_state_dict(trainer["scheduler"])  # the schedule itself follows the current total
        scaler.load_state_dict(trainer["scaler"])
        state = TrainState(**trainer["state"])
        rngs = trainer["rng"]
        set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0], generator)
        log.info("resuming %s from step %d (%s)", run, state.step, ck)
    if main and not resuming and (run / "metrics.jsonl").exists():
        (run / "metrics.jsonl").unlink()
    write_metrics = _metrics_writer(run / "metrics.jsonl", state.step if resuming else None) if main else None
    start_step = state.step
    log.info(
        "training %s: %d pairs + %d pseudo-labeled (x%d), types %s, %d step(s) (%d per epoch), world %d, device %s, amp %s",
        run, n_pairs, len(pseudo), repeat, types, total, per_epoch, world_size, device, amp,
    )
    log.info("losses: src=%s cs=%s semantic=%g relation=%g; dev: %s", weights.use_src, weights.use_cs,
             weights.semantic, weights.relation, ", ".join(f"{k}({len(v)})" for k, v in dev.items()) or "none")

    def save_best(scores: dict[str, dict] | None) -> None:
        model.save(run / "model")
        log.info("saved best model (step %d%s) to %s", state.step,
                 f", dev F1 {state.best_f1:.4f}" if scores else "", run / "model")

    def do_eval() -> None:
        scores = evaluate_dev(model, dev, cfg.eval_batch_size, amp)
        mean = sum(s["f1"] for s in scores.values()) / len(scores)
        record = {"step": state.step, "dev_f1": mean, "dev": {k: round(v["f1"], 6) for k, v in scores.items()}}
        state.history.append(record)
        assert write_metrics is not None
        write_metrics({"step": state.step, "type": "eval", **record})
        log.info("step %d dev F1 %.4f (%s)", state.step, mean, " ".join(f"{k} {v['f1']:.4f}" for k, v in scores.items()))
        if mean > state.best_f1:
            state.best_f1, state.best_step = mean, state.step
            save_best(scores)
            best = {k: {m: v[m] for m in ("f1", "precision", "recall", "per_type")} for k, v in scores.items()}
            (run / "best_dev.json").write_text(json.dumps(best, indent=2) + "\n")
        _write_dev_metrics(run, state)

    def checkpoint() -> None:
        rngs = [rng_state(generator)]
        if world_size > 1:
            gathered: list[Any] = [None] * world_size
            dist.all_gather_object(gathered, rngs[0])
            rngs = gathered
        if main:
            trainer = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                       "scaler": scaler.state_dict(), "state": state.__dict__, "rng": rngs,
                       "total": total, "world_size": world_size}
            save_checkpoint(run, model, trainer)

    eval_every = cfg.eval_every or per_epoch
    save_every = cfg.save_every or eval_every
    stop = StopRequest()
    dataset = PairDataset(examples)
    bar = tqdm(total=total, initial=state.step, disable=True if not main else None, desc="train", unit="step",
               dynamic_ncols=True)
    running: dict[str, float] = {}
    n_running = 0
    try:
        with stop:
            while state.step < total:
                epoch, first = divmod(state.step, per_epoch)
                batches = epoch_batches(len(dataset), cfg.batch_size, epoch, cfg.seed)[first:]
                for items in make_loader(dataset, batches):
                    model.train()
                    src, cs, n_paired = collate_step(model, items, weights.needs_cs)
                    with autocast(device, amp):
                        loss, parts = wrapped(src, cs, n_paired)
                    loss_value = loss.item()
                    if not math.isfinite(loss_value):
                        raise NerError(f"loss is {loss_value} at step {state.step + 1}: lower --lr / --encoder-lr")
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    if cfg.grad_clip > 0:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                    scheduler.step()
                    state.step += 1
                    bar.update(1)
                    running["loss"] = running.get("loss", 0.0) + loss_value
                    for k, v in parts.items():
                        running[k] = running.get(k, 0.0) + v.item()
                    n_running += 1
                    if main and (state.step % cfg.log_every == 0 or state.step == total):
                        assert write_metrics is not None
                        avg = {k: round(v / n_running, 6) for k, v in running.items()}
                        write_metrics({"step": state.step, "epoch": epoch, **avg,
                                       "lr": scheduler.get_last_lr()[-1], "elapsed": round(time.perf_counter() - t_start, 2)})
                        bar.set_postfix(loss=f"{avg['loss']:.4f}")
                        running, n_running = {}, 0
                    last_step = state.step == total
                    if dev and (state.step % eval_every == 0 or last_step):
                        if main:
                            do_eval()
                        _barrier()
                    stopping = _stop_requested(stop.requested, device, world_size)
                    if state.step % save_every == 0 or last_step or stopping:
                        checkpoint()
                        _barrier()
                    if stopping:
                        raise Interrupted(
                            f"stopped at step {state.step}; checkpoint saved in {run / CHECKPOINT} "
                            "(rerun the same command to resume)"
                        )
                    if on_step is not None:
                        on_step(state.step)
                    if last_step:
                        break
    finally:
        bar.close()
    if main:
        if not (run / "model").is_dir() or (not dev and state.step > start_step):
            state.best_step = state.step
            save_best(None)
        _write_dev_metrics(run, state)
        log.info("done: %d steps in %.1fs; best dev F1 %s", state.step, time.perf_counter() - t_start,
                 f"{state.best_f1:.4f} at step {state.best_step}" if state.history else "n/a (no dev languages)")
    _barrier()
    return run


def _stop_requested(local: bool, device: torch.device, world_size: int) -> bool:
    """Agree across ranks, so every rank stops at the same step (torchrun signals each worker)."""
    if world_size <= 1:
        return local
    flag = torch.tensor([1.0 if local else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def _write_dev_metrics(run: Path, state: TrainState) -> None:
    best = None
    if (run / "best_dev.json").is_file() and state.history:
        best = json.loads((run / "best_dev.json").read_text())
    data = {"best_step": state.best_step, "best_f1": state.best_f1 if state.history else None, "best": best,
            "last": state.history[-1] if state.history else None, "history": state.history}
    (run / "dev_metrics.json").write_text(json.dumps(data, indent=2) + "\n")


def load_run_config(run: str | os.PathLike[str]) -> TrainConfig:
    """The TrainConfig a run was trained with (RUN/config.yaml)."""
    path = Path(run) / "config.yaml"
    if not path.is_file():
        raise NerError(f"{run}: no config.yaml (not a run directory)")
    return from_dict(TrainConfig, read_yaml(path), str(path))


__all__ = ["LossWeights", "MclLoss", "ModelConfig", "TrainConfig", "collate_step", "load_run_config", "to_dict", "train"]
