"""Text switching throughput (sentences/s): 1 and 2 local processes, and Ray Data on this machine.

    python benchmarks/text_throughput.py [--data-root DIR] [--tgt de ja] [--limit N] [--ray-cpus 2]

Input: PAN-X train-en (20k sentences by default) written as raw text, one sentence a line,
built with `--task text` (Moses tokenization, dictionary switching, detokenization, label
check, Parquet shards, manifest). Rows:
  switch only      `tasks.switch_batch` over the whole table in this process (no I/O)
  local, 1 proc    `cslib build --task text --workers 1`, end to end
  local, 2 procs   `--workers 2` (fork pool, one shard per task)
  ray, N CPUs      `--engine ray` on a local Ray started before the clock (its start-up is
                   printed apart); the build's own Ray job overhead is included
Every build of a language must produce identical shards; the script checks it.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from cslib import BuildConfig, CodeSwitcher, TaskOptions, build_dictionary, load_split, run_build
from cslib.task_inputs import read_records
from cslib.tasks import input_table, resolve, switch_batch


def shard_bytes(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.glob("shard-*.parquet"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT", "../shared/data"))
    ap.add_argument("--tgt", nargs="+", default=["de", "ja"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--shard-size", type=int, default=2500)
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sents = load_split("panx", "en", "train", args.data_root, limit=args.limit)
    tmp = Path(tempfile.mkdtemp(prefix="cslib-bench-"))
    text = tmp / "en.txt"
    text.write_text("\n".join(" ".join(s.tokens) for s in sents) + "\n", encoding="utf-8")
    n = len(sents)
    ray_start = None
    if not args.no_ray:
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=args.ray_cpus, object_store_memory=512 << 20, include_dashboard=False,
                 log_to_driver=False)
        ray_start = time.perf_counter() - t
    print(f"{n} sentences (PAN-X train-en as raw text), {os.cpu_count()} CPU cores"
          + (f"; ray.init took {ray_start:.1f}s (not counted)" if ray_start is not None else ""))
    print(f"{'pair':6s} {'configuration':16s} {'seconds':>8s} {'sent/s':>8s}")
    for tgt in args.tgt:
        cfg = BuildConfig(tgt=tgt, input=str(text), data_root=args.data_root, shard_size=args.shard_size)
        d, _ = build_dictionary(cfg)
        records = read_records(text)
        spec = resolve(records, TaskOptions(task="text"), "en", tgt, cfg.seed, 1)
        table = input_table(records, spec)
        t = time.perf_counter()
        switch_batch(table, spec, CodeSwitcher(d, cfg.switch_config()))
        dt = time.perf_counter() - t
        print(f"en-{tgt:3s} {'switch only':16s} {dt:8.1f} {n / dt:8,.0f}", flush=True)
        outs = []
        runs = [("local, 1 proc", "local", 1), ("local, 2 procs", "local", 2)]
        if not args.no_ray:
            runs.append((f"ray, {args.ray_cpus} CPUs", "ray", 0))
        for label, engine, workers in runs:
            out = tmp / f"{tgt}-{engine}-{workers}"
            cfg.out, cfg.workers = str(out), workers
            t = time.perf_counter()
            run_build(cfg, TaskOptions(task="text", engine=engine))
            dt = time.perf_counter() - t
            print(f"en-{tgt:3s} {label:16s} {dt:8.1f} {n / dt:8,.0f}", flush=True)
            outs.append(shard_bytes(out))
        assert all(o == outs[0] for o in outs), "engines disagree"
    print("all engines wrote identical shards")


if __name__ == "__main__":
    main()
