"""The mCL-NER training loop: `train(cfg) -> run directory`.

Where things live: the loss terms in `ner.objective`, parameter groups and the schedule in
`ner.optim`, checkpoint/resume in `ner.checkpoint`, dev evaluation and model selection in
`ner.selection`, DDP plumbing in `ner.distributed`, log file and signal handling in `ner.runtime`.

Run directory::

    RUN/config.yaml        the TrainConfig used (eval_langs resolved: what model selection used)
    RUN/model/             best model on the selection languages (`ner evaluate --model RUN`)
    RUN/last/              checkpoint: model + optimizer + scheduler + scaler + step + RNG states
    RUN/train.log          log
    RUN/metrics.jsonl      one JSON object per logged step / evaluation
    RUN/dev_metrics.json   dev F1 history, the best step, and the selection (zero-shot or not)

Rerunning the same command resumes automatically; SIGINT/SIGTERM finish the current step, write
`last/` and stop. `torchrun` works unchanged: the process group is initialised from the environment
when WORLD_SIZE > 1, the loss module is wrapped in DDP, DistributedSampler shards the data, and
only rank 0 logs, evaluates and writes files.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .checkpoint import (
    CHECKPOINT,
    TrainState,
    check_resumable,
    finished_steps,
    has_checkpoint,
    load_checkpoint,
    metrics_writer,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from .config import TrainConfig, dump_yaml, from_dict, read_yaml, to_dict
from .data import PairDataset, batches_per_epoch, epoch_batches, load_pairs, load_pseudo, make_loader, world
from .distributed import barrier, close_distributed, init_distributed, stop_requested
from .errors import NerError
from .inference import amp_dtype, autocast, load_model_dir, resolve_device, resolve_model_dir
from .model import ModelConfig, NerModel
from .objective import LossWeights, MclLoss, collate_step
from .optim import linear_schedule, param_groups, pseudo_repeat
from .runtime import Interrupted, StopRequest, TqdmHandler, log_to
from .selection import ModelSelector, load_dev, selection_for

log = logging.getLogger("ner.train")
PRIOR_SAMPLE = 2000  # training sentences whose labels set the output layer's initial bias


def build_model(cfg: TrainConfig, entity_types: list[str]) -> NerModel:
    """A fresh model, or the weights of `init_from` (self-training: student starts as the teacher)."""
    try:
        if cfg.init_from:
            model = load_model_dir(resolve_model_dir(cfg.init_from))
            missing = sorted(set(entity_types) - set(model.entity_types))
            if missing:
                raise NerError(f"{cfg.init_from}: model has no entity type(s) {missing} that the training data uses")
            return model
        return NerModel(cfg.model, entity_types)
    except ValueError as exc:  # bad encoder name, config mismatch
        raise NerError(str(exc).splitlines()[0]) from None
    except OSError as exc:  # encoder directory missing / unreadable
        raise NerError(f"cannot load encoder {cfg.model.encoder!r}: {str(exc).splitlines()[0]}") from None


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
        check_resumable(run, cfg)
    if main:
        run.mkdir(parents=True, exist_ok=True)
    barrier()
    with log_to(run / "train.log" if main else None):
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
    if resuming and (run / "model").is_dir() and finished_steps(run) >= total:
        log.info("%s: already trained for %d step(s) (max %d); nothing to do", run, finished_steps(run), total)
        return run
    selection = selection_for(cfg, examples)
    cfg.eval_langs = selection.langs  # config.yaml records what selection used
    dev = load_dev(cfg, selection.langs)
    model = build_model(cfg, types)
    if cfg.init_from:
        cfg.model = model.cfg  # the student inherits the teacher's architecture
    elif cfg.prior_init and not resuming:
        sample = [e.src_tags for e in examples[:PRIOR_SAMPLE]]
        model.init_output_prior(model.label_counts(sample))
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
        trainer, model_state = load_checkpoint(run, device)
        model.load_state_dict(model_state)
        optimizer.load_state_dict(trainer["optimizer"])
        scheduler.load_state_dict(trainer["scheduler"])  # the schedule itself follows the current total
        scaler.load_state_dict(trainer["scaler"])
        state = TrainState(**trainer["state"])
        rngs = trainer["rng"]
        set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0], generator)
        log.info("resuming %s from step %d", run, state.step)
    if main and not resuming and (run / "metrics.jsonl").exists():
        (run / "metrics.jsonl").unlink()
    write_metrics = metrics_writer(run / "metrics.jsonl", state.step if resuming else None) if main else None
    selector = ModelSelector(run, selection, dev, cfg.eval_batch_size, amp, write_metrics)
    start_step = state.step
    log.info(
        "training %s: %d pairs + %d pseudo-labeled (x%d), types %s, %d step(s) (%d per epoch), world %d, device %s, amp %s",
        run, n_pairs, len(pseudo), repeat, types, total, per_epoch, world_size, device, amp,
    )
    log.info("losses: src=%s cs=%s semantic=%g relation=%g; dev: %s", weights.use_src, weights.use_cs,
             weights.semantic, weights.relation, ", ".join(f"{k}({len(v)})" for k, v in dev.items()) or "none")
    (log.info if selection.zero_shot else log.warning)("%s", selection.describe())

    def checkpoint() -> None:
        rngs = [rng_state(generator)]
        if world_size > 1:
            gathered: list[object] = [None] * world_size
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
                            selector.evaluate(model, state)
                        barrier()
                    stopping = stop_requested(stop.requested, device, world_size)
                    if state.step % save_every == 0 or last_step or stopping:
                        checkpoint()
                        barrier()
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
            selector.save_best(model, state, None)
        selector.write(state)
        log.info("done: %d steps in %.1fs; best dev F1 %s", state.step, time.perf_counter() - t_start,
                 f"{state.best_f1:.4f} at step {state.best_step}" if state.history else "n/a (no dev languages)")
    barrier()
    return run


def load_run_config(run: str | os.PathLike[str]) -> TrainConfig:
    """The TrainConfig a run was trained with (RUN/config.yaml)."""
    path = Path(run) / "config.yaml"
    if not path.is_file():
        raise NerError(f"{run}: no config.yaml (not a run directory)")
    return from_dict(TrainConfig, read_yaml(path), str(path))


__all__ = ["Interrupted", "LossWeights", "MclLoss", "ModelConfig", "TqdmHandler", "TrainConfig", "close_distributed",
           "collate_step", "init_distributed", "load_run_config", "param_groups", "pseudo_repeat", "to_dict", "train"]
