"""The mCL-NER training loop: `train(cfg) -> run directory`.

Here: `build_trainer` sets a run up, `Trainer.restore` / `.step` / `.save` are resume, one optimizer
step and checkpoint, and `_run_steps` is the loop around them. Elsewhere: the loss terms in
`ner.training.objective`, parameter groups and the schedule in `ner.training.optim`, checkpoint files in
`ner.training.checkpoint`, dev evaluation and model selection in `ner.training.selection`, device and precision in
`ner.inference`, DDP plumbing in `ner.training.distributed`, log file and signal handling in `ner.training.runtime`.

Run directory::

    RUN/config.yaml        the TrainConfig used (eval_langs resolved: what model selection used)
    RUN/model/             best model on the selection languages (`ner evaluate --model RUN`)
    RUN/last/              checkpoint: model + optimizer + scheduler + scaler + step + RNG states
    RUN/train.log          log
    RUN/metrics.jsonl      one JSON object per logged step / evaluation
    RUN/tensorboard/       the same numbers as TensorBoard event files, with --report-to tensorboard
    RUN/dev_metrics.json   dev F1 history, the best step, and the selection (zero-shot or not)

Rerunning the same command resumes automatically; SIGINT/SIGTERM finish the current step, write
`last/` and stop. `torchrun` works unchanged (on CPU with gloo, tested with two processes): the process
group is initialised from the environment when WORLD_SIZE > 1, the loss module is wrapped in DDP, every
rank takes its disjoint slice of each global batch (`ner.data.sampling.epoch_batches`), and only rank 0 logs,
evaluates and writes files. Precision follows `amp` (`ner.inference.precision.amp_dtype`: bf16 autocast on CPUs
with native bfloat16, fp32 weights and optimizer state); batches are length-bucketed (`ner.data.buckets`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from ner.data.buckets import bucket_keys
from ner.data.joining import join_examples
from ner.data.pseudo_labels import load_pseudo
from ner.data.records import Example, TextPair
from ner.data.sampling import (
    PairDataset,
    batches_per_epoch,
    epoch_batches,
    make_loader,
    pair_batch,
    pseudo_repeat,
)
from ner.data.shards import load_pairs, load_text_pairs
from ner.errors import NerError
from ner.inference.loading import load_model_dir, resolve_model_dir
from ner.inference.precision import amp_dtype, autocast, precision_name, resolve_device
from ner.model.config import ModelConfig
from ner.model.encoder import WordEncoder
from ner.model.ner_model import NerModel
from ner.training.checkpoint import (
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
from ner.training.config import TrainConfig, dump_yaml, from_dict, read_yaml, to_dict
from ner.training.distributed import barrier, close_distributed, init_distributed, stop_requested, world
from ner.training.gradients import AuxBalance, ramp, term_gradients
from ner.training.objective import LossWeights, MclLoss, collate_step
from ner.training.optim import linear_schedule, param_groups
from ner.training.reporting import Reporter, open_reporter
from ner.training.runtime import Interrupted, StopRequest, TqdmHandler, log_to
from ner.training.selection import ModelSelector, Selection, load_dev, selection_for

log = logging.getLogger("ner.training.loop")
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
    """Set up (data, model selection, trainer), resume if there is a checkpoint, step, finish."""
    started = time.perf_counter()
    seed_everything(cfg.seed + rank)
    data = load_training_data(cfg, world_size)
    if resuming and (run / "model").is_dir() and finished_steps(run) >= data.total:
        log.info("%s: already trained for %d step(s) (max %d); nothing to do", run, finished_steps(run), data.total)
        return run
    selection = selection_for(cfg, data.examples)
    cfg.eval_langs = selection.langs  # config.yaml records what selection used
    dev = load_dev(cfg, selection.langs)
    model = build_model(cfg, data.entity_types)
    data = join_training_data(data, cfg, model.encoder)
    trainer = build_trainer(cfg, run, data, resuming, rank, world_size, model)
    if resuming:
        trainer.restore()
    report = _reporter(trainer, resuming)
    try:
        steps_log = StepLog(report, started)
        selector = ModelSelector(run, selection, dev, cfg.eval_batch_size, trainer.amp,
                                 report.write if report is not None else None)
        _log_start(trainer, selection, dev)
        start_step = trainer.state.step
        _run_steps(trainer, selector, steps_log, on_step)
        if trainer.main:
            _finish(trainer, selector, start_step, started)
    finally:
        if report is not None:
            report.close()
    barrier()
    return run


# --- setup ---------------------------------------------------------------------------------------


@dataclass
class TrainingData:
    """The training pool (code-switched pairs, then pseudo-labeled rows repeated) and its step budget."""

    examples: list[Example]
    entity_types: list[str]
    n_pairs: int
    n_pseudo: int
    repeat: int  # copies of each pseudo-labeled row
    per_epoch: int  # optimizer steps per epoch (per process)
    total: int  # optimizer steps of the whole run
    buckets: tuple[list[tuple[int, int]], list[int]]  # length keys and source groups (ner.data.buckets.bucket_keys)
    target: list[TextPair] = field(default_factory=list)  # the target view's pairs (a second stream)
    n_joined: int = 0  # slots of the pool that hold a joined long input (`join_training_data`)


def load_training_data(cfg: TrainConfig, world_size: int) -> TrainingData:
    examples, types = load_pairs(cfg.shards, limit=cfg.limit)
    n_pairs = len(examples)
    pseudo = [ex for path in cfg.pseudo for ex in load_pseudo(path)]
    repeat = pseudo_repeat(n_pairs, len(pseudo), cfg.pseudo_fraction)
    examples += pseudo * repeat
    per_epoch = batches_per_epoch(len(examples), cfg.batch_size, world_size)
    total = cfg.max_steps or cfg.epochs * per_epoch
    buckets = bucket_keys([(e.src_tokens, e.cs_tokens) for e in examples])
    target = load_text_pairs(cfg.target_pairs) if cfg.semantic_target_weight > 0 else []
    return TrainingData(examples, types, n_pairs, len(pseudo), repeat, per_epoch, total, buckets, target)


def join_training_data(data: TrainingData, cfg: TrainConfig, encoder: WordEncoder) -> TrainingData:
    """The pool with `cfg.joined_inputs` of its slots made joined long inputs (`ner.data.joining`), each within
    one row of `encoder`; the pool's size, and with it the step budget, stays. Seeded by `cfg.seed`, so every
    rank and every resumption builds the same pool."""
    if cfg.joined_inputs <= 0:
        return data
    examples = join_examples(data.examples, cfg.joined_inputs, cfg.joined_max, cfg.seed, encoder.subword_lengths,
                             encoder.max_subwords - 2)
    lengths = [len(a.src_tokens) for a, b in zip(examples, data.examples, strict=True) if a is not b]
    log.info("joined long inputs: %d of the %d training examples (2-%d examples each, within %d sub-words; source "
             "view %.1f words on average, at most %d)", len(lengths), len(examples), cfg.joined_max,
             encoder.max_subwords - 2, sum(lengths) / max(1, len(lengths)), max(lengths, default=0))
    return replace(data, examples=examples, buckets=bucket_keys([(e.src_tokens, e.cs_tokens) for e in examples]),
                   n_joined=len(lengths))


@dataclass
class Trainer:
    """What one optimizer step changes and a checkpoint saves: model, objective, optimizer, schedule,
    scaler, RNG and progress; `restore`, `step` and `save` are the only places that touch them."""

    cfg: TrainConfig
    run: Path
    rank: int
    world_size: int
    data: TrainingData
    model: NerModel
    weights: LossWeights
    objective: nn.Module  # MclLoss(model), wrapped in DistributedDataParallel under torchrun
    generator: torch.Generator  # the NONE-pair sampler of the relation contrast
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    device: torch.device
    amp: torch.dtype | None
    encoder_params: list[torch.Tensor]  # trainable encoder weights: where the gradient probe looks
    state: TrainState = field(default_factory=TrainState)
    balance: AuxBalance = field(default_factory=AuxBalance)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def restore(self) -> None:
        """Continue from RUN/last: weights, optimizer, schedule, scaler, progress and this rank's RNGs."""
        trainer, model_state = load_checkpoint(self.run, self.device)
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(trainer["optimizer"])
        self.scheduler.load_state_dict(trainer["scheduler"])  # the schedule itself follows the current total
        self.scaler.load_state_dict(trainer["scaler"])
        self.state = TrainState(**trainer["state"])
        self.balance.scale = dict(self.state.aux_scale)
        rngs = trainer["rng"]
        set_rng_state(rngs[self.rank] if self.rank < len(rngs) else rngs[0], self.generator)
        log.info("resuming %s from step %d", self.run, self.state.step)

    def batches(self) -> tuple[int, list[list[int]]]:
        """(epoch, this rank's index batches still to do in it): resuming mid-epoch skips the done ones."""
        epoch, first = divmod(self.state.step, self.data.per_epoch)
        batches = epoch_batches(len(self.data.examples), self.cfg.batch_size, epoch, self.cfg.seed,
                                buckets=self.data.buckets, pool=self.cfg.bucket_batches, rank=self.rank,
                                size=self.world_size)
        return epoch, batches[first:]

    def step(self, items: list[Example]) -> tuple[dict[str, float], dict[str, float]]:
        """One optimizer step on a batch. Returns what metrics.jsonl averages (the total loss, each loss
        term, the gradient norm before clipping and whether the clip shrank it) and, on gradient-probe
        steps, each term's gradient on the encoder (`ner.training.gradients.term_gradients`; else empty)."""
        self.model.train()
        src, cs, n_paired = collate_step(self.model, items, self.weights.needs_cs)
        target = self._target_batch()
        scale = self._aux_scale()
        with autocast(self.device, self.amp):
            loss, parts = self.objective(src, cs, n_paired, target)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise NerError(f"loss is {loss_value} at step {self.state.step + 1}: lower --lr / --encoder-lr")
        self.optimizer.zero_grad(set_to_none=True)
        probe: dict[str, float] = {}
        if self._probing():
            probe = term_gradients(parts, self.encoder_params)
            self.balance.update(probe, scale)
            self.state.aux_scale = self.balance.state()
            probe.update({f"scale_{k}": v for k, v in scale.items()})
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if not math.isfinite(norm) and not self.scaler.is_enabled():  # fp16's scaler skips such steps itself
            raise NerError(f"gradient norm is {norm} at step {self.state.step + 1}: the update would corrupt the "
                           f"weights (lower --lr / --encoder-lr, or --amp off)")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.state.step += 1
        losses = {"loss": loss_value, **{k: v.item() for k, v in parts.items()}, "grad_norm": norm,
                  "clipped": float(norm > clip)}
        return losses, probe

    def _target_batch(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None:
        """This step's target-view batch (sentence, code-switched version), drawn by `ner.data.sampling.pair_batch`."""
        pairs = self.data.target
        if not pairs:
            return None
        idx = pair_batch(len(pairs), self.cfg.batch_size, self.state.step, self.cfg.seed, self.rank, self.world_size)
        enc = self.model.encoder
        return enc.collate([pairs[i].tokens for i in idx]), enc.collate([pairs[i].cs_tokens for i in idx])

    def _probing(self) -> bool:
        every = self.cfg.grad_norm_every
        return every > 0 and self.world_size == 1 and self.state.step % every == 0

    def _aux_scale(self) -> dict[str, float]:
        """This step's multipliers of the contrastive terms: warm-up ramp x gradient balance."""
        factor = ramp(self.state.step, self.data.total, self.cfg.contrastive_warmup)
        scale = {t: factor * self.balance.get(t) for t in ("semantic", "relation", "semantic_target")}
        inner = self.objective.module if isinstance(self.objective, nn.parallel.DistributedDataParallel) \
            else self.objective
        inner.aux_scale = scale
        return scale

    def save(self) -> None:
        """Write RUN/last (rank 0), with every rank's RNG states (a collective: all ranks call it)."""
        rngs = [rng_state(self.generator)]
        if self.world_size > 1:
            gathered: list[object] = [None] * self.world_size
            dist.all_gather_object(gathered, rngs[0])
            rngs = gathered
        if self.main:
            trainer = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                       "scaler": self.scaler.state_dict(), "state": self.state.__dict__, "rng": rngs,
                       "total": self.data.total, "world_size": self.world_size}
            save_checkpoint(self.run, self.model, trainer)


def build_trainer(cfg: TrainConfig, run: Path, data: TrainingData, resuming: bool, rank: int,
                  world_size: int, model: NerModel | None = None) -> Trainer:
    """Model (fresh, prior-initialised or `init_from`; `model`: one `build_model` made), objective (DDP-wrapped
    under torchrun), optimizer, schedule and scaler, in the order that fixes the RNG stream; writes
    RUN/config.yaml on rank 0."""
    model = model if model is not None else build_model(cfg, data.entity_types)
    if cfg.init_from:
        cfg.model = model.cfg  # the student inherits the teacher's architecture
    elif cfg.prior_init and not resuming:
        sample = [e.src_tags for e in data.examples[:PRIOR_SAMPLE]]
        model.init_output_prior(model.label_counts(sample))
    if rank == 0:
        dump_yaml(cfg, run / "config.yaml")
    device = resolve_device(cfg.device)
    amp = amp_dtype(cfg.amp, device)
    model.to(device)
    groups = param_groups(model, cfg)  # before DDP: it fixes which parameters need gradients
    weights = LossWeights.from_config(cfg)
    generator = torch.Generator().manual_seed(cfg.seed + rank)
    objective: nn.Module = MclLoss(model, weights, generator)
    if world_size > 1:
        # Ablations and single-view (pseudo-labeled) batches leave projection heads without gradients.
        unused = (bool(cfg.pseudo) or weights.semantic == 0 or not weights.needs_cs or weights.semantic_target > 0
                  or (model.head.has_pair_features and weights.relation == 0))
        objective = nn.parallel.DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused
        )
    # fused: one kernel per parameter instead of a dozen (a third of the optimizer's time on CPU; same math)
    optimizer = torch.optim.AdamW(groups, fused=device.type in ("cpu", "cuda"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(data.total, cfg.warmup))
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    encoder_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    if cfg.grad_norm_every and world_size > 1:
        log.warning("grad_norm_every: gradient probes run on one process only; none under torchrun")
    return Trainer(cfg, run, rank, world_size, data, model, weights, objective, generator, optimizer, scheduler,
                   scaler, device, amp, encoder_params, balance=AuxBalance(cfg.aux_grad_ratio))


def _reporter(trainer: Trainer, resuming: bool) -> Reporter | None:
    """Rank 0's metric sinks (`ner.training.reporting`): metrics.jsonl (a fresh file for a new run, cut back to
    the checkpoint's step on resume) and the `report_to` tools."""
    if not trainer.main:
        return None
    path = trainer.run / "metrics.jsonl"
    if not resuming and path.exists():
        path.unlink()
    resume_step = trainer.state.step if resuming else None
    return open_reporter(trainer.run, trainer.cfg.report_to, metrics_writer(path, resume_step), resume_step)


def _group_lrs(t: Trainer) -> dict[str, float]:
    """The current learning rate of the encoder's and of the head's parameter groups (what `report_to` tools
    plot next to metrics.jsonl's `lr`, the last group's)."""
    encoder = {id(p) for p in t.encoder_params}
    lrs: dict[str, float] = {}
    for group, lr in zip(t.optimizer.param_groups, t.scheduler.get_last_lr(), strict=True):
        lrs.setdefault("encoder" if id(group["params"][0]) in encoder else "head", lr)
    return lrs


def _precision(t: Trainer) -> str:
    """`bf16 (autocast; fp32 weights and optimizer state)` or `fp32`, for the log."""
    name = precision_name(t.amp)
    return f"{name} (autocast; fp32 weights and optimizer state)" if t.amp is not None else name


def _log_start(t: Trainer, selection: Selection, dev: dict[str, list[Any]]) -> None:
    d, w = t.data, t.weights
    log.info(
        "training %s: %d pairs + %d pseudo-labeled (x%d), types %s, %d step(s) (%d per epoch), world %d, device %s, "
        "precision %s", t.run, d.n_pairs, d.n_pseudo, d.repeat, d.entity_types, d.total, d.per_epoch, t.world_size,
        t.device, _precision(t),
    )
    if d.target:
        log.info("target view: %d sentence pairs (%s), weight %g", len(d.target),
                 ", ".join(sorted({p.lang for p in d.target})), w.semantic_target)
    log.info("losses: src=%s cs=%s semantic=%g relation=%g (none anchors %s, grid loss %s, warm-up %g, "
             "aux gradient ratio %s); dev: %s", w.use_src, w.use_cs, w.semantic, w.relation,
             t.cfg.none_anchors, w.grid_loss, t.cfg.contrastive_warmup,
             t.cfg.aux_grad_ratio, ", ".join(f"{k}({len(v)})" for k, v in dev.items()) or "none")
    (log.info if selection.zero_shot else log.warning)("%s", selection.describe())


# --- the loop ------------------------------------------------------------------------------------


@dataclass
class StepLog:
    """Running means of the loss terms since the last metrics line (lines are written by rank 0 only)."""

    report: Reporter | None  # rank 0's metric sinks; None on the other ranks
    started: float  # perf_counter at the start of the run, for `elapsed`
    sums: dict[str, float] = field(default_factory=dict)
    n: int = 0

    def add(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1

    def flush(self, step: int, epoch: int, lr: float, lrs: dict[str, float]) -> dict[str, float]:
        """Write one metrics line with the means since the last one (`lrs`: per parameter group, for the
        `report_to` tools); returns the means."""
        assert self.report is not None
        avg = {k: round(v / self.n, 6) for k, v in self.sums.items()}
        self.report.write({"step": step, "epoch": epoch, **avg, "n_steps": self.n, "lr": lr,
                           "elapsed": round(time.perf_counter() - self.started, 2)}, lrs)
        self.sums, self.n = {}, 0
        return avg


def _run_steps(t: Trainer, selector: ModelSelector, steps_log: StepLog, on_step: Callable[[int], None] | None) -> None:
    """Step until `total`, logging, evaluating and checkpointing on schedule; a stop signal saves and raises
    `Interrupted` (every rank stops at the same step)."""
    cfg, total = t.cfg, t.data.total
    eval_every = cfg.eval_every or t.data.per_epoch
    save_every = cfg.save_every or eval_every
    dataset = PairDataset(t.data.examples)
    stop = StopRequest()
    bar = tqdm(total=total, initial=t.state.step, disable=True if not t.main else None, desc="train", unit="step",
               dynamic_ncols=True)
    try:
        with stop:
            while t.state.step < total:
                epoch, batches = t.batches()
                for items in make_loader(dataset, batches):
                    losses, probe = t.step(items)
                    steps_log.add(losses)
                    bar.update(1)
                    step = t.state.step
                    if probe and steps_log.report is not None:
                        steps_log.report.write({"step": step, "type": "grad_norms",
                                                **{k: round(v, 6) for k, v in probe.items()}})
                    last_step = step == total
                    if t.main and (step % cfg.log_every == 0 or last_step):
                        avg = steps_log.flush(step, epoch, t.scheduler.get_last_lr()[-1], _group_lrs(t))
                        bar.set_postfix(loss=f"{avg['loss']:.4f}")
                    if selector.dev and (step % eval_every == 0 or last_step):
                        if t.main:
                            selector.evaluate(t.model, t.state)
                        barrier()
                    stopping = stop_requested(stop.requested, t.device, t.world_size)
                    if step % save_every == 0 or last_step or stopping:
                        t.save()
                        barrier()
                    if stopping:
                        raise Interrupted(f"stopped at step {step}; checkpoint saved in {t.run / CHECKPOINT} "
                                          "(rerun the same command to resume)")
                    if on_step is not None:
                        on_step(step)
                    if last_step:
                        break
    finally:
        bar.close()


def _finish(t: Trainer, selector: ModelSelector, start_step: int, started: float) -> None:
    """Rank 0: make sure RUN/model exists (the last model when nothing selected one) and write dev_metrics.json."""
    state = t.state
    if not (t.run / "model").is_dir() or (not selector.dev and state.step > start_step):
        state.best_step = state.step
        selector.save_best(t.model, state, None)
    selector.write(state)
    log.info("done: %d steps in %.1fs; best dev F1 %s", state.step, time.perf_counter() - started,
             f"{state.best_f1:.4f} at step {state.best_step}" if state.history else "n/a (no dev languages)")


def load_run_config(run: str | os.PathLike[str]) -> TrainConfig:
    """The TrainConfig a run was trained with (RUN/config.yaml)."""
    path = Path(run) / "config.yaml"
    if not path.is_file():
        raise NerError(f"{run}: no config.yaml (not a run directory)")
    return from_dict(TrainConfig, read_yaml(path), str(path))


__all__ = ["Interrupted", "LossWeights", "MclLoss", "ModelConfig", "TqdmHandler", "TrainConfig", "close_distributed",
           "collate_step", "init_distributed", "load_run_config", "param_groups", "pseudo_repeat", "to_dict", "train"]
